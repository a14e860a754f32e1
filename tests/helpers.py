"""Test helpers in one place: a scripted fake chat model, a prompt recorder, and the scenario
helpers of the end-to-end tests (simulators, roles, task events)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from llmcompiler_graph import measure
from llmcompiler_graph.core.plan import is_whole_reference
from llmcompiler_graph.core.roles import RoleAware, RoleName
from llmcompiler_graph.testing import ChatRequest, ChatResponse
from llmcompiler_graph.testing.scenarios import EIFFEL, SHOWCASE, Role, Scenario, role_of
from llmcompiler_graph.tools.calculator import safe_eval


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
    chunk: int = 1
    """Characters per streamed chunk."""
    tool_calling: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        if not self.tool_calling:
            raise NotImplementedError("this fake has no tool calling")
        return self

    def with_role(
        self, role: RoleName, protocol: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        return {**kwargs, "role": role}

    def _pieces(self, text: str) -> list[str]:
        """The streamed chunks of `text` (an empty reply is one empty chunk, as providers send)."""
        return [text[i : i + self.chunk] for i in range(0, len(text), self.chunk)] or [""]

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
        for piece in self._pieces(self._reply(messages, role).text):
            time.sleep(self.sleep)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        role: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for piece in self._pieces(self._reply(messages, role).text):
            await asyncio.sleep(self.sleep)
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))


Call = tuple[str, str]
"""A tool call as a model streams it: its name and its arguments' JSON text."""


def stream_of(content: str, calls: Sequence[Call], size: int = 4) -> list[AIMessageChunk]:
    """A reply as OpenAI streams it: the content in pieces of `size` characters, then per call a
    header chunk (index, id, name, no arguments) and its arguments in pieces of `size`."""
    chunks = [AIMessageChunk(content=content[i : i + size]) for i in range(0, len(content), size)]
    for index, (name, arguments) in enumerate(calls):
        header = tool_call_chunk(name=name, args="", id=f"call_{index}", index=index)
        chunks.append(AIMessageChunk(content="", tool_call_chunks=[header]))
        chunks += [
            AIMessageChunk(
                content="",
                tool_call_chunks=[tool_call_chunk(args=arguments[i : i + size], index=index)],
            )
            for i in range(0, len(arguments), size)
        ]
    return chunks


class ToolCallingModel(RoleAware, BaseChatModel):
    """Streams the same scripted reply of text and tool calls to every call (`stream_of`),
    recording what the planner asks: the tools bound, each call's role and protocol, the
    prompts, and each chunk as it is sent (`sent`). `fail_after` chunks, the stream breaks."""

    content: str = ""
    calls: list[Call] = Field(default_factory=list)
    size: int = 4
    fail_after: int | None = None
    bound: list[str] = Field(default_factory=list)
    roles: list[tuple[str, str | None]] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list)
    sent: list[AIMessageChunk] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ToolCallingModel:
        self.bound = [getattr(tool, "name", "") for tool in tools]
        return self

    def with_role(
        self, role: RoleName, protocol: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        self.roles.append((role, protocol))
        return kwargs

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        self.prompts.append(messages)
        for n, chunk in enumerate(stream_of(self.content, self.calls, self.size)):
            if n == self.fail_after:
                raise ConnectionError("the stream broke")
            self.sent.append(chunk)
            yield ChatGenerationChunk(message=chunk)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessageChunk(content="")
        for chunk in self._chunks(messages):
            message += chunk.message
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages):
            await asyncio.sleep(0)
            yield chunk


def decision(action: str, text: str = "", thought: str = "ok") -> AIMessage:
    """The structured joiner's reply: a `JoinerDecision` tool call."""
    key = "answer" if action == "finish" else "feedback"
    args = {"thought": thought, "action": action, key: text}
    return AIMessage("", tool_calls=[{"name": "JoinerDecision", "args": args, "id": "call_1"}])


class Recorder(measure.Recorder):
    """`measure.Recorder`, with the prompts and timings the graph tests look at."""

    def of(self, who: str) -> list[list[BaseMessage]]:
        """The prompts the `planner` or the `joiner` received, in call order."""
        return [messages for r, messages in self.prompts if r == who]

    def stream_end(self, who: str) -> float:
        """When the first LLM call of `who` produced its last token (or ended)."""
        call = next(c for c in self.llm_calls if c.role == who)
        return call.last_token or call.end


TASK_EVENTS = ("task_planned", "task_started", "task_finished")


SCENARIOS: tuple[Scenario, ...] = (*SHOWCASE, EIFFEL)
"""Every scripted question; a `ScenarioBrain` over these answers all of them."""
PARALLEL = next(s for s in SHOWCASE if len(s.rounds) == 1 and not s.math)
"""One round of independent searches."""
WITH_MATH = next(s for s in SHOWCASE if len(s.rounds) == 1 and s.math)
"""One round: searches whose results feed a math task."""
REPLAN = next(s for s in SHOWCASE if len(s.rounds) > 1)
"""A SHOWCASE question that needs a second plan."""
REPLANS = [s for s in SCENARIOS if len(s.rounds) > 1]


