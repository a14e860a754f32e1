"""The three graph nodes over the shared state, and the joiner's routing.

The planner and the scheduler run in the same superstep and meet on a `PlanStream` (see
`handoff`); the joiner runs after both. Each node is async-first; its sync form runs the same
steps (the scheduler literally runs its async form on a private event loop).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END
from langgraph.runtime import Runtime, get_runtime

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.joiner import Decision, Joiner
from llmcompiler_graph.core.plan import Task
from llmcompiler_graph.core.planner import Planner
from llmcompiler_graph.handoff import ProducerGone, producing, streams, superstep_key
from llmcompiler_graph.state import Turn, conversation, current_turn

logger = logging.getLogger(__name__)

Route = Literal["planner", "scheduler", "__end__"]


@dataclass(frozen=True)
class Components:
    """Everything one run needs, built once per configuration."""

    planner: Planner
    scheduler: TaskFetchingUnit
    joiner: Joiner
    max_replans: int
    producer_timeout: float
    """Seconds the scheduler waits for the planner to show up before it gives up on the live
    stream (the planner is gone, e.g. a resumed superstep) and leaves the plan to catch-up."""


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

    def _setup(self, state: dict[str, Any]) -> tuple[Components, Turn, Runtime[Any]]:
        runtime = get_runtime()
        return self.components(runtime), current_turn(state), runtime

    def _events(self, round: int) -> EventSink:
        return EventSink(get_stream_writer(), graph=self.name, round=round)

    # planner

    async def aplan(self, state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        with producing(superstep_key(get_runtime())) as stream:
            job = _PlanJob(self, state)
            tasks = await job.planner.aplan(job.messages, job.parser, stream.publish, config)
            return job.update(tasks)

    def plan(self, state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        with producing(superstep_key(get_runtime())) as stream:
            job = _PlanJob(self, state)
            tasks = job.planner.plan(job.messages, job.parser, stream.publish, config)
            return job.update(tasks)

    # scheduler (the task fetching unit)

    async def aschedule(
        self, state: dict[str, Any], config: RunnableConfig, *, prefer_sync_tools: bool = False
    ) -> dict[str, Any]:
        components, turn, runtime = self._setup(state)
        earlier = {} if turn.is_new else turn.observations
        key = None
        if turn.pending:
            logger.info("catching up %d tasks from state", len(turn.pending))
            round, source = turn.round, turn.pending
        else:
            key = superstep_key(runtime)
            round, source = turn.round + 1, streams.get(key).tasks(components.producer_timeout)
        try:
            new = await components.scheduler.arun(
                source,
                observations=earlier,
                events=self._events(round),
                config=config,
                prefer_sync_tools=prefer_sync_tools,
            )
        except ProducerGone:
            logger.warning(
                "no planner attached within %ss; leaving the plan to catch-up",
                components.producer_timeout,
            )
            new = {}
        finally:
            if key is not None:
                streams.release(key)
        merged = {**earlier, **new}
        return {"observations": [merged[idx] for idx in sorted(merged)]}

    def schedule(self, state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        return run_sync(self.aschedule(state, config, prefer_sync_tools=True))

    # joiner

    async def ajoin(self, state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        job = _JoinJob(self, state)
        if job.waiting:
            return {}
        decision = await job.joiner.adecide(job.messages(), force_answer=job.force, config=config)
        return job.update(decision)

    def join(self, state: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        job = _JoinJob(self, state)
        if job.waiting:
            return {}
        decision = job.joiner.decide(job.messages(), force_answer=job.force, config=config)
        return job.update(decision)

    @staticmethod
    def route(state: dict[str, Any]) -> Route | list[Route]:
        """After the joiner: the answer ends the turn; a replan starts the planner and the
        scheduler together; tasks without observations (the scheduler was cut off) go back to
        the scheduler alone."""
        if current_turn(state).pending:
            return "scheduler"
        if state.get("decision") == "finish":
            return END
        return ["planner", "scheduler"]


class _PlanJob:
    """One planner run: its prompt and its parser."""

    def __init__(self, nodes: Nodes, state: dict[str, Any]) -> None:
        components, self.turn, _ = nodes._setup(state)
        self.planner = components.planner
        self.round = self.turn.round + 1
        self.events = nodes._events(self.round)
        self.events.send("plan_started")
        system, dialogue = conversation(state["messages"])
        self.messages = self.planner.messages(
            self.turn, system, dialogue, state.get("feedback", "")
        )
        self.parser = self.planner.parser(self.turn)

    def update(self, tasks: list[Task]) -> dict[str, Any]:
        self.events.send("plan_finished", tasks=len(tasks), joined=self.parser.joined)
        return {
            "turn_id": self.turn.question.id,
            "round": self.round,
            "tasks": _first_per_id([*self.turn.tasks, *tasks]),
        }


class _JoinJob:
    """One joiner run: its prompt, or nothing to do when tasks still lack observations."""

    def __init__(self, nodes: Nodes, state: dict[str, Any]) -> None:
        components, self.turn, _ = nodes._setup(state)
        self.state = state
        self.waiting = bool(self.turn.pending)
        self.joiner = components.joiner
        self.force = self.turn.round > components.max_replans
        self.events = nodes._events(self.turn.round)

    def messages(self) -> list[BaseMessage]:
        system, dialogue = conversation(self.state["messages"])
        return self.joiner.messages(self.turn, system, dialogue, force_answer=self.force)

    def update(self, decision: Decision) -> dict[str, Any]:
        self.events.send(
            "joiner_decision",
            decision="finish" if decision.finish else "replan",
            thought=decision.thought,
            answer=decision.answer if decision.finish else None,
            feedback=None if decision.finish else decision.feedback,
        )
        if decision.finish:
            return {
                "messages": [AIMessage(decision.answer)],
                "decision": "finish",
                "thought": decision.thought,
                "feedback": "",
            }
        return {"decision": "replan", "thought": decision.thought, "feedback": decision.feedback}


def _first_per_id(tasks: list[Task]) -> list[Task]:
    """Drop tasks that reuse an id (the parser flagged them; the first one's result stands)."""
    seen: set[int] = set()
    return [t for t in tasks if not (t["idx"] in seen or seen.add(t["idx"]))]
