"""The in-process channels that let work cross from one node to another while it streams.

Plans: LangGraph runs the planner and the scheduler in the same superstep, so the scheduler can
start tools while the planner is still streaming. The two nodes meet on a `PlanStream` registered
in `streams` under a key both can compute from their own runtime: the id of the checkpoint the
superstep started from and the graph's namespace (`Runtime.execution_info`), which is the same for
the two nodes of one superstep and differs between runs, supersteps and subgraph instances.

Replies: a joiner whose replan carries the next plan (`joiner_plans`) ends its node as soon as its
reply says `Replan:`; the rest of the reply, still streaming, goes to the next round's planner
node on a `ReplyStream` in `replies`, keyed by the turn and the round it plans (`reply_key`). The
planner reads it as it would its own model's stream, so the next round's first task starts the
moment its line is complete, while the joiner's model is still writing. Nothing live goes into
state: a planner that finds no reply (another process, a resume) makes its own call.

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
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

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


T = TypeVar("T")


class Stream(Generic[T]):
    """An append-only list that one producer writes and any consumer can read, in order.

    Args:
        size: what keeping an item costs, in characters (bounds the streams kept unread).
    """

    yields_partial = False
    """Whether a failed producer's items still reach the consumers (else they stop at once)."""

    def __init__(self, size: Callable[[T], int]) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._items: list[T] = []
        self.chars = 0
        """Characters of the published items (what keeping the stream costs)."""
        self.read = False
        """Whether a consumer read the whole of a complete stream (nobody needs it any more)."""
        self.error: BaseException | None = None
        """Why the producer stopped, when it failed."""
        self._closed = False
        self._complete = False
        self._attached = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def attach(self) -> None:
        """The producer announces itself (before its first LLM token)."""
        with self._lock:
            self._attached = True
        self._wake()

    def publish(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            self.chars += self._size(item)
        self._wake()

    def close(self, *, complete: bool, error: BaseException | None = None) -> None:
        """No more items; `complete` if the producer finished (not cancelled or failed)."""
        with self._lock:
            self._closed, self._complete, self.error = True, complete, error
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

    async def items(self, attach_timeout: float | None = None) -> AsyncIterator[T]:
        """Yield every item as it is published until the stream closes.

        A stream whose producer failed or was cancelled yields nothing more unless it
        `yields_partial` (a plan: its run is failing, or, a resumed superstep, the planner runs
        again and catch-up executes its new plan); its `error` says why. Raises `ProducerGone`
        if no producer attached within `attach_timeout` seconds.
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
                    new, closed = self._items[sent:], self._closed
                if closed and not self._complete and not self.yields_partial:
                    return
                for item in new:
                    yield item
                sent += len(new)
                if closed and not new:
                    self.read = True
                    return
                if not new:
                    await event.wait()
        finally:
            with self._lock:
                self._waiters.remove(waiter)


class PlanStream(Stream[Task]):
    """The tasks of one plan, from the planner node to the scheduler node."""

    def __init__(self) -> None:
        super().__init__(lambda task: len(repr(task["args"])))


class ReplyStream(Stream[str]):
    """The rest of a joiner's replan, chunk by chunk, from the joiner to the next planner
    (what came before a failure too: the tasks it completes stand, as a planner's would)."""

    yields_partial = True

    def __init__(self) -> None:
        super().__init__(len)
        self.abandoned = False
        """Set when the planner stopped reading before the end: the joiner's call stops."""


class ReplyAbandoned(Exception):
    """The planner stopped reading the joiner's reply (its run failed or was cancelled)."""


S = TypeVar("S", bound=Stream)


class _Registry(Generic[S]):
    """Process-wide map from a key both sides compute to its stream.

    A stream lives while its producer or a consumer holds it (`get` / `find` ... `release`). A
    closed stream that no consumer has read yet is kept after its producer lets go (bounded in
    number and size), so a consumer that arrives late still reads it; once read it is dropped.
    A resumed scheduler does not need a plan's: its journal has the plan (see `journal`).
    """

    def __init__(self, new: Callable[[], S]) -> None:
        self._new = new
        self._lock = threading.Lock()
        self._open: dict[str, tuple[S, int]] = {}
        self._done: OrderedDict[str, S] = OrderedDict()

    def get(self, key: str, *, producer: bool = False) -> S:
        """The stream for `key`, created by whichever side arrives first; pair with `release`.

        A producer that finds a closed stream is running again (its earlier output was never
        committed): that stream is stale and it gets a fresh one.
        """
        with self._lock:
            stream, holders = self._open.get(key) or (self._done.pop(key, None), 0)
            if stream is None or (producer and stream.closed):
                stream = self._new()
            self._open[key] = (stream, holders + 1)
            return stream

    def find(self, key: str) -> S | None:
        """The stream for `key` if a producer made one (then pair with `release`), else None."""
        with self._lock:
            stream, holders = self._open.get(key) or (self._done.pop(key, None), 0)
            if stream is None:
                return None
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


streams: _Registry[PlanStream] = _Registry(PlanStream)
"""Plans, planner -> scheduler, by `superstep_key`."""
replies: _Registry[ReplyStream] = _Registry(ReplyStream)
"""Replans still streaming, joiner -> next planner, by `reply_key`."""


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


def reply_key(thread_id: str | None, turn_key: str, round: int) -> str:
    """The key of the reply that plans `round` of the turn `turn_key` (`messages.turn_key`) of
    the thread `thread_id`."""
    return f"{thread_id}|{turn_key}#round-{round}"


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


class ReplyHandoff:
    """The joiner's side of a `ReplyStream` (a `core.joiner.PlanHandoff`).

    `start` registers the stream under `key` and calls `on_start` (the joiner node may end);
    the text written is published for the next planner, and `close` ends the stream.
    """

    def __init__(self, key: str, on_start: Callable[[], None]) -> None:
        self.key = key
        self.on_start = on_start
        self.stream: ReplyStream | None = None
        self.feedback = ""

    @property
    def started(self) -> bool:
        return self.stream is not None

    def start(self, feedback: str) -> None:
        self.stream = replies.get(self.key, producer=True)
        self.feedback = feedback
        self.on_start()

    def write(self, text: str) -> None:
        """Publish `text`; raises `ReplyAbandoned` once the planner has stopped reading (its
        run failed or was cancelled), which ends the joiner's call."""
        if self.stream is not None:
            if self.stream.abandoned:
                raise ReplyAbandoned(f"nobody reads the reply {self.key!r} any more")
            if text:
                self.stream.publish(text)

    def close(self, error: BaseException | None) -> None:
        if self.stream is not None:
            self.stream.close(complete=error is None, error=error)
            replies.release(self.key)


async def reading(stream: ReplyStream, text: list[str]) -> AsyncIterator[str]:
    """The reply's chunks as they come (each also appended to `text`); raises when the joiner's
    stream broke, as the planner's own stream would."""
    async for chunk in stream.items():
        text.append(chunk)
        yield chunk
    if stream.closed and not stream.complete:
        error = stream.error
        if isinstance(error, Exception):
            raise error
        raise RuntimeError("the joiner's reply stopped before its plan was complete") from error
