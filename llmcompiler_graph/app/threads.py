"""Conversations that outlive one command: `ask --thread NAME`, `threads`, `threads NAME`.

Each named thread is a LangGraph thread kept by a SQLite checkpointer
(`langgraph-checkpoint-sqlite`) in one file: `--db PATH`, else `LLMCOMPILER_DB`, else
`threads.sqlite` in the user's data directory (`$XDG_DATA_HOME/llmcompiler-graph`, by default
`~/.local/share/llmcompiler-graph`). The same file works from Python:
`AsyncSqliteSaver.from_conn_string(path)` as the graph's checkpointer, `thread_id` = the name.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

DB_FILE = "threads.sqlite"


def default_db() -> Path:
    """Where threads are kept unless `--db` says otherwise."""
    if explicit := os.environ.get("LLMCOMPILER_DB"):
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "llmcompiler-graph" / DB_FILE


@asynccontextmanager
async def open_threads(path: Path) -> AsyncIterator[AsyncSqliteSaver]:
    """The checkpointer keeping the threads in `path` (created with its folder if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver


def thread_config(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


@dataclass(frozen=True)
class ThreadSummary:
    """One thread, as `threads` lists it."""

    name: str
    questions: int
    last_question: str


async def summaries(saver: AsyncSqliteSaver) -> list[ThreadSummary]:
    """Every thread in the file, most recently updated first."""
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


async def history(saver: AsyncSqliteSaver, name: str) -> list[AnyMessage]:
    """The conversation of thread `name` (empty if there is no such thread)."""
    found = await saver.aget_tuple(thread_config(name))  # type: ignore[arg-type]
    return [] if found is None else list(found.checkpoint["channel_values"].get("messages", []))
