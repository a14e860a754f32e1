"""Conversations that outlive one command: `ask --thread NAME`, `threads`, `threads NAME`.

Each named thread is a LangGraph thread kept by a checkpointer: SQLite
(`langgraph-checkpoint-sqlite`) in one file, `--db PATH`, else `LLMCOMPILER_DB`, else
`threads.sqlite` in the user's data directory (`$XDG_DATA_HOME/llmcompiler-graph`, by default
`~/.local/share/llmcompiler-graph`); or Postgres, when `--db` / `LLMCOMPILER_DB` is a
`postgresql://` URL (the `postgres` extra: `langgraph-checkpoint-postgres`), shared by every
process that uses it. The same store works from Python: `AsyncSqliteSaver.from_conn_string(path)`
or `AsyncPostgresSaver.from_conn_string(url)` as the graph's checkpointer, `thread_id` = the name.

One `ask` at a time per thread (`hold_thread`): two runs of one thread at once would both start
from the same checkpoint and one turn would be lost. A SQLite store's threads are locked with
`flock` on a file per thread in `<db>.locks/`, a Postgres store's with an advisory lock; either is
released by the system when its process ends, however it ends. A run that stopped before its
answer (killed, failed, or paused for an approval) leaves the thread's turn unfinished
(`unfinished`): `ask --resume` runs it on from its last checkpoint, `ask --abandon` gives it up
and says so; a new question never passes over it silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AnyMessage, HumanMessage, convert_to_messages
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.constants import START

if TYPE_CHECKING:
    import aiosqlite
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph
    from langgraph.types import Interrupt

DB_FILE = "threads.sqlite"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

Store = str | Path
"""A SQLite file, or a `postgresql://` URL."""


class PostgresExtraMissing(ImportError):
    """A `postgresql://` store without `langgraph-checkpoint-postgres` installed."""


class StoreError(Exception):
    """The store cannot be opened or used; the message names it (never its password)."""


class ThreadBusy(Exception):
    """Another `ask` holds the thread and did not let go within the wait allowed."""


def store(text: str) -> Store:
    """`--db` / `LLMCOMPILER_DB`: a `postgresql://` URL, else a SQLite file path."""
    return text if text.startswith(POSTGRES_SCHEMES) else Path(text)


def shown(target: Store) -> str:
    """The store for messages, without a password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", str(target))


def default_db() -> Store:
    """Where threads are kept unless `--db` says otherwise."""
    if explicit := os.environ.get("LLMCOMPILER_DB"):
        return store(explicit)
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "llmcompiler-graph" / DB_FILE


class NoThreads(LookupError):
    """No thread to show: the store (a SQLite file) does not exist yet, or has none."""


class NotAThreadStore(ValueError):
    """The SQLite file given as the store is not one (it has no checkpoint tables)."""


@contextlib.contextmanager
def named_errors(target: Store) -> Iterator[None]:
    """The database's errors as `StoreError`s naming the store: the store is the only thing a
    command uses SQLite or Postgres for, so their errors are the store's, wherever they arise
    (opening it, or a checkpoint written mid-run)."""
    try:
        yield
    except _database_errors(target) as exc:
        raise StoreError(_unusable(target, exc)) from exc


def _database_errors(target: Store) -> tuple[type[BaseException], ...]:
    if isinstance(target, Path):
        return (sqlite3.Error,)
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)


def _unusable(target: Store, exc: BaseException) -> str:
    """`the threads store X cannot be used: why`, on one line."""
    if isinstance(target, Path) and target.is_dir():
        why = "it is a directory, not a SQLite file"
    elif isinstance(target, Path) and target.exists() and not target.is_file():
        why = "it is not a regular file"
    elif isinstance(exc, OSError):
        why = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    else:
        why = " ".join(str(exc).split()) or type(exc).__name__
    return f"the threads store {shown(target)} cannot be used: {why}"


@asynccontextmanager
async def open_threads(
    target: Store, *, read_only: bool = False
) -> AsyncIterator[BaseCheckpointSaver]:
    """The checkpointer keeping the threads in `target`: a SQLite file (created with its folder
    if needed) or a Postgres database (its tables created or upgraded on first use).

    `read_only` (for commands that only read): a SQLite file is opened read-only and must exist
    (`NoThreads` otherwise) and hold the checkpointer's tables (`NotAThreadStore` otherwise):
    nothing is created or altered."""
    if isinstance(target, str):
        _require_postgres()
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(target) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if read_only:
        _check_store(target)
        async with _connected(f"{target.resolve().as_uri()}?mode=ro", uri=True) as conn:
            saver = AsyncSqliteSaver(conn)
            saver.is_setup = True  # its setup would create tables
            yield saver
        return
    _make_folder(target)
    async with _connected(str(target)) as conn:
        yield AsyncSqliteSaver(conn)


