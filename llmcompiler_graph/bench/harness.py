"""Runs the approaches on the examples, one run at a time, and records each run.

Runs never overlap (so they do not compete for the CPU, the simulators or the network) and all
share one event loop. Each is timed on the client's wall clock around `graph.astream(...)`
(which is what `ainvoke` does inside, plus handing us the custom events).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph

from llmcompiler_graph.bench.scoring import score
from llmcompiler_graph.bench.trace import Run
from llmcompiler_graph.graph import create_llmcompiler
from llmcompiler_graph.measure import LLMCallRecord, measure
from llmcompiler_graph.react import create_react_baseline


def without_streaming(model: BaseChatModel) -> BaseChatModel:
    """The same model, whose `astream` yields the whole answer as one chunk at its end.

    The planner then publishes every task at once when the plan is complete: the paper's
    "no streaming" ablation, without a library switch. Models with a `streaming` field (such as
    `ChatOpenAI`) send plain requests, whose reply arrives when a stream would have ended.
    """
    update: dict[str, Any] = {"disable_streaming": True}
    if "streaming" in type(model).model_fields:
        update["streaming"] = False
    return model.model_copy(update=update)


@dataclass(frozen=True)
class Approach:
    """One way of answering: its report label and how to build its graph."""

    name: str
    label: str
    build: Callable[[BaseChatModel, Sequence[BaseTool]], CompiledStateGraph]


APPROACHES: dict[str, Approach] = {
    a.name: a
    for a in (
        Approach("llmcompiler", "LLMCompiler (streaming)", create_llmcompiler),
        Approach(
            "llmcompiler-tools",
            "LLMCompiler (tool-calling planner)",
            lambda model, tools: create_llmcompiler(model, tools, planner="tools"),
        ),
        Approach(
            "llmcompiler-two-call",
            "LLMCompiler (planner-written replans)",
            lambda model, tools: create_llmcompiler(model, tools, joiner_plans=False),
        ),
        Approach(
            "llmcompiler-text",
            "LLMCompiler (reasoning-first joiner)",
            lambda model, tools: create_llmcompiler(model, tools, joiner="text"),
        ),
        Approach(
            "llmcompiler-nostream",
            "LLMCompiler (no streaming)",
            lambda model, tools: create_llmcompiler(without_streaming(model), tools),
        ),
        Approach("react", "ReAct (sequential)", create_react_baseline),
        Approach(
            "react-parallel",
            "ReAct (parallel tool calls)",
            lambda model, tools: create_react_baseline(model, tools, parallel_tool_calls=True),
        ),
    )
}
"""Every approach by name, in report order."""

BASELINE = "react"
"""What speedups and cost ratios are relative to: the paper's ReAct, one tool call per turn."""
PARALLEL = "react-parallel"


@dataclass(frozen=True)
class Example:
    """A question and its expected answer."""

    question: str
    answer: str


class World(Protocol):
    """Where the runs happen: the shared model and tools, and where LLM calls are timed."""

    model: BaseChatModel
    tools: list[BaseTool]

    def mark(self) -> int:
        """A position to collect the LLM calls made after it."""
        ...

    def llm_calls(self, since: int, recorded: list[LLMCallRecord]) -> list[LLMCallRecord]:
        """The LLM calls made since `mark()` returned `since`, during one run (`recorded`: as
        the client's callbacks saw them)."""
        ...


async def run_one(
    graph: CompiledStateGraph,
    world: World,
    example: Example,
    *,
    workload: str,
    index: int,
    approach: str,
    system: str | None = None,
) -> Run:
    """Answer one question; a failing run is recorded with its error, not raised."""
    since = world.mark()
    measured = await measure(graph, example.question, system=system)
    return Run(
        workload=workload,
        example=index,
        approach=approach,
        question=example.question,
        expected=example.answer,
        start=measured.start,
        end=measured.end,
        answer=measured.answer,
        correct=measured.error is None and score(measured.answer, example.answer),
        llm_calls=world.llm_calls(since, measured.llm_calls),
        tool_calls=measured.tool_calls,
        events=measured.events,
        error=measured.error,
        first_answer_token=measured.first_answer_token,
    )


async def run_all(
    world: World,
    suites: Mapping[str, Sequence[Example]],
    approaches: Sequence[str],
    *,
    system: str | None = None,
    progress: Callable[[Run], None] | None = None,
) -> list[Run]:
    """Every approach on every example: workload by workload, example by example, so that a
    drift in the machine's speed touches all approaches alike."""
    graphs = {name: APPROACHES[name].build(world.model, world.tools) for name in approaches}
    runs = []
    for workload, examples in suites.items():
        for index, example in enumerate(examples):
            for name in approaches:
                run = await run_one(
                    graphs[name],
                    world,
                    example,
                    workload=workload,
                    index=index,
                    approach=name,
                    system=system,
                )
                runs.append(run)
                if progress is not None:
                    progress(run)
    return runs
