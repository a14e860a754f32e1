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
from collections.abc import Callable
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
    if PHASE == "second" and os.environ.get("SWAP"):  # the planner runs again: same calls,
        PLAN = (                                      # other ids, another order
            'Thought: the same calls in another order.\\n'
            '1. work("b")\\n2. work("slow")\\n3. work("a")\\n4. work("$3")\\n'
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


def _resume(tmp_path: Path, **env: str) -> dict[str, Any]:
    second = _run(tmp_path, "second", **env)
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
@pytest.mark.parametrize("swap", [False, True], ids=["same-order", "swapped-order"])
def test_sigkill_while_the_plan_streams_keeps_finished_tools(tmp_path: Path, swap: bool) -> None:
    """The planner runs again (its output was never committed); the tasks it plans again with
    the same call reuse the results that had finished, whatever ids and order it gives them."""
    first = _run(tmp_path, "first", PLAN_CHAR_SLEEP="0.03")
    _kill_when(tmp_path, first, {"end a", "end b"})
    assert "start result of a" not in _tool_log(tmp_path)  # the plan was still streaming

    result = _resume(tmp_path, **({"SWAP": "1"} if swap else {}))

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
    assert result["observations"]["3" if swap else "1"] == "result of a"


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


_ZYGOTE = textwrap.dedent(
    """
    import json, os, random, signal, sys, time
    sys.path.insert(0, {tests!r})
    import sqlite3
    from helpers import ScriptedChatModel
    from langgraph.checkpoint.sqlite import SqliteSaver
    from llmcompiler_graph import create_llmcompiler

    LOG, DB, KILLS = os.environ["TOOL_LOG"], os.environ["DB"], int(os.environ["KILLS"])
    ORDERS = [  # the same five calls; a planner run again after a kill may write either
        '1. work("a")\\n2. pay("b")\\n3. pay("$1")\\n4. work("$2")\\n5. pay("c")\\n'
        '6. join()<END_OF_PLAN>',
        '1. pay("c")\\n2. pay("b")\\n3. work("a")\\n4. pay("$3")\\n5. work("$2")\\n'
        '6. join()<END_OF_PLAN>',
    ]

    def log(line):
        with open(LOG, "a") as f:
            f.write(line + "\\n")
            f.flush()
            os.fsync(f.fileno())

    def pay(to: str) -> str:
        '''Pay someone (a side effect: at most once).'''
        log("pay " + to)
        time.sleep(random.uniform(0, 0.3))
        return "paid " + to

    def work(key: str) -> str:
        '''Work on a key.'''
        time.sleep(random.uniform(0, 0.2))
        return "result of " + key

    def attempt(thread, order):
        random.seed()
        plan = ORDERS[order]
        def script(role, messages):
            return plan if role == "planner" else "Thought: done\\nAction: Finish(all done)"
        saver = SqliteSaver(sqlite3.connect(DB, check_same_thread=False))
        graph = create_llmcompiler(
            ScriptedChatModel(script=script, sleep=0.004), [pay, work], joiner="text",
            checkpointer=saver, tool_policies={{"pay": {{"idempotent": False}}}},
        )
        config = {{"configurable": {{"thread_id": thread}}}}
        before = graph.get_state(config)
        if not before.values:  # never saved anything: start
            graph.invoke({{"messages": [("user", "pay them all")]}}, config)
        elif before.next or before.values.get("decision") != "finish":
            # (a kill right after the input was saved shows no next node: resume it too)
            graph.invoke(None, config)
        state = graph.get_state(config).values
        log("answer " + thread + " " + json.dumps(
            {{o["idx"]: [o["status"], o["value"], o["error"]] for o in state["observations"]}}
        ))
        os._exit(0)

    def start(thread, attempts):
        child = os.fork()
        if child == 0:
            try:
                attempt(thread, attempts % 2)
            finally:
                os._exit(1)
        return child

    kills = threads = attempts = 0
    slowest = 0.0
    while kills < KILLS:
        threads += 1
        thread = "t%d" % threads
        for _ in range(3):  # up to 3 kills of one thread, at random moments
            attempts += 1
            child = start(thread, attempts)
            time.sleep(random.uniform(0.05, 1.2))
            finished, status = os.waitpid(child, os.WNOHANG)
            if finished:
                break
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            kills += 1
        else:  # then it runs to its answer
            attempts += 1
            began = time.time()
            _, status = os.waitpid(start(thread, attempts), 0)
            slowest = max(slowest, time.time() - began)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (thread, status)
    print(json.dumps({{"kills": kills, "threads": threads, "attempts": attempts,
                      "slowest_last_attempt": slowest}}))
    """
)


@pytest.mark.slow
def test_a_non_idempotent_tool_runs_at_most_once_across_random_kills(tmp_path: Path) -> None:
    """50 SIGKILLs at random moments (plan streaming, tools running, joiner) of runs on one
    SQLite file, each thread resumed in a fresh process until it answers, the planner writing
    the same calls in either of two orders: every `pay` call happens at most once, and each
    answer holds, for every payment, its result or an error saying it may have run."""
    script = tmp_path / "zygote.py"
    script.write_text(_ZYGOTE.format(tests=str(TESTS)))
    env = {
        **os.environ,
        "TOOL_LOG": str(tmp_path / "tools.log"),
        "DB": str(tmp_path / "checkpoints.sqlite"),
        "KILLS": "50",
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    lines = _tool_log(tmp_path)
    answers = [line.split(" ", 2) for line in lines if line.startswith("answer ")]
    assert summary["kills"] >= 50
    assert {thread for _, thread, _ in answers} == {f"t{n + 1}" for n in range(summary["threads"])}

    payments = Counter(line for line in lines if line.startswith("pay "))
    by_thread: dict[str, Counter[str]] = {}
    current = 1
    for line in lines:  # a thread's payments are the lines before its (first) answer
        if line.startswith("answer ") and line.split(" ")[1] == f"t{current}":
            current += 1
        elif line.startswith("pay "):
            by_thread.setdefault(f"t{current}", Counter())[line] += 1
    assert all(n <= 1 for counts in by_thread.values() for n in counts.values()), by_thread

    may_have_run = 0
    for _, thread, observations in answers:
        for status, value, error in json.loads(observations).values():
            if status == "ok" and value.startswith("paid "):  # it ran, once, in this thread
                assert by_thread[thread]["pay " + value.removeprefix("paid ")] == 1
            elif status == "error":
                assert "may or may not have run" in error, error
                may_have_run += 1
            else:
                assert status == "skipped" or value.startswith("result of "), observations
    assert summary["slowest_last_attempt"] < 8, "a resumed run waited for its journal"
    print(
        f"{summary['kills']} kills over {summary['threads']} threads, "
        f"{sum(payments.values())} payments, {may_have_run} reported as maybe run, "
        f"slowest resume {summary['slowest_last_attempt']:.2f} s"
    )


@pytest.mark.parametrize("rerun", [False, True], ids=["at-most-once", "rerun_unfinished"])
def test_a_call_stopped_while_it_ran_is_not_made_again_unless_its_policy_says(rerun: bool) -> None:
    """A run cancelled while a non-idempotent tool runs (its process could as well have died):
    on resume that call is an error saying it may or may not have run, or, with
    `rerun_unfinished`, it is made again; the finished call is reused either way."""
    import asyncio

    calls: Counter[str] = Counter()

    async def pay(to: str) -> str:
        """Pay someone."""
        calls[to] += 1
        await asyncio.sleep(0.3 if to == "slow" and calls[to] == 1 else 0)
        return f"paid {to}"

    plan = '1. pay("fast")\n2. pay("slow")\n3. join()<END_OF_PLAN>'

    def script(role: str, messages: list[BaseMessage]) -> str:
        return plan if role == "planner" else "Thought: ok\nAction: Finish(done)"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script),
        [pay],
        joiner="text",
        checkpointer=InMemorySaver(),
        tool_policies={"pay": {"idempotent": False, "rerun_unfinished": rerun}},
    )
    config: Any = {"configurable": {"thread_id": "stopped"}}

    _stop_while(graph, config, lambda: calls["slow"] > 0)
    out = asyncio.run(graph.ainvoke(None, config))

    observations = {o["idx"]: o for o in graph.get_state(config).values["observations"]}
    assert out["messages"][-1].content == "done"
    assert observations[1]["value"] == "paid fast" and calls["fast"] == 1
    if rerun:
        assert observations[2]["value"] == "paid slow" and calls["slow"] == 2
    else:
        assert observations[2]["status"] == "error" and calls["slow"] == 1
        assert "may or may not have run" in observations[2]["error"]


