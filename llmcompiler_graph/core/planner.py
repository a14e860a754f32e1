"""The planner: one streamed LLM call that writes the plan, parsed and published task by task.

Each task is handed to `publish` the moment it is complete, so the task fetching unit can start
it while the rest of the plan is still being generated. The format (`core.planner_formats`:
`text`, the paper's plan language; `tools`, native tool calls) says how the plan is asked for
and read; everything else is one code path (prompt, timeout and retries, events, `max_tasks`,
partial plans, sync and async).

After `join` the rest of the stream is read but not parsed: providers report token usage in the
last chunk.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Callable, Iterator, Sequence
from contextlib import aclosing, contextmanager
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, AnyMessage, BaseMessage, BaseMessageChunk
from langchain_core.runnables import RunnableConfig

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.formats import PlannerFormat
from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMCall
from llmcompiler_graph.core.plan import Task, Turn
from llmcompiler_graph.core.planner_formats import planner_format
from llmcompiler_graph.core.prompts import format_results, with_conversation
from llmcompiler_graph.core.roles import PLANNER
from llmcompiler_graph.core.toolbox import Toolbox

logger = logging.getLogger(__name__)

Publish = Callable[[Task], None]


class Planner:
    """Turns the conversation (and, on replan, the previous results) into a stream of tasks.

    Args:
        model: the chat model; one that streams tokens gives the earliest dispatch.
        toolbox: the tools the plan may call.
        prompt: the system prompt template (see `llmcompiler_graph.core.prompts`).
        max_observation_chars: how much of each earlier observation a replan prompt shows.
        max_tasks: a plan stops at this many tasks (a model stuck in a loop would otherwise
            start tool calls until its token limit); the cut is reported to the joiner as an
            error observation on the first task left out.
        llm_timeout: seconds the plan's stream may take, from the request to its last chunk
            (0 or None: no limit); see `llmcompiler_graph.core.llm`.
        llm_retries: retries of a transient failure (rate limit, server or connection error,
            timeout) before the stream's first chunk; a stream that broke later is not retried.
        stream_plan: show the plan's tokens in `stream_mode="messages"` (by default a chat UI
            shows the answer only; the plan is in the custom events and in state).
        format: `"text"`, the paper's plan language, or `"tools"`, native tool calls (the
            model must bind tools: `ValueError` otherwise). See the module docstring.
    """

    def __init__(
        self,
        model: BaseChatModel,
        toolbox: Toolbox,
        *,
        prompt: str | None = None,
        max_observation_chars: int = 2000,
        max_tasks: int = 64,
        llm_timeout: float | None = DEFAULT_TIMEOUT,
        llm_retries: int = DEFAULT_RETRIES,
        stream_plan: bool = False,
        format: PlannerFormat = "text",
    ) -> None:
        self.spec = planner_format(format)
        runnable = self.spec.bind(model, toolbox)
        self.model = PLANNER.mark(runnable, streams=stream_plan, protocol=format)
        self.llm = LLMCall(PLANNER, model, timeout=llm_timeout, retries=llm_retries)
        self.toolbox = toolbox
        self.max_observation_chars = max_observation_chars
        self.max_tasks = max_tasks
        self.system_prompt = self.spec.system_prompt(toolbox, prompt)

    @property
    def format(self) -> PlannerFormat:
        """The format's name (see `core.planner_formats`)."""
        return self.spec.name  # type: ignore[return-value]

    async def aplan(
        self,
        turn: Turn,
        messages: Sequence[AnyMessage],
        publish: Publish,
        events: EventSink,
        config: RunnableConfig | None = None,
        *,
        blocking: bool = False,
        stop: Callable[[], bool] | None = None,
        written: AsyncIterable[str] | None = None,
    ) -> list[Task]:
        """Stream the next plan of `turn`, publishing each task as soon as it parses.

        Returns every task of the plan. The call is bounded by `llm_timeout` and retried (only
        before its first chunk, so never after a task was published). A broken or timed-out
        stream fails the call (`LLMCallError` once retries are spent) unless some tasks already
        parsed: those are running already, so they stand as the plan. `stop()` true (checked at
        each chunk) ends the plan where it is. `blocking`: read the model's sync stream (for
        `plan`, see `llmcompiler_graph.core.llm`).

        `written`: the plan the joiner is writing with its replan (plan text whatever this
        planner's format, as it streams): read instead of a model call, with the same checks. A
        reply with no plan in it (only feedback) is this round's feedback, and the model plans.
        """
        if written is not None:
            writer = _PlanWriter(self, turn, publish, events, by="joiner")
            events.send("plan_started", by="joiner")
            said = []
            with writer.keeping_partial_plan():
                async for text in written:
                    said.append(text)
                    writer.take(AIMessageChunk(content=text))
                    if stop is not None and stop():
                        break
            if writer.drain():
                return writer.finish()
            logger.warning("the joiner's replan carried no plan; the planner writes it")
            turn = replace(turn, feedback="".join(said).strip() or turn.feedback)
        writer = _PlanWriter(self, turn, publish, events, by="planner")
        events.send("plan_started", by="planner")
        with writer.keeping_partial_plan():
            prompt = self.prompt(turn, messages)
            stream = self.llm.astream(self.model, prompt, config, blocking=blocking)
            async with aclosing(stream) as chunks:
                async for chunk in chunks:
                    if stop is not None and stop():
                        break
                    writer.take(chunk)
        return writer.finish()

    def plan(
        self,
        turn: Turn,
        messages: Sequence[AnyMessage],
        publish: Publish,
        events: EventSink,
        config: RunnableConfig | None = None,
        stop: Callable[[], bool] | None = None,
        written: AsyncIterable[str] | None = None,
    ) -> list[Task]:
        """Sync `aplan`, run on a private loop with the model's sync stream (its async client
        belongs to another loop). A sync call cannot be cancelled: `stop()` true ends the plan
        where it is."""
        return run_sync(
            self.aplan(
                turn, messages, publish, events, config, blocking=True, stop=stop, written=written
            )
        )

    def prompt(self, turn: Turn, messages: Sequence[AnyMessage]) -> list[BaseMessage]:
        """Instructions, the conversation, and on replan what happened so far."""
        if not turn.tasks:
            return with_conversation(
                self.system_prompt, messages, max_chars=self.max_observation_chars
            )
        results = format_results(
            turn.tasks,
            turn.observations,
            max_chars=self.max_observation_chars,
            rejected=turn.rejected,
        )
        ids = ", ".join(f"${t['idx']}" for t in turn.tasks)
        new_plan = self.spec.continue_ids(turn.next_id)
        return with_conversation(
            self.system_prompt,
            messages,
            max_chars=self.max_observation_chars,
            then="The previous plan and its results:\n"
            f"{results}\n\n"
            f"They did not answer the question yet. Feedback: {turn.feedback or '(none)'}\n"
            f"{new_plan} The results above stay available as {ids}; reference them instead "
            "of repeating work.",
        )


