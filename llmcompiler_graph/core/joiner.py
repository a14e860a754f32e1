"""The joiner: one LLM call that reads the observations and answers (Finish) or asks to Replan.

Three protocols:

- `lean` (the default): the decision first, `Answer: ...` or `Replan: ...`, and nothing else. The
  answer's tokens reach `stream_mode="messages"` as the model writes them (a chat UI shows the
  answer growing, as with a ReAct agent), and the final `AIMessage` is the streamed message (same
  id). The fewest output tokens: no thought, no wrapper. With `planning` (`joiner_plans`), a
  replan carries the next plan after its `Replan:` line, so the next round needs no planner call.
- `text`: the paper's `Thought:` / `Action: Finish(...)` / `Action: Replan(...)`; reasoning first,
  then the answer, which streams once `Finish(` is written.
- `structured`: the decision through tool calling (a `JoinerDecision` call: thought, action,
  answer, feedback), the most reliable with OpenAI models; the answer arrives whole. Falls back to
  `text` when the model cannot bind tools.

A reply that ignores its protocol is still read: a lean reply that starts like the text protocol
is read as text, and a reply with no decision at all is the answer.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from langchain_core.callbacks import AsyncCallbackManager, AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from pydantic import BaseModel, Field

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.formats import JoinerFormat
from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMCall
from llmcompiler_graph.core.plan import Turn
from llmcompiler_graph.core.prompts import (
    FORCE_ANSWER,
    JOINER_PROMPT,
    LEAN_PLANS_PROTOCOL,
    LEAN_PROTOCOL,
    STRUCTURED_PROTOCOL,
    TEXT_PROTOCOL,
    fill,
    format_results,
    with_conversation,
)
from llmcompiler_graph.core.roles import ANSWER_TAG, JOINER

logger = logging.getLogger(__name__)


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
    plan: str = ""
    """The next plan, as plan text, when a lean replan carried one (`joiner_plans`)."""
    message_id: str | None = None
    """The id of the message the answer streamed as (the final `AIMessage` keeps it)."""


class Joiner:
    """Reads the executed plan and decides.

    Args:
        model: the chat model.
        format: `"lean"`, `"text"` or `"structured"` (see the module docstring).
        prompt: the system prompt template (see `llmcompiler_graph.core.prompts`).
        max_observation_chars: each observation is truncated to this many characters in the
            prompt, so a huge tool output cannot blow the context window.
        llm_timeout: seconds one try of the joiner's call may take (0 or None: no limit); see
            `llmcompiler_graph.core.llm`.
        llm_retries: retries of a transient failure (rate limit, server or connection error,
            timeout); `LLMCallError` once they are spent.
        planning: the planner's instructions (its system prompt). Given, a lean replan carries
            the next plan, written by these instructions, while replans are left.
    """

    def __init__(
        self,
        model: BaseChatModel,
        *,
        format: JoinerFormat = "lean",
        prompt: str | None = None,
        max_observation_chars: int = 2000,
        llm_timeout: float | None = DEFAULT_TIMEOUT,
        llm_retries: int = DEFAULT_RETRIES,
        planning: str | None = None,
    ) -> None:
        if format not in ("lean", "structured", "text"):
            raise ValueError(f"joiner must be 'lean', 'structured' or 'text', got {format!r}.")
        if planning is not None and format != "lean":
            raise ValueError("a joiner that writes the next plan needs format='lean'.")
        self.runnable: Runnable = model
        if format == "structured":
            try:
                self.runnable = model.with_structured_output(
                    JoinerDecision, method="function_calling", include_raw=True
                )
            except NotImplementedError:
                format = "text"
        self.format: JoinerFormat = format
        self.template = prompt or JOINER_PROMPT
        self.planning = planning
        self.max_observation_chars = max_observation_chars
        self.llm = LLMCall(JOINER, model, timeout=llm_timeout, retries=llm_retries)

    def plans(self, force_answer: bool) -> bool:
        """Whether this call's replan carries the next plan."""
        return self.planning is not None and not force_answer

    @property
    def system_prompt(self) -> str:
        """The system prompt of a call that may replan."""
        return self._system_prompt(plans=self.planning is not None)

    def _system_prompt(self, *, plans: bool) -> str:
        if self.format == "structured":
            return fill(self.template, protocol=STRUCTURED_PROTOCOL)
        if self.format == "text":
            return fill(self.template, protocol=TEXT_PROTOCOL)
        if not plans:
            return fill(self.template, protocol=LEAN_PROTOCOL)
        # The planner's prompt goes in after `fill`, which would unescape its braces again.
        return fill(self.template, protocol=LEAN_PLANS_PROTOCOL).replace(
            "{planner}", self.planning or ""
        )

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
        The lean and text protocols stream the answer (see `_stream_answer`). `blocking`: call
        the model's sync API (for `decide`, see `llmcompiler_graph.core.llm`)."""
        prompt = self.prompt(turn, messages, force_answer)
        protocol = self.format
        if protocol == "lean" and self.plans(force_answer):
            protocol = "lean+plans"
        runnable = JOINER.mark(self.runnable, protocol=protocol)
        if self.format == "structured":
            output = await self.llm.ainvoke(runnable, prompt, config, blocking=blocking)
            decision = self.read(output, force_answer)
        else:
            decision = await self._stream_answer(
                runnable, prompt, force_answer, config, blocking=blocking
            )
        events.send(
            "joiner_decision",
            decision="finish" if decision.finish else "replan",
            thought=decision.thought,
            answer=decision.answer if decision.finish else None,
            feedback=None if decision.finish else decision.feedback,
            plan=decision.plan or None,
        )
        return decision

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
        if self.plans(force_answer):
            note = f"\n\nIf you replan, the next plan's ids continue at {turn.next_id}."
        return with_conversation(
            self._system_prompt(plans=self.plans(force_answer)),
            messages,
            max_chars=self.max_observation_chars,
            then=f"The plan and its results:\n{results or '(no tasks)'}{note}",
        )

    async def _stream_answer(
        self,
        runnable: Runnable,
        prompt: list[BaseMessage],
        force_answer: bool,
        config: RunnableConfig | None,
        *,
        blocking: bool,
    ) -> Decision:
        """Stream the reply, relaying the answer's text to `stream_mode="messages"` as it comes.

        The model's own tokens are hidden (the joiner's role is tagged `nostream`): they hold
        the protocol's words, and a replan is not an answer. What `ReplyReader` says is answer
        text goes out through `AnswerRelay`, as one message whose id the final answer keeps.
        """
        reader = ReplyReader(bare_is_answer=self.format == "lean", plans=self.plans(force_answer))
        relay = AnswerRelay(config, prompt)
        try:
            stream = self.llm.astream(runnable, prompt, config, blocking=blocking)
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    await relay.send(reader.feed(chunk.text))
            decision = settle(reader.close(), force_answer)
            await relay.send(decision.answer[len(reader.shown) :] if decision.finish else "")
        except BaseException as exc:
            await relay.fail(exc)
            raise
        await relay.end(decision.answer if decision.finish else None)
        return replace(decision, message_id=relay.message_id)

    def read(self, output: object, force_answer: bool) -> Decision:
        """The decision from a whole reply (structured, or a message in this joiner's protocol).

        A structured reply the model wrote as plain text (or with broken arguments) is read with
        the text protocol.
        """
        if isinstance(output, dict):  # structured, include_raw=True
            parsed = output.get("parsed")
            output = parsed if isinstance(parsed, JoinerDecision) else output["raw"]
        if isinstance(output, JoinerDecision):
            decision = Decision(
                output.thought, output.action == "finish", output.answer, output.feedback
            )
        elif isinstance(output, BaseMessage):
            reader = ReplyReader(
                bare_is_answer=self.format == "lean", plans=self.plans(force_answer)
            )
            reader.feed(output.text)
            decision = reader.close()
        else:
            raise TypeError(f"unexpected joiner output {type(output).__name__}")
        return settle(decision, force_answer)