def _require_postgres() -> None:
    try:
        import langgraph.checkpoint.postgres.aio  # noqa: F401
    except ImportError:
        raise PostgresExtraMissing(
            'a postgresql:// --db needs the postgres extra: pip install "llmcompiler-graph'
            '[postgres]"'
        ) from None


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(_unusable(path, exc)) from exc


@asynccontextmanager
async def _connected(database: str, **options: Any) -> AsyncIterator[aiosqlite.Connection]:
    """An aiosqlite connection, closed in this event loop whatever happens.

    When connecting fails, aiosqlite stops its worker thread, which then calls back into the
    loop; if `asyncio.run` has closed the loop by then, the thread dies on "Event loop is
    closed" and prints a traceback after the error message. So a failed connect waits for that
    thread here, while the loop is open."""
    import aiosqlite

    conn = aiosqlite.connect(database, **options)
    try:
        await conn
    except BaseException:
        # aiosqlite < 0.22's connection is the thread; later ones keep it in `_thread`.
        worker = conn if isinstance(conn, threading.Thread) else conn._thread
        if worker.ident is not None:
            worker.join()
        raise
    try:
        yield conn
    finally:
        await conn.close()


def _check_store(path: Path) -> None:
    """`NoThreads` unless `path` exists; `NotAThreadStore` unless it holds checkpoint tables."""
    if path.is_dir():
        raise NotAThreadStore(f"{path} is a directory, not a threads store (--db / LLMCOMPILER_DB)")
    if not path.is_file():
        raise NoThreads(path)
    problem = "it has no checkpoint tables"
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        tables, problem = set(), str(exc)
    if not {"checkpoints", "writes"} <= tables:
        raise NotAThreadStore(f"{path} is not a threads store (--db / LLMCOMPILER_DB): {problem}")


