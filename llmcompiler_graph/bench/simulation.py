"""The loopback world of the benchmark: one simulated model and one search API for every approach.

The model is the real `ChatOpenAI` talking to `OpenAISimulator`, whose script (`BenchBrain`)
plays the planner, the joiner, the math tool and the ReAct turns from the workloads' scenarios;
search is the real `tavily-python` client talking to `TavilySimulator`, whose latency per query
is drawn uniformly from `search_latency`, seeded by the query (the same query always waits the
same, whichever approach asks). Every approach gets the same model object and the same tools.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from types import TracebackType
from typing import Any

from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI

from llmcompiler_graph.bench.trace import LLMCall, Recorder
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import (
    JOINER_MARK,
    MATH_MARK,
    PLANNER_MARK,
    Scenario,
    ScenarioBrain,
    merged_corpus,
)
from llmcompiler_graph.testing.script import ChatRequest, ChatResponse, ToolCall
from llmcompiler_graph.tools import calculate, create_math_tool, create_search_tool

MODEL_NAME = "gpt-4o-mini"
"""What the simulated model calls itself (and the default price row)."""

QUOTE_CHARS = 200
"""Context items longer than this are observations a ReAct turn quotes from, not copies."""

_FACT = re.compile(r'[A-Z][^"\n]*?\d[^"\n]*?[.!?](?=\s|"|$)')
"""The first sentence with a figure in it: what a model quotes from search results."""


class BenchBrain(ScenarioBrain):
    """`ScenarioBrain` whose ReAct turns behave like a function-calling model's.

    - The calls of a later round are offered only once the earlier round's results are in the
      conversation: they are what the model decides after reading them (the base script would
      start a replan scenario's refined search in the first turn, before seeing it is needed).
    - A `math` call's `context` quotes the sentence with the figure, not the whole search results
      (the base script copies every referenced observation verbatim, so each ReAct math turn
      would decode hundreds of tokens that LLMCompiler's planner never writes: `$1`).
    """

    def react(self, scenario: Scenario, request: ChatRequest) -> ChatResponse:
        response = super().react(_rounds_reached(scenario, request), request)
        response.tool_calls = [_quoting(call) for call in response.tool_calls]
        return response


def _rounds_reached(scenario: Scenario, request: ChatRequest) -> Scenario:
    """The scenario cut after the first round whose calls are not all answered yet."""
    answered = sum(1 for m in request.messages if m.get("role") == "tool")
    for end in range(1, len(scenario.rounds)):
        head = replace(scenario, rounds=scenario.rounds[:end])
        if answered < len(head.tasks):
            return head
    return scenario


def _quoting(call: ToolCall) -> ToolCall:
    arguments = call.arguments
    if not (isinstance(arguments, dict) and isinstance(arguments.get("context"), list)):
        return call
    context = [_quote(item) if isinstance(item, str) else item for item in arguments["context"]]
    return call._replace(arguments={**arguments, "context": context})


def _quote(text: str) -> str:
    if len(text) <= QUOTE_CHARS:
        return text
    found = _FACT.search(text)
    return found.group(0) if found else text[:QUOTE_CHARS]


def role_of(request: ChatRequest) -> str:
    """Which part of which approach sent a request, from its system prompt."""
    system = request.system_text
    for mark, role in ((MATH_MARK, "math"), (PLANNER_MARK, "planner"), (JOINER_MARK, "joiner")):
        if mark in system:
            return role
    return "react"


class SimulatedWorld:
    """Both simulators on loopback, and the model and tools built on them.

    Use as a context manager. `search_latency` is the (low, high) range of the uniform, per-query
    seeded search latency in seconds.
    """

    def __init__(
        self,
        scenarios: Iterable[Scenario],
        *,
        latency: LatencyModel,
        search_latency: tuple[float, float],
        seed: int,
    ) -> None:
        scenarios = list(scenarios)
        self.latency = latency
        self.search_latency = search_latency
        self.llm = OpenAISimulator(BenchBrain(scenarios), latency=latency, models=[MODEL_NAME])
        self.search = TavilySimulator(merged_corpus(scenarios), jitter=search_latency, seed=seed)
        self._stack = contextlib.ExitStack()
        self.model: ChatOpenAI
        self.tools: list[BaseTool]

    def __enter__(self) -> SimulatedWorld:
        self._stack.enter_context(self.llm)
        self._stack.enter_context(self.search)
        self.model = ChatOpenAI(
            model=MODEL_NAME,
            base_url=self.llm.base_url,
            api_key="sim",
            streaming=True,
            stream_usage=True,
        )
        search = create_search_tool(api_key="tvly-sim", base_url=self.search.base_url)
        self.tools = [search, create_math_tool(self.model), calculate]
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def describe(self) -> dict[str, Any]:
        """The settings a report needs to be reproduced."""
        return {
            "model": MODEL_NAME,
            "latency": asdict(self.latency),
            "search_latency": list(self.search_latency),
        }

    @contextlib.contextmanager
    def instant(self) -> Iterator[None]:
        """No simulated latency inside the block (for warm-up runs)."""
        latency, jitter = self.llm.latency, self.search.jitter
        self.llm.latency, self.search.jitter = LatencyModel.instant(), None
        try:
            yield
        finally:
            self.llm.latency, self.search.jitter = latency, jitter

    def mark(self) -> int:
        """A position in the model's request log; `llm_calls(mark)` returns what came after."""
        return len(self.llm.requests)

    def llm_calls(self, since: int, recorder: Recorder) -> list[LLMCall]:
        """The model calls since `since`, timed and counted by the simulator (the model's side)."""
        return [
            LLMCall(
                role=role_of(entry.request),
                start=entry.received_at,
                first_token=entry.first_chunk_at,
                end=entry.finished_at or entry.last_chunk_at or entry.received_at,
                prompt_tokens=entry.prompt_tokens,
                completion_tokens=entry.completion_tokens,
            )
            for entry in self.llm.requests[since:]
        ]
