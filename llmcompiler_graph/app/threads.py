"""Conversations that outlive one command: `ask --thread NAME`, `threads`, `threads NAME`.

Each named thread is a LangGraph thread kept by a checkpointer: SQLite
(`langgraph-checkpoint-sqlite`) in one file, `--db PATH`, else `LLMCOMPILER_DB`, else
`threads.sqlite` in the user's data directory (`$XDG_DATA_HOME/llmcompiler-graph`, by default
`~/.local/share/llmcompiler-graph`); or Postgres, when `--db` / `LLMCOMPILER_DB` is a
`postgresql://` URL (the `postgres` extra: `langgraph-checkpoint-postgres`), shared by every
process that uses it. The same store works from Python: `AsyncSqliteSaver.from_conn_string(path)`
or `AsyncPostgresSaver.from_conn_string(url)` as the graph's checkpointer, `thread_id` = the name.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

DB_FILE = "threads.sqlite"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")

Store = str | Path
"""A SQLite file, or a `postgresql://` URL."""


class PostgresExtraMissing(ImportError):
    """A `postgresql://` store without `langgraph-checkpoint-postgres` installed."""


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
        try:
            from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        except ImportError:
            raise PostgresExtraMissing(
                'a postgresql:// --db needs the postgres extra: pip install "llmcompiler-graph'
                '[postgres]"'
            ) from None
        async with AsyncPostgresSaver.from_conn_string(target) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if read_only:
        _check_store(target)
        import aiosqlite

        async with aiosqlite.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True) as conn:
            saver = AsyncSqliteSaver(conn)
            saver.is_setup = True  # its setup would create tables
            yield saver
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(target)) as saver:
        yield saver


def _check_store(path: Path) -> None:
    """`NoThreads` unless `path` exists; `NotAThreadStore` unless it holds checkpoint tables."""
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
