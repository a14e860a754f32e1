"""The custom stream events (`stream_mode="custom"`): a public contract (docs/events.md).

Every event is a flat JSON-able dict with an `event` name, the emitting graph's `graph` name, the
`round` of the plan (1 for the first plan of a user turn) and a wall-clock `time` (`time.time()`).
A UI can draw a live DAG or a timeline from these alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from llmcompiler_graph.core.plan import Observation, Task, as_text
from llmcompiler_graph.core.values import sample

Emit = Callable[[dict[str, Any]], None]
"""Where events go: LangGraph's stream writer, or any callable taking one dict."""

PREVIEW_CHARS = 200
"""How much of an observation a `task_finished` event previews."""


SAMPLE_CHARS = 800
"""About this many characters of a finished task's value travel in its event (`value`)."""


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """A short, single-string rendering of an observation for events and live views (never
    raises: see `plan.as_text`)."""
    return _cut(as_text(value), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(args: dict[str, Any], limit: int = PREVIEW_CHARS) -> dict[str, Any]:
    """Arguments as called, with any long value (a big upstream result) cut to a preview."""
    texts = {k: as_text(v) for k, v in args.items()}
    return {k: v if len(texts[k]) <= limit else _cut(texts[k], limit) for k, v in args.items()}


class EventSink:
    """Stamps and sends the events of one round; a no-op when nobody listens."""

    def __init__(self, emit: Emit | None, *, graph: str, round: int) -> None:
        self._emit = emit
        self._base = {"graph": graph, "round": round}

    def send(self, event: str, **fields: Any) -> None:
        if self._emit is not None:
            self._emit({"event": event, **self._base, "time": time.time(), **fields})

    def task_planned(self, task: Task) -> None:
        self._task("task_planned", task, task["args"], thought=task["thought"], error=task["error"])

    def task_started(
        self,
        task: Task,
        called_with: dict[str, Any],
        dispatched_at: float,
        started_at: float,
        reused_from: int | None = None,
    ) -> None:
        """`reused_from`: the id of the earlier task of the turn whose identical call's result
        this task takes instead of calling its tool (None: the tool is called)."""
        self._task(
            "task_started",
            task,
            bounded(called_with),
            dispatched_at=dispatched_at,
            started_at=started_at,
            reused_from=reused_from,
        )

    def task_finished(
        self, task: Task, observation: Observation, reused_from: int | None = None
    ) -> None:
        started, ok = observation["started_at"], observation["status"] == "ok"
        if self._emit is None:
            return
        self._task(
            "task_finished",
            task,
            task["args"],
            status=observation["status"],
            preview=preview(observation["value"]) if ok else None,
            value=sample(observation["value"], SAMPLE_CHARS) if ok else None,
            error=observation["error"],
            dispatched_at=observation["dispatched_at"],
            started_at=started,
            finished_at=observation["finished_at"],
            duration=None if started is None else observation["finished_at"] - started,
            reused_from=reused_from,
        )

    def _task(self, event: str, task: Task, args: dict[str, Any], **fields: Any) -> None:
        """An event about one task: its id, tool, arguments and dependencies, then `fields`."""
        self.send(
            event,
            idx=task["idx"],
            tool=task["tool"],
            args=args,
            dependencies=task["dependencies"],
            **fields,
        )
