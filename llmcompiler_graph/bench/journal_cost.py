"""What durability costs per task as a plan grows: the scheduler's journal with each checkpointer.

Run `python -m llmcompiler_graph.bench.journal_cost [--tasks 100 1000 5000] [--json]`. One plan of
N independent instant tasks (`echo(i)`) runs through the whole graph (LangChain's
`GenericFakeChatModel` streams the plan and the answer: no HTTP), once without a checkpointer and
once with each of InMemorySaver and SqliteSaver (a file in a temporary folder); the best of
`--repeats` runs is kept. Per task: the graph's time / N, and the journal's share: (time with
the checkpointer - time without) / N. Flat columns mean durability costs the same per task at
5,000 tasks as at 100.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

TASKS = (100, 1_000, 5_000)
SAVERS = ("none", "memory", "sqlite")


async def echo(i: int) -> int:
    """Return i."""
    return i


def plan_text(tasks: int) -> str:
    """N independent calls, then join."""
    lines = [f"{i}. echo({i})" for i in range(1, tasks + 1)]
    return "\n".join([*lines, f"{tasks + 1}. join()<END_OF_PLAN>"])


async def _seconds(tasks: int, saver: BaseCheckpointSaver[Any] | None) -> float:
    from llmcompiler_graph import create_llmcompiler

    replies = [plan_text(tasks), "Thought: all echoed.\nAction: Finish(done)"]
    model = GenericFakeChatModel(messages=iter(AIMessage(reply) for reply in replies))
    graph = create_llmcompiler(
        model, [echo], joiner="text", checkpointer=saver, max_tasks=tasks + 1
    )
    config: RunnableConfig = {"configurable": {"thread_id": "journal-cost"}}
    began = time.perf_counter()
    out = await graph.ainvoke({"messages": [("user", "Echo them all.")]}, config)
    seconds = time.perf_counter() - began
    assert out["messages"][-1].content == "done", out["messages"][-1].content
    return seconds


async def _run(kind: str, tasks: int, folder: Path) -> float:
    if kind == "none":
        return await _seconds(tasks, None)
    if kind == "memory":
        return await _seconds(tasks, InMemorySaver())
    path = folder / f"{time.monotonic_ns()}.db"
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        return await _seconds(tasks, saver)


async def measure(tasks: Sequence[int] = TASKS, repeats: int = 3) -> list[dict[str, Any]]:
    """One row per plan size: ms per task without a checkpointer and with each, and the
    journal's share with each."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="journal-cost-") as scratch:
        for n in tasks:
            best: dict[str, float] = {}
            for _ in range(repeats):
                for kind in SAVERS:
                    seconds = await _run(kind, n, Path(scratch))
                    best[kind] = min(best.get(kind, seconds), seconds)
            row: dict[str, Any] = {"tasks": n}
            for kind in SAVERS:
                row[f"{kind}_ms_per_task"] = 1000 * best[kind] / n
                if kind != "none":
                    row[f"{kind}_journal_ms_per_task"] = 1000 * (best[kind] - best["none"]) / n
            rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=list(TASKS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.tasks, args.repeats))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("tasks | ms/task: none, memory, sqlite | journal ms/task: memory, sqlite")
    for r in rows:
        print(
            f"{r['tasks']:>5} | {r['none_ms_per_task']:.3f}, {r['memory_ms_per_task']:.3f}, "
            f"{r['sqlite_ms_per_task']:.3f} | {r['memory_journal_ms_per_task']:.3f}, "
            f"{r['sqlite_journal_ms_per_task']:.3f}"
        )


if __name__ == "__main__":
    main()
