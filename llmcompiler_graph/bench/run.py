"""`llmcompiler-graph bench`: LLMCompiler against ReAct, on loopback simulators or a real model.

Default: every workload and approach on the simulated model and search API, a fixed seed, a
markdown table on stdout (progress on stderr). `--json PATH` writes every measurement,
`--plot PATH` a timeline of one example per approach. With `--model provider:name --dataset
FILE` the same harness runs a real model and the real tools on the paper's datasets.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmcompiler_graph.bench import report
from llmcompiler_graph.bench.harness import APPROACHES, Example, run_all
from llmcompiler_graph.bench.metrics import PRICES, Price, summarize
from llmcompiler_graph.bench.realmode import ANSWER_FORMAT, RealWorld, load_dataset
from llmcompiler_graph.bench.simulation import SIMULATED_MODEL, BenchWorld
from llmcompiler_graph.bench.trace import Run
from llmcompiler_graph.bench.workloads import WORKLOADS, check, generate
from llmcompiler_graph.testing import LatencyModel


def parser() -> argparse.ArgumentParser:
    defaults = LatencyModel()
    p = argparse.ArgumentParser(
        prog="llmcompiler-graph bench",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    for flag, names in (
        ("--workloads", {w.name: w.summary for w in WORKLOADS.values()}),
        ("--approaches", {a.name: a.label for a in APPROACHES.values()}),
    ):
        p.add_argument(
            flag,
            nargs="+",
            choices=list(names),
            default=list(names),
            metavar="NAME",
            help="; ".join(f"{name}: {what}" for name, what in names.items()) + " (default: all)",
        )
    p.add_argument(
        "--examples", type=int, default=3, help="examples per workload (default: 3, ~5 min)"
    )
    p.add_argument("--seed", type=int, default=0, help="draws the examples and search latencies")
    p.add_argument("--json", type=Path, metavar="PATH", help="write every measurement here")
    p.add_argument("--plot", type=Path, metavar="PATH", help="draw a timeline here (PNG, ...)")
    p.add_argument(
        "--plot-workload",
        metavar="NAME",
        help="whose first example to plot (default: parallelqa if run, else the first)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    sim = p.add_argument_group("simulated model and search (the defaults resemble gpt-4o-mini)")
    sim.add_argument(
        "--ttft",
        type=float,
        default=defaults.ttft_base,
        metavar="S",
        help=f"seconds to the first token (default: {defaults.ttft_base:g})",
    )
    sim.add_argument(
        "--prefill-ms-per-token",
        type=float,
        default=1000 * defaults.ttft_per_prompt_token,
        metavar="MS",
        help="time to first token grows by this per prompt token (default: "
        f"{1000 * defaults.ttft_per_prompt_token:g})",
    )
    sim.add_argument(
        "--tokens-per-second",
        type=float,
        default=defaults.tokens_per_second,
        metavar="N",
        help=f"decoding speed (default: {defaults.tokens_per_second:g})",
    )
    sim.add_argument(
        "--prefix-cache",
        type=float,
        default=defaults.cached_prefill,
        metavar="F",
        help="a prompt prefix the model has seen (1,024 tokens or more, in steps of 128, as "
        "OpenAI caches) costs F of its prefill time, and is reported as cached tokens "
        f"(default: {defaults.cached_prefill:g}, no prefix cache)",
    )
    sim.add_argument(
        "--search-latency",
        nargs=2,
        type=float,
        default=(0.5, 1.5),
        metavar=("LOW", "HIGH"),
        help="seconds per search, uniform in [LOW, HIGH] (default: 0.5 1.5)",
    )
    sim.add_argument(
        "--instant", action="store_true", help="no simulated latency at all (smoke tests)"
    )
    p.add_argument(
        "--price",
        nargs=2,
        type=float,
        metavar=("INPUT", "OUTPUT"),
        help="US$ per million prompt / completion tokens (default: the model's list price)",
    )
    real = p.add_argument_group("real-model mode (needs the provider's and Tavily's API keys)")
    real.add_argument("--model", metavar="PROVIDER:NAME", help="e.g. openai:gpt-4o-mini")
    real.add_argument(
        "--dataset",
        type=Path,
        action="append",
        metavar="FILE",
        help="a dataset in the paper's JSON format (repeatable); the file name names it",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the markdown report. Returns the exit status."""
    args = parser().parse_args(argv)
    if bool(args.model) != bool(args.dataset):
        parser().error("--model and --dataset go together (real-model mode)")
    if args.examples < 1:
        parser().error("--examples must be at least 1")
    names = [path.stem for path in args.dataset] if args.model else args.workloads
    if args.plot_workload and args.plot_workload not in names:
        parser().error(f"--plot-workload must be one of the workloads run: {', '.join(names)}")
    started = time.perf_counter()
    setup, runs = asyncio.run(_real(args) if args.model else _simulated(args))
    price = Price(*args.price) if args.price else PRICES.get(setup["model"].split(":")[-1])
    price = price or PRICES[SIMULATED_MODEL]
    setup["price"] = {"input": price.input, "output": price.output, "cached": price.cached_input}
    summaries = summarize(runs, price)
    print(report.markdown(summaries, setup))
    if args.json:
        report.write_json(args.json, report.to_json(setup, summaries, runs, price))
    if args.plot:
        report.plot(args.plot, _plotted(runs, args.plot_workload))
    if not args.quiet:
        print(f"{len(runs)} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 1 if any(run.error for run in runs) else 0


async def _simulated(args: argparse.Namespace) -> tuple[dict[str, Any], list[Run]]:
    scenarios = {
        name: generate(WORKLOADS[name], args.examples, args.seed) for name in args.workloads
    }
    everything = [s for group in scenarios.values() for s in group]
    check(everything)
    latency = (
        LatencyModel.instant()
        if args.instant
        else LatencyModel(
            ttft_base=args.ttft,
            ttft_per_prompt_token=args.prefill_ms_per_token / 1000,
            tokens_per_second=args.tokens_per_second,
            cached_prefill=args.prefix_cache,
        )
    )
    search = (0.0, 0.0) if args.instant else tuple(args.search_latency)
    suites = {
        name: [Example(s.question, s.answer) for s in group] for name, group in scenarios.items()
    }
    world = BenchWorld(everything, latency=latency, search_latency=search, seed=args.seed)
    with world:
        if not args.instant:  # first calls pay for imports and connections: not measured
            with world.instant():
                await run_all(world, {k: v[:1] for k, v in suites.items()}, args.approaches)
        runs = await run_all(world, suites, args.approaches, progress=_progress(args))
    return {"mode": "simulated", **_setup(args), **world.describe()}, runs


async def _real(args: argparse.Namespace) -> tuple[dict[str, Any], list[Run]]:
    world = RealWorld.from_spec(args.model)
    suites = {path.stem: load_dataset(path)[: args.examples] for path in args.dataset}
    runs = await run_all(
        world, suites, args.approaches, system=ANSWER_FORMAT, progress=_progress(args)
    )
    setup = {"mode": "real", **_setup(args), **world.describe()}
    setup["workloads"] = list(suites)
    return setup, runs


def _setup(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "examples": args.examples,
        "seed": args.seed,
        "workloads": args.workloads,
        "approaches": args.approaches,
    }


def _progress(args: argparse.Namespace) -> Callable[[Run], None] | None:
    def show(run: Run) -> None:
        status = f"FAILED: {run.error}" if run.error else f"{run.latency:6.2f} s"
        print(f"{run.workload} #{run.example} {run.approach:<21} {status}", file=sys.stderr)

    return None if args.quiet else show


def _plotted(runs: Sequence[Run], workload: str | None) -> list[Run]:
    """The first example of the chosen workload (a dataset's name in real-model mode)."""
    names = list(dict.fromkeys(run.workload for run in runs))
    chosen = workload or ("parallelqa" if "parallelqa" in names else names[0])
    return [run for run in runs if run.workload == chosen and run.example == 0]
