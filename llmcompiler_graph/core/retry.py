"""The one retry policy, for LLM calls (`core.llm`) and tool calls (`core.fetching`): which errors
are worth another try, how long the server asked to wait, and the backoff otherwise.

Transient, first match wins:

1. the server's `x-should-retry: true` / `false` header (the openai SDK's convention);
2. LangChain's own verdict, `ModelError.is_retryable` (its provider-independent errors);
3. an HTTP status on the error or its `response` (`status_code` or `status`: httpx, requests,
   aiohttp, openai): 408, 409, 429 and 5xx are transient, every other status is not;
4. the name of the error's class or a base says so (RateLimit, Timeout, TimedOut, Connection,
   ConnectError, ServiceUnavailable, TooManyRequests, Overloaded, InternalServerError,
   NetworkError, RemoteProtocolError: client libraries' errors that carry no status);
5. an `OSError` (`TimeoutError` and `ConnectionError` are ones), except the file-system errors
   another try cannot fix (FileNotFoundError, FileExistsError, IsADirectoryError,
   NotADirectoryError, PermissionError) and a certificate that does not verify.

Wait before try n+1: the server's `retry-after-ms` / `retry-after` (seconds or an HTTP date, in
the response headers, or an exception's `retry_after` attribute) if it sent one; else
`base * 2**(n-1)` capped at `cap`, minus up to 25 % jitter (the openai SDK's schedule). What to do
with a server's wait longer than the cap is the caller's: an LLM call gives up, a tool waits the
cap.
"""

from __future__ import annotations

import email.utils
import math
import random
import ssl
import time
from collections.abc import Callable, Mapping

from langchain_core.exceptions import ModelError

BASE_DELAY = 0.5
"""Seconds before the first retry without `retry-after`; doubles with each retry."""
MAX_DELAY = 8.0
"""Cap of the exponential wait."""

_TRANSIENT_STATUSES = frozenset({408, 409, 429})
_TRANSIENT_WORDS = (
    "RateLimit",
    "Timeout",
    "TimedOut",
    "Connection",
    "ConnectError",
    "ServiceUnavailable",
    "TooManyRequests",
    "Overloaded",
    "InternalServerError",
    "NetworkError",
    "RemoteProtocolError",
)
_PERMANENT_OS_ERRORS = (
    ssl.SSLCertVerificationError,
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


def _header(exc: BaseException, name: str) -> object:
    """A response header the exception carries (`exc.response.headers`), any case; or None."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if not isinstance(headers, Mapping) and not hasattr(headers, "items"):
        return None
    try:
        return next((v for k, v in headers.items() if str(k).lower() == name), None)
    except Exception:  # a headers object that cannot be read is no header
        return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries (`status_code` or `status`, on it or on its
    `response`), if any."""
    for holder in (exc, getattr(exc, "response", None)):
        for attr in ("status_code", "status"):
            value = getattr(holder, attr, None)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether another try may succeed (the rule is in the module docstring)."""
    should_retry = str(_header(exc, "x-should-retry") or "").lower()
    if should_retry in ("true", "false"):
        return should_retry == "true"
    if isinstance(exc, ModelError):
        return exc.is_retryable
    status = http_status(exc)
    if status is not None:
        return status in _TRANSIENT_STATUSES or status >= 500
    names = [cls.__name__ for cls in type(exc).__mro__]
    if any(word in name for name in names for word in _TRANSIENT_WORDS):
        return True
    return isinstance(exc, OSError) and not isinstance(exc, _PERMANENT_OS_ERRORS)


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked to wait, if it said: `retry-after-ms`, `retry-after` (seconds or
    an HTTP date) in `exc.response.headers`, or `exc.retry_after`; None otherwise."""
    if exc is None:
        return None
    asked: list[tuple[object, float]] = [
        (_header(exc, "retry-after-ms"), 1000.0),
        (_header(exc, "retry-after"), 1.0),
        (getattr(exc, "retry_after", None), 1.0),
    ]
    for value, divisor in asked:
        if value is None or isinstance(value, bool):
            continue
        try:
            seconds = float(value) / divisor  # type: ignore[arg-type]
        except (TypeError, ValueError):
            try:
                seconds = email.utils.parsedate_to_datetime(str(value)).timestamp() - time.time()
            except (TypeError, ValueError):
                continue
        if math.isfinite(seconds):
            return max(seconds, 0.0)
    return None


def backoff(
    tries: int,
    exc: BaseException | None = None,
    *,
    base: float = BASE_DELAY,
    cap: float = MAX_DELAY,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after `tries` failed tries: the server's `retry_after(exc)` when it sent
    one (not capped: the caller decides), else `base * 2**(tries-1)` capped at `cap`, minus up
    to 25 % jitter."""
    asked = retry_after(exc)
    if asked is not None:
        return asked
    delay = min(base * 2 ** max(tries - 1, 0), cap)
    return delay * (1 - 0.25 * rng())
