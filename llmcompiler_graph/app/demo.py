"""`llmcompiler-graph demo`: LLMCompiler next to sequential ReAct, offline and without keys.

The model and the web search are simulated: `OpenAISimulator` plays the model from the scripted
SHOWCASE scenarios (planner, joiner, math and ReAct turns alike) with a hosted-model-like latency
model, and `TavilySimulator` answers searches from their corpus after a seeded, realistic delay.
Everything else is real: `ChatOpenAI` and `tavily-python` talk HTTP to the loopback servers, and
the graph, the tools and the ReAct agent are the ones users run. So the timings show how the
scheduling differs (parallel tasks dispatched while the plan streams, against one tool call per
LLM turn) under the latency model - not how fast any provider is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from llmcompiler_graph.app.view import ask_live, head_start
from llmcompiler_graph.graph import create_llmcompiler
from llmcompiler_graph.measure import Measurement, measure
from llmcompiler_graph.react import create_react_baseline
from llmcompiler_graph.testing import LatencyModel
from llmcompiler_graph.testing.scenarios import SHOWCASE
from llmcompiler_graph.testing.world import SimulatedWorld

SEARCH_JITTER = (0.5, 1.2)
"""Seconds a simulated search takes: uniform in this range, fixed per query by the seed."""
FAST_SEARCH_JITTER = (0.01, 0.03)
SEARCH_SEED = 7
FOOTNOTE = (
    "SIMULATED model and search: these timings show how the two agents schedule the same "
    "calls under the latency model above, not how fast a provider is. The paper measured up to "
    "3.7x lower latency than ReAct with real models (Kim et al., ICML 2024, Table 1)."
)


@dataclass(frozen=True)
class Simulation:
    """A model and tools wired to the running simulators, and what the numbers are made of."""

    model: BaseChatModel
    tools: list[BaseTool]
    latency: LatencyModel
    search_jitter: tuple[float, float]

    def notice(self) -> Panel:
        """The on-screen label: what is simulated and where its latencies come from."""
        lat, (lo, hi) = self.latency, self.search_jitter
        model = (
            "the model answers at once"
            if lat.tokens_per_second == float("inf")
            else f"the model's first token comes after {lat.ttft_base:g} s (plus prefill), then "
            f"{lat.tokens_per_second:g} tokens/s"
        )
        text = Text.assemble(
            ("The model and the web search are SIMULATED. ", "bold"),
            "Loopback stand-ins on 127.0.0.1 give scripted answers to the showcase questions "
            "(the data is made up); the real ChatOpenAI and tavily-python clients talk to them. "
            f"Latencies come from a latency model, not from a provider: {model}; "
            f"each search takes {lo:g}-{hi:g} s.",
        )
        return Panel(text, title="SIMULATED", border_style="yellow")


@asynccontextmanager
async def simulation(*, fast: bool = False) -> AsyncIterator[Simulation]:
    """The SHOWCASE world: both simulators, and the real model and tools wired to them."""
    latency = LatencyModel.instant() if fast else LatencyModel()
    jitter = FAST_SEARCH_JITTER if fast else SEARCH_JITTER
    with SimulatedWorld(
        SHOWCASE, latency=latency, search_latency=jitter, seed=SEARCH_SEED
    ) as world:
        yield Simulation(world.model, world.tools, latency, jitter)


WATCH = (
    "Watch the tasks start while the plan is still streaming: a task row turns 'running' while "
    "'plan 1: streaming…' is still shown above the table (in plain output, its 'running' line "
    "comes before 'plan done')."
)
"""The one line the demo prints before it starts: what to look for."""

SHOWCASE_QUESTIONS = [scenario.question for scenario in SHOWCASE]
"""The questions the simulated model knows, in demo order."""


def showcase_question(text: str) -> str | None:
    """The SHOWCASE question `text` asks (case and spacing aside), or None."""
    wanted = " ".join(text.split()).casefold()
    return next((s.question for s in SHOWCASE if s.question.casefold() == wanted), None)


@dataclass(frozen=True)
class Comparison:
    """One question's LLMCompiler run and, unless skipped, its sequential ReAct run."""

    number: int
    compiler: Measurement
    react: Measurement | None

    @property
    def speedup(self) -> float | None:
        return None if self.react is None else self.react.latency / self.compiler.latency


async def run_demo(console: Console, numbers: Sequence[int], *, react: bool, fast: bool) -> None:
    """Run the chosen SHOWCASE questions (1-based) on the simulators, each against ReAct."""
    async with simulation(fast=fast) as sim:
        console.print(sim.notice())
        console.print(Text(WATCH, style="bold"))
        compiler = create_llmcompiler(sim.model, sim.tools)
        baseline = (
            create_react_baseline(sim.model, sim.tools, parallel_tool_calls=False)
            if react
            else None
        )
        results = []
        for n in numbers:
            question = SHOWCASE[n - 1].question
            run, _ = await ask_live(compiler, question, console, number=f"{n}/{len(SHOWCASE)}")
            versus = await _react_run(console, baseline, question) if baseline else None
            results.append(Comparison(n, run, versus))
            _print_comparison(console, results[-1])
        console.print(_summary(results))
        console.print(Text(FOOTNOTE, style="yellow"))


async def _react_run(console: Console, baseline: CompiledStateGraph, question: str) -> Measurement:
    with console.status("ReAct (sequential: one tool call per LLM turn) on the same question…"):
        return await measure(baseline, question)


def _print_comparison(console: Console, comparison: Comparison) -> None:
    overlap = head_start(comparison.compiler.events)
    if overlap is not None:
        console.print(Text(overlap, style="cyan"))
    console.print(Text(f"LLMCompiler          {comparison.compiler.stats()}", style="bold"))
    react, speedup = comparison.react, comparison.speedup
    if react is None or speedup is None:
        return
    console.print(Text(f"ReAct (sequential)   {react.stats()}"))
    style = "bold green" if speedup >= 1 else "bold yellow"
    console.print(Text(f"Speedup              {speedup:.2f}x", style=style))


def _summary(results: Sequence[Comparison]) -> Table:
    table = Table(title="Latency on the simulators (seconds)", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("question", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("LLMCompiler", justify="right")
    has_react = any(c.react is not None for c in results)
    if has_react:
        table.add_column("ReAct seq.", justify="right")
        table.add_column("speedup", justify="right")
    for c in results:
        row = [str(c.number), c.compiler.question, f"{c.compiler.latency:.2f}"]
        if c.react is not None:
            row += [f"{c.react.latency:.2f}", f"{c.speedup:.2f}x"]
        table.add_row(*row)
    return table