def thread_config(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


LOCK_POLL = 0.2
"""Seconds between two tries at the lock of a thread another `ask` holds."""


@asynccontextmanager
async def hold_thread(
    target: Store, name: str, *, wait: float | None, on_wait: Callable[[str], None]
) -> AsyncIterator[None]:
    """Hold thread `name` of `target` while a run writes to it: two runs of one thread at once
    would both start from the same checkpoint, and one of their turns would be lost.

    When another process holds it, `on_wait` is told by whom, and this waits until it lets go:
    at most `wait` seconds (None: as long as it takes; 0: not at all), then `ThreadBusy`. The
    lock goes with its process, however that ends: a killed `ask` leaves none behind."""
    lock = _advisory_lock(target, name) if isinstance(target, str) else _file_lock(target, name)
    async with lock as held:
        if not await held.acquire():
            who = await held.holder()
            if wait == 0:
                raise ThreadBusy(f"thread {name!r} is busy with another ask ({who})")
            on_wait(f"thread {name!r} is busy with another ask ({who}); waiting for it to finish…")
            deadline = None if wait is None else time.monotonic() + wait
            while not await held.acquire():
                if deadline is not None and time.monotonic() >= deadline:
                    raise ThreadBusy(
                        f"thread {name!r} is still busy with another ask ({await held.holder()}) "
                        f"after {wait:g} s"
                    )
                await asyncio.sleep(LOCK_POLL)
        yield


def lock_file(path: Path, name: str) -> Path:
    """The file whose `flock` holds thread `name` of the SQLite store `path` (by the name's hash:
    any name makes a file name), in `<db>.locks/` beside the real file."""
    real = path.resolve()
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    return real.with_name(f"{real.name}.locks") / f"{digest}.lock"


class _FileLock:
    """An exclusive `flock` on an open lock file, which says which process holds it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.held = False

    async def acquire(self) -> bool:
        import fcntl

        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()}".encode(), 0)
        self.held = True
        return True

    async def holder(self) -> str:
        for _ in range(10):  # a process writes its pid just after it takes the lock
            if said := os.pread(self.fd, 100, 0).decode(errors="replace").strip():
                return said
            await asyncio.sleep(0.01)
        return "another process"


@asynccontextmanager
async def _file_lock(path: Path, name: str) -> AsyncIterator[_FileLock]:
    if path.is_dir():
        raise StoreError(_unusable(path, IsADirectoryError(path)))
    file = lock_file(path, name)
    _make_folder(path)
    try:
        file.parent.mkdir(exist_ok=True)
        fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(_unusable(path, exc)) from exc
    lock = _FileLock(fd)
    try:
        yield lock
    finally:
        if lock.held:
            os.ftruncate(fd, 0)  # no pid of a process that let go
        os.close(fd)  # releases the lock


class _AdvisoryLock:
    """A Postgres session advisory lock, held by its connection."""

    def __init__(self, conn: Any, key: int) -> None:
        self.conn, self.key = conn, key

    async def acquire(self) -> bool:
        cursor = await self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
        row = await cursor.fetchone()
        return bool(row and row[0])

    async def holder(self) -> str:
        """The holder's `application_name` (`llmcompiler-graph, pid N on HOST`)."""
        cursor = await self.conn.execute(
            "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s",
            ((self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF),
        )
        row = await cursor.fetchone()
        if row is None:
            return "another connection"
        return row[0] or f"Postgres backend pid {row[1]}"


@asynccontextmanager
async def _advisory_lock(url: str, name: str) -> AsyncIterator[_AdvisoryLock]:
    _require_postgres()
    import psycopg

    digest = hashlib.sha256(f"llmcompiler-graph thread {name}".encode()).digest()
    me = f"llmcompiler-graph, pid {os.getpid()} on {socket.gethostname()}"
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, application_name=me[:63])
    async with conn:  # closing the connection releases the lock
        yield _AdvisoryLock(conn, int.from_bytes(digest[:8], "big", signed=True))


@dataclass(frozen=True)
class Unfinished:
    """The turn of a thread whose run stopped before its answer (killed, failed or paused)."""

    question: str
    waits_for: str | None
    """What a person must answer before the run can go on (an approval), if it is paused."""


async def unfinished(graph: CompiledStateGraph, config: RunnableConfig) -> Unfinished | None:
    """The thread's unfinished turn: its last checkpoint still has nodes to run."""
    state = await graph.aget_state(config)
    if not state.next:
        return None
    messages = state.values.get("messages", [])
    if START in state.next:  # stopped before its first step: the question is still its input
        saved = await graph.checkpointer.aget_tuple(config)  # type: ignore[union-attr]
        given = saved.checkpoint["channel_values"].get(START) if saved else None
        messages = convert_to_messages(given.get("messages", [])) if given else []
    question = next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")
    return Unfinished(question, _awaited(state.interrupts) if state.interrupts else None)


def _awaited(interrupts: tuple[Interrupt, ...]) -> str:
    """What the paused run asks a person: the calls to approve (`llmcompiler_graph.approval`),
    else the interrupt's value."""
    requests = [
        request
        for found in interrupts
        if isinstance(found.value, Mapping)
        for request in found.value.get("action_requests", [])
    ]
    if not requests:
        said = " ".join(str(interrupts[0].value).split())
        return f"an answer to {said[:200]}"
    calls = "; ".join(
        f"{r['name']}({', '.join(f'{k}={v!r}' for k, v in r['args'].items())})" for r in requests
    )
    return f"approval of {len(requests)} task{'s' if len(requests) != 1 else ''}: {calls}"


@dataclass(frozen=True)
class ThreadSummary:
    """One thread, as `threads` lists it."""

    name: str
    questions: int
    last_question: str


async def summaries(saver: BaseCheckpointSaver) -> list[ThreadSummary]:
    """Every thread in the store, most recently updated first."""
    latest: dict[str, list[AnyMessage]] = {}
    async for item in saver.alist(None):
        name = item.config["configurable"]["thread_id"]
        if name not in latest and not item.config["configurable"].get("checkpoint_ns"):
            latest[name] = item.checkpoint["channel_values"].get("messages", [])
    return [
        ThreadSummary(
            name,
            sum(isinstance(m, HumanMessage) for m in messages),
            next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), ""),
        )
        for name, messages in latest.items()
    ]


async def history(saver: BaseCheckpointSaver, name: str) -> list[AnyMessage]:
    """The conversation of thread `name` (empty if there is no such thread)."""
    found = await saver.aget_tuple(thread_config(name))  # type: ignore[arg-type]
    return [] if found is None else list(found.checkpoint["channel_values"].get("messages", []))
