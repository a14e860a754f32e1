"""The task fetching unit's own overhead, measured with zero-latency tools.

Run `python -m llmcompiler_graph.bench.scheduler_overhead [--json]`. It reports:

1. dispatch latency - from the moment a task's last dependency finished (the parent's
   `finished_at`) to the moment its tool call started (the child's `started_at`) - over a long
   chain and over fan-out / fan-in diamonds: median, p95, max;
2. wall time of a mixed plan (independent tasks, chains, fan-ins) scheduled end to end with async
   tools, with and without streaming the plan text through the incremental parser;
3. the same plan through the sync `run()` (sync tools in worker threads), for information.

Two tool kinds are measured: `langchain` (a real `@tool`, so each call pays LangChain's
validation and callback machinery) and `bare` (a `BaseTool` whose `ainvoke` returns at once), which
isolates the scheduler. The event loop is cooperative, so in a fan-out the k-th sibling's latency
includes the synchronous part of the k-1 sibling calls started before it: with LangChain tools that
is most of it. Per-task stamps are the observations' `time.time()` values; whole runs are
timed with `time.perf_counter`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, tool

from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.parser import aparse
from llmcompiler_graph.core.plan import Observation, Task, make_task

SIGNATURES = {"echo": ["x"]}
"""The one tool every benchmark plan calls, as the parser sees it."""


def echo_value(x: Any) -> Any:
    """What `echo` returns: `x`, or the length of a list (so fan-in values stay small)."""
    return len(x) if isinstance(x, list) else x


LATENCY_TARGET_MS = 1.0
PLAN_TARGET_S = 0.5


class BareEcho(BaseTool):
    """A zero-cost tool: `ainvoke` / `invoke` return `x` without LangChain's tool machinery."""

    name: str = "echo"
    description: str = "Return x."

    def _run(self, x: Any = None) -> Any:
        return echo_value(x)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return echo_value(input.get("x"))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return echo_value(input.get("x"))


@tool("echo")
async def async_echo(x: Any = None) -> Any:
    """Return x."""
    return echo_value(x)


@tool("echo")
def sync_echo(x: Any = None) -> Any:
    """Return x (or the length of a list)."""
    return echo_value(x)


TOOLS: dict[str, Callable[[], Mapping[str, BaseTool]]] = {
    "bare": lambda: {"echo": BareEcho()},
    "langchain": lambda: {"echo": async_echo},
}


def task(idx: int, x: Any, dependencies: Sequence[int] = ()) -> Task:
    """An `echo` task."""
    return make_task(idx, "echo", {"x": x}, dependencies)


def chain_plan(n: int) -> list[Task]:
    """1 <- 2 <- ... <- n: every task waits for the previous one."""
    return [task(1, 0)] + [task(i, f"${i - 1}", [i - 1]) for i in range(2, n + 1)]


def diamond_plan(levels: int, width: int) -> tuple[list[Task], set[int]]:
    """A chain of diamonds: one task fans out to `width` tasks that fan back in to the next one.

    Returns the plan and the ids of the fan-in tasks (the ones with `width` parents).
    """
    tasks, fan_in = [task(1, 0)], set()
    join = idx = 1
    for _ in range(levels):
        spread = list(range(idx + 1, idx + width + 1))
        tasks += [task(i, f"${join}", [join]) for i in spread]
        idx = join = idx + width + 1
        tasks.append(task(join, [f"${i}" for i in spread], spread))
        fan_in.add(join)
    return tasks, fan_in


def mixed_plan(n: int) -> list[Task]:
    """`n` tasks in blocks of 20: 10 independent ones, then a chain of 10 where each link also
    reads one of the block's independent tasks (fan-in of two)."""
    tasks: list[Task] = []
    for idx in range(1, n + 1):
        offset = (idx - 1) % 20
        block = idx - offset
        if offset < 10:
            tasks.append(task(idx, idx))
        elif offset == 10:
            tasks.append(task(idx, f"${block}", [block]))
        else:
            independent = block + offset - 10
            tasks.append(task(idx, [f"${idx - 1}", f"${independent}"], [independent, idx - 1]))
    return tasks


def plan_text(tasks: Sequence[Task]) -> str:
    """The plan in the planner's text language, ending with `join()`."""
    lines = ["Thought: benchmark plan."]
    lines += [f"{t['idx']}. echo(x={json.dumps(t['args']['x'])})" for t in tasks]
    return "\n".join([*lines, f"{len(tasks) + 1}. join()<END_OF_PLAN>\n"])


async def chunked(text: str, size: int) -> AsyncIterator[str]:
    """The text as a stream of `size`-character chunks (no delay: only parsing costs)."""
    for start in range(0, len(text), size):
        yield text[start : start + size]


