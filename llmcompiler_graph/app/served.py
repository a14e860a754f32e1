"""The graph as the LangGraph server on PostgreSQL and Redis serves it (`deploy/langgraph.json`).

`graph` is the ready-made graph. `app` holds the server's extra route, `GET /ready`: a readiness
check of PostgreSQL and Redis both (the server's `/ok?check_db=1` checks only PostgreSQL).
Importing this module in a server worker also mends five faults of the pinned runtime
(`langgraph-runtime-pg` 0.11.1.post1), measured in tests/test_server_pg.py; where that runtime
is absent (Jupyter, `langgraph dev`, the CLI) nothing changes.

1. **Stale results.** `runs.wait`, `runs.join` and `runs.stream` read a run's events from Redis
   and, after 0.5 s without one, poll the run's status in PostgreSQL; a finished status ended
   the stream. A worker saves that status after publishing the final values and before
   publishing "done", so a poll landing while the final values were in transit ended the stream
   early and the client got an earlier values event (the input as the last message) while the
   stored state held the answer: 8 of 200 runs under load here. Such a stream now reads on until
   "done" (`DRAIN_SECONDS` at most, normally milliseconds) and, if it never comes, ends with the
   stored values of a successful run.
2. **A Redis blip fails every running run.** Each event a run publishes goes through Redis; one
   refused connection raised out of the graph and the run ended `error`. Redis commands are now
   retried with backoff for `REDIS_RETRY_SECONDS`, so runs wait out an outage instead.
3. **A restarted Redis has lost the heartbeats,** so the sweep would take every running run for
   dead and start it again on another worker while it still runs. A heartbeat is reported
   unknown (as while Redis is unreachable) until Redis has been up for one heartbeat lifetime.
4. **A PostgreSQL blip fails the runs writing at that moment:** a dropped connection raised
   out of the checkpointer and the run ended `error` (2 of 20 in a 10 s outage here). It is now
   an error the runtime retries: the run goes back to the queue and is resumed from its last
   checkpoint (finished tool calls are not made again), up to `BG_JOB_MAX_RETRIES` times.
5. **Any custom route stops the server from starting:** with `http.app` set, the server's
   store middleware also wraps the ASGI lifespan and asks for the store before the lifespan
   has created it, so startup never runs. The middleware now lets the lifespan through.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from llmcompiler_graph.graph import graph

__all__ = ["app", "graph"]

logger = logging.getLogger(__name__)

MENDED = "0.11.1.post1"
"""The `langgraph-runtime-pg` version the mends were written for and tested on."""
DRAIN_SECONDS = 2.0
"""How long a stream whose run has ended waits for the worker's remaining events."""
POLL_SECONDS = 0.5
"""The runtime's own wait for an event before it polls the run's status."""
REDIS_RETRY_SECONDS = 30.0
"""How long a Redis command is retried (backoff from 50 ms up to 1 s) before it fails."""
READY_TIMEOUT = 2.0
"""Seconds each readiness check may take before it counts as failed."""


# -- readiness ------------------------------------------------------------------------------


async def ready(request: Request) -> JSONResponse:
    """Whether this server can take work, for a load balancer's or an orchestrator's readiness
    probe (not behind the auth handler). Its OpenAPI entry follows.
    ---
    responses:
      200:
        description: PostgreSQL and Redis both answer.
      503:
        description: One of them does not; the body says which, and why.
    """
    results: dict[str, str] = {}
    for name, check in {"postgres": _postgres, "redis": _redis}.items():
        try:
            results[name] = await asyncio.wait_for(check(), READY_TIMEOUT)
        except Exception as error:  # any failure is the probe's answer, not its crash
            results[name] = f"failed: {type(error).__name__}: {error}"[:300]
    healthy = not any(result.startswith("failed") for result in results.values())
    return JSONResponse({"ready": healthy, **results}, status_code=200 if healthy else 503)


async def _postgres() -> str:
    try:
        from langgraph_runtime_pg.database import healthcheck
    except ImportError:
        return "not used"
    await healthcheck()
    return "ok"


async def _redis() -> str:
    try:
        from langgraph_runtime_pg import redis_stream
    except ImportError:
        return "not used"
    if redis_stream._REDIS is None:
        raise ConnectionError("not connected")
    await redis_stream._REDIS.ping()
    return "ok"


@contextlib.asynccontextmanager
async def _nothing_to_start(app: Starlette) -> AsyncIterator[None]:
    """The server runs its own lifespan around this one; the route needs nothing started."""
    yield


app = Starlette(routes=[Route("/ready", ready)], lifespan=_nothing_to_start)


# -- the runtime's mends --------------------------------------------------------------------