def test_a_start_entry_saved_after_a_lost_write_is_still_read_on_resume() -> None:
    """LangGraph saves writes on background threads in no fixed order, so a kill can leave the
    journal with a gap (an observation lost, the start entry after it saved). The resume reads
    past the gap: the call that had started is not made again."""
    import asyncio

    calls: Counter[str] = Counter()
    saver = InMemorySaver()
    graph = _paying_graph('1. work("a")\n2. pay("$1")\n3. join()<END_OF_PLAN>', saver, calls)
    config: Any = {"configurable": {"thread_id": "gap"}}

    _stop_while(graph, config, lambda: calls["result of a"] > 0)
    lost = _lose(saver, "observations")  # the observation's write never reached the disk
    assert lost == 1 and calls["result of a"] == 1

    asyncio.run(graph.ainvoke(None, config))

    observations = {o["idx"]: o for o in graph.get_state(config).values["observations"]}
    assert calls["result of a"] == 1, "the payment was made again"
    assert observations[2]["status"] == "error"
    assert "may or may not have run" in observations[2]["error"]
    assert observations[1]["value"] == "result of a" and calls["a"] == 2  # lost, so run again


def test_a_call_started_before_its_plan_was_journaled_is_not_made_again_in_catch_up() -> None:
    """A kill after the planner's output was saved but before the scheduler's journal held the
    whole plan: on resume the planner does not run again, so the plan runs in catch-up, a later
    superstep with a journal of its own. It reads the journal of the superstep it catches up
    on: the call that had started is not made again."""
    import asyncio

    calls: Counter[str] = Counter()
    saver = InMemorySaver()
    plan = '1. work("a")\n2. pay("b")\n3. join()<END_OF_PLAN>'
    graph = _paying_graph(plan, saver, calls, producer_timeout=0.5)
    config: Any = {"configurable": {"thread_id": "catch-up"}}

    _stop_while(graph, config, lambda: calls["b"] > 0)
    lost = _lose(saver, "plan")  # the plan's entry never reached the disk
    assert lost == 1 and calls == {"a": 1, "b": 1}

    out = asyncio.run(graph.ainvoke(None, config))

    observations = {o["idx"]: o for o in graph.get_state(config).values["observations"]}
    assert out["messages"][-1].content == "done"
    assert calls["b"] == 1, "the payment was made again"
    assert calls["a"] == 1, "a finished call was made again"
    assert observations[1]["value"] == "result of a"
    assert observations[2]["status"] == "error"
    assert "may or may not have run" in observations[2]["error"]