def settle(decision: Decision, force_answer: bool) -> Decision:
    """The decision as the graph takes it: over budget, a replan becomes an answer that says
    what is missing; an empty answer never reaches the user as an empty message."""
    if force_answer and not decision.finish:
        missing = decision.feedback or decision.thought
        answer = decision.answer or f"{NO_COMPLETE_ANSWER} What is missing: {missing}"
        return Decision(decision.thought, True, answer, "")
    if decision.finish and not decision.answer.strip():
        return Decision(decision.thought, True, decision.thought or NO_COMPLETE_ANSWER, "")
    return decision


class AnswerRelay:
    """Shows the joiner's answer in `stream_mode="messages"` while the model writes it.

    Not a model call: a chat-model run (named `joiner_answer`, tagged `ANSWER_TAG`) opened on
    the first piece of answer text, whose tokens are that text, so LangGraph's messages stream,
    tracing and any callback handler see the answer arrive as they would a model's. A replan
    never opens one. Its id is the final `AIMessage`'s, so a UI merges the two.
    """

    def __init__(self, config: RunnableConfig | None, prompt: list[BaseMessage]) -> None:
        self.config = ensure_config(config)
        self.prompt = prompt
        self.message_id = f"run-{uuid.uuid4()}"
        self._run: AsyncCallbackManagerForLLMRun | None = None

    async def send(self, text: str) -> None:
        if not text:
            return
        if self._run is None:
            manager = AsyncCallbackManager.configure(
                inheritable_callbacks=self.config.get("callbacks"),
                inheritable_tags=self.config.get("tags"),
                local_tags=[ANSWER_TAG],
                inheritable_metadata=self.config.get("metadata"),
            )
            self._run = (
                await manager.on_chat_model_start(
                    {"name": "joiner_answer"}, [self.prompt], name="joiner_answer"
                )
            )[0]
        chunk = AIMessageChunk(content=text, id=self.message_id)
        await self._run.on_llm_new_token(text, chunk=ChatGenerationChunk(message=chunk))

    async def end(self, answer: str | None) -> None:
        if self._run is not None and answer is not None:
            message = AIMessage(content=answer, id=self.message_id)
            await self._run.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]))

    async def fail(self, exc: BaseException) -> None:
        if self._run is not None:
            await self._run.on_llm_error(exc)


