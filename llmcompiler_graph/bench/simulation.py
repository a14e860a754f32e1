"""The loopback world of the benchmark: one simulated model and one search API for every approach.

The model is the real `ChatOpenAI` talking to `OpenAISimulator`, whose script (`ScenarioBrain`)
plays the planner, the joiner, the math tool and the ReAct turns from the workloads' scenarios;
search is the real `tavily-python` client talking to `TavilySimulator`, whose latency per query
is drawn uniformly from `search_latency`, seeded by the query (the same query always waits the
same, whichever approach asks). Every approach gets the same model object and the same tools.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from types import TracebackType
from typing import Any

from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI

from llmcompiler_graph.bench.trace import LLMCall, Recorder
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import Scenario, ScenarioBrain, merged_corpus, role_of
from llmcompiler_graph.tools import calculate, create_math_tool, create_search_tool

MODEL_NAME = "gpt-4o-mini"
"""What the simulated model calls itself (and the default price row)."""


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
        self.llm = OpenAISimulator(ScenarioBrain(scenarios), latency=latency, models=[MODEL_NAME])
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
