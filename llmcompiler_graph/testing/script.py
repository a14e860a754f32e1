"""What the simulated chat model answers: requests, responses and scripts.

A *script* decides every answer of an :class:`~llmcompiler_graph.testing.OpenAISimulator`. It is
either a callable ``(ChatRequest) -> ChatResponse | str`` or a list of canned answers consumed in
order (see :class:`ResponseQueue`). A ``str`` answer is plain content. For example::

    def script(request: ChatRequest) -> ChatResponse | str:
        if request.wants_structure:  # with_structured_output(...)
            return request.structured_reply({"answer": "42"})
        if "search" in request.tool_names:
            return ChatResponse.call("search", query=request.last_user_text)
        return "1. search('x')\\njoin()<END_OF_PLAN>"
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class ToolCall(NamedTuple):
    """One tool call of an answer; a plain ``(name, arguments[, id])`` tuple works too."""

    name: str
    arguments: dict[str, Any] | str
    """A dict, or a JSON string sent verbatim (so a script can send malformed arguments)."""
    id: str | None = None
    """Generated (``call_...``) when not given."""

    @property
    def arguments_json(self) -> str:
        """The arguments as the JSON text the API sends."""
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class ChatResponse:
    """A scripted answer: content, tool calls, or both (content streams first)."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    """Overrides the natural one ("tool_calls" when there are tool calls, else "stop")."""

    def __post_init__(self) -> None:
        self.tool_calls = [
            ToolCall(call.name, call.arguments, call.id or f"call_{uuid.uuid4().hex[:24]}")
            for call in (ToolCall(*raw) for raw in self.tool_calls)
        ]

    @classmethod
    def call(cls, name: str, /, **arguments: Any) -> ChatResponse:
        """An answer made of one tool call: ``ChatResponse.call("search", query="x")``."""
        return cls(tool_calls=[ToolCall(name, arguments)])

    @classmethod
    def json(cls, data: Any) -> ChatResponse:
        """An answer whose content is ``data`` as JSON (for ``response_format`` requests)."""
        return cls(content=json.dumps(data))

    @property
    def effective_finish_reason(self) -> str:
        """The finish reason sent to the client."""
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")

    @property
    def completion_text(self) -> str:
        """Everything the model "writes": content, then each call's arguments (for tokens)."""
        return self.content + "".join(call.arguments_json for call in self.tool_calls)


