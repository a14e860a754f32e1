"""Which tasks of a streamed plan may run: its dependency graph, tracked as tasks arrive and
finish. Pure and synchronous (no event loop, no tools): the task fetching unit admits each task
here, dispatches what is ready, and records each observation, which releases the tasks waiting
for it.

>>> from llmcompiler_graph.core.plan import make_observation, make_task
>>> dag = Dag(earlier={}, tools={"double"})
>>> dag.admit(make_task(1, "double", {"x": 3}))
'ready'
>>> dag.admit(make_task(2, "double", {"x": "$1"}, [1]))
'blocked'
>>> [(t["idx"], failed) for t, failed in dag.finish(1, make_observation(1, "ok", 6))]
[(2, None)]
"""

from __future__ import annotations

from collections import ChainMap, defaultdict
from collections.abc import Container, Mapping
from typing import Literal

from llmcompiler_graph.core.plan import Observation, ObservationStatus, Task, make_observation

Admission = Literal["duplicate", "blocked", "ready"] | Observation
"""What `Dag.admit` says of a task: a second task with a taken id (`duplicate`: reported, never
recorded), waiting for its inputs (`blocked`), to run now (`ready`), or the observation it gets
without running (invalid, unknown tool, missing reference, or an input that failed)."""


class Dag:
    """One plan execution's dependency graph.

    Args:
        earlier: observations of earlier rounds of the same turn (references may name them; a
            task may not take their ids).
        tools: the names of the tools that exist.
    """

    def __init__(self, earlier: Mapping[int, Observation], tools: Container[str]) -> None:
        self.earlier = earlier
        self.tools = tools
        self.results: dict[int, Observation] = {}
        """Observation of each task of this run that has one."""
        self.known: ChainMap[int, Observation] = ChainMap(self.results, dict(earlier))
        """Every observation a reference may name."""
        self.admitted: set[int] = set()
        self.blocked: dict[int, tuple[Task, set[int]]] = {}
        """Task id -> the task and the ids of its inputs still running."""
        self.dependents: defaultdict[int, list[int]] = defaultdict(list)

    def admit(self, task: Task) -> Admission:
        """Take one task from the stream (see `Admission`)."""
        idx = task["idx"]
        if idx in self.admitted or idx in self.earlier:
            return "duplicate"
        self.admitted.add(idx)
        if task["error"]:
            return error_observation(task, task["error"])
        if task["tool"] not in self.tools:
            return error_observation(task, f"unknown tool {task['tool']!r}")
        unmet = set()
        for dep in task["dependencies"]:
            done = self.known.get(dep)
            if dep == idx or (done is None and dep not in self.admitted):
                return error_observation(task, f"missing reference ${dep}")
            if done is None:
                unmet.add(dep)
            elif done["status"] != "ok":
                return skipped_observation(task, dep)
        if not unmet:
            return "ready"
        self.blocked[idx] = (task, unmet)
        for dep in unmet:
            self.dependents[dep].append(idx)
        return "blocked"

    def finish(self, idx: int, observation: Observation) -> list[tuple[Task, int | None]]:
        """Record task `idx`'s observation. Returns the tasks it releases, in the order they
        waited: `(task, None)` to run now, `(task, idx)` to skip (this input failed)."""
        self.results[idx] = observation
        released: list[tuple[Task, int | None]] = []
        for waiting_idx in self.dependents.pop(idx, []):
            if waiting_idx not in self.blocked:
                continue  # skipped already through another failed input
            waiting, unmet = self.blocked[waiting_idx]
            if observation["status"] != "ok":
                del self.blocked[waiting_idx]
                released.append((waiting, idx))
                continue
            unmet.discard(idx)
            if not unmet:
                del self.blocked[waiting_idx]
                released.append((waiting, None))
        return released

    def stranded(self) -> list[Task]:
        """Admitted tasks that never got an observation (only a bug could leave one)."""
        return [
            self.blocked.pop(idx)[0]
            for idx in sorted(self.admitted - self.results.keys())
            if idx in self.blocked
        ]


def error_observation(task: Task, error: str, status: ObservationStatus = "error") -> Observation:
    """The observation of a task that never ran."""
    return make_observation(task["idx"], status, error=error)


def skipped_observation(task: Task, failed_dependency: int) -> Observation:
    return error_observation(task, f"skipped: dependency {failed_dependency} failed", "skipped")
