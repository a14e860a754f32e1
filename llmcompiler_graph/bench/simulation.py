"""The loopback world of the benchmark: one simulated model and one search API for every approach.

The model is the real `ChatOpenAI` talking to `OpenAISimulator`, whose script (`ScenarioBrain`)
plays the planner, the joiner, the math tool and the ReAct turns from the workloads' scenarios;
search is the real `tavily-python` client talking to `TavilySimulator`, whose latency per query
is drawn uniformly from `search_latency`, seeded by the query (the same query always waits the
same, whichever approach asks). Every approach gets the same model object and the same tools.
"""

from __future__ import annotations

from llmcompiler_graph.measure import LLMCallRecord
from llmcompiler_graph.testing.latency import SIMULATED_MODEL
from llmcompiler_graph.testing.world import SimulatedWorld

__all__ = ["SIMULATED_MODEL", "BenchWorld"]


class BenchWorld(SimulatedWorld):
    """The simulated world, plus the model's side of every LLM call for the metrics."""

    def mark(self) -> int:
        """A position in the model's request log; `llm_calls(mark)` returns what came after."""
        return self.llm.logged

    def llm_calls(self, since: int, recorded: list[LLMCallRecord]) -> list[LLMCallRecord]:
        """The model calls since `since`, timed and counted by the simulator (the model's side)."""
        return [
            LLMCallRecord(
                role=entry.request.role or "other",
                start=entry.received_at,
                first_token=entry.first_chunk_at,
                end=entry.finished_at or entry.last_chunk_at or entry.received_at,
                prompt_tokens=entry.prompt_tokens,
                completion_tokens=entry.completion_tokens,
                cached_tokens=entry.cached_tokens,
            )
            for entry in self.llm.requests_since(since)
        ]
