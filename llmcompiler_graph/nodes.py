"""The three graph nodes over the shared state, and the joiner's routing.

The planner and the scheduler run in the same superstep and meet on a `PlanStream` (see
`handoff`); the joiner runs after both. A joiner whose replan carries the next plan ends its node
at `Replan:` and the next planner reads the rest of its reply as it streams (a `ReplyStream`).
Each node is async-first; its sync form calls the sync form of the same component (the
scheduler's literally runs its async form on a private loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END
from langgraph.runtime import Runtime

from llmcompiler_graph import approval
from llmcompiler_graph.closing import on_close
from llmcompiler_graph.context import Context
from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.joiner import Joiner
from llmcompiler_graph.core.joiner_protocols import Decision, split_replan
from llmcompiler_graph.core.plan import Observation, Task, Turn
from llmcompiler_graph.core.planner import Planner
from llmcompiler_graph.core.planner_formats import planner_format
from llmcompiler_graph.core.toolbox import Toolbox, ToolLike
from llmcompiler_graph.handoff import (
    ProducerGone,
    ReplyHandoff,
    exclusive,
    producing,
    reading,
    replies,
    reply_key,
    streams,
    superstep_key,
)
from llmcompiler_graph.journal import Journal, Replay, stored_call
from llmcompiler_graph.messages import (
    ToolResults,
    conversation,
    plan_message,
    show_call,
    turn_key,
)
from llmcompiler_graph.settings import Settings
from llmcompiler_graph.state import (
    JoinerUpdate,
    PlannerUpdate,
    SchedulerUpdate,
    State,
    current_turn,
    stored_observation,
    stored_task,
)

logger = logging.getLogger(__name__)

Route = Literal["planner", "scheduler", "__end__"]


@dataclass(frozen=True)
class Components:
    """Everything one run needs, built once per configuration by `Components.build`."""

    planner: Planner
    scheduler: TaskFetchingUnit
    joiner: Joiner
    settings: Settings

    @classmethod
    def build(
        cls, model: BaseChatModel, tools: Sequence[ToolLike], settings: Settings
    ) -> Components:
        """The one place where settings become a planner, a scheduler and a joiner."""
        toolbox = Toolbox(tools)
        llm = {
            "max_observation_chars": settings.max_observation_chars,
            "llm_timeout": settings.llm_timeout,
            "llm_retries": settings.llm_retries,
        }
        planner = Planner(
            model,
            toolbox,
            prompt=settings.planner_prompt,
            max_tasks=settings.max_tasks,
            stream_plan=settings.stream_plan,
            format=settings.planner,
            **llm,
        )
        planning = None
        if settings.joiner_plans and settings.joiner == "lean":  # plan text, whatever the planner
            text = planner_format("text")
            own = settings.planner_prompt if planner.format == "text" else None
            planning = text.system_prompt(toolbox, own)
        return cls(
            planner=planner,
            scheduler=TaskFetchingUnit(
                toolbox,
                max_concurrency=settings.max_concurrency,
                task_timeout=settings.task_timeout,
                policies=settings.policies,
            ),
            joiner=Joiner(
                model,
                format=settings.joiner,
                prompt=settings.joiner_prompt,
                planning=planning,
                **llm,
            ),
            settings=settings,
        )

    def gate(self) -> approval.Gate | None:
        """The approval gate of one plan, or None when no task can need approval."""
        return approval.gate(self.settings.approve_plan, self.scheduler.policies)


class Nodes:
    """The node functions of one compiled graph.

    Args:
        components: gives the components of a run from its LangGraph runtime (fixed for
            `create_llmcompiler`, derived from `Context` for the ready-made graph).
        name: the graph's name, stamped on every custom event.
    """

    def __init__(self, components: Callable[[Runtime[Any]], Components], name: str) -> None:
        self.components = components
        self.name = name

    def events(self, round: int) -> EventSink:
        """The custom-event sink of one round of this graph."""
        return EventSink(get_stream_writer(), graph=self.name, round=round)

    # planner

    async def aplan(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> PlannerUpdate:
        """Stream the next plan, handing each task to the scheduler as it parses (a task that
        waits for approval, and its dependents, stay in state for the scheduler to ask about)."""
        components, turn = self.components(runtime), current_turn(state)
        gate, key = components.gate(), turn_key(turn.question.id, runtime)
        with (
            producing(superstep_key(runtime)) as stream,
            _reply(key, turn, config) as (written, text),
        ):
            tasks = await components.planner.aplan(
                turn,
                conversation(state["messages"]),
                _publisher(stream.publish, gate, turn, key, components.settings),
                self.events(turn.round + 1),
                config,
                written=written,
            )
        return _planned(turn, key, tasks, components.settings, gate, text)

    def plan(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> PlannerUpdate:
        components, turn = self.components(runtime), current_turn(state)
        gate, key = components.gate(), turn_key(turn.question.id, runtime)
        closed = threading.Event()
        with (
            on_close(config, closed.set),
            producing(superstep_key(runtime)) as stream,
            _reply(key, turn, config) as (written, text),
        ):
            tasks = components.planner.plan(
                turn,
                conversation(state["messages"]),
                _publisher(stream.publish, gate, turn, key, components.settings),
                self.events(turn.round + 1),
                config,
                stop=closed.is_set,
                written=written,
            )
        return _planned(turn, key, tasks, components.settings, gate, text)

    # scheduler (the task fetching unit)

    async def aschedule(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> SchedulerUpdate:
        """Run the plan as it streams in (see `_schedule`), after any approval it waits for."""
        return await self._schedule(state, runtime, config, self._reviewed(state, runtime))

    def _reviewed(self, state: State, runtime: Runtime[Context]) -> approval.Review | None:
        """Ask for the approval the planner's held tasks wait for (a LangGraph interrupt: the
        node stops here until the caller resumes it with the decisions); None if none waits."""
        components, turn = self.components(runtime), current_turn(state)
        pending = {t["idx"]: t for t in turn.pending}
        asked = [pending[i] for i in state.get("awaiting_approval", []) if i in pending]
        if not asked:
            return None
        events = self.events(turn.round)
        events.send("approval_requested", tasks=[t["idx"] for t in asked])
        review = approval.ask(
            asked,
            turn.observations,
            turn.tasks,
            components.scheduler.tools.signatures,
            max_chars=components.settings.max_observation_chars,
        )
        events.send("approval_decided", decisions=review.decisions)
        return review

    async def _schedule(
        self,
        state: State,
        runtime: Runtime[Context],
        config: RunnableConfig,
        review: approval.Review | None,
        *,
        prefer_sync_tools: bool = False,
    ) -> SchedulerUpdate:
        """Run the plan as it streams in. A resumed node first reads back its journal: what
        finished is not run again, and a plan that had fully arrived runs without a planner.
        Tasks that state lists without observations (the joiner found them, or they waited for
        the approval in `review`) run from state."""
        thread_id = config.get("configurable", {}).get("thread_id")
        with exclusive(superstep_key(runtime), thread_id):
            return await self._run_plan(state, runtime, config, review, prefer_sync_tools)

    async def _run_plan(
        self,
        state: State,
        runtime: Runtime[Context],
        config: RunnableConfig,
        review: approval.Review | None,
        prefer_sync_tools: bool,
    ) -> SchedulerUpdate:
        components, turn = self.components(runtime), current_turn(state)
        settings = components.settings
        cap = settings.max_state_chars
        catch_up = bool(turn.pending)
        round_key = f"{turn.question.id}/{turn.round if catch_up else turn.round + 1}"
        journal = Journal.open(config, max_chars=cap, round_key=round_key)
        replay = await journal.replay(catch_up=catch_up) if journal else Replay()
        results = (
            ToolResults(
                turn_key(turn.question.id, runtime), max_chars=settings.max_observation_chars
            )
            if settings.tool_messages
            else None
        )

        def call_of(task: Task, args: Mapping[str, Any] | None) -> str | None:
            return None if args is None else stored_call(task["tool"], args, cap)

        def done(task: Task, args: Mapping[str, Any]) -> Observation | None:
            if (call := call_of(task, args)) is None:
                return None
            observation = replay.recorded(task, call)
            if observation is None:
                observation = replay.unfinished(task, call)
                if observation is not None and journal:
                    journal.observation(task, call, observation)
            if observation is not None and results is not None:
                results.add(task, observation)
            return observation

        def on_finish(task: Task, args: Mapping[str, Any] | None, observation: Observation) -> None:
            if journal:
                journal.observation(task, call_of(task, args), observation)
            if results is not None:
                results.add(task, observation)

        key = None
        if catch_up:
            logger.info("catching up %d tasks from state", len(turn.pending))
            reviewed = review.tasks if review else {}
            round, source = turn.round, [reviewed.get(t["idx"], t) for t in turn.pending]
        elif replay.plan is not None:
            logger.info("resuming a plan of %d tasks from the journal", len(replay.plan))
            round, source = turn.round + 1, replay.plan
        else:
            key = superstep_key(runtime)
            stream = streams.get(key)
            round, source = turn.round + 1, stream.items(settings.producer_timeout)
            if journal:
                source = journal.recording(source, complete=lambda: stream.complete)
        try:
            new = await components.scheduler.arun(
                source,
                observations=turn.observations,
                earlier_tasks=turn.tasks,
                events=self.events(round),
                config=config,
                prefer_sync_tools=prefer_sync_tools,
                done=None if replay.empty else done,  # a first attempt looks nothing up
                on_finish=on_finish,
                starting=journal.starting if journal else None,
            )
        except ProducerGone:
            logger.warning(
                "no planner attached within %ss; leaving the plan to catch-up",
                settings.producer_timeout,
            )
            new = {}
        finally:
            if key is not None:
                streams.release(key)
            if journal:
                await journal.flush()
        kept = {idx: stored_observation(o, cap) for idx, o in new.items()}
        merged = {**turn.observations, **kept}
        update: SchedulerUpdate = {"observations": [merged[idx] for idx in sorted(merged)]}
        written = results.written() if results is not None else []
        if review is not None:
            edited = {i: stored_task(t, cap) for i, t in review.edited.items()}
            update["tasks"] = [edited.get(t["idx"], t) for t in turn.tasks]
            update["awaiting_approval"] = []
            update["review"] = "\n".join(review.rejections)
            if edited and results is not None:  # the calls as the reviewer edited them
                asked = [edited.get(t["idx"], t) for t in turn.pending]
                key = turn_key(turn.question.id, runtime)
                written.insert(0, plan_message(key, turn.round, asked, "review"))
        if written:
            update["messages"] = written
        return update

    def schedule(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> SchedulerUpdate:
        """`aschedule` on a private loop, cancelled if the caller closes the run meanwhile."""

        async def scheduling() -> SchedulerUpdate:
            work, loop = asyncio.current_task(), asyncio.get_running_loop()
            assert work is not None

            def cancel() -> None:
                with contextlib.suppress(RuntimeError):  # the loop has just ended
                    loop.call_soon_threadsafe(work.cancel)

            with on_close(config, cancel):
                return await self._schedule(state, runtime, config, review, prefer_sync_tools=True)

        review = self._reviewed(state, runtime)  # here: an interrupt must leave from this thread
        return run_sync(scheduling())

    # joiner

    async def ajoin(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> JoinerUpdate:
        """Answer, or ask for a new plan; nothing while tasks still lack observations."""
        step = self._joining(state, runtime, config)
        if not isinstance(step, _JoinerCall):
            return step
        if step.reply is None:
            return _joined(await step.joiner.adecide(**step.arguments))
        started = asyncio.get_running_loop().create_future()
        handoff = ReplyHandoff(step.reply, lambda: started.done() or started.set_result(None))
        call = asyncio.create_task(step.joiner.adecide(**step.arguments, handoff=handoff))
        _writing.add(call)
        call.add_done_callback(_written)
        try:
            await asyncio.wait([call, started], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            call.cancel()
            raise
        if handoff.started:  # the rest of the reply streams on, to the next planner
            return _joined(_streaming(handoff))
        return _joined(call.result())

    def join(self, state: State, runtime: Runtime[Context], config: RunnableConfig) -> JoinerUpdate:
        step = self._joining(state, runtime, config)
        if not isinstance(step, _JoinerCall):
            return step
        if step.reply is None:
            return _joined(step.joiner.decide(**step.arguments))
        started = threading.Event()
        handoff = ReplyHandoff(step.reply, started.set)
        decided: concurrent.futures.Future[Decision] = concurrent.futures.Future()

        def call() -> None:  # on a thread of its own: it outlives this node on a replan
            try:
                coroutine = step.joiner.adecide(**step.arguments, blocking=True, handoff=handoff)
                decided.set_result(run_sync(coroutine))
            except BaseException as exc:
                decided.set_exception(exc)
            finally:
                started.set()

        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(call,), name="llmcompiler-joiner", daemon=True
        ).start()
        started.wait()
        return _joined(_streaming(handoff) if handoff.started else decided.result())

    def _joining(
        self, state: State, runtime: Runtime[Context], config: RunnableConfig
    ) -> JoinerUpdate | _JoinerCall:
        """The joiner call to make, or the update that needs none: while tasks still lack
        observations (those waiting for approval: their calls, the turn's last message while it
        is paused), or a replan with the reviewer's rejections while a replan is left."""
        components, turn = self.components(runtime), current_turn(state)
        if turn.pending:
            if state.get("awaiting_approval") and components.settings.tool_messages:
                key = turn_key(turn.question.id, runtime)
                review = plan_message(key, turn.round, turn.pending, "review")
                return {"messages": [review]}
            return {}
        force_answer = turn.round > components.settings.max_replans
        if state.get("review") and not force_answer:
            feedback = f"The reviewer rejected part of the plan:\n{state['review']}"
            self.events(turn.round).send(
                "joiner_decision",
                decision="replan",
                thought="",
                answer=None,
                feedback=feedback,
                plan=None,
            )
            return _joined(Decision("", False, "", feedback))
        arguments = {
            "turn": turn,
            "messages": conversation(state["messages"]),
            "force_answer": force_answer,
            "events": self.events(turn.round),
            "config": config,
        }
        reply = None
        if components.joiner.plans(force_answer):
            thread_id = config.get("configurable", {}).get("thread_id")
            reply = reply_key(thread_id, turn_key(turn.question.id, runtime), turn.round + 1)
        return _JoinerCall(components.joiner, arguments, reply)

    @staticmethod
    def route(state: State) -> Route | list[Route]:
        """After the joiner: the answer ends the turn; a replan starts the planner and the
        scheduler together; tasks without observations (the scheduler was cut off) go back to
        the scheduler alone."""
        if current_turn(state).pending:
            return "scheduler"
        if state.get("decision") == "finish":
            return END
        return ["planner", "scheduler"]


