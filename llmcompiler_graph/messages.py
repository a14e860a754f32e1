"""The plan and its results as chat messages: the shape `create_react_agent` gives, which chat UIs
(Agent Chat UI, Studio's chat view) draw as tool calls and tool results.

Per round of a turn:

- an `AIMessage` whose `tool_calls` are the tasks the scheduler runs as the plan streams (the
  planner writes it; each call also reaches `stream_mode="messages"` as an `AIMessageChunk` the
  moment its task parses);
- when tasks wait for a person's approval, a second `AIMessage` with those calls, the last
  message of the turn while the run is paused (so a UI draws its review card under it);
- one `ToolMessage` per task answering its call id (content: the observation as text, cut to
  `max_observation_chars`; `status="error"` for failures and skips; `artifact`: the value as
  state keeps it when it is not text), each shown in `stream_mode="messages"` as its task ends;

and at the end of the turn the answer `AIMessage` (the one the answer relay streams).

Ids are derived from the turn (`turn_key`: its question's id and the namespace of the graph that
runs it), the round and the task id, never random, so a node that runs again (a resume) writes
the same messages, which replace the earlier ones, while a parent that runs this graph twice on
one question (two nodes, a loop) gets two sets.
Tool call ids stay under OpenAI's 40 characters, so a parent agent can send the conversation
on to a model.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, ToolMessage
from langgraph.graph.message import push_message
from langgraph.runtime import Runtime

from llmcompiler_graph.core.plan import Observation, Task, as_text
from llmcompiler_graph.core.prompts import truncate
from llmcompiler_graph.core.values import to_state

PREFIX = "llmcompiler"
"""Every message id this module makes starts with it."""


_OUR_CALL = re.compile(r"call_[0-9a-f]{12}_\d+")


def turn_key(question_id: str | None, runtime: Runtime[Any]) -> str:
    """What a turn's message ids derive from: the question's id and the namespace of the graph
    running it (deterministic across resumes)."""
    parent_ns = runtime.execution_info.checkpoint_ns.rpartition("|")[0]
    return f"{parent_ns}|{question_id}"


def _digest(key: str | None) -> str:
    return hashlib.sha1((key or "").encode()).hexdigest()[:12]


def call_id(key: str | None, idx: int) -> str:
    """The tool call id of task `idx` of a turn: `call_<12 hex>_<idx>`."""
    return f"call_{_digest(key)}_{idx}"


def plan_id(key: str | None, round: int, part: Literal["plan", "review"]) -> str:
    """The id of a round's plan message (`part="review"`: its calls that wait for approval)."""
    return f"{PREFIX}-{_digest(key)}-{part}-{round}"


def _call(key: str | None, task: Task) -> dict:
    return {"name": task["tool"], "args": task["args"], "id": call_id(key, task["idx"])}


def plan_message(
    key: str | None, round: int, tasks: Iterable[Task], part: Literal["plan", "review"]
) -> AIMessage:
    """A round's tasks as one AI message of tool calls (args as written, `$N` included)."""
    calls = [{**_call(key, t), "type": "tool_call"} for t in tasks]
    return AIMessage(content="", tool_calls=calls, id=plan_id(key, round, part))


def conversation(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The conversation as the planner and the joiner read it: without tool messages that answer
    one of our calls but that we did not write. (Agent Chat UI answers every unanswered call with
    "Successfully handled tool call." when the user sends a message while a review is pending: a
    call that never ran must not read as done.)"""
    return [
        m
        for m in messages
        if not (
            isinstance(m, ToolMessage)
            and _OUR_CALL.fullmatch(m.tool_call_id)
            and not (m.id or "").startswith(f"{PREFIX}-")
        )
    ]


def show_call(key: str | None, round: int, task: Task) -> None:
    """Show one task's call in `stream_mode="messages"` now, as a chunk of its round's plan
    message (chunks merge by the task id as `index`). Needs a node's context."""
    call = _call(key, task)
    chunk = AIMessageChunk(
        content="",
        id=plan_id(key, round, "plan"),
        tool_call_chunks=[
            {
                "name": call["name"],
                "args": json.dumps(call["args"], ensure_ascii=False),
                "id": call["id"],
                "index": task["idx"],
                "type": "tool_call_chunk",
            }
        ],
    )
    push_message(chunk, state_key=None)


def result_message(
    key: str | None, task: Task, observation: Observation, *, max_chars: int
) -> ToolMessage:
    """The `ToolMessage` answering a task's call: its observation as text (cut to `max_chars`),
    or its error; a value that is not text also as `artifact`, JSON-safe and cut to `max_chars`
    too (messages stay in the thread for good: the whole value is in `observations`)."""
    idx = task["idx"]
    ok = observation["status"] == "ok"
    value = observation["value"]
    text = as_text(value) if ok else observation["error"] or observation["status"]
    return ToolMessage(
        content=truncate(text, max_chars),
        tool_call_id=call_id(key, idx),
        name=task["tool"],
        status="success" if ok else "error",
        artifact=to_state(value, max_chars=max_chars)
        if ok and not isinstance(value, str)
        else None,
        id=f"{PREFIX}-{_digest(key)}-result-{idx}",
    )


class ToolResults:
    """One scheduler run's `ToolMessage`s: each shown as its task ends, all written at the end.

    `add` is called from the dispatch loop the moment an observation is recorded; the message
    is built and shown in the loop's next step, after the tasks waiting for that observation
    have been dispatched, so a big value never delays them.
    """

    def __init__(self, key: str | None, *, max_chars: int) -> None:
        self.key, self.max_chars = key, max_chars
        self.finished: dict[int, tuple[Task, Observation]] = {}
        self.messages: dict[int, ToolMessage] = {}
        self.closed = False
        """Set by `written`: a message not shown by then reaches the stream with the update."""

    def add(self, task: Task, observation: Observation) -> None:
        self.finished[task["idx"]] = (task, observation)
        asyncio.get_running_loop().call_soon(self._show, task["idx"])

    def _message(self, idx: int) -> ToolMessage:
        if idx not in self.messages:
            task, observation = self.finished[idx]
            self.messages[idx] = result_message(
                self.key, task, observation, max_chars=self.max_chars
            )
        return self.messages[idx]

    def _show(self, idx: int) -> None:
        if not self.closed:
            push_message(self._message(idx), state_key=None)

    def written(self) -> list[ToolMessage]:
        """The messages in task order, for the node's update (nothing is shown after this)."""
        self.closed = True
        return [self._message(idx) for idx in sorted(self.finished)]