def dispatch_latencies(
    observations: Mapping[int, Observation], tasks: Sequence[Task], only: set[int] | None = None
) -> list[float]:
    """Seconds from each task's last dependency finishing to its own tool call starting."""
    latencies = []
    for t in tasks:
        if not t["dependencies"] or (only is not None and t["idx"] not in only):
            continue
        started = observations[t["idx"]]["started_at"]
        assert started is not None, observations[t["idx"]]
        ready = max(observations[d]["finished_at"] for d in t["dependencies"])
        latencies.append(started - ready)
    return latencies


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """Median, p95 and max of latencies in seconds, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median_ms": statistics.median(ordered) * 1e3,
        "p95_ms": p95 * 1e3,
        "max_ms": ordered[-1] * 1e3,
    }


def check_ok(observations: Mapping[int, Observation], expected: int) -> None:
    """Fail loudly if the benchmark measured anything but a clean run."""
    bad = [o for o in observations.values() if o["status"] != "ok"]
    if len(observations) != expected or bad:
        raise RuntimeError(f"benchmark plan did not run cleanly: {len(observations)} / {bad[:3]}")


async def measure_latency(chain: int, levels: int, width: int) -> list[dict[str, Any]]:
    """Dispatch latency rows: one per (tool kind, shape)."""
    rows = []
    for kind, make_tools in TOOLS.items():
        unit = TaskFetchingUnit(make_tools())
        plan = chain_plan(chain)
        observations = await unit.arun(plan)
        check_ok(observations, len(plan))
        rows.append(
            {"tools": kind, "shape": f"chain of {chain}"}
            | summarize(dispatch_latencies(observations, plan))
        )
        plan, fan_in = diamond_plan(levels, width)
        observations = await unit.arun(plan)
        check_ok(observations, len(plan))
        fan_out = {t["idx"] for t in plan} - fan_in
        shapes = {f"fan-out 1->{width}": fan_out, f"fan-in {width}->1": fan_in}
        for shape, ids in shapes.items():
            samples = dispatch_latencies(observations, plan, only=ids)
            rows.append({"tools": kind, "shape": f"{shape} x{levels}"} | summarize(samples))
    return rows


async def timed_async(
    unit: TaskFetchingUnit, plan: list[Task], parse: bool, repeat: int
) -> list[float]:
    """Wall times of `arun` over the plan (or over the plan text streamed through `aparse`)."""
    text = plan_text(plan)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        source = aparse(chunked(text, 64), SIGNATURES) if parse else plan
        observations = await unit.arun(source)
        times.append(time.perf_counter() - start)
        check_ok(observations, len(plan))
    return times


async def timed_direct(tools: Mapping[str, BaseTool], plan: list[Task], repeat: int) -> list[float]:
    """Baseline without the scheduler: one `ainvoke` per task, in order, arguments as written."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for t in plan:
            await tools[t["tool"]].ainvoke(t["args"])
        times.append(time.perf_counter() - start)
    return times


def measure_plans(size: int, repeat: int) -> list[dict[str, Any]]:
    """End-to-end wall time rows for the mixed plan, with a no-scheduler baseline per tool kind."""
    plan = mixed_plan(size)
    rows = []
    for kind, make_tools in TOOLS.items():
        times = asyncio.run(timed_direct(make_tools(), plan, repeat))
        rows.append(_plan_row(kind, "baseline: ainvoke each, no scheduler", size, times))
        unit = TaskFetchingUnit(make_tools())
        for parse in (False, True):
            times = asyncio.run(timed_async(unit, plan, parse, repeat))
            how = "aparse(text) -> arun" if parse else "arun(tasks)"
            rows.append(_plan_row(kind, how, size, times))
    unit = TaskFetchingUnit({"echo": sync_echo})
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        observations = unit.run(plan)
        times.append(time.perf_counter() - start)
        check_ok(observations, len(plan))
    rows.append(_plan_row("langchain sync", "run(tasks), threads", size, times))
    return rows


def _plan_row(kind: str, how: str, size: int, times: list[float]) -> dict[str, Any]:
    best, median = min(times), statistics.median(times)
    return {
        "tools": kind,
        "run": how,
        "tasks": size,
        "median_s": median,
        "best_s": best,
        "per_task_us": median / size * 1e6,
    }


def markdown(results: dict[str, Any]) -> str:
    """The results as two markdown tables."""
    out = [
        f"### Dispatch latency (parent finished -> child started), target < "
        f"{LATENCY_TARGET_MS:g} ms median",
        "",
        "| tools | shape | n | median ms | p95 ms | max ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['tools']} | {r['shape']} | {r['n']} | {r['median_ms']:.3f} | {r['p95_ms']:.3f} "
        f"| {r['max_ms']:.3f} |"
        for r in results["latency"]
    ]
    out += [
        "",
        f"### Mixed plan end to end (zero-latency tools), target < {PLAN_TARGET_S:g} s "
        f"for 1,000 async tasks",
        "",
        "| tools | run | tasks | median s | best s | µs / task |",
        "|---|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['tools']} | {r['run']} | {r['tasks']} | {r['median_s']:.4f} | {r['best_s']:.4f} "
        f"| {r['per_task_us']:.0f} |"
        for r in results["plans"]
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print a markdown table (or JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", type=int, default=1000, help="length of the latency chain")
    parser.add_argument("--levels", type=int, default=100, help="diamonds in the fan-in shape")
    parser.add_argument("--width", type=int, default=8, help="width of each diamond")
    parser.add_argument("--tasks", type=int, default=1000, help="size of the mixed plan")
    parser.add_argument("--repeat", type=int, default=5, help="runs per wall-time measurement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    results = {
        "latency": asyncio.run(measure_latency(args.chain, args.levels, args.width)),
        "plans": measure_plans(args.tasks, args.repeat),
    }
    print(json.dumps(results, indent=2) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
