"""The in-process channel that carries tasks from the planner node to the scheduler node.

LangGraph runs the planner and the scheduler in the same superstep, so the scheduler can start
tools while the planner is still streaming. The two nodes meet on a `PlanStream` registered under a
key both can compute from their own runtime: the id of the checkpoint the superstep started from
and the graph's namespace (`Runtime.execution_info`), which is the same for the two nodes of one
superstep and differs between runs, supersteps and subgraph instances. Nothing live goes into state.

The stream is thread-safe (sync graphs run nodes in worker threads and the scheduler then runs its
own event loop) and never polls: a consumer sleeps on an `asyncio.Event` that the producer sets
through `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator

from langgraph.runtime import Runtime

from llmcompiler_graph.core.plan import Task

logger = logging.getLogger(__name__)

_DONE_KEPT = 64
"""Closed streams nobody has read yet kept, at most: a scheduler that starts after its planner
has finished (a thread scheduled late) still receives the plan instead of waiting for one."""
_DONE_KEPT_CHARS = 8_000_000
"""...and at most this many characters of task arguments in all (big plans go first)."""


class ProducerGone(Exception):
    """The planner never attached to the stream in time: the scheduler falls back to catch-up."""


class PlanStream:
    """An append-only list of tasks that one producer writes and any consumer can read, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: list[Task] = []
        self.chars = 0
        """Characters of the published tasks' arguments (what keeping the stream costs)."""
        self.read = False
        """Whether a consumer read the whole of a complete plan (nobody needs it any more)."""
        self._closed = False
        self._complete = False
        self._attached = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def attach(self) -> None:
        """The producer announces itself (before its first LLM token)."""
        with self._lock:
            self._attached = True
        self._wake()

    def publish(self, task: Task) -> None:
        with self._lock:
            self._tasks.append(task)
            self.chars += len(repr(task["args"]))
        self._wake()

    def close(self, *, complete: bool) -> None:
        """No more tasks; `complete` if the planner finished its plan (not cancelled or failed)."""
        with self._lock:
            self._closed, self._complete = True, complete
        self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def complete(self) -> bool:
        return self._complete

    def _wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that consumer's loop has just closed
                loop.call_soon_threadsafe(event.set)

    async def tasks(self, attach_timeout: float | None) -> AsyncIterator[Task]:
        """Yield every task as it is published until the stream closes.

        A stream whose planner failed or was cancelled yields nothing more: its run is failing,
        or (a resumed superstep) the planner runs again and catch-up executes its new plan.
        Raises `ProducerGone` if no producer attached within `attach_timeout` seconds.
        """
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(waiter)
        try:
            if attach_timeout is not None and not self._attached:
                try:
                    async with asyncio.timeout(attach_timeout):
                        while not (self._attached or self._closed):
                            await event.wait()
                            event.clear()
                except TimeoutError:
                    raise ProducerGone from None
            sent = 0
            while True:
                event.clear()
                with self._lock:
                    new, closed = self._tasks[sent:], self._closed
                if closed and not self._complete:
                    return
                for task in new:
                    yield task
                sent += len(new)
                if closed and not new:
                    self.read = True
                    return
                if not new:
                    await event.wait()
        finally:
            with self._lock:
                self._waiters.remove(waiter)


class _Registry:
    """Process-wide map from superstep key to its stream.

    A stream lives while the planner or the scheduler holds it (`get` ... `release`). A closed
    stream that no consumer has read yet is kept after its planner lets go (bounded in number
    and size), so a scheduler that arrives late still reads the plan; once read it is dropped.
    A resumed scheduler does not need it: its journal has the plan (see `journal`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, tuple[PlanStream, int]] = {}
        self._done: OrderedDict[str, PlanStream] = OrderedDict()

    def get(self, key: str, *, producer: bool = False) -> PlanStream:
        """The stream for `key`, created by whichever node arrives first; pair with `release`.

        A planner that finds a closed stream is running again (its earlier output was never
        committed): that stream is stale and it gets a fresh one.
        """
        with self._lock:
            stream, holders = self._open.get(key) or (self._done.pop(key, None), 0)
            if stream is None or (producer and stream.closed):
                stream = PlanStream()
            self._open[key] = (stream, holders + 1)
            return stream

    def release(self, key: str) -> None:
        with self._lock:
            stream, holders = self._open.pop(key)
            if holders > 1:
                self._open[key] = (stream, holders - 1)
            elif stream.closed and not stream.read:
                self._done[key] = stream
                while len(self._done) > _DONE_KEPT or (
                    len(self._done) > 1
                    and sum(s.chars for s in self._done.values()) > _DONE_KEPT_CHARS
                ):
                    self._done.popitem(last=False)

    def __len__(self) -> int:
        """Streams currently held (0 when no run is between planner and scheduler)."""
        with self._lock:
            return len(self._open)


streams = _Registry()


@contextlib.contextmanager
def producing(key: str) -> Iterator[PlanStream]:
    """The planner's side: attach at once (the scheduler stops waiting for a producer), and
    always close and release, whatever happens while planning."""
    stream = streams.get(key, producer=True)
    stream.attach()
    complete = False
    try:
        yield stream
        complete = True
    finally:
        stream.close(complete=complete)
        streams.release(key)


def superstep_key(runtime: Runtime) -> str:
    """The key the planner and the scheduler of one superstep share.

    Without a checkpoint id (a runtime that does not provide one) each node gets its own key:
    the scheduler then finds no producer and the plan runs in catch-up, correct but not
    overlapped with planning.
    """
    info = runtime.execution_info
    parent_ns = info.checkpoint_ns.rpartition("|")[0]
    if not info.checkpoint_id:
        logger.warning("no checkpoint id in this runtime: streaming dispatch is off")
        return f"{info.checkpoint_ns}#{info.task_id}"
    return f"{parent_ns}#{info.checkpoint_id}"


class ConcurrentRunError(RuntimeError):
    """Another call of this process is running the same step of the same thread."""


_running: set[str] = set()
_running_lock = threading.Lock()


@contextlib.contextmanager
def exclusive(key: str, thread_id: str | None) -> Iterator[None]:
    """Hold the scheduler's step `key` (a `superstep_key`) for one call at a time.

    Two calls that resume one paused thread at once start from the same checkpoint, so both
    would run its tasks (an approved email sent twice). The second one to arrive raises
    `ConcurrentRunError` before it runs anything; the first one's result is the thread's.
    """
    with _running_lock:
        taken = key in _running
        _running.add(key)
    if taken:
        raise ConcurrentRunError(
            f"another call is already running this step of thread {thread_id!r} (two resumes "
            "of one paused thread at once?); it runs the tasks and this one stops so that none "
            "runs twice: wait for it, then read the thread's state (graph.get_state(config))."
        )
    try:
        yield
    finally:
        with _running_lock:
            _running.discard(key)
