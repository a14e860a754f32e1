"""The scheduler's durable journal: what a resumed scheduler node must not do again.

LangGraph keeps the result of a functional-API `@task` called inside a node as a pending write
the moment it finishes, and a resumed node gets it back instead of running the task again. The
scheduler writes two kinds of entries through one such task as they happen: each observation
with the call it answers, and the whole plan once it has arrived. A resumed scheduler (after a
crash, a kill or an interrupt) reads them back first, so it runs only what had not finished and,
when the whole plan had arrived, does not wait for a planner that will not come back.

Why entries and not one task per tool call: LangGraph identifies a task called in a node by the
order of the calls (with its name), and the order tools finish in depends on timing. Entries
are read back by position, whatever the order they were written in, and each one says which task
it belongs to; a recorded observation is reused only for the same call (tool and arguments). So
a resume with other timings never hands a result to the wrong task.

Reading back: the node calls the journal task again and again; a call that was recorded before
returns its entry without running; the first call that actually runs returns a marker carrying
this attempt's nonce, which ends the replay (a marker with another nonce is an earlier attempt's
end, and the replay goes on past it).

Entries go through the checkpointer, so they hold tasks and observations as state keeps them
(`state.stored_task`, `state.stored_observation`); a dependent of a task replayed after a resume
receives the stored value. Without a checkpointer
nothing can be resumed and nothing is journaled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.func import task

from llmcompiler_graph.core.plan import Observation, Task
from llmcompiler_graph.state import stored_observation, stored_task

JOURNAL = "llmcompiler_journal"
"""The name its entries show under in `stream_mode="updates"`."""


@task(name=JOURNAL)
def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    """One journal entry: recorded as the task's result the moment it is written."""
    return entry


@dataclass
class Replay:
    """What earlier attempts of this scheduler node recorded."""

    plan: list[Task] | None = None
    """The whole plan (as stored: JSON-safe), if it had arrived; None otherwise."""
    finished: dict[int, tuple[Task, Observation]] = field(default_factory=dict)
    """The observations recorded, with the call each answers, by task id."""

    def done(self, planned: Task, max_chars: int) -> Observation | None:
        """The recorded observation of `planned`, if it was recorded for this very call."""
        earlier, observation = self.finished.get(planned["idx"], (None, None))
        if earlier is None:
            return None
        stored = stored_task(planned, max_chars)
        same = (earlier["tool"], earlier["args"]) == (stored["tool"], stored["args"])
        return observation if same else None


class Journal:
    """The journal of one scheduler node run (use `Journal.open`)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._writes: list[Awaitable[Any] | concurrent.futures.Future[Any]] = []

    @classmethod
    def open(cls, config: RunnableConfig, *, max_chars: int) -> Journal | None:
        """The journal of this run, or None when the run has no checkpointer to keep it."""
        if not _has_checkpointer(config):
            return None
        return cls(max_chars)

    async def replay(self) -> Replay:
        """Read back what earlier attempts of this node recorded (see the module docstring)."""
        nonce = uuid.uuid4().hex
        replay = Replay()
        while True:
            entry = await _settle(_entry({"kind": "end", "nonce": nonce}))
            kind = entry.get("kind")
            if kind == "end":
                if entry.get("nonce") == nonce:
                    return replay
            elif kind == "plan":
                replay.plan = entry["tasks"]
            elif kind == "observation":
                idx = entry["observation"]["idx"]
                replay.finished[idx] = (entry["task"], entry["observation"])

    async def recording(
        self, tasks: AsyncIterable[Task], complete: Callable[[], bool]
    ) -> AsyncIterator[Task]:
        """`tasks` as they pass; once they are all in and `complete()` (the planner finished
        the plan, rather than failed), the whole plan is journaled."""
        received = []
        async for item in tasks:
            received.append(stored_task(item, self.max_chars))
            yield item
        if complete():
            self._write({"kind": "plan", "tasks": received})

    def observation(self, task: Task, observation: Observation) -> None:
        """Journal a finished task's observation with its call (durable once the write lands)."""
        self._write(
            {
                "kind": "observation",
                "task": stored_task(task, self.max_chars),
                "observation": stored_observation(observation, self.max_chars),
            }
        )

    async def flush(self) -> None:
        """Wait until every entry is written (before the node returns)."""
        writes, self._writes = self._writes, []
        await asyncio.gather(*(_settle(w) for w in writes))

    def _write(self, entry: dict[str, Any]) -> None:
        self._writes.append(_entry(entry))


async def _settle(future: Any) -> Any:
    """The result of a journal write, in a sync graph's (a thread's future) or an async one's."""
    if isinstance(future, concurrent.futures.Future):
        return await asyncio.wrap_future(future)
    return await future


def _has_checkpointer(config: RunnableConfig) -> bool:
    # A node sees the run's checkpointer only under this config key (the public re-export in
    # `langgraph.constants`; `Runtime.execution_info.thread_id` is set without one too).
    return config.get("configurable", {}).get(CONFIG_KEY_CHECKPOINTER) is not None