def _publisher(
    publish: Callable[[Task], None],
    gate: approval.Gate | None,
    turn: Turn,
    key: str,
    settings: Settings,
) -> Callable[[Task], None]:
    """`publish`, for the tasks the approval gate lets run now; with `tool_messages`, each of
    their calls is also shown in `stream_mode="messages"` the moment it parses."""
    if gate is None and not settings.tool_messages:
        return publish
    shown = {t["idx"] for t in turn.tasks}  # an id taken already is rejected, never shown

    def publishing(task: Task) -> None:
        if gate is not None and not gate.admit(task):
            return
        publish(task)
        if settings.tool_messages and task["idx"] not in shown:
            shown.add(task["idx"])
            stored = stored_task(task, settings.max_state_chars)
            show_call(key, turn.round + 1, stored)

    return publishing


def _planned(
    turn: Turn,
    key: str,
    tasks: list[Task],
    settings: Settings,
    gate: approval.Gate | None = None,
    reply: Sequence[str] = (),
) -> PlannerUpdate:
    """The planner's state update: arguments as state keeps them. A task reusing an id is
    rejected (the first one's result stands) and kept aside, so the joiner hears of it. With
    `tool_messages`, the calls that run now are the round's plan message (those waiting for
    approval follow in their own, see `Nodes._joining`). A plan read from the joiner's `reply`
    brings the replan's feedback, which was still to come when the joiner's node ended."""
    cap = settings.max_state_chars
    kept, rejected = list(turn.tasks), list(turn.rejected)
    seen = {t["idx"] for t in kept}
    for task in (stored_task(t, cap) for t in tasks):
        if task["idx"] in seen:
            reason = task["error"] or f"duplicate id {task['idx']}"
            rejected.append({**task, "error": reason})
        else:
            seen.add(task["idx"])
            kept.append(task)
    update: PlannerUpdate = {
        "turn_id": turn.question.id,
        "round": turn.round + 1,
        "tasks": kept,
        "rejected": rejected,
        "awaiting_approval": gate.asked if gate else [],
    }
    if reply:
        update["feedback"] = split_replan("".join(reply))[0]
    held = gate.held if gate else set()
    running = [t for t in kept[len(turn.tasks) :] if t["idx"] not in held]
    if settings.tool_messages and running:
        update["messages"] = [plan_message(key, turn.round + 1, running, "plan")]
    return update


