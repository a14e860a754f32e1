"""Run one question through a messages graph and measure it: latency, every LLM call by role
(tokens, first token), every tool call, the custom events and the answer.

The one way the package measures a run, shared by the command-line app (`ask`, `demo`) and the
benchmark. Works for any graph taking and returning `messages` (LLMCompiler, a ReAct agent).
Times are `time.time()` stamps, the clock of the graph's custom events and of the simulators'
logs, so every source lines up on one timeline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from llmcompiler_graph.core.roles import is_relay, role_of
from llmcompiler_graph.core.values import shorten
from llmcompiler_graph.testing.latency import CHARS_PER_TOKEN

RECURSION_LIMIT = 200
"""Enough supersteps for sequential ReAct on long plans (two per tool call)."""


@dataclass(frozen=True)
class LLMCallRecord:
    """One chat completion."""

    role: str
    """`planner`, `joiner`, `math` (see `core.roles`), or `other` (e.g. a ReAct agent's turn)."""
    start: float
    first_token: float | None
    end: float
    prompt_tokens: int
    completion_tokens: int
    last_token: float | None = None
    """When the last streamed token arrived (None for a call that streamed nothing)."""
    cached_tokens: int = 0
    """Of the prompt tokens, those the provider reported from its prefix cache."""


@dataclass(frozen=True)
class ToolCall:
    """One tool invocation, as the agent saw it."""

    tool: str
    label: str
    """The call's input, shortened (for timelines)."""
    start: float
    end: float


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
    """Collects the model and tool calls of one run from LangChain callbacks (the client's side).

    Token counts are the provider's usage when it reports it; a call without one (a stream that
    broke, or was abandoned before its usage chunk) is estimated from the characters sent and
    received. `prompts` keeps each call's role and messages, in call order.
    """

    run_inline = True  # record in the event loop, not through a thread pool

    def __init__(self) -> None:
        self.prompts: list[tuple[str, list[BaseMessage]]] = []
        self._open: dict[UUID, _OpenCall] = {}
        self._tools: dict[UUID, tuple[str, str, float]] = {}
        self.llm_calls: list[LLMCallRecord] = []
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
        if is_relay(tags):
            return  # the joiner's answer relayed to the messages stream, not a model call
        role = role_of(tags) or "other"
        chars = sum(len(m.text) for batch in messages for m in batch)
        self._open[run_id] = _OpenCall(role, time.time(), chars)
        self.prompts.append((role, messages[0]))

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
        label = shorten(label, 80)
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
        prompt, completion, cached = usage or (
            estimate_tokens(call.prompt_chars),
            estimate_tokens(call.completion_chars),
            0,
        )
        self.llm_calls.append(
            LLMCallRecord(
                call.role,
                call.start,
                call.first_token,
                end,
                prompt,
                completion,
                call.last_token,
                cached,
            )
        )


def _usage(response: LLMResult | None) -> tuple[int, int, int] | None:
    """(prompt, completion, cached prompt) tokens the provider reported, if it did."""
    for generations in response.generations if response else ():
        for generation in generations:
            if isinstance(generation, ChatGeneration):
                usage = getattr(generation.message, "usage_metadata", None)
                if usage:
                    cached = (usage.get("input_token_details") or {}).get("cache_read") or 0
                    return usage["input_tokens"], usage["output_tokens"], cached
    return None


@dataclass
class Measurement:
    """One question, answered (or failed) by one graph."""

    question: str
    start: float
    end: float
    answer: str | None
    exception: BaseException | None
    llm_calls: list[LLMCallRecord] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    """The graph's custom stream events (LLMCompiler's task events; none for ReAct)."""
    first_answer_token: float | None = None
    """When the first text of the final answer reached `stream_mode="messages"` (a streamed
    answer's first token; else the whole message): what a chat UI's user waits for."""

    @property
    def latency(self) -> float:
        """Seconds from the call to the end of the stream."""
        return self.end - self.start

    @property
    def error(self) -> str | None:
        exc = self.exception
        return None if exc is None else f"{type(exc).__name__}: {exc}"

    @property
    def tokens(self) -> dict[str, int]:
        """Input, output and total tokens over every LLM call (math tool included)."""
        prompt = sum(c.prompt_tokens for c in self.llm_calls)
        completion = sum(c.completion_tokens for c in self.llm_calls)
        return {"input": prompt, "output": completion, "total": prompt + completion}

    def stats(self) -> str:
        """`2.81 s · 2 LLM calls · 1,234 tokens (1,100 in, 134 out)`."""
        t, calls = self.tokens, len(self.llm_calls)
        return (
            f"{self.latency:.2f} s · {calls} LLM call{'' if calls == 1 else 's'}"
            f" · {t['total']:,} tokens ({t['input']:,} in, {t['output']:,} out)"
        )


async def measure(
    graph: CompiledStateGraph,
    question: str,
    *,
    system: str | None = None,
    context: Any = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    config: RunnableConfig | None = None,
) -> Measurement:
    """Ask `graph` one question and measure the run; an error is recorded, not raised.

    `on_event` sees each custom event as it arrives (a live view); `config` adds to the run's
    config (e.g. a `thread_id`); `system` is sent as a system
    message before the question.
    """
    messages: list[tuple[str, str]] = [("system", system)] if system else []
    recorder = Recorder()
    config = {**(config or {}), "callbacks": [recorder], "recursion_limit": RECURSION_LIMIT}
    run = Measurement(question, start=time.time(), end=0.0, answer=None, exception=None)
    shown: dict[str, float] = {}  # message id -> when its first text was streamed
    answer_id = None
    try:
        async for mode, chunk in graph.astream(
            {"messages": [*messages, ("user", question)]},
            config,
            context=context,
            stream_mode=["custom", "values", "messages"],
        ):
            if mode == "custom":
                run.events.append(chunk)
                if on_event is not None:
                    on_event(chunk)
            elif mode == "messages":
                message = chunk[0]
                if message.text and message.id is not None:
                    shown.setdefault(message.id, time.time())
            elif chunk.get("messages"):
                final = chunk["messages"][-1]
                run.answer, answer_id = final.text, final.id
                shown.setdefault(final.id, time.time())
    except Exception as exc:
        run.exception, run.answer = exc, None
    run.end = time.time()
    if run.exception is None and answer_id is not None:
        run.first_answer_token = shown.get(answer_id)
    recorder.finish()
    run.llm_calls, run.tool_calls = recorder.llm_calls, recorder.tool_calls
    return run