@dataclass(frozen=True)
class ChatRequest:
    """A Chat Completions request as the script sees it."""

    model: str
    messages: list[dict[str, Any]]
    """As sent by the client (OpenAI message dicts)."""
    tools: list[dict[str, Any]]
    tool_choice: str | dict[str, Any] | None
    response_format: dict[str, Any] | None
    stream: bool
    include_usage: bool
    """``stream_options.include_usage``: the stream ends with a usage chunk."""
    body: dict[str, Any]
    """The whole request body, for anything not lifted into a field."""
    received_at: float
    """``time.time()`` when the request arrived."""
    role: str | None = None
    """The package's role of the call (``planner``, ``joiner``, ``math``) from its
    ``X-LLMCompiler-Role`` header; None for any other call (e.g. a ReAct agent's turn)."""
    protocol: str | None = None
    """The reply format the call asks for, from its ``X-LLMCompiler-Protocol`` header: the
    joiner's ``lean`` (``lean+plans`` when it may write the next plan), ``text`` or
    ``structured``; the planner's ``text`` or ``tools``."""

    @classmethod
    def from_body(
        cls,
        body: dict[str, Any],
        received_at: float,
        role: str | None = None,
        protocol: str | None = None,
    ) -> ChatRequest:
        """Lift the fields scripts care about out of a request body."""
        stream_options = body.get("stream_options") or {}
        messages, tools = body.get("messages"), body.get("tools")
        return cls(
            model=str(body.get("model", "")),
            messages=messages if isinstance(messages, list) else [],
            tools=tools if isinstance(tools, list) else [],
            tool_choice=body.get("tool_choice"),
            response_format=body.get("response_format"),
            stream=bool(body.get("stream")),
            include_usage=bool(stream_options.get("include_usage")),
            body=body,
            received_at=received_at,
            role=role,
            protocol=protocol,
        )

    @property
    def tool_names(self) -> list[str]:
        """Names of the offered function tools, in order."""
        return [tool["function"]["name"] for tool in self.tools if "function" in tool]

    @property
    def forced_tool(self) -> str | None:
        """The tool the client forces (``with_structured_output(method="function_calling")``)."""
        choice = self.tool_choice
        if isinstance(choice, dict):
            return (choice.get("function") or {}).get("name")
        if choice == "required" and len(self.tool_names) == 1:
            return self.tool_names[0]
        return None

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The JSON schema of a ``response_format={"type": "json_schema", ...}`` request."""
        if self.response_format and self.response_format.get("type") == "json_schema":
            return self.response_format.get("json_schema", {}).get("schema", {})
        return None

    @property
    def wants_structure(self) -> bool:
        """True if the client asked for JSON: a forced tool or a JSON ``response_format``."""
        format_type = (self.response_format or {}).get("type")
        return bool(self.forced_tool) or format_type in ("json_schema", "json_object")

    @property
    def system_text(self) -> str:
        """The text of all system (and developer) messages, joined by blank lines."""
        return "\n\n".join(
            message_text(m) for m in self.messages if m.get("role") in ("system", "developer")
        )

    @property
    def last_user_text(self) -> str:
        """The text of the last user message ("" if there is none)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return message_text(users[-1]) if users else ""

    def structured_reply(self, data: dict[str, Any]) -> ChatResponse:
        """Answer ``data`` the way the request asks for structure: forced tool, else JSON content.

        Covers both ``with_structured_output`` methods, so a script need not know which one the
        code under test uses.
        """
        if self.forced_tool:
            return ChatResponse(tool_calls=[ToolCall(self.forced_tool, data)])
        return ChatResponse.json(data)


def message_text(message: dict[str, Any]) -> str:
    """The text of a message whose content is a string or a list of content parts."""
    content = message.get("content") or ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


Answer = ChatResponse | str
ScriptFn = Callable[[ChatRequest], Answer]
Script = ScriptFn | Iterable[Answer | ScriptFn]


class ScriptExhausted(RuntimeError):
    """A :class:`ResponseQueue` was asked for more answers than it was given."""


class ResponseQueue:
    """Canned answers handed out in order, one per request; thread-safe.

    An item may itself be a script callable, to compute one turn from its request.
    """

    def __init__(self, answers: Iterable[Answer | ScriptFn]) -> None:
        self._answers = deque(answers)
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> Answer:
        with self._lock:
            if not self._answers:
                raise ScriptExhausted("the simulator's response queue is empty")
            answer = self._answers.popleft()
        return answer(request) if callable(answer) else answer

    def __len__(self) -> int:
        """How many answers are left."""
        with self._lock:
            return len(self._answers)


def as_script(script: Script | None) -> ScriptFn:
    """Normalize a callable, a list of answers or ``None`` (echo) into a script callable."""
    if script is None:
        return echo_script
    if isinstance(script, str | ChatResponse):
        raise TypeError("a script is a callable or a list of answers; wrap one answer in a list")
    if callable(script):
        return script
    return ResponseQueue(script)


def echo_script(request: ChatRequest) -> ChatResponse:
    """A default that needs no setup: answers structured requests with ``{}``, else echoes."""
    if request.wants_structure:
        return request.structured_reply({})
    return ChatResponse(f"You said: {request.last_user_text}")


def as_response(answer: object) -> ChatResponse:
    """Normalize a script's return value (``str`` is content)."""
    if isinstance(answer, str):
        return ChatResponse(content=answer)
    if isinstance(answer, ChatResponse):
        return answer
    raise TypeError(f"a script must return ChatResponse or str, not {type(answer).__name__}")
