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
import uuid
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Protocol

from langchain_core.callbacks import AsyncCallbackManager, AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, AnyMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, LLMResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.formats import JoinerFormat
from llmcompiler_graph.core.joiner_protocols import (
    Decision,
    joiner_protocol,
)
from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMCall
from llmcompiler_graph.core.plan import Turn
from llmcompiler_graph.core.prompts import (
    FORCE_ANSWER,
    JOINER_PROMPT,
    fill,
    format_results,
    with_conversation,
)
from llmcompiler_graph.core.roles import ANSWER_TAG, JOINER

logger = logging.getLogger(__name__)


NO_COMPLETE_ANSWER = "I could not find a complete answer with the tools and plans I had."


class PlanHandoff(Protocol):
    """Takes a replan's text while the joiner's reply is still streaming (`joiner_plans`).

    `start` comes once the reply is known to be a replan and its feedback line is complete
    (`Replan: <what is missing>`): whoever waits for the decision may go on with that feedback.
    Then `write` receives the reply's text after `Replan:`, chunk by chunk (the feedback line
    first), and `close` ends it (with the error that broke the stream, if one did).
    """

    def start(self, feedback: str) -> None: ...

    def write(self, text: str) -> None: ...

    def close(self, error: BaseException | None) -> None: ...


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
        protocol = joiner_protocol(format)
        if planning is not None and not protocol.can_plan:
            raise ValueError(
                f"a joiner that writes the next plan needs format='lean', got {format!r}."
            )
        runnable = protocol.bind(model)
        if runnable is None and protocol.fallback is not None:
            protocol = joiner_protocol(protocol.fallback)
            runnable = protocol.bind(model)
        self.protocol = protocol
        self.runnable: Runnable = runnable or model
        self.template = prompt or JOINER_PROMPT
        self.planning = planning
        self.max_observation_chars = max_observation_chars
        self.llm = LLMCall(JOINER, model, timeout=llm_timeout, retries=llm_retries)

    @property
    def format(self) -> JoinerFormat:
        """The protocol's name (`structured` falls back to `text` for a model without tools)."""
        return self.protocol.name  # type: ignore[return-value]

    def plans(self, force_answer: bool) -> bool:
        """Whether this call's replan carries the next plan."""
        return self.planning is not None and not force_answer

    @property
    def system_prompt(self) -> str:
        """The system prompt of a call that may replan."""
        return self._system_prompt(plans=self.planning is not None)

    def _system_prompt(self, *, plans: bool) -> str:
        """The planner's prompt first when this call may plan: the planner's and the joiner's
        calls then share that prefix (a provider's prompt cache serves it to both)."""
        prompt = fill(self.template, protocol=self.protocol.instructions(plans))
        return f"{self.planning}\n\n{prompt}" if plans and self.planning else prompt

    async def adecide(
        self,
        turn: Turn,
        messages: Sequence[AnyMessage],
        *,
        force_answer: bool,
        events: EventSink,
        config: RunnableConfig | None = None,
        blocking: bool = False,
        handoff: PlanHandoff | None = None,
    ) -> Decision:
        """Read the turn's observations and decide; `force_answer` when no replan is left.
        The lean and text protocols stream the answer (see `_stream_answer`). `blocking`: call
        the model's sync API (for `decide`, see `llmcompiler_graph.core.llm`).

        `handoff`: a replan that carries the next plan is handed over as it streams (see
        `PlanHandoff`); its `joiner_decision` event is sent once its feedback line is written,
        with the plan still to come (`plan` empty)."""
        prompt = self.prompt(turn, messages, force_answer)
        plans = self.plans(force_answer)
        runnable = JOINER.mark(self.runnable, protocol=self.protocol.tag(plans))
        if not self.protocol.streams:
            output = await self.llm.ainvoke(runnable, prompt, config, blocking=blocking)
            decision = self.read(output, force_answer)
        else:
            decision, handed = await self._stream_answer(
                runnable,
                prompt,
                force_answer,
                config,
                blocking=blocking,
                handoff=handoff if plans else None,
                events=events,
            )
            if handed:
                return decision  # its event went out when the replan started
        _decided(events, decision)
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
        head = "The plan and its results"
        if self.plans(force_answer):
            head += f" (if you replan, the next plan's ids continue at {turn.next_id})"
        return with_conversation(
            self._system_prompt(plans=self.plans(force_answer)),
            messages,
            max_chars=self.max_observation_chars,
            then=f"{head}:\n{results or '(no tasks)'}{note}",
        )

    async def _stream_answer(
        self,
        runnable: Runnable,
        prompt: list[BaseMessage],
        force_answer: bool,
        config: RunnableConfig | None,
        *,
        blocking: bool,
        handoff: PlanHandoff | None,
        events: EventSink,
    ) -> tuple[Decision, bool]:
        """Stream the reply, relaying the answer's text to `stream_mode="messages"` as it comes.

        The model's own tokens are hidden (the joiner's role is tagged `nostream`): they hold
        the protocol's words, and a replan is not an answer. What `ReplyReader` says is answer
        text goes out through `AnswerRelay`, as one message whose id the final answer keeps.
        With a `handoff`, a replan's text goes to it from its `Replan:` on; the second value
        says whether it did.
        """
        reader = self.protocol.reader(self.plans(force_answer))
        relay = AnswerRelay(config, prompt)
        handing = False
        try:
            stream = self.llm.astream(runnable, prompt, config, blocking=blocking)
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    text = chunk.text
                    await relay.send(reader.feed(text))
                    if handing:
                        handoff.write(text)  # type: ignore[union-attr]
                    elif handoff is not None and (feedback := reader.replan_feedback()) is not None:
                        handing = True
                        _decided(events, Decision("", False, "", feedback))
                        handoff.start(feedback)
                        handoff.write(reader.text[reader.body :])
            decision = settle(reader.close(), force_answer)
            await relay.send(decision.answer[len(reader.shown) :] if decision.finish else "")
        except BaseException as exc:
            if handing:
                handoff.close(exc)  # type: ignore[union-attr]
            await relay.fail(exc)
            raise
        if handing:
            handoff.close(None)  # type: ignore[union-attr]
        await relay.end(decision.answer if decision.finish else None)
        return replace(decision, message_id=relay.message_id), handing

    def read(self, output: object, force_answer: bool) -> Decision:
        """The decision from a whole reply (structured, or a message in this joiner's protocol;
        see `JoinerProtocol.read`), as the graph takes it (`settle`)."""
        return settle(self.protocol.read(output, self.plans(force_answer)), force_answer)


def _decided(events: EventSink, decision: Decision) -> None:
    events.send(
        "joiner_decision",
        decision="finish" if decision.finish else "replan",
        thought=decision.thought,
        answer=decision.answer if decision.finish else None,
        feedback=None if decision.finish else decision.feedback,
        plan=decision.plan or None,
    )


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
