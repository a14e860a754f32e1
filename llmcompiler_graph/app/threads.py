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

import os
import re
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


@asynccontextmanager
async def open_threads(target: Store) -> AsyncIterator[BaseCheckpointSaver]:
    """The checkpointer keeping the threads in `target`: a SQLite file (created with its folder
    if needed) or a Postgres database (its tables created or upgraded on first use)."""
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

    target.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(target)) as saver:
        yield saver


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
