"""Graph state: the conversation, plus the plan and observations of the current user turn.

The input and output schemas are messages-only, so a parent graph sees a question in and one
final `AIMessage` out. Everything else is JSON-like data that checkpointers and Studio can store.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.graph import MessagesState

from llmcompiler_graph.core.plan import Observation, Task, Turn


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
    decision: Literal["finish", "replan"]
    """The joiner's last decision; the graph ends on `finish`."""
    thought: str
    """The joiner's last thought."""
    feedback: str
    """The joiner's last replan feedback ('' after an answer)."""


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
    )
