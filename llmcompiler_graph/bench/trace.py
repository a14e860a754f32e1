"""What one benchmark run records: its LLM calls, tool calls, custom events and answer.

LLM calls come from the model's side when we have it (the simulator's log: when the request
arrived, when its first and last chunks left) and else from LangChain callbacks (`measure`'s
`Recorder`, the client's side: real-model mode). Tool calls always come from the callbacks, as
the agent saw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llmcompiler_graph.measure import LLMCallRecord, ToolCall


@dataclass
class Run:
    """One question answered by one approach."""

    workload: str
    example: int
    approach: str
    question: str
    expected: str
    start: float
    end: float
    answer: str | None
    correct: bool
    llm_calls: list[LLMCallRecord] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """LLMCompiler's custom stream events (empty for other approaches)."""
    error: str | None = None
    first_answer_token: float | None = None
    """When the answer's first text reached the messages stream (`Measurement`)."""

    @property
    def first_answer(self) -> float | None:
        """Seconds from the question to the answer's first text."""
        return None if self.first_answer_token is None else self.first_answer_token - self.start

    @property
    def latency(self) -> float:
        return self.end - self.start
