"""The scheduler's durable journal: what a resumed scheduler node must not do again.

LangGraph keeps the result of a functional-API `@task` called inside a node as a pending write
the moment it finishes, and a resumed node gets it back instead of running the task again. The
scheduler writes three kinds of entries through one such task as they happen: the observations
with the calls they answer, the whole plan once it has arrived, and, before a tool that must run
at most once (`idempotent=False`) is called, that the call is starting. A resumed scheduler
(after a crash, a kill or an interrupt) reads them back first, so it runs only what had not
finished and, when the whole plan had arrived, does not wait for a planner that will not come
back.

A recorded observation is reused by its call (tool and resolved arguments, see `call_key`), not
by task id: a planner run again after a kill may give the same calls other ids in another
order. A call recorded as starting and never finished is not made again: it becomes an error
observation saying it may or may not have run. Such a start entry is confirmed in the
checkpointer before the tool is called (a write is otherwise saved in the background), so a
kill at any moment cannot make the call twice.

Why entries and not one task per tool call: LangGraph identifies a task called in a node by the
order of the calls (with its name), and the order tools finish in depends on timing. Entries
are read back by position, whatever the order they were written in.

A plan whose planner finished in an earlier attempt, before the scheduler's journal held the
whole plan, runs in catch-up: a later superstep, with a journal of its own. Every entry carries
its round (the turn's question and the round number), and a catch-up also reads the entries of
its round that the earlier supersteps' journals hold, so it reuses what finished there and does
not make again a call that had started there.

Observations are written in batches. LangGraph looks at every earlier write of the node each
time a task is called, so one entry per observation made each cost more as the plan grew (with a
streamed plan of instant tools, tasks finish one per turn of the event loop). An observation
after a quiet spell is written at the end of its loop turn; those that follow within
`BATCH_SECONDS` of the last write wait for the next one, so a write goes out at most every
`BATCH_SECONDS` and nothing waits longer than that to be durable.

Reading back: the node calls the journal task again and again; a call that was recorded before
returns its entry without running; a call that actually runs returns a marker carrying this
attempt's nonce (a marker with another nonce is an earlier attempt's). LangGraph saves writes on
background threads, in no fixed order, so a kill can leave a gap: entry 7 saved, entry 6 not.
The replay therefore counts the entries the checkpointer holds first and goes on, past its own
markers filling the gaps, until it has read them all; the attempt's own entries then take
positions no earlier attempt used.

Entries go through the checkpointer, so they hold tasks, arguments and observations as state
keeps them (`core.values.to_state`); a dependent of a task replayed after a resume receives the
stored value. Without a checkpointer nothing can be resumed and nothing is journaled.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.func import task

from llmcompiler_graph.core._sync import in_thread
from llmcompiler_graph.core.calls import call_key
from llmcompiler_graph.core.plan import Observation, Task, make_observation
from llmcompiler_graph.core.values import to_state
from llmcompiler_graph.state import stored_observation, stored_task

logger = logging.getLogger(__name__)

_NS_KEY = "checkpoint_ns"
_ID_KEY = "checkpoint_id"
_MAP_KEY = "checkpoint_map"
_DURABILITY_KEY = "__pregel_durability"
_NS_SEP = "|"
_RETURN = "__return__"
"""Where a node finds its graph's checkpoint: the keys LangGraph sets in a task's config (the
namespace up to the last separator is the graph's; `checkpoint_map` maps it to the checkpoint
id its pending writes go under), the durability a run was given explicitly, and the channel a
task's result is saved under."""

_KINDS = frozenset({"end", "plan", "observations", "started"})
"""The kinds of entry: how the journal's writes are told from other task results."""

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
    finished: dict[str, list[Observation]] = field(default_factory=dict)
    """The observations recorded, by call key, in the order they were recorded."""
    started: Counter[str] = field(default_factory=Counter)
    """Calls recorded as starting (tools called at most once), by call key."""

    @property
    def empty(self) -> bool:
        """Nothing recorded for any call (a first attempt): no call needs looking up."""
        return not self.finished and not self.started

    def recorded(self, task: Task, call: str) -> Observation | None:
        """The observation recorded for `task`'s call (its `stored_call` key; each record is
        taken once)."""
        if not (recorded := self.finished.get(call)):
            return None
        if self.started[call] > 0:
            self.started[call] -= 1
        return {**recorded.pop(0), "idx": task["idx"]}

    def unfinished(self, task: Task, call: str) -> Observation | None:
        """For a call recorded as starting that never finished: an error observation (the call
        is not made again). None: the call is to be made."""
        if self.started[call] <= 0:
            return None
        self.started[call] -= 1
        return make_observation(
            task["idx"],
            "error",
            None,
            f"{task['tool']} was called by an earlier attempt of this run that stopped before "
            "it returned: it may or may not have run, and is not called again (its policy says "
            "idempotent=False; rerun_unfinished=True would call it).",
            time.time(),
        )


