"""What one benchmark run records: its LLM calls, tool calls, custom events and answer.

Times are `time.time()` stamps, the clock of the graph's custom events and of the simulators'
logs, so every source lines up on one timeline. LLM calls come from the model's side when we
have it (the simulator's log: when the request arrived, when its first and last chunks left)
and else from LangChain callbacks (`Recorder`, the client's side: real-model mode). Tool calls
always come from the callbacks, as the agent saw them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from llmcompiler_graph.testing.latency import CHARS_PER_TOKEN
from llmcompiler_graph.tools.math import MATH_TAG

ROLE_TAGS = {MATH_TAG: "math", "llmcompiler:planner": "planner", "llmcompiler:joiner": "joiner"}
"""Callback tags of LLMCompiler's model calls -> role; any other model call is a ReAct turn."""


@dataclass(frozen=True)
class LLMCall:
    """One chat completion."""

    role: str
    """`planner`, `joiner`, `math` or `react`."""
    start: float
    first_token: float | None
    end: float
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation, as the agent saw it."""

    tool: str
    label: str
    """The call's input, shortened (for timelines)."""
    start: float
    end: float


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
    llm_calls: list[LLMCall] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """LLMCompiler's custom stream events (empty for other approaches)."""
    error: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.start


def estimate_tokens(chars: int) -> int:
    """Tokens of `chars` characters, counted like the simulator."""
    return math.ceil(chars / CHARS_PER_TOKEN)


@dataclass
class _OpenCall:
    role: str
    start: float
    prompt_chars: int
    first_token: float | None = None
    last_token: float | None = None
    completion_chars: int = 0


class Recorder(BaseCallbackHandler):
    """Collects the model and tool calls of one run from LangChain callbacks.

    Token counts are the provider's usage when it reports it; a call without one (a stream that
    broke, or was abandoned before its usage chunk) is estimated from the characters sent and
    received.
    """

    run_inline = True  # record in the event loop, not through a thread pool

    def __init__(self) -> None:
        self._open: dict[UUID, _OpenCall] = {}
        self._tools: dict[UUID, tuple[str, str, float]] = {}
        self.llm_calls: list[LLMCall] = []
        self.tool_calls: list[ToolCall] = []

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        role = next((ROLE_TAGS[t] for t in tags or () if t in ROLE_TAGS), "react")
        chars = sum(len(m.text) for batch in messages for m in batch)
        self._open[run_id] = _OpenCall(role, time.time(), chars)

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        call = self._open.get(run_id)
        if call is not None:
            call.last_token = time.time()
            call.first_token = call.first_token or call.last_token
            call.completion_chars += len(token)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, response)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, kwargs.get("response"))

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        label = str(next(iter(inputs.values()))) if inputs else input_str
        label = label if len(label) <= 80 else label[:79] + "…"
        self._tools[run_id] = (serialized.get("name") or "tool", label, time.time())

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_tool(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end_tool(run_id)

    def finish(self) -> None:
        """Close calls still open when the run returned (streams the client abandoned)."""
        for run_id in list(self._open):
            self._close(run_id, None)

    def _end_tool(self, run_id: UUID) -> None:
        if run_id in self._tools:
            tool, label, start = self._tools.pop(run_id)
            self.tool_calls.append(ToolCall(tool, label, start, time.time()))

    def _close(self, run_id: UUID, response: LLMResult | None) -> None:
        call = self._open.pop(run_id, None)
        if call is None:
            return
        end = time.time() if response is not None else (call.last_token or time.time())
        usage = _usage(response)
        prompt, completion = usage or (
            estimate_tokens(call.prompt_chars),
            estimate_tokens(call.completion_chars),
        )
        self.llm_calls.append(
            LLMCall(call.role, call.start, call.first_token, end, prompt, completion)
        )


def _usage(response: LLMResult | None) -> tuple[int, int] | None:
    """(prompt, completion) tokens the provider reported, if it did."""
    for generations in response.generations if response else ():
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                usage = getattr(generation.message, "usage_metadata", None)
                if usage:
                    return usage["input_tokens"], usage["output_tokens"]
    return None