def scenario_id(scenario: Scenario) -> str:
    """A short test id from the question: `how-tall-is-the-eiffel`."""
    return "-".join(re.findall(r"[a-z0-9]+", scenario.question.lower())[:5])


def requests_of(simulator: Any, role: Role) -> list[Any]:
    """The simulator's log entries (`ChatLogEntry`) of one role, in arrival order."""
    return [entry for entry in simulator.requests if role_of(entry.request) == role]


def joiner_reply(
    request: ChatRequest, *, answer: str = "", feedback: str | None = None, thought: str = "ok"
) -> ChatResponse | str:
    """The joiner's decision in whichever protocol the request uses (structured or text)."""
    finish = feedback is None
    decision = {
        "thought": thought,
        "action": "finish" if finish else "replan",
        "answer": answer if finish else "",
        "feedback": feedback or "",
    }
    if request.wants_structure:
        return request.structured_reply(decision)
    action = f"Finish({answer})" if finish else f"Replan({feedback})"
    return f"Thought: {thought}\nAction: {action}"


Joiner = Callable[[ChatRequest], "ChatResponse | str"]


class RoleScript:
    """A simulator script: canned plans for the planner (one per round), a callable joiner, and
    `fallback` (e.g. a `ScenarioBrain`) for every other request (the math tool)."""

    def __init__(
        self,
        plans: Sequence[str],
        joiner: Joiner,
        fallback: Callable[[ChatRequest], ChatResponse | str] | None = None,
    ) -> None:
        self.plans = list(plans)
        self.joiner = joiner
        self.fallback = fallback
        self.planner_calls = 0

    def __call__(self, request: ChatRequest) -> ChatResponse | str:
        role = role_of(request)
        if role == "planner":
            plan = self.plans[min(self.planner_calls, len(self.plans) - 1)]
            self.planner_calls += 1
            return plan
        if role == "joiner":
            return self.joiner(request)
        if self.fallback is None:
            raise LookupError(f"no script for a {role} request")
        return self.fallback(request)


def task_events(events: Iterable[dict[str, Any]]) -> dict[int, list[str]]:
    """Task id -> the names of its task events, in arrival order."""
    by_task: dict[int, list[str]] = {}
    for event in events:
        if event.get("event") in TASK_EVENTS:
            by_task.setdefault(event["idx"], []).append(event["event"])
    return by_task


def first(events: Iterable[dict[str, Any]], name: str, **fields: Any) -> dict[str, Any]:
    """The first event called `name` whose fields match `fields`."""
    for event in events:
        if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
            return event
    raise LookupError(f"no {name} event with {fields}")


def round_tasks(scenario: Scenario) -> list[list[dict[str, Any]]]:
    """The scenario's tasks, round by round."""
    rounds: list[list[dict[str, Any]]] = []
    tasks = iter(scenario.tasks)
    for round in scenario.rounds:
        count = sum(1 for line in round.plan.splitlines() if _is_task_line(line))
        rounds.append([next(tasks) for _ in range(count)])
    return rounds


def _is_task_line(line: str) -> bool:
    head, dot, rest = line.strip().partition(". ")
    return bool(dot) and head.isdigit() and not rest.startswith("join(")


def math_results(scenario: Scenario) -> dict[int, float]:
    """Math task id -> what the math tool must return: the scenario's expression, evaluated."""
    results: dict[int, float] = {}
    for task in scenario.tasks:
        if task["tool"] == "math":
            problem = task["args"]["problem"]
            expression = next(e for p, e in scenario.math.items() if p in problem)
            results[task["idx"]] = safe_eval(expression)
    return results


def referenced_values(task: dict[str, Any], observations: dict[int, Any]) -> list[Any]:
    """The typed observations a task's whole-value `context` references must receive."""
    refs = [is_whole_reference(item) for item in task["args"].get("context") or []]
    return [observations[idx]["value"] for idx in refs if idx is not None]


def planned(scenario_tasks: Iterable[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """(idx, tool, args) of tasks, to compare a run's plan with a scenario's."""
    return [(t["idx"], t["tool"], t["args"]) for t in scenario_tasks]


def shape(messages: Sequence[BaseMessage]) -> list[str]:
    """The conversation's shape: `human`, `calls:<tools>` (an AI message of tool calls),
    `tool:<status>`, `ai` (text); and every tool call answered by exactly one ToolMessage."""
    calls = [c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    answered = [m.tool_call_id for m in messages if isinstance(m, ToolMessage)]
    assert sorted(calls) == sorted(answered), "a tool call without its ToolMessage, or the reverse"
    out = []
    for m in messages:
        if isinstance(m, HumanMessage):
            out.append("human")
        elif isinstance(m, ToolMessage):
            out.append(f"tool:{m.status}")
        elif isinstance(m, AIMessage) and m.tool_calls:
            out.append("calls:" + ",".join(c["name"] for c in m.tool_calls))
        else:
            out.append("ai")
    return out