class Journal:
    """The journal of one scheduler node run (use `Journal.open`)."""

    def __init__(self, config: RunnableConfig, max_chars: int, round_key: str) -> None:
        self.config = config
        self.max_chars = max_chars
        self.round_key = round_key
        self._writes: list[Awaitable[Any] | concurrent.futures.Future[Any]] = []
        self._batch: list[list[Any]] = []
        """Observations waiting for the next batch write (call key, stored observation)."""
        self._written_at = -math.inf
        """When the last batch was written (`time.monotonic()`)."""

    @classmethod
    def open(cls, config: RunnableConfig, *, max_chars: int, round_key: str) -> Journal | None:
        """The journal of this run of round `round_key`, or None when the run has no
        checkpointer to keep it."""
        if _saver(config) is None:
            return None
        return cls(config, max_chars, round_key)

    async def replay(self, *, catch_up: bool = False) -> Replay:
        """Read back what earlier attempts of this node recorded, and in a `catch_up` what the
        earlier supersteps of its round recorded (see the module docstring)."""
        replay = Replay()
        if catch_up:
            for entry in await self._earlier():
                _apply(replay, entry)
        nonce = uuid.uuid4().hex
        held = len(await self._entries(self._checkpoint()))
        read = gaps = 0
        while True:
            entry = await _settle(_entry({"kind": "end", "nonce": nonce}))
            if entry.get("kind") == "end" and entry.get("nonce") == nonce:
                gaps += 1
                if read >= held:
                    return replay
                if gaps > MAX_GAPS:
                    logger.warning("the journal read %d of %d entries it holds", read, held)
                    return replay
                continue
            read += 1
            _apply(replay, entry)

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
            self._write({"kind": "plan", "round": self.round_key, "tasks": received})

    def observation(self, task: Task, call: str | None, observation: Observation) -> None:
        """Journal a finished task's observation under its call (`stored_call`; durable once the
        write lands). A task without a call key (it never resolved its arguments, or they cannot
        be encoded) is not journaled: a resume could never match it to a call."""
        if call is None:
            return
        if not self._batch:
            wait = self._written_at + BATCH_SECONDS - time.monotonic()
            asyncio.get_running_loop().call_later(max(wait, 0.0), self._write_batch)
        self._batch.append([call, stored_observation(observation, self.max_chars)])

    async def starting(self, task: Task, args: Mapping[str, Any]) -> None:
        """Journal that `task`'s call is about to start, and return once the checkpointer holds
        it (so a kill from here on cannot make the call again on resume)."""
        call = stored_call(task["tool"], args, self.max_chars)
        if call is None:
            return
        nonce = uuid.uuid4().hex
        started = {"kind": "started", "round": self.round_key, "call": call, "nonce": nonce}
        await _settle(_entry(started))
        await self._saved(nonce)

    async def flush(self) -> None:
        """Wait until every entry is written (before the node returns)."""
        self._write_batch()
        writes, self._writes = self._writes, []
        await asyncio.gather(*(_settle(w) for w in writes))

    def _write(self, entry: dict[str, Any]) -> None:
        self._writes.append(_entry(entry))

    def _write_batch(self) -> None:
        if self._batch:
            batch, self._batch = self._batch, []
            self._written_at = time.monotonic()
            self._write({"kind": "observations", "round": self.round_key, "observations": batch})

    async def _saved(self, nonce: str) -> None:
        """Wait until the checkpointer holds the entry marked `nonce` among the pending writes
        of this node's checkpoint. LangGraph saves a task's result in the background and gives
        no handle on that write, so this reads it back (a few ms); after `SAVE_TIMEOUT`, or
        when the run saves nothing before it exits (`durability="exit"`), it goes on with a
        warning: the call is then protected only once the write lands."""
        if self.config.get("configurable", {}).get(_DURABILITY_KEY) == "exit":
            _warn_once("durability='exit' saves nothing before the run ends")
            return
        deadline, pause = time.monotonic() + SAVE_TIMEOUT, 0.001
        while time.monotonic() < deadline:
            if any(e.get("nonce") == nonce for e in await self._entries(self._checkpoint())):
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        _warn_once(f"the checkpointer did not show a journal entry within {SAVE_TIMEOUT:g} s")

    def _checkpoint(self) -> RunnableConfig:
        """Where this node's pending writes are: its graph's checkpoint of this superstep."""
        configurable = self.config.get("configurable", {})
        namespace = configurable.get(_NS_KEY, "").rpartition(_NS_SEP)[0]
        return {
            "configurable": {
                "thread_id": configurable.get("thread_id"),
                _NS_KEY: namespace,
                _ID_KEY: configurable.get(_MAP_KEY, {}).get(namespace),
            }
        }

    async def _entries(self, where: RunnableConfig) -> list[dict[str, Any]]:
        """The journal entries among the pending writes of the checkpoint `where` (the task
        results whose value is an entry)."""
        if where["configurable"].get(_ID_KEY) is None:  # no checkpoint named: no entries
            return []
        saved = await _read(_saver(self.config), where)
        return _journaled(saved)

    async def _earlier(self) -> list[dict[str, Any]]:
        """The entries of this round in the supersteps before this one (oldest first)."""
        where = self._checkpoint()
        if where["configurable"].get(_ID_KEY) is None:
            return []
        thread = {"configurable": {k: v for k, v in where["configurable"].items() if k != _ID_KEY}}
        earlier = await _list(_saver(self.config), thread, before=where, limit=MAX_EARLIER)
        return [
            entry
            for saved in reversed(earlier)
            for entry in _journaled(saved)
            if entry.get("round") == self.round_key
        ]


