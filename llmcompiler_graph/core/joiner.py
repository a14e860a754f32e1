"""The joiner: one LLM call that reads the observations and answers (Finish) or asks to Replan.

Two protocols: `structured` (the decision comes back through tool calling / structured output,
the most reliable with OpenAI models) and `text` (the paper's `Thought:` / `Action: Finish(...)` /
`Action: Replan(...)` lines, for models that cannot call tools). `structured` falls back to `text`
when the model cannot bind tools.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, Field

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMCall
from llmcompiler_graph.core.plan import Turn
from llmcompiler_graph.core.prompts import (
    FORCE_ANSWER,
    JOINER_PROMPT,
    STRUCTURED_PROTOCOL,
    TEXT_PROTOCOL,
    fill,
    format_results,
    with_conversation,
)
from llmcompiler_graph.core.roles import JOINER

JoinerFormat = Literal["structured", "text"]

NO_COMPLETE_ANSWER = "I could not find a complete answer with the tools and plans I had."


class JoinerDecision(BaseModel):
    """Decide whether the observations answer the user's question."""

    thought: str = Field(description="Short reasoning about the observations.")
    action: Literal["finish", "replan"] = Field(
        description="finish: answer the user now; replan: ask for a new plan."
    )
    answer: str = Field(default="", description="The final answer to the user (for finish).")
    feedback: str = Field(
        default="", description="What is missing and what the next plan should do (for replan)."
    )


@dataclass(frozen=True)
class Decision:
    """What the joiner decided."""

    thought: str
    finish: bool
    answer: str
    feedback: str


class Joiner:
    """Reads the executed plan and decides.

    Args:
        model: the chat model.
        format: `"structured"` or `"text"` (see the module docstring).
        prompt: the system prompt template (see `llmcompiler_graph.core.prompts`).
        max_observation_chars: each observation is truncated to this many characters in the
            prompt, so a huge tool output cannot blow the context window.
        llm_timeout: seconds one try of the joiner's call may take (0 or None: no limit); see
            `llmcompiler_graph.core.llm`.
        llm_retries: retries of a transient failure (rate limit, server or connection error,
            timeout); `LLMCallError` once they are spent.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        format: JoinerFormat = "structured",
        prompt: str | None = None,
        max_observation_chars: int = 2000,
        llm_timeout: float | None = DEFAULT_TIMEOUT,
        llm_retries: int = DEFAULT_RETRIES,
    ) -> None:
        if format not in ("structured", "text"):
            raise ValueError(f"joiner must be 'structured' or 'text', got {format!r}.")
        self.runnable: Runnable = model
        if format == "structured":
            try:
                self.runnable = model.with_structured_output(
                    JoinerDecision, method="function_calling", include_raw=True
                )
            except NotImplementedError:
                format = "text"
        self.format: JoinerFormat = format
        self.runnable = JOINER.mark(self.runnable)
        protocol = STRUCTURED_PROTOCOL if format == "structured" else TEXT_PROTOCOL
        self.system_prompt = fill(prompt or JOINER_PROMPT, protocol=protocol)
        self.max_observation_chars = max_observation_chars
        self.llm = LLMCall(JOINER, model, timeout=llm_timeout, retries=llm_retries)

    async def adecide(
        self,
        turn: Turn,
        messages: Sequence[AnyMessage],
        *,
        force_answer: bool,
        events: EventSink,
        config: RunnableConfig | None = None,
        blocking: bool = False,
    ) -> Decision:
        """Read the turn's observations and decide; `force_answer` when no replan is left.
        `blocking`: call the model's sync API (for `decide`, see `llmcompiler_graph.core.llm`)."""
        prompt = self.prompt(turn, messages, force_answer)
        output = await self.llm.ainvoke(self.runnable, prompt, config, blocking=blocking)
        return self._decided(output, force_answer, events)

    def decide(
        self,
        turn: Turn,
        messages: Sequence[AnyMessage],
        *,
        force_answer: bool,
        events: EventSink,
        config: RunnableConfig | None = None,
    ) -> Decision:
        """Sync `adecide`, run on a private loop with the model's sync API."""
        return run_sync(
            self.adecide(
                turn,
                messages,
                force_answer=force_answer,
                events=events,
                config=config,
                blocking=True,
            )
        )

    def prompt(
        self, turn: Turn, messages: Sequence[AnyMessage], force_answer: bool
    ) -> list[BaseMessage]:
        """Instructions, the conversation, then the plan with its results."""
        results = format_results(
            turn.tasks,
            turn.observations,
            max_chars=self.max_observation_chars,
            rejected=turn.rejected,
        )
        note = f"\n\n{FORCE_ANSWER}" if force_answer else ""
        return with_conversation(
            self.system_prompt,
            messages,
            then=f"The plan and its results:\n{results or '(no tasks)'}{note}",
        )

    def _decided(self, output: object, force_answer: bool, events: EventSink) -> Decision:
        decision = self.read(output, force_answer)
        events.send(
            "joiner_decision",
            decision="finish" if decision.finish else "replan",
            thought=decision.thought,
            answer=decision.answer if decision.finish else None,
            feedback=None if decision.finish else decision.feedback,
        )
        return decision

    def read(self, output: object, force_answer: bool) -> Decision:
        """The decision from the model's output, in either protocol.

        A structured reply the model wrote as plain text (or with broken arguments) is read with
        the text protocol. Over budget, a replan becomes an answer that says what is missing;
        an empty answer never reaches the user as an empty message.
        """
        if isinstance(output, dict):  # structured, include_raw=True
            parsed = output.get("parsed")
            output = parsed if isinstance(parsed, JoinerDecision) else output["raw"]
        if isinstance(output, JoinerDecision):
            decision = Decision(
                output.thought, output.action == "finish", output.answer, output.feedback
            )
        elif isinstance(output, BaseMessage):
            decision = parse_text_decision(output.text)
        else:
            raise TypeError(f"unexpected joiner output {type(output).__name__}")
        if force_answer and not decision.finish:
            missing = decision.feedback or decision.thought
            answer = decision.answer or f"{NO_COMPLETE_ANSWER} What is missing: {missing}"
            return Decision(decision.thought, True, answer, "")
        if decision.finish and not decision.answer.strip():
            return Decision(decision.thought, True, decision.thought or NO_COMPLETE_ANSWER, "")
        return decision


_THOUGHT = re.compile(r"^\W*thought\W*[:\-]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_ACTION = re.compile(r"action\W*:\W*(finish|replan)\s*\(", re.IGNORECASE)
_BARE_ACTION = re.compile(r"\b(finish|replan)\s*\(", re.IGNORECASE)


def parse_text_decision(text: str) -> Decision:
    """Parse the text protocol tolerantly.

    The action is the first `Action: Finish(` / `Action: Replan(` (else the first bare `Finish(`);
    its argument runs to the last `)` of the reply, so an answer that itself contains parentheses
    survives, and a missing `)` is tolerated. A reply with no action at all is the answer.

    >>> parse_text_decision("Thought: done\\nAction: Finish(42 (approximately))").answer
    '42 (approximately)'
    """
    thought_match = _THOUGHT.search(text)
    thought = thought_match.group(1).strip() if thought_match else ""
    action = _ACTION.search(text) or _BARE_ACTION.search(text)
    if action is None:
        body = _THOUGHT.sub("", text).strip()
        return Decision(thought, True, body or thought, "")
    rest = text[action.end() :]
    close = rest.rfind(")")
    argument = (rest[:close] if close >= 0 else rest).strip()
    if action.group(1).lower() == "finish":
        return Decision(thought, True, argument, "")
    return Decision(thought, False, "", argument)
