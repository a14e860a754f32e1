"""Durable resume: a tool that finished is never run again, whatever stopped the run.

A real process with a SQLite checkpointer is killed with SIGKILL while tools run (or while the
plan streams) and the thread is resumed with `invoke(None, config)` in a fresh process; in
process, an `interrupt()` stops a run whose tools finished in one order and the resume finishes
them in another.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import ScriptedChatModel
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, interrupt

from llmcompiler_graph import create_llmcompiler

TESTS = Path(__file__).resolve().parent

_WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path.insert(0, {tests!r})
    from helpers import ScriptedChatModel
    from llmcompiler_graph import create_llmcompiler

    LOG, PHASE = os.environ["TOOL_LOG"], os.environ["PHASE"]
    PLAN = (
        'Thought: two lookups, a slow one, and one on the first result.\\n'
        '1. work("a")\\n2. work("b")\\n3. work("slow")\\n4. work("$1")\\n'
        '5. join()<END_OF_PLAN>'
    )

    def log(line):
        with open(LOG, "a") as f:
            f.write(line + "\\n")

    def work(key: str) -> str:
        '''Work on a key.'''
        log("start " + key)
        if key == "slow" and PHASE == "first":
            time.sleep(60)
        log("end " + key)
        return "result of " + key

    def script(role, messages):
        return PLAN if role == "planner" else "Thought: done\\nAction: Finish(all done)"

    sleep = float(os.environ.get("PLAN_CHAR_SLEEP", "0")) if PHASE == "first" else 0.0
    model = ScriptedChatModel(script=script, sleep=sleep)
    {checkpointer}
    graph = create_llmcompiler(model, [work], joiner="text", checkpointer=saver)
    config = {{"configurable": {{"thread_id": "durable"}}}}
    start = time.time()
    if PHASE == "first":
        graph.invoke({{"messages": [("user", "work it all")]}}, config)
    else:
        out = graph.invoke(None, config)
        state = graph.get_state(config).values
        print(json.dumps({{
            "answer": out["messages"][-1].content,
            "seconds": time.time() - start,
            "observations": {{o["idx"]: o["value"] for o in state["observations"]}},
        }}))
    """
)


SQLITE = """
import sqlite3
from langgraph.checkpoint.sqlite import SqliteSaver
saver = SqliteSaver(sqlite3.connect(os.environ["DB"], check_same_thread=False))
"""


def worker_script(checkpointer: str) -> str:
    """A program that runs a plan with a slow third tool on the checkpointer `checkpointer`
    (code that binds `saver`): PHASE=first starts it (to be killed), PHASE=second resumes it
    and prints the answer and the observations; each tool logs its start and end to TOOL_LOG."""
    return _WORKER.format(tests=str(TESTS), checkpointer=checkpointer.strip())


def _run(tmp_path: Path, phase: str, **env: str) -> subprocess.Popen[str]:
    script = tmp_path / "worker.py"
    script.write_text(worker_script(SQLITE))
    environ = {
        **os.environ,
        "TOOL_LOG": str(tmp_path / "tools.log"),
        "DB": str(tmp_path / "checkpoints.sqlite"),
        "PHASE": phase,
        **env,
    }
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _tool_log(tmp_path: Path) -> list[str]:
    path = tmp_path / "tools.log"
    return path.read_text().splitlines() if path.exists() else []


def _kill_when(tmp_path: Path, process: subprocess.Popen[str], needed: set[str]) -> None:
    """SIGKILL the process once the tool log holds every line of `needed` (and the writes of
    those results had a moment to reach the database)."""
    deadline = time.time() + 30
    while not needed <= set(_tool_log(tmp_path)):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, _tool_log(tmp_path)
        time.sleep(0.02)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _resume(tmp_path: Path) -> dict[str, Any]:
    second = _run(tmp_path, "second")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_sigkill_while_tools_run_reruns_only_the_unfinished_tool(tmp_path: Path) -> None:
    first = _run(tmp_path, "first")
    _kill_when(tmp_path, first, {"end a", "end b", "end result of a", "start slow"})

    result = _resume(tmp_path)

    starts = Counter(line for line in _tool_log(tmp_path) if line.startswith("start "))
    assert starts == {"start a": 1, "start b": 1, "start result of a": 1, "start slow": 2}
    assert result["answer"] == "all done"
    assert result["observations"] == {
        "1": "result of a",
        "2": "result of b",
        "3": "result of slow",
        "4": "result of result of a",
    }
    assert result["seconds"] < 3, "the resumed scheduler waited for a planner that was done"
    print(f"resumed in {result['seconds']:.2f} s")


@pytest.mark.slow
def test_sigkill_while_the_plan_streams_keeps_finished_tools(tmp_path: Path) -> None:
    """The planner runs again (its output was never committed); the tasks it plans again with
    the same call reuse the results that had finished."""
    first = _run(tmp_path, "first", PLAN_CHAR_SLEEP="0.03")
    _kill_when(tmp_path, first, {"end a", "end b"})
    assert "start result of a" not in _tool_log(tmp_path)  # the plan was still streaming

    result = _resume(tmp_path)

    log = Counter(_tool_log(tmp_path))
    assert log["start a"] == 1 and log["start b"] == 1, "a finished tool ran again"
    assert {key: log[f"end {key}"] for key in ("a", "b", "slow", "result of a")} == {
        "a": 1,
        "b": 1,
        "slow": 1,
        "result of a": 1,
    }
    assert result["answer"] == "all done"
    assert result["observations"]["4"] == "result of result of a"


def test_resume_with_other_timings_gives_each_task_its_own_result() -> None:
    """Round 1 finishes `b` before `a`; an interrupt stops the run; on resume `a` would finish
    first. Neither runs again and each keeps its own result."""
    calls: Counter[str] = Counter()
    delays = {"a": 0.2, "b": 0.0}

    async def lookup(key: str) -> str:
        """Look a key up."""
        import asyncio

        calls[key] += 1
        await asyncio.sleep(delays[key])
        return f"value of {key}"

    def confirm(first: str, second: str) -> str:
        """Ask a human to confirm both values."""
        calls["confirm"] += 1
        return f"{interrupt('ok?')}: {first} / {second}"

    plan = '1. lookup("a")\n2. lookup("b")\n3. confirm("$1", "$2")\n4. join()<END_OF_PLAN>'

    def script(role: str, messages: list[BaseMessage]) -> str:
        return plan if role == "planner" else "Thought: ok\nAction: Finish(done)"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script),
        [lookup, confirm],
        joiner="text",
        checkpointer=InMemorySaver(),
    )
    config: Any = {"configurable": {"thread_id": "timing"}}
    import asyncio

    first = asyncio.run(graph.ainvoke({"messages": [("user", "q")]}, config))
    assert "__interrupt__" in first
    delays.update(a=0.0, b=0.2)
    asyncio.run(graph.ainvoke(Command(resume="yes"), config))

    observations = {o["idx"]: o["value"] for o in graph.get_state(config).values["observations"]}
    assert observations == {
        1: "value of a",
        2: "value of b",
        3: "yes: value of a / value of b",
    }
    assert calls == {"a": 1, "b": 1, "confirm": 2}
