"""The plan's data model: tasks, observations and `$N` references.

Everything here is plain JSON-like data (TypedDicts of str / int / list / dict) so that it lives in
graph state unchanged: checkpointers, the LangGraph server and Studio can store and show it.

A task's `args` keep references as the planner wrote them (`"$1"`, `"${1}"`, or inside a longer
string); its `dependencies` list which ids are real references. `resolve_args` substitutes them at
dispatch time from the observations: a whole-value reference receives the typed observation, a
reference inside a longer string receives its text.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from langchain_core.messages import HumanMessage

JOIN = "join"
"""The reserved tool name that ends a plan."""

REFERENCE = re.compile(r"\$\{(\d+)\}|\$(\d+)")
"""`${N}` (group 1) or `$N` (group 2); `$N` is greedy so `$10` never matches task 1."""

WHOLE_REFERENCE = re.compile(r"\s*\$(?:\{(\d+)\}|(\d+))\s*")
"""A value that is nothing but one reference (matched with `fullmatch`)."""


class Task(TypedDict):
    """One step of a plan: a tool call whose arguments may reference earlier tasks."""

    idx: int
    """The task's id as the planner numbered it; unique within one user turn."""
    tool: str
    """The tool's name."""
    args: dict[str, Any]
    """Keyword arguments (positional ones mapped onto the schema order); references unresolved."""
    dependencies: list[int]
    """Ids of the tasks whose observations this one needs, in ascending order."""
    thought: str | None
    """The `Thought:` the planner wrote before this task, if any."""
    error: str | None
    """Why the task is invalid (unknown tool, bad arguments, bad reference...); None when valid."""


def make_task(
    idx: int,
    tool: str,
    args: Mapping[str, Any] | None = None,
    dependencies: Iterable[int] = (),
    thought: str | None = None,
    error: str | None = None,
) -> Task:
    """A `Task`, as the parser makes them (for tests, benchmarks and hand-written plans).

    >>> make_task(2, "math", {"problem": "$1 + 1"}, [1])["dependencies"]
    [1]
    """
    return Task(
        idx=idx,
        tool=tool,
        args=dict(args or {}),
        dependencies=sorted(set(dependencies)),
        thought=thought,
        error=error,
    )


ObservationStatus = Literal["ok", "error", "skipped"]


class Observation(TypedDict):
    """The outcome of one task."""

    idx: int
    status: ObservationStatus
    """`ok`: the tool returned; `error`: invalid task, tool exception or timeout;
    `skipped`: a dependency failed so the tool never ran."""
    value: Any
    """The tool's return value (typed) when `ok`; None otherwise."""
    error: str | None
    """`"ValueError: ..."` for errors, `"skipped: dependency 2 failed"` for skips."""
    dispatched_at: float | None
    """Wall-clock time (`time.time()`) the task's inputs were complete and it was dispatched."""
    started_at: float | None
    """Wall-clock time the tool call began (after any concurrency limit)."""
    finished_at: float
    """Wall-clock time the observation was recorded."""


@dataclass(frozen=True)
class Turn:
    """One user question and what has been planned and observed for it so far."""

    question: HumanMessage
    round: int = 0
    """The latest round planned in this turn; 0 for a new turn (so the next plan is `round + 1`)."""
    tasks: list[Task] = field(default_factory=list)
    observations: dict[int, Observation] = field(default_factory=dict)
    feedback: str = ""
    """What the joiner asked the next plan to do ('' before the first replan)."""
    rejected: list[Task] = field(default_factory=list)
    """Tasks planned in this turn that were not run: their id was taken (see `error`)."""

    @property
    def pending(self) -> list[Task]:
        """Tasks planned in this turn that have no observation yet (the scheduler was cut off)."""
        return [t for t in self.tasks if t["idx"] not in self.observations]

    @property
    def next_id(self) -> int:
        """The first task id the next plan may use."""
        return max((t["idx"] for t in self.tasks), default=0) + 1


def make_observation(
    idx: int,
    status: ObservationStatus,
    value: Any = None,
    error: str | None = None,
    dispatched_at: float | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
) -> Observation:
    """An `Observation`, finished now unless `finished_at` says when.

    >>> make_observation(1, "ok", 42)["value"]
    42
    """
    return Observation(
        idx=idx,
        status=status,
        value=value,
        error=error,
        dispatched_at=dispatched_at,
        started_at=started_at,
        finished_at=time.time() if finished_at is None else finished_at,
    )


def is_whole_reference(value: Any) -> int | None:
    """The task id if `value` is a string that is exactly one `$N` / `${N}`, else None."""
    if isinstance(value, str) and (m := WHOLE_REFERENCE.fullmatch(value)):
        return int(m.group(1) or m.group(2))
    return None


def as_text(value: Any) -> str:
    """How an observation reads inside a string (and in prompts)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def resolve_args(task: Task, observations: Mapping[int, Observation]) -> dict[str, Any]:
    """The task's arguments with every reference to one of its dependencies substituted.

    Only ids in `task["dependencies"]` are substituted, so text such as `"costs $100"` stays as
    written unless the parser decided task 100 was a real reference. Substituted values are never
    scanned again: tool output is data, not plan text.
    """
    deps = set(task["dependencies"])

    def value_of(idx: int) -> Any:
        return observations[idx]["value"]

    def substitute_text(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            idx = int(m.group(1) or m.group(2))
            return as_text(value_of(idx)) if idx in deps else m.group(0)

        return REFERENCE.sub(repl, text)

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            idx = is_whole_reference(value)
            if idx is not None and idx in deps:
                return value_of(idx)
            return substitute_text(value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    return {name: resolve(value) for name, value in task["args"].items()}


def format_call(task: Task) -> str:
    """The task as a plan line, `3. math(problem="...", context=["$1"])`, for prompts and logs."""
    args = ", ".join(f"{k}={v!r}" for k, v in task["args"].items())
    return f"{task['idx']}. {task['tool']}({args})"
