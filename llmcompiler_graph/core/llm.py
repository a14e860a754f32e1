"""Timeouts and retries around the package's own LLM calls (planner, joiner, math): `LLMCall`.

Every planner, joiner and math call goes through one `LLMCall`, whatever the model client's own
settings, so a model server that accepts the connection and never answers cannot hang a run.

Timeout (`timeout`, seconds, per try; 0 or None: no limit)
    An invoked call (joiner, math) must return within `timeout`. A streamed call (the planner)
    must *finish* within `timeout`: the wait for each next chunk is bounded by what is left of
    that one deadline. There is deliberately no second, per-chunk idle limit: one number is
    enough to bound the call, and a stall after tasks were published only cuts the plan short
    (see "Streams" below). So `timeout` must exceed the time the model needs to write its longest
    plan (120 s is about 4,000 tokens at 35 tokens/s).

    Every invoked try runs under `asyncio.timeout`; a streamed try has one timer for the whole
    stream (`_Deadline`), not one per chunk.

Sync calls (`blocking=True`)
    There is one implementation, async: the sync entry points (`Planner.plan`, `Joiner.decide`,
    the math tool's sync function) run it with `run_sync` on a private event loop and pass
    `blocking=True`. Then the model call itself uses the runnable's *sync* API (`invoke`,
    `stream`), because a chat model's async HTTP client belongs to the loop it first ran on, and
    each sync call has a loop of its own. That blocking call runs on a helper daemon thread
    (`core._sync.in_thread`; a stream is read on one thread, its chunks handed to the loop
    through a queue by `iterate_in_thread`) in a copy of the caller's `contextvars`, so LangChain
    callbacks, tracing and config work as in the caller's thread. The loop waits for it under the
    same timeout; a blocking HTTP read cannot be interrupted, so on timeout (or cancellation) the
    thread is abandoned and ends when its socket does (the server hangs up, or the client's own
    read timeout fires). Retries, backoff and errors are the async ones.

Retries (`retries`, default 2: at most 3 tries)
    Transient failures are retried, by the package's one retry policy (`core.retry`, which the
    tools' retries follow too): our timeout, 408 / 409 / 429 / 5xx answers, connection errors
    and client-side timeouts, unless the server said `x-should-retry: false`. The wait before
    try n+1 honours the server's `retry-after-ms` / `retry-after` (one longer than
    `MAX_RETRY_AFTER` ends the call at once), else it is exponential, 0.5 s * 2**(n-1) capped
    at 8 s, minus up to 25 % jitter. The loop is written here rather
    than with `Runnable.with_retry` because that one ignores `retry-after`, does not retry
    streams and cannot tell a stream that has not started from one that has.

    A client with retries of its own (ChatOpenAI's `max_retries`, default 2, which also honours
    `retry-after`) retries *inside* each of our tries: with both at 2 a rate-limited call makes
    up to 3 x 3 = 9 requests, and each of our tries (their retries and waits included) is bounded
    by `timeout`. Their read timeout (600 s by default) never fires before ours. A model built
    for the package alone is best made with `max_retries=0`, so that this one policy applies.

Streams
    A stream is retried only when it failed before its first chunk arrived (connection, status
    and time-to-first-chunk failures), so never after the planner published a task: no task is
    published twice, and a task already running is never contradicted by a different plan. A
    stream that broke or timed out after its first chunk is not retried either, even when no
    task line was complete yet: the tokens were paid for, and the error then surfaces as it
    always has. The planner keeps what it parsed (its partial plan) or, with no task parsed yet,
    fails with the error.

Errors
    When the package gives up on a call, its timeout fired or a transient failure was still
    there after the last try, it raises `LLMCallError` naming the role, the endpoint and the
    number of tries, chained `from` the last failure. Any other error (a 400 or 401, a stream
    that broke after it started, a bug) propagates unchanged, as the client raised it, with a
    note (PEP 678) naming the call and the endpoint, so callers catching the client's own
    exception types keep working.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig

from llmcompiler_graph.core._sync import in_thread, iterate_in_thread
from llmcompiler_graph.core.retry import backoff, is_transient
from llmcompiler_graph.core.roles import Role

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT = 120.0
"""Seconds one try of an LLM call may take (a stream: until its last chunk)."""
DEFAULT_RETRIES = 2
"""Retries of a transient failure: 2 means at most 3 tries."""
MAX_RETRY_AFTER = 60.0
"""Longest `retry-after` honoured; a server asking for more ends the call at once."""


class LLMCallError(RuntimeError):
    """The package gave up on one of its LLM calls: it timed out, or a transient failure
    (rate limit, server error, connection error) was still there after the last try.

    The message names the call (`role`: planner, joiner or math), the `endpoint` and the number
    of `tries`; the last failure is the `__cause__`.
    """

    def __init__(self, message: str, *, role: str = "", endpoint: str = "", tries: int = 0) -> None:
        super().__init__(message)
        self.role = role
        self.endpoint = endpoint
        self.tries = tries


class LLMTimeoutError(TimeoutError):
    """One try of an LLM call ran out of `timeout` (the cause of an `LLMCallError`)."""


def describe_endpoint(model: Any) -> str:
    """Where `model` sends its requests, for error messages: the base URL of an OpenAI-compatible
    model (or of any model with a `base_url`) and the model's name, else its class and name.

    Credentials in the URL (user info, query) are left out.
    """
    while isinstance(model, RunnableBinding):
        model = model.bound
    name = getattr(model, "model_name", None) or getattr(model, "model", None)
    name = name if isinstance(name, str) else None
    url = None
    for attribute in ("openai_api_base", "base_url", "anthropic_api_url", "api_base"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            url = value
            break
    if url is None:
        client = getattr(model, "root_client", None)
        value = getattr(client, "base_url", None)
        url = str(value) if value else None
    if url:
        parts = urlsplit(url)
        if parts.hostname:
            host = f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
            url = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        return f"{url} (model {name})" if name else url
    kind = type(model).__name__
    return f"{kind}(model={name!r})" if name else kind


def _tries(n: int) -> str:
    return f"{n} {'try' if n == 1 else 'tries'}"


class _Deadline:
    """One timer for a whole stream (`asyncio.timeout_at` around each chunk would arm and
    disarm a timer per chunk): when it fires it cancels the task waiting for a chunk, if one
    is, and every later wait fails at once. `expired()` tells that cancellation from the
    caller's own, as `asyncio.Timeout` does."""

    def __init__(self, seconds: float | None) -> None:
        self._waiting: asyncio.Task[Any] | None = None
        self._cancelling = 0
        self._fired = False
        self._cancelled = False
        self._timer: asyncio.TimerHandle | None = None
        if seconds is not None:
            self._timer = asyncio.get_running_loop().call_later(seconds, self._fire)

    def _fire(self) -> None:
        self._fired = True
        if self._waiting is not None:
            self._waiting.cancel()
            self._cancelled = True

    async def bound(self, waiting: Awaitable[T]) -> T:
        """`await waiting`, cancelled (`CancelledError`, then `expired()`) at the deadline."""
        task = asyncio.current_task()
        assert task is not None
        if self._fired:
            if inspect.iscoroutine(waiting):
                waiting.close()
            raise asyncio.CancelledError
        self._waiting, self._cancelling = task, task.cancelling()
        try:
            return await waiting
        finally:
            self._waiting = None

    def expired(self) -> bool:
        """Whether the deadline (not another canceller) caused the error just caught (a
        `CancelledError`, or what the stream made of it); if so, the task's cancellation
        request is withdrawn."""
        task = asyncio.current_task()
        if not self._fired or task is None:
            return False
        if self._cancelled:
            self._cancelled = False
            return task.uncancel() <= self._cancelling
        return task.cancelling() <= self._cancelling

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class LLMCall:
    """The timeout and retry policy of one kind of LLM call (see the module docstring).

    Args:
        role: which call this is (`PLANNER`, `JOINER` or `MATH` from `core.roles`).
        model: the chat model, only to name its endpoint in errors.
        timeout: seconds per try (a stream: until its last chunk); 0 or None: no limit.
        retries: how many times a transient failure is retried (0: one try only).

    Call `ainvoke` / `astream` with the runnable to run (the model, or a chain over it), its
    input and config; `blocking=True` from sync entry points (see the module docstring).
    """

    def __init__(
        self,
        role: Role,
        model: Any,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
        ):
            raise ValueError(f"llm_timeout must be >= 0 seconds or None, got {timeout!r}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"llm_retries must be an integer >= 0, got {retries!r}.")
        self.role = role
        self.timeout: float | None = float(timeout) if timeout else None
        self.retries = retries
        self.endpoint = describe_endpoint(model)

    def __repr__(self) -> str:
        return (
            f"LLMCall({self.role.name}, {self.endpoint}, timeout={self.timeout}, "
            f"retries={self.retries})"
        )

    # -- the two forms --------------------------------------------------------------------------

    async def ainvoke(
        self,
        runnable: Runnable,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        blocking: bool = False,
    ) -> Any:
        """`await runnable.ainvoke(input, config)`, bounded and retried. `blocking`: call the
        sync `runnable.invoke` instead, on a helper thread (see the module docstring)."""
        tries = 0
        while True:
            tries += 1
            try:
                async with asyncio.timeout(self.timeout) as scope:
                    if blocking:
                        return await in_thread(runnable.invoke, input, config, name=self._thread)
                    return await runnable.ainvoke(input, config)
            except Exception as exc:
                failure = self._timed_out(started=False) if scope.expired() else exc
                delay = self._failed(failure, tries, started=False)
            await asyncio.sleep(delay)

    async def astream(
        self,
        runnable: Runnable,
        input: Any,
        config: RunnableConfig | None = None,
        *,
        blocking: bool = False,
    ) -> AsyncIterator[Any]:
        """`runnable.astream(input, config)`, the whole stream bounded; retried only before its
        first chunk. `blocking`: read the sync `runnable.stream` instead, on a helper thread (see
        the module docstring). Close it (`contextlib.aclosing`) when leaving early."""
        tries = 0
        while True:
            tries += 1
            started = False
            if blocking:
                stream = iterate_in_thread(runnable.stream, input, config, name=self._thread)
            else:
                stream = runnable.astream(input, config)
            chunks = aiter(stream)
            deadline = _Deadline(self.timeout)
            try:
                while True:
                    try:
                        chunk = await deadline.bound(anext(chunks))
                    except StopAsyncIteration:
                        return
                    except (asyncio.CancelledError, Exception):  # a stream may convert ours
                        if deadline.expired():
                            raise self._timed_out(started) from None
                        raise
                    started = True
                    yield chunk
            except Exception as exc:
                delay = self._failed(exc, tries, started)
            finally:
                deadline.cancel()
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            await asyncio.sleep(delay)

    @property
    def _thread(self) -> str:
        """The name of the helper thread of a blocking call."""
        return f"llmcompiler-{self.role.name}-llm"

    # -- policy ---------------------------------------------------------------------------------

    def _timed_out(self, started: bool) -> LLMTimeoutError:
        what = "the stream did not finish" if started else "no answer"
        return LLMTimeoutError(f"{what} within {self.timeout:g} s (llm_timeout)")

    def _failed(self, exc: Exception, tries: int, started: bool) -> float:
        """Seconds to wait before trying again after `exc` (on try `tries`); or raises: `exc`
        itself (with a note) when it is not ours to retry, `LLMCallError` when we give up.
        Called from inside the `except` block that caught `exc`."""
        call = f"{self.role.name} call to {self.endpoint}"
        if not is_transient(exc) or (started and not isinstance(exc, LLMTimeoutError)):
            exc.add_note(f"(during the {call}, try {tries}; not retried)")
            raise exc
        reason = ""
        if started:
            reason = " (not retried: the stream had started)"
        elif tries <= self.retries:
            delay = backoff(tries, exc)
            if delay <= MAX_RETRY_AFTER:
                logger.warning(
                    "%s failed (try %d of %d): %s: %s; retrying in %.2f s",
                    call,
                    tries,
                    self.retries + 1,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                return delay
            reason = f" (not retried: the server asked to wait {delay:g} s)"
        limits = f"llm_timeout={self.timeout:g} s" if self.timeout else "no llm_timeout"
        raise LLMCallError(
            f"{call} failed after {_tries(tries)} ({limits}, llm_retries={self.retries})"
            f"{reason}: {type(exc).__name__}: {exc}",
            role=self.role.name,
            endpoint=self.endpoint,
            tries=tries,
        ) from exc