Mode = Literal["undecided", "answer", "replan", "reasoning", "finish", "text-replan"]

_LEAN_HEAD = re.compile(r"\s*[*_#]*\s*(answer|replan)\s*[*_]*\s*:[*_]*", re.IGNORECASE)
"""`Answer:`, `**Replan:**`, ...: a lean reply's decision."""
_TEXT_HEAD = re.compile(r"\s*[*_#]*\s*(thought|action\b|(finish|replan)\s*\()", re.IGNORECASE)
"""A reply that starts like the text protocol."""
_KEYWORDS = ("answer:", "replan:", "thought", "action", "finish(", "replan(")
_MARKUP = re.compile(r"[\s*_#]+")
_THOUGHT = re.compile(r"^\W*thought\W*[:\-]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_ACTION = re.compile(r"action\W*:\W*(finish|replan)\s*\(", re.IGNORECASE)
_BARE_ACTION = re.compile(r"\b(finish|replan)\s*\(", re.IGNORECASE)
_PLAN_START = re.compile(
    r"^[ \t]*(?:[*_]*thought\W*[:\-]|(?:step\s*)?\d+\s*[.):]\s*[A-Za-z_][\w.\-]*\s*\()",
    re.IGNORECASE | re.MULTILINE,
)
"""The first line of a plan inside a lean replan: a `Thought:` or a numbered call."""
_LOOKBACK = 40
"""Characters of earlier text re-searched for a marker split across chunks."""


class ReplyReader:
    """Reads a lean or text joiner reply as it streams, and says what of the answer can be shown.

    `feed(text)` returns the answer text that may be shown now; `close()` returns the decision.
    What was shown (`shown`) is always the start of the final answer, however the reply is
    chunked: leading whitespace is dropped and trailing whitespace held back; in the text
    protocol the argument of `Finish(` runs to the reply's last `)`, so text after the latest `)`
    is held back until another `)` comes or the reply ends. With `bare_is_answer` (lean), a reply
    that starts with neither `Answer:`, `Replan:`, `Thought` nor `Action` is the answer itself.
    With `plans`, a replan's text is its feedback up to the first plan line, then the plan.

    >>> reader = ReplyReader(bare_is_answer=True, plans=False)
    >>> reader.feed("Ans") + reader.feed("wer: Par") + reader.feed("is ")
    'Paris'
    >>> reader.close().answer
    'Paris'
    """

    def __init__(self, *, bare_is_answer: bool, plans: bool) -> None:
        self.bare_is_answer = bare_is_answer
        self.plans = plans
        self.mode: Mode = "undecided"
        self.shown = ""
        self._parts: list[str] = []
        self._length = 0
        self._body = 0
        """Where the answer (or the feedback) starts in the reply."""
        self._closing = -1
        """The reply's last `)` after `Finish(` so far (text protocol)."""

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def feed(self, chunk: str) -> str:
        """Take one chunk of the reply; return the answer text it lets us show."""
        if not chunk:
            return ""
        start = self._length
        self._parts.append(chunk)
        self._length += len(chunk)
        if self.mode == "undecided":
            self._decide()
        elif self.mode == "reasoning":
            self._find_action(max(start - _LOOKBACK, 0))
        if self.mode == "finish":
            found = chunk.rfind(")")
            if found >= 0 and start + found >= self._body:
                self._closing = start + found
        return self._show()

    def close(self) -> Decision:
        """The decision (before `settle`), once the reply is complete."""
        text = self.text
        if self.mode == "undecided":
            self._decide(final=True)
        if self.mode == "answer":
            return Decision("", True, text[self._body :].strip(), "")
        if self.mode == "replan":
            return self._replan(text[self._body :].strip())
        if self.mode == "finish":
            end = self._closing if self._closing >= 0 else len(text)
            return Decision(self._thought(), True, text[self._body : end].strip(), "")
        return parse_text_decision(text)

    def _decide(self, *, final: bool = False) -> None:
        text = self.text
        lean = _LEAN_HEAD.match(text)
        if lean and lean.end() == len(text) and not final:
            return  # `**Answer:*` may go on with markup
        if lean:
            self.mode = "answer" if lean.group(1).lower() == "answer" else "replan"
            self._body = lean.end()
            return
        if _TEXT_HEAD.match(text):
            self.mode = "reasoning"
            self._find_action(0)
            return
        head = _MARKUP.sub("", text[:40]).lower()
        if not final and any(k.startswith(head) for k in _KEYWORDS):
            return  # too early to tell
        if self.bare_is_answer:
            self.mode, self._body = "answer", 0
        else:
            self.mode = "reasoning"
            self._find_action(0)

    def _find_action(self, since: int) -> None:
        action = _ACTION.search(self.text, since)
        if action is None:
            return
        self.mode = "finish" if action.group(1).lower() == "finish" else "text-replan"
        self._body = action.end()
        closing = self.text.rfind(")", self._body)
        self._closing = closing

    def _show(self) -> str:
        """Answer text that may be shown now and was not yet."""
        if self.mode not in ("answer", "finish"):
            return ""
        text = self.text
        end = len(text) if self.mode == "answer" else max(self._closing, self._body)
        visible = text[self._body : end].lstrip().rstrip()
        if len(visible) <= len(self.shown):
            return ""
        new = visible[len(self.shown) :]
        self.shown = visible
        return new

    def _thought(self) -> str:
        found = _THOUGHT.search(self.text)
        return found.group(1).strip() if found else ""

    def _replan(self, body: str) -> Decision:
        """A replan's feedback, and with `plans` the plan after it; a plan that comes right
        after `Replan:` (what the protocol asks) gives its first thought as the feedback."""
        plan = ""
        if self.plans and (start := _PLAN_START.search(body)):
            body, plan = body[: start.start()].strip(), body[start.start() :].strip()
            if not body and (thought := _THOUGHT.search(plan.split("\n", 1)[0])):
                body = thought.group(1).strip()
        return Decision("", False, "", body, plan)


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
