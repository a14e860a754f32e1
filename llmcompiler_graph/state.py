"""Graph state: the conversation, plus the plan and observations of the current user turn.

The input and output schemas are messages-only, so a parent graph sees a question in and one
final `AIMessage` out. Everything else is JSON data that checkpointers and Studio can store:
tasks and observations pass `stored_task` / `stored_observation` on their way in.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import MessagesState

from llmcompiler_graph.core.plan import Observation, Task, Turn
from llmcompiler_graph.core.values import to_state


class State(MessagesState, total=False):
    """The shared state of the planner, scheduler and joiner."""

    turn_id: str
    """Id of the user message the current turn answers; a new one starts a new turn (ids at 1)."""
    round: int
    """1 for the first plan of the turn, +1 per replan. The replan budget is checked against it."""
    tasks: list[Task]
    """Every task planned in this turn, all rounds (written by the planner)."""
    observations: list[Observation]
    """One observation per task of this turn, by task id order (written by the scheduler)."""
    rejected: list[Task]
    """Tasks of this turn that were not run because their id was taken (the joiner is told)."""
    decision: Literal["finish", "replan"]
    """The joiner's last decision; the graph ends on `finish`."""
    thought: str
    """The joiner's last thought."""
    feedback: str
    """The joiner's last replan feedback ('' after an answer)."""
    awaiting_approval: list[int]
    """Ids of the tasks held for a person's approval (see `llmcompiler_graph.approval`)."""
    review: str
    """The reviewer's rejections of this round, one per line ('' when none): the next plan's
    feedback."""


class PlannerUpdate(TypedDict, total=False):
    """What the planner node writes."""

    turn_id: str
    round: int
    tasks: list[Task]
    rejected: list[Task]
    feedback: str
    awaiting_approval: list[int]
    messages: list[AnyMessage]


class SchedulerUpdate(TypedDict, total=False):
    """What the scheduler node writes (`tasks`, `awaiting_approval`, `review`: after an
    approval)."""

    observations: list[Observation]
    tasks: list[Task]
    awaiting_approval: list[int]
    review: str
    messages: list[AnyMessage]


class JoinerUpdate(TypedDict, total=False):
    """What the joiner node writes (nothing while tasks still lack observations)."""

    messages: list[AnyMessage]
    decision: Literal["finish", "replan"]
    thought: str
    feedback: str
    review: str


class EmptyQuestionError(ValueError):
    """The input has no user message with text in it."""


def current_turn(state: State | dict[str, Any]) -> Turn:
    """The current user turn as the next node sees it; a clear error when there is no question."""
    question = next(
        (m for m in reversed(state.get("messages", [])) if isinstance(m, HumanMessage)), None
    )
    if question is None or not question.text.strip():
        raise EmptyQuestionError(
            "LLMCompiler needs a question: pass a non-empty user message, e.g. "
            '{"messages": [("user", "What is the capital of France?")]}.'
        )
    if question.id != state.get("turn_id"):
        return Turn(question)
    return Turn(
        question,
        round=state.get("round", 0),
        tasks=list(state.get("tasks", [])),
        observations={o["idx"]: o for o in state.get("observations", [])},
        feedback=state.get("feedback", ""),
        rejected=list(state.get("rejected", [])),
    )


def stored_task(task: Task, cap: int) -> Task:
    """A task as state keeps it: each argument JSON-safe, at most `cap` characters."""
    return {**task, "args": {name: to_state(v, max_chars=cap) for name, v in task["args"].items()}}


def stored_observation(observation: Observation, cap: int) -> Observation:
    """An observation as state keeps it: its value (and error) JSON-safe, at most `cap`
    characters; the tasks of the same run that needed it received the whole value."""
    error = observation["error"]
    return {
        **observation,
        "value": to_state(observation["value"], max_chars=cap),
        "error": None if error is None else to_state(error, max_chars=cap),
    }