def mend_runtime() -> bool:
    """Apply the five mends (see the module docstring) to the installed runtime; False (and a
    warning for another version than `MENDED`) when they are not applied."""
    try:
        installed = version("langgraph-runtime-pg")
    except PackageNotFoundError:
        return False
    if installed != MENDED:
        logger.warning(
            "langgraph-runtime-pg %s is not %s: its faults are not mended (a client may get an "
            "earlier values event than the stored answer: read the thread's state after a run; "
            "a Redis outage may fail running runs)",
            installed,
            MENDED,
        )
        return False
    ops = importlib.import_module("langgraph_runtime_pg.ops")
    redis_stream = importlib.import_module("langgraph_runtime_pg.redis_stream")
    ensure_store = importlib.import_module("langgraph_api.middleware.ensure_store")
    ensure_store.EnsureStoreAccessible.__call__ = _not_for_lifespan(
        ensure_store.EnsureStoreAccessible.__call__
    )
    worker = importlib.import_module("langgraph_api.worker")
    psycopg = importlib.import_module("psycopg")
    worker.ALL_RETRIABLE_EXCEPTIONS = (*worker.ALL_RETRIABLE_EXCEPTIONS, psycopg.OperationalError)
    ops._stream_run_queue = _stream_run_queue
    redis_stream._redis_pool_kwargs = _retrying(redis_stream._redis_pool_kwargs)
    ops.has_run_heartbeat = _unless_redis_restarted(ops.has_run_heartbeat)
    return True


async def _stream_run_queue(
    queue: asyncio.Queue[Any],
    run: dict[str, Any] | None,
    accept_fn: Any,
    stream_mode: list[str] | str | None,
    run_id: Any,
    thread_id: Any,
    ctx: Any,
    ignore_404: bool,
    json_dumpb: Any,
    decode_fn: Any,
) -> AsyncIterator[Any]:
    """The runtime's reader (same arguments, same frames), except at the end of a run found
    ended by a status poll: it drains the queue until "done", else yields the stored values."""
    ops = importlib.import_module("langgraph_runtime_pg.ops")
    while True:
        try:
            message = await asyncio.wait_for(queue.get(), timeout=POLL_SECONDS)
        except TimeoutError:
            run = await ops._poll_run_status(run_id, thread_id, ctx)
            action = ops._run_poll_action(run, ignore_404, json_dumpb)
            if action == "break":
                async for frame in _drain(ops, queue, run, accept_fn, stream_mode, decode_fn):
                    yield frame
                return
            if action is not None:
                yield action
                return
            continue
        frame = ops._decode_run_message(message, accept_fn, decode_fn, stream_mode, run)
        if frame == "done":
            return
        if frame is not None:
            yield frame


async def _drain(
    ops: Any,
    queue: asyncio.Queue[Any],
    run: dict[str, Any] | None,
    accept_fn: Any,
    stream_mode: list[str] | str | None,
    decode_fn: Any,
) -> AsyncIterator[Any]:
    deadline = time.monotonic() + DRAIN_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(queue.get(), timeout=left)
        except TimeoutError:
            break
        frame = ops._decode_run_message(message, accept_fn, decode_fn, stream_mode, run)
        if frame == "done":
            return
        if frame is not None:
            yield frame
    if not run or run.get("status") != "success":
        return
    if ops._run_stream_mode_matches("values", stream_mode):
        from langgraph_api.api.runs import _thread_values_fallback

        logger.info("run %s: its last events never came; its stored values end it", run["run_id"])
        yield b"values", await _thread_values_fallback(run["thread_id"])(), None


def _not_for_lifespan(call: Any) -> Any:
    """The middleware's `__call__`, passing the ASGI lifespan straight through."""

    async def called(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
        else:
            await call(self, scope, receive, send)

    return called


def _retrying(pool_kwargs: Any) -> Any:
    """The runtime's Redis pool settings plus a retry of refused or dropped connections."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    delays, waited = 0, 0.0
    while waited < REDIS_RETRY_SECONDS:
        delays += 1
        waited += min(1.0, 0.05 * 2**delays)

    def kwargs() -> dict[str, Any]:
        return {
            **pool_kwargs(),
            "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), delays),
            "retry_on_error": [ConnectionError, TimeoutError],
        }

    return kwargs


def _unless_redis_restarted(has_run_heartbeat: Any) -> Any:
    """`has_run_heartbeat`, but None (unknown) while Redis has been up for less than one
    heartbeat lifetime: its heartbeats may have been lost in a restart."""
    redis_stream = importlib.import_module("langgraph_runtime_pg.redis_stream")

    async def checked(run_id: Any) -> bool | None:
        alive = await has_run_heartbeat(run_id)
        if alive is not False:
            return alive
        try:
            info = await redis_stream._REDIS.info("server")
        except Exception:
            return None
        if float(info.get("uptime_in_seconds", 0)) < redis_stream._heartbeat_ttl_secs():
            return None
        return False

    return checked


mend_runtime()