def _paying_graph(plan: str, saver: InMemorySaver, calls: Counter[str], **options: Any) -> Any:
    """A graph whose planner writes `plan` over `pay` (idempotent=False; its first call to
    each payee takes 0.3 s) and `work`, both counting their calls in `calls`."""
    import asyncio

    async def pay(to: str) -> str:
        """Pay someone."""
        calls[to] += 1
        await asyncio.sleep(0.3 if calls[to] == 1 else 0)
        return f"paid {to}"

    def work(key: str) -> str:
        """Work on a key."""
        calls[key] += 1
        return f"result of {key}"

    def script(role: str, messages: list[BaseMessage]) -> str:
        return plan if role == "planner" else "Thought: ok\nAction: Finish(done)"

    return create_llmcompiler(
        ScriptedChatModel(script=script),
        [pay, work],
        joiner="text",
        checkpointer=saver,
        tool_policies={"pay": {"idempotent": False}},
        **options,
    )


def _stop_while(graph: Any, config: Any, started: Callable[[], bool]) -> None:
    """Run the graph and cancel it 50 ms after `started()` (as a kill would stop it)."""
    import asyncio

    async def stop() -> None:
        run = asyncio.ensure_future(graph.ainvoke({"messages": [("user", "pay")]}, config))
        while not started():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run

    asyncio.run(stop())


def _lose(saver: InMemorySaver, kind: str) -> int:
    """Delete the journal entries of `kind` from the saver's writes; how many there were."""
    lost = 0
    for writes in saver.writes.values():
        for key, (_, _, typed, _) in list(writes.items()):
            value = saver.serde.loads_typed(typed)
            if isinstance(value, dict) and value.get("kind") == kind:
                del writes[key]
                lost += 1
    return lost
