"""Shared helpers of the graph tests: a scripted fake chat model and a callback recorder."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from llmcompiler_graph.core.roles import RoleAware, RoleName, role_of


def role(tags: Sequence[str] | None) -> str:
    """The role of an LLM call, from the tags the package puts on its calls."""
    return role_of(tags) or "other"


def question_of(messages: Sequence[BaseMessage]) -> str:
    """The text of the last user message before any replan / results message."""
    humans = [m.text for m in messages if isinstance(m, HumanMessage)]
    real = [h for h in humans if not h.startswith(("The plan and its", "The previous plan"))]
    return real[-1] if real else ""


Script = Callable[[str, list[BaseMessage]], "str | AIMessage"]


class ScriptedChatModel(RoleAware, BaseChatModel):
    """Replies `script(role, messages)` (role: planner or joiner); streams text char by char.

    `sleep` is per streamed character. With `tool_calling`, `bind_tools` returns the model
    itself, so a script returning `decision(...)` drives the structured joiner.
    """

    script: Script
    sleep: float = 0.0
    tool_calling: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        if not self.tool_calling:
            raise NotImplementedError("this fake has no tool calling")
        return self

    def with_role(self, role: RoleName, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "role": role}

    def _reply(self, messages: list[BaseMessage], role: str | None) -> AIMessage:
        reply = self.script("joiner" if role == "joiner" else "planner", messages)
        return AIMessage(reply) if isinstance(reply, str) else reply

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        role: str | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages, role))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        role: str | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for char in self._reply(messages, role).text:
            time.sleep(self.sleep)
            yield ChatGenerationChunk(message=AIMessageChunk(content=char))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        role: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for char in self._reply(messages, role).text:
            await asyncio.sleep(self.sleep)
            yield ChatGenerationChunk(message=AIMessageChunk(content=char))


def decision(action: str, text: str = "", thought: str = "ok") -> AIMessage:
    """The structured joiner's reply: a `JoinerDecision` tool call."""
    key = "answer" if action == "finish" else "feedback"
    args = {"thought": thought, "action": action, key: text}
    return AIMessage("", tool_calls=[{"name": "JoinerDecision", "args": args, "id": "call_1"}])


class Recorder(BaseCallbackHandler):
    """Records every chat model prompt by role, and when each LLM run streamed and ended."""

    run_inline = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.prompts: list[tuple[str, list[BaseMessage]]] = []
        self.roles: dict[UUID, str] = {}
        self.last_token: dict[UUID, float] = {}
        self.ended: dict[UUID, float] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        with self._lock:
            self.roles[run_id] = role(tags)
            self.prompts.append((role(tags), messages[0]))

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        self.last_token[run_id] = time.time()

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.ended[run_id] = time.time()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.ended[run_id] = time.time()

    def of(self, who: str) -> list[list[BaseMessage]]:
        """The prompts the `planner` or the `joiner` received, in call order."""
        return [messages for r, messages in self.prompts if r == who]

    def stream_end(self, who: str) -> float:
        """When the first LLM run of `who` produced its last token (or ended)."""
        run = next(r for r, name in self.roles.items() if name == who)
        return min(self.last_token.get(run, float("inf")), self.ended.get(run, float("inf")))
