"""Graph state: the conversation, plus the plan and observations of the current user turn.

The input and output schemas are messages-only, so a parent graph sees a question in and one
final `AIMessage` out. Everything else is JSON-like data that checkpointers and Studio can store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langgraph.graph import MessagesState

from llmcompiler_graph.core.plan import Observation, Task


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


@dataclass(frozen=True)
class Turn:
    """What the current user turn looks like to the node about to run."""

    question: HumanMessage
    is_new: bool
    round: int
    """The latest round planned in this turn; 0 for a new turn (so the next plan is `round + 1`)."""
    tasks: list[Task]
    observations: dict[int, Observation]

    @property
    def pending(self) -> list[Task]:
        """Tasks planned in this turn that have no observation yet (the scheduler was cut off)."""
        return [t for t in self.tasks if t["idx"] not in self.observations]

    @property
    def next_id(self) -> int:
        """The first task id the next plan may use."""
        return max((t["idx"] for t in self.tasks), default=0) + 1


def current_turn(state: dict[str, Any]) -> Turn:
    """Read the current turn off the state; raise a clear error when there is no question."""
    question = next(
        (m for m in reversed(state.get("messages", [])) if isinstance(m, HumanMessage)), None
    )
    if question is None or not question.text.strip():
        raise EmptyQuestionError(
            "LLMCompiler needs a question: pass a non-empty user message, e.g. "
            '{"messages": [("user", "What is the capital of France?")]}.'
        )
    if question.id != state.get("turn_id"):
        return Turn(question, is_new=True, round=0, tasks=[], observations={})
    observations = {o["idx"]: o for o in state.get("observations", [])}
    return Turn(
        question,
        is_new=False,
        round=state.get("round", 0),
        tasks=list(state.get("tasks", [])),
        observations=observations,
    )


def conversation(messages: list[AnyMessage]) -> tuple[str, list[AnyMessage]]:
    """Split the caller's messages into extra system instructions and a clean dialogue.

    Our prompts bring their own system message, so a caller's system messages are merged into it
    rather than sent mid-conversation (some providers reject that). Tool-calling turns of a
    parent agent are reduced to their text so that no provider sees orphaned tool messages.
    """
    system: list[str] = []
    dialogue: list[AnyMessage] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            system.append(message.text)
        elif isinstance(message, HumanMessage):
            dialogue.append(message)
        elif isinstance(message, AIMessage) and message.text.strip():
            dialogue.append(AIMessage(content=message.text, id=message.id))
    return "\n\n".join(system), dialogue
