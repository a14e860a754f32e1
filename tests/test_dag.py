"""The task fetching unit's three parts on their own: the DAG tracker (pure, synchronous), the
call cache, and the executor's hook before each call."""

from __future__ import annotations

import doctest
from typing import Any

from langchain_core.tools import tool

from llmcompiler_graph.core import calls, dag
from llmcompiler_graph.core.calls import CallCache
from llmcompiler_graph.core.dag import Dag
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.plan import make_observation, make_task


def test_module_doctests() -> None:
    assert doctest.testmod(dag).failed == 0
    assert doctest.testmod(calls).failed == 0


def test_the_dag_says_what_runs_waits_fails_or_is_a_duplicate() -> None:
    graph = Dag(earlier={1: make_observation(1, "ok", 10)}, tools={"t"})
    assert graph.admit(make_task(1, "t")) == "duplicate"  # an earlier round's id
    assert graph.admit(make_task(2, "t", {"x": "$1"}, [1])) == "ready"  # input from round 1
    assert graph.admit(make_task(3, "t", {"x": "$2"}, [2])) == "blocked"
    assert graph.admit(make_task(4, "t", {"x": "$3"}, [3])) == "blocked"
    assert graph.admit(make_task(5, "t", {"x": "$9"}, [9]))["error"] == "missing reference $9"
    assert graph.admit(make_task(6, "nope"))["error"] == "unknown tool 'nope'"
    assert graph.admit(make_task(7, "t", error="bad arguments"))["error"] == "bad arguments"
    assert graph.admit(make_task(3, "t")) == "duplicate"
    released = graph.finish(2, make_observation(2, "error", error="boom"))
    assert [(t["idx"], failed) for t, failed in released] == [(3, 2)]  # to skip
    assert graph.stranded() == [make_task(4, "t", {"x": "$3"}, [3])]  # 3 was never recorded


def test_a_task_waiting_for_two_inputs_is_released_by_the_last() -> None:
    graph = Dag(earlier={}, tools={"t"})
    for idx in (1, 2):
        assert graph.admit(make_task(idx, "t")) == "ready"
    assert graph.admit(make_task(3, "t", {"a": "$1", "b": "$2"}, [1, 2])) == "blocked"
    assert graph.finish(1, make_observation(1, "ok", 1)) == []
    assert [t["idx"] for t, _ in graph.finish(2, make_observation(2, "ok", 2))] == [3]


async def test_the_call_cache_shares_one_call_and_never_a_failure() -> None:
    cache = CallCache(frozenset({"t"}), earlier={}, earlier_tasks=())
    task = make_task(1, "t", {"x": 1})
    key = cache.key(task, {"x": 1})
    assert key is not None and cache.key(make_task(2, "other"), {}) is None
    cache.claim(1, key)
    cache.claim(2, key)  # 1 is making it: 2 waits
    assert cache.makes(1, key) and not cache.makes(2, key)
    cache.settle(1, make_observation(1, "error", error="boom"))
    assert await cache.wait(2, key) is None and cache.makes(2, key)  # 2 makes it itself
    cache.settle(2, make_observation(2, "ok", 5))
    assert cache.made[key] == 2 and await cache.wait(3, key) == 2


async def test_before_call_can_refuse_a_call_as_an_error_observation() -> None:
    """A per-task budget: at most two calls of `priced`; a reused result costs nothing."""
    made: list[int] = []

    @tool
    def priced(x: int) -> int:
        """A tool that costs money."""
        made.append(x)
        return x

    spent: list[int] = []

    def budget(task: Any, args: Any) -> str | None:
        if len(spent) >= 2:
            return f"BudgetExceeded: task {task['idx']} would be call 3 of 2"
        spent.append(task["idx"])
        return None

    unit = TaskFetchingUnit({"priced": priced}, before_call=budget)
    plan = [make_task(i, "priced", {"x": x}) for i, x in [(1, 1), (2, 2), (3, 1), (4, 3)]]
    observations = await unit.arun(plan)
    assert [observations[i]["status"] for i in (1, 2, 3, 4)] == ["ok", "ok", "ok", "error"]
    assert observations[3]["value"] == 1  # reused from task 1, no budget needed
    assert "BudgetExceeded" in observations[4]["error"] and sorted(made) == [1, 2]


async def test_a_before_call_that_raises_fails_its_task_not_the_run() -> None:
    @tool
    def free(x: int) -> int:
        """A tool."""
        return x

    def broken(task: Any, args: Any) -> str | None:
        if task["idx"] == 2:
            raise RuntimeError("budget service down")
        return None

    unit = TaskFetchingUnit({"free": free}, before_call=broken)
    observations = await unit.arun([make_task(1, "free", {"x": 1}), make_task(2, "free", {"x": 2})])
    assert observations[1]["status"] == "ok"
    assert observations[2]["error"] == "before_call raised RuntimeError: budget service down"