def _journaled(saved: CheckpointTuple | None) -> list[dict[str, Any]]:
    return [
        value
        for _, channel, value in (saved.pending_writes or () if saved else ())
        if channel == _RETURN and isinstance(value, dict) and value.get("kind") in _KINDS
    ]


def _apply(replay: Replay, entry: dict[str, Any]) -> None:
    """Add what one entry records to `replay`."""
    kind = entry.get("kind")
    if kind == "plan":
        replay.plan = entry["tasks"]
    elif kind == "observations":
        for call, observation in entry["observations"]:
            replay.finished.setdefault(call, []).append(observation)
    elif kind == "started":
        replay.started[entry["call"]] += 1


MAX_EARLIER = 8
"""How many supersteps back a catch-up looks for its round's entries (its round's scheduler ran
two supersteps before it: the joiner between them; approvals add one each)."""

BATCH_SECONDS = 0.01
"""At most one batch of observations is written per this many seconds."""

MAX_GAPS = 256
"""How many of its own markers a replay writes looking for the entries it holds before it gives
up (a kill leaves a gap only where a write was in flight)."""

SAVE_TIMEOUT = 10.0
"""Seconds to wait for the checkpointer to hold a start entry before calling the tool anyway."""


def stored_call(tool: str, args: Mapping[str, Any], max_chars: int) -> str | None:
    """The call key of `tool` with `args` as state stores them: the same for the live values of
    a first attempt and the stored values a resumed one resolves its arguments from."""
    return call_key(tool, {name: to_state(v, max_chars=max_chars) for name, v in args.items()})


async def _list(
    saver: BaseCheckpointSaver[Any], thread: RunnableConfig, **options: Any
) -> list[CheckpointTuple]:
    """The thread's checkpoints, newest first (`options`: `before`, `limit`)."""
    try:
        return [saved async for saved in saver.alist(thread, **options)]
    except NotImplementedError:  # a sync-only saver
        return await in_thread(lambda: list(saver.list(thread, **options)))


async def _read(saver: BaseCheckpointSaver[Any], where: RunnableConfig) -> CheckpointTuple | None:
    try:
        return await saver.aget_tuple(where)
    except NotImplementedError:  # a sync-only saver (a sync graph's scheduler runs off-loop)
        return await in_thread(saver.get_tuple, where)


def _warn_once(why: str) -> None:
    if why not in _WARNED:
        _WARNED.add(why)
        logger.warning(
            "a tool with idempotent=False is called without a confirmed journal entry (%s): a "
            "kill while it runs may make the call again on resume",
            why,
        )


_WARNED: set[str] = set()


async def _settle(future: Any) -> Any:
    """The result of a journal write, in a sync graph's (a thread's future) or an async one's."""
    if isinstance(future, concurrent.futures.Future):
        return await asyncio.wrap_future(future)
    return await future


def _saver(config: RunnableConfig) -> BaseCheckpointSaver[Any] | None:
    # A node sees the run's checkpointer only under this config key (the public re-export in
    # `langgraph.constants`; `Runtime.execution_info.thread_id` is set without one too).
    return config.get("configurable", {}).get(CONFIG_KEY_CHECKPOINTER)