@dataclass(frozen=True)
class _JoinerCall:
    """The joiner and the arguments of its `decide` / `adecide`; `reply`: the key its replan's
    plan is handed over under, when it may carry one."""

    joiner: Joiner
    arguments: dict[str, Any]
    reply: str | None


def _streaming(handoff: ReplyHandoff) -> Decision:
    """A replan whose plan is still streaming to the next planner."""
    return Decision("", False, "", handoff.feedback)


_writing: set[asyncio.Task[Decision]] = set()
"""Joiner calls running (kept from garbage collection): a replan's goes on after its node."""


def _written(call: asyncio.Task[Decision]) -> None:
    _writing.discard(call)
    if not call.cancelled() and call.exception() is not None:  # the planner reports it
        logger.debug("the joiner's call failed: %r", call.exception())


@contextlib.contextmanager
def _reply(
    key: str, turn: Turn, config: RunnableConfig
) -> Iterator[tuple[AsyncIterator[str] | None, list[str]]]:
    """The plan the joiner is still writing for this round, if its replan handed one over
    (`written`, None otherwise), and the list its text is gathered in as it is read. A planner
    that stops before the reply ends (its run failed or was cancelled) abandons it, which stops
    the joiner's call."""
    text: list[str] = []
    thread_id = config.get("configurable", {}).get("thread_id")
    reply = reply_key(thread_id, key, turn.round + 1)
    found = replies.find(reply) if turn.round else None
    if found is None:
        yield None, text
        return
    try:
        yield reading(found, text), text
    finally:
        found.abandoned = not found.closed
        replies.release(reply)


def _joined(decision: Decision) -> JoinerUpdate:
    """The joiner's state update."""
    if decision.finish:
        return {
            "messages": [AIMessage(decision.answer, id=decision.message_id)],
            "decision": "finish",
            "thought": decision.thought,
            "feedback": "",
            "review": "",
        }
    return {
        "decision": "replan",
        "thought": decision.thought,
        "feedback": decision.feedback,
        "review": "",
    }
