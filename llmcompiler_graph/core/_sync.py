"""Sync calls from async code, and async code from sync entry points, such that nothing stuck
(a blocking call that never returns, a task that ignores cancellation) can make a caller, an
event loop's shutdown or the interpreter's exit wait for it.

- `in_thread` runs a blocking call on a daemon thread of its own: no pool to exhaust, nothing
  that `asyncio.run` (which waits for the default executor) or the interpreter joins at exit.
- `iterate_in_thread` reads a blocking iterator (a sync stream) on one such thread and hands its
  items to the loop as they come.
- `run_sync` runs a coroutine to completion on a private loop, also where the calling thread
  already runs a loop (Jupyter); an interrupt of the caller cancels the coroutine, and closing
  the loop gives cancelled leftovers a short grace instead of waiting for them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

GRACE = 0.1
"""Seconds a closing private loop gives its cancelled leftovers to end; those that ignore the
cancellation are dropped (and logged)."""

STOP_WAIT = 1.0
"""Seconds an interrupted `run_sync` waits for its helper thread to stop the coroutine."""


def in_thread(func: Callable[..., T], /, *args: Any, name: str | None = None) -> asyncio.Future[T]:
    """`func(*args)` on a new daemon thread (named `name`), in a copy of the current context; the
    future gets its outcome. Cancelling the future abandons the call: it runs on, its outcome is
    dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def deliver(outcome: Callable[[Any], None], value: Any) -> None:
        if future.done():
            logger.debug("dropped the outcome of an abandoned call to %r", func)
        else:
            outcome(value)

    def target() -> None:
        try:
            result = context.run(func, *args)
        except StopIteration as exc:  # cannot be raised into a future (as `run_in_executor`)
            error = RuntimeError(f"{type(exc).__name__}: {exc}")
            error.__cause__ = exc
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, error)
        except BaseException as exc:  # delivered to the awaiting coroutine
            outcome = (future.set_exception, exc)
        else:
            outcome = (future.set_result, result)
        try:
            loop.call_soon_threadsafe(deliver, *outcome)
        except RuntimeError:  # the loop is closed: nobody waits for this any more
            logger.debug("dropped the outcome of %r: its event loop is closed", func)

    name = name or f"llmcompiler-call-{getattr(func, '__name__', 'sync')}"
    threading.Thread(target=target, name=name, daemon=True).start()
    return future


async def iterate_in_thread(
    func: Callable[..., Iterable[T]], /, *args: Any, name: str | None = None
) -> AsyncIterator[T]:
    """The items of `func(*args)`, a blocking iterable, read on ONE new daemon thread (named
    `name`) in a copy of the current context, and handed to this loop through a queue as they
    come (`loop.call_soon_threadsafe`). `func` itself is called on that thread too.

    An error of `func` or of the iteration is raised here. When the consumer stops early (closes
    this generator, or is cancelled or timed out while waiting), the thread is told to stop: it
    closes the iterator itself as soon as its current read returns (a generator cannot be closed
    from another thread while it runs), so a read that never returns is abandoned and the thread
    ends when its socket does. Nothing waits for it.
    """
    loop = asyncio.get_running_loop()
    items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    context = contextvars.copy_context()

    def hand(kind: str, value: Any) -> bool:
        try:
            loop.call_soon_threadsafe(items.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: nobody takes items any more
            return False
        return True

    def read() -> None:
        try:
            iterator = iter(func(*args))
            try:
                for item in iterator:
                    if stop.is_set() or not hand("item", item):
                        return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # raised in the consumer
            hand("error", exc)
            return
        hand("end", None)

    name = name or f"llmcompiler-iterate-{getattr(func, '__name__', 'sync')}"
    threading.Thread(target=context.run, args=(read,), name=name, daemon=True).start()
    try:
        while True:
            kind, value = await items.get()
            if kind == "item":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        stop.set()


class _DaemonThreads(concurrent.futures.ThreadPoolExecutor):
    """The default executor of our private loops: a daemon thread per call, nothing to join
    (`loop.run_in_executor(None, ...)` in tools and callbacks must not block shutdown either)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def target() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # the caller's to handle
                future.set_exception(exc)

        threading.Thread(target=target, name="llmcompiler-executor", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Nothing to shut down: each call's thread ends with the call."""


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion and return its result, from sync code.

    On a private loop in this thread, or on a helper thread when this thread runs a loop already
    (Jupyter, or LangGraph running a lone sync node inline in the caller's thread). Ctrl-C
    cancels `coro` and raises KeyboardInterrupt once it has stopped (at most `STOP_WAIT` s).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(coro)
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}
    lock = threading.Lock()
    handle: dict[str, Any] = {}

    def started(loop: asyncio.AbstractEventLoop, main: asyncio.Task[T]) -> None:
        with lock:
            handle["loop"], handle["main"] = loop, main
            stop = handle.get("stop", False)
        if stop:
            main.cancel()

    def target() -> None:
        try:
            outcome["value"] = context.run(_run, coro, started)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="llmcompiler-sync", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        # The caller was interrupted: stop the run too (no tool may start from now on), then
        # let it wind down briefly; a tool's own thread may go on in the background.
        with lock:
            handle["stop"] = True
            loop, main = handle.get("loop"), handle.get("main")
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # closed already: the run is over
                loop.call_soon_threadsafe(main.cancel)
        thread.join(STOP_WAIT)
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _run(
    coro: Coroutine[Any, Any, T],
    started: Callable[[asyncio.AbstractEventLoop, asyncio.Task[T]], None] | None = None,
) -> T:
    """`asyncio.run(coro)` whose shutdown waits neither for the default executor nor for tasks
    that ignore their cancellation."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_DaemonThreads())
    asyncio.set_event_loop(loop)
    main = loop.create_task(coro)
    interrupted = False

    def on_sigint(signum: int, frame: Any) -> None:
        # As `asyncio.run`: the first Ctrl-C cancels the coroutine, a second one raises here.
        nonlocal interrupted
        if interrupted or main.done():
            raise KeyboardInterrupt
        interrupted = True
        main.cancel()
        loop.call_soon_threadsafe(lambda: None)

    previous = None
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        if started is not None:
            started(loop, main)
        try:
            return loop.run_until_complete(main)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
    finally:
        if previous is not None and signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, previous)
        try:
            _close(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on `loop` and give it `GRACE` seconds to end; likewise for the async
    generators still open. Whatever ignores that is dropped, not waited for."""
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.wait(leftovers, timeout=GRACE))
    for task in leftovers:
        if not task.done():
            logger.warning("dropped %r: it ignored its cancellation", task)
        elif not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception in a task left over by run_sync",
                    "exception": task.exception(),
                    "task": task,
                }
            )
    closing = loop.create_task(loop.shutdown_asyncgens())
    loop.run_until_complete(asyncio.wait([closing], timeout=GRACE))
    if not closing.done():
        closing.cancel()
        logger.warning("dropped async generators that did not close within %s s", GRACE)
