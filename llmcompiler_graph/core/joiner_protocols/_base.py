"""What every joiner protocol shares: the decision, the structured reply's schema, the protocol
interface, and the reading of a reply written as text (`ReplyReader`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field


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


class JoinerProtocol:
    """How the joiner is asked to decide, and how its reply is read.

    A protocol is a module of `llmcompiler_graph.core.joiner_protocols` whose `STRATEGY` is an
    instance of a subclass; the module's name is the protocol's name (`joiner=` setting).
    """

    streams: ClassVar[bool] = True
    """Whether the reply is streamed (`reader`), its answer shown as it is written; else the
    reply is read whole (`read`)."""
    can_plan: ClassVar[bool] = False
    """Whether a replan may carry the next plan (`joiner_plans`)."""
    fallback: ClassVar[str | None] = None
    """The protocol to use instead when `bind` says the model cannot do this one."""
    bare_is_answer: ClassVar[bool] = False
    """Whether a reply with no decision at all, that does not look like the text protocol
    either, is the answer itself."""

    def instructions(self, plans: bool) -> str:
        """The `{protocol}` part of the joiner's prompt (`plans`: a replan carries the next
        plan, in the plan language of the planner's prompt, which then opens the joiner's)."""
        raise NotImplementedError

    def tag(self, plans: bool) -> str:
        """The protocol's name as the joiner's call is tagged (the simulators read it)."""
        return f"{self.name}+plans" if plans else self.name

    @property
    def name(self) -> str:
        return type(self).__module__.rpartition(".")[2]

    def bind(self, model: BaseChatModel) -> Runnable | None:
        """What the joiner calls (None: the model cannot, use `fallback`)."""
        return model

    def reader(self, plans: bool) -> ReplyReader:
        """The reader of one streamed reply."""
        return ReplyReader(bare_is_answer=self.bare_is_answer, plans=plans)

    def read(self, output: Any, plans: bool) -> Decision:
        """The decision in a whole reply: a structured one (`JoinerDecision`, or the
        `include_raw` dict around it), else a message read as text by `reader`. A structured
        reply the model wrote as plain text (or with broken arguments) is read as text."""
        if isinstance(output, dict):  # structured, include_raw=True
            parsed = output.get("parsed")
            output = parsed if isinstance(parsed, JoinerDecision) else output["raw"]
        if isinstance(output, JoinerDecision):
            return Decision(
                output.thought, output.action == "finish", output.answer, output.feedback
            )
        if isinstance(output, BaseMessage):
            reader = self.reader(plans)
            reader.feed(output.text)
            return reader.close()
        raise TypeError(f"unexpected joiner output {type(output).__name__}")


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
    protocol the argument of `Finish(` runs to the reply's last `)`, so once a `)` has come, text
    after the latest `)` is held back until another `)` comes or the reply ends (an answer
    without `)` streams as it is written). With `bare_is_answer` (lean), a reply
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
        self.body = 0
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
            if found >= 0 and start + found >= self.body:
                self._closing = start + found
        return self._show()

    def replan_feedback(self) -> str | None:
        """A replan's feedback once its first line is complete (`Replan: <what is missing>`,
        or a first plan line, whose thought if any is the feedback); None before that, and for
        any other decision."""
        if self.mode != "replan":
            return None
        body = self.text[self.body :].lstrip()
        end = body.find("\n")
        return None if end < 0 else split_replan(body[:end])[0]

    def close(self) -> Decision:
        """The decision (before `settle`), once the reply is complete."""
        text = self.text
        if self.mode == "undecided":
            self._decide(final=True)
        if self.mode == "answer":
            return Decision("", True, text[self.body :].strip(), "")
        if self.mode == "replan":
            return self._replan(text[self.body :].strip())
        if self.mode == "finish":
            end = self._closing if self._closing >= 0 else len(text)
            return Decision(self._thought(), True, text[self.body : end].strip(), "")
        return parse_text_decision(text)

    def _decide(self, *, final: bool = False) -> None:
        text = self.text
        lean = _LEAN_HEAD.match(text)
        if lean and lean.end() == len(text) and not final:
            return  # `**Answer:*` may go on with markup
        if lean:
            self.mode = "answer" if lean.group(1).lower() == "answer" else "replan"
            self.body = lean.end()
            return
        if _TEXT_HEAD.match(text):
            self.mode = "reasoning"
            self._find_action(0)
            return
        head = _MARKUP.sub("", text[:40]).lower()
        if not final and any(k.startswith(head) for k in _KEYWORDS):
            return  # too early to tell
        if self.bare_is_answer:
            self.mode, self.body = "answer", 0
        else:
            self.mode = "reasoning"
            self._find_action(0)

    def _find_action(self, since: int) -> None:
        action = _ACTION.search(self.text, since)
        if action is None:
            return
        self.mode = "finish" if action.group(1).lower() == "finish" else "text-replan"
        self.body = action.end()
        closing = self.text.rfind(")", self.body)
        self._closing = closing

    def _show(self) -> str:
        """Answer text that may be shown now and was not yet."""
        if self.mode not in ("answer", "finish"):
            return ""
        text = self.text
        # `Finish(`'s argument runs to the reply's last `)`: before the first `)` all of it is
        # the answer's (no `)` ever: all of it; one later: it ends after this), after one only
        # the text up to the latest `)` is sure to be.
        end = len(text) if self.mode == "answer" or self._closing < 0 else self._closing
        visible = text[self.body : end].lstrip().rstrip()
        if len(visible) <= len(self.shown):
            return ""
        new = visible[len(self.shown) :]
        self.shown = visible
        return new

    def _thought(self) -> str:
        found = _THOUGHT.search(self.text)
        return found.group(1).strip() if found else ""

    def _replan(self, body: str) -> Decision:
        """A replan's feedback, and with `plans` the plan after it (`split_replan`)."""
        if not self.plans:
            return Decision("", False, "", body)
        feedback, plan = split_replan(body)
        return Decision("", False, "", feedback, plan)


def split_replan(body: str) -> tuple[str, str]:
    """A replan's text after `Replan:` as its feedback and the plan that follows it ('' for
    none); a plan that comes right after `Replan:` gives its first thought as the feedback.

    >>> split_replan("the year is missing\n4. search('year')\n5. join()")
    ('the year is missing', "4. search('year')\n5. join()")
    """
    start = _PLAN_START.search(body)
    if start is None:
        return body.strip(), ""
    feedback, plan = body[: start.start()].strip(), body[start.start() :].strip()
    if not feedback and (thought := _THOUGHT.search(plan.split("\n", 1)[0])):
        feedback = thought.group(1).strip()
    return feedback, plan


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