class _PlanWriter:
    """One plan being written: read chunk by chunk, each task published once, capped."""

    def __init__(
        self, planner: Planner, turn: Turn, publish: Publish, events: EventSink, *, by: str
    ) -> None:
        spec = planner.spec if by == "planner" else planner_format("text")  # the joiner's: text
        known_ids = [t["idx"] for t in turn.tasks]
        self.reader = spec.reader(planner.toolbox.signatures, known_ids)
        self.publish = publish
        self.events = events
        self.by = by
        self.max_tasks = planner.max_tasks
        self.tasks: list[Task] = []
        self.drained = False

    def take(self, chunk: BaseMessageChunk) -> None:
        """Feed one streamed chunk (the reader ignores everything after `join`)."""
        self._publish(self.reader.feed(chunk))

    def drain(self) -> bool:
        """Publish what the stream's end completes; whether it held a plan (a task or `join`)."""
        if not self.drained:
            self.drained = True
            self._publish(self.reader.close())
        return bool(self.tasks) or self.reader.joined

    def finish(self) -> list[Task]:
        self.drain()
        self.events.send(
            "plan_finished", tasks=len(self.tasks), joined=self.reader.joined, by=self.by
        )
        return self.tasks

    def _publish(self, tasks: list[Task]) -> None:
        for task in tasks:
            if len(self.tasks) > self.max_tasks:
                return
            if len(self.tasks) == self.max_tasks:
                task = {
                    **task,
                    "error": f"the plan exceeds max_tasks={self.max_tasks}; "
                    "this task and the ones after it were dropped",
                }
            self.tasks.append(task)
            self.publish(task)

    @contextmanager
    def keeping_partial_plan(self) -> Iterator[None]:
        """Re-raise a stream error unless some tasks parsed already (they stand as the plan)."""
        try:
            yield
        except Exception as exc:
            if not self.tasks:
                raise
            logger.warning(
                "planner stream failed after %d tasks; keeping them: %r", len(self.tasks), exc
            )
