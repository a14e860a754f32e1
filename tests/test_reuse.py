"""No repeated work: within one user turn, an identical call (same tool, equal resolved arguments)
reuses the earlier successful result - in the same plan, while the first call still runs, and
across replans - unless the tool says it is not idempotent."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from helpers import ScriptedChatModel
from langchain_core.messages import HumanMessage
from langchain_core.tools import StructuredTool

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.calls import call_key
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.plan import Observation, Task, make_observation, make_task
from llmcompiler_graph.core.policy import ToolPolicy


class Tools:
    """Async tools that count their calls: `echo` (idempotent by default), `flaky` (fails on its
    first call), `stamp` (declared non-idempotent)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: Counter[str] = Counter()
        self.delay = delay

    def unit(self, **kwargs: Any) -> TaskFetchingUnit:
        async def echo(x: Any) -> Any:
            """Echo x."""
            self.calls["echo"] += 1
            await asyncio.sleep(self.delay)
            return x

        async def flaky(x: Any) -> Any:
            """Fail on the first call."""
            self.calls["flaky"] += 1
            await asyncio.sleep(self.delay)
            if self.calls["flaky"] == 1:
                raise ValueError("first call fails")
            return x

        async def stamp(x: Any) -> int:
            """A new number each call."""
            self.calls["stamp"] += 1
            return self.calls["stamp"]

        tools = {
            "echo": StructuredTool.from_function(coroutine=echo),
            "flaky": StructuredTool.from_function(coroutine=flaky),
            "stamp": StructuredTool.from_function(
                coroutine=stamp, metadata={"llmcompiler": {"idempotent": False}}
            ),
        }
        return TaskFetchingUnit(tools, **kwargs)


async def run(
    unit: TaskFetchingUnit, tasks: list[Task], **kwargs: Any
) -> tuple[dict[int, Observation], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    observations = await unit.arun(
        tasks, events=EventSink(events.append, graph="g", round=1), **kwargs
    )
    return observations, events


def reused_from(events: list[dict[str, Any]], kind: str) -> dict[int, int | None]:
    return {e["idx"]: e["reused_from"] for e in events if e["event"] == kind}


async def test_same_call_twice_in_one_plan_calls_the_tool_once() -> None:
    tools = Tools()
    tasks = [
        make_task(1, "echo", {"x": 1}),
        make_task(2, "echo", {"x": 2}),
        make_task(3, "echo", {"x": "$1"}, [1]),  # resolves to echo(x=1): task 1's call
    ]
    observations, events = await run(tools.unit(), tasks)
    assert tools.calls["echo"] == 2
    assert observations[3]["status"] == "ok"
    assert observations[3]["value"] == observations[1]["value"] == 1
    assert reused_from(events, "task_started") == {1: None, 2: None, 3: 1}
    assert reused_from(events, "task_finished") == {1: None, 2: None, 3: 1}
    reused = observations[3]
    assert reused["dispatched_at"] <= reused["started_at"] <= reused["finished_at"]
    assert reused["finished_at"] - reused["started_at"] < 0.01
    assert reused["started_at"] >= observations[1]["finished_at"]


async def test_an_identical_call_still_running_is_waited_for_not_repeated() -> None:
    tools = Tools(delay=0.05)
    tasks = [make_task(1, "echo", {"x": "a"}), make_task(2, "echo", {"x": "a"})]
    observations, events = await run(tools.unit(), tasks)
    assert tools.calls["echo"] == 1
    assert observations[2]["status"] == "ok"
    assert observations[2]["value"] == "a"
    assert observations[2]["started_at"] >= observations[1]["finished_at"] - 0.001
    assert reused_from(events, "task_finished") == {1: None, 2: 1}


def test_sync_run_reuses_too() -> None:
    calls: list[int] = []

    def slow(x: int) -> int:
        """Slow square."""
        calls.append(x)
        time.sleep(0.02)
        return x * x

    unit = TaskFetchingUnit({"slow": StructuredTool.from_function(slow)})
    tasks = [make_task(1, "slow", {"x": 3}), make_task(2, "slow", {"x": 3})]
    tasks.append(make_task(3, "slow", {"x": "$2"}, [2]))  # slow(x=9): a new call
    observations = unit.run(tasks)
    assert calls == [3, 9]
    assert [observations[i]["value"] for i in (1, 2, 3)] == [9, 9, 81]


async def test_several_waiters_share_one_call() -> None:
    tools = Tools(delay=0.05)
    tasks = [make_task(i, "echo", {"x": "a"}) for i in range(1, 5)]
    observations, events = await run(tools.unit(max_concurrency=1), tasks)
    assert tools.calls["echo"] == 1
    assert {o["value"] for o in observations.values()} == {"a"}
    assert reused_from(events, "task_finished") == {1: None, 2: 1, 3: 1, 4: 1}


async def test_different_arguments_are_different_calls() -> None:
    tools = Tools()
    tasks = [
        make_task(1, "echo", {"x": 1}),
        make_task(2, "echo", {"x": 1.5}),
        make_task(3, "echo", {"x": "1"}),
        make_task(4, "echo", {"x": [1]}),
    ]
    _, events = await run(tools.unit(), tasks)
    assert tools.calls["echo"] == 4
    assert set(reused_from(events, "task_finished").values()) == {None}


async def test_a_failed_call_is_not_reused() -> None:
    tools = Tools()
    tasks = [make_task(1, "flaky", {"x": 7}), make_task(2, "flaky", {"x": 7}, [])]
    observations, _ = await run(tools.unit(), [tasks[0]])
    assert observations[1]["status"] == "error"
    again, events = await run(
        tools.unit(), [tasks[1]], observations=observations, earlier_tasks=[tasks[0]]
    )
    assert tools.calls["flaky"] == 2
    assert again[2]["status"] == "ok"
    assert again[2]["value"] == 7
    assert reused_from(events, "task_finished") == {2: None}


async def test_a_failed_running_call_makes_its_waiter_call_again() -> None:
    tools = Tools(delay=0.02)
    tasks = [make_task(1, "flaky", {"x": 7}), make_task(2, "flaky", {"x": 7})]
    observations, events = await run(tools.unit(), tasks)
    assert tools.calls["flaky"] == 2
    assert observations[1]["status"] == "error"
    assert observations[2]["status"] == "ok"
    assert reused_from(events, "task_finished") == {1: None, 2: None}


async def test_a_non_idempotent_tool_declared_in_metadata_is_always_called() -> None:
    tools = Tools()
    tasks = [make_task(1, "stamp", {"x": 0}), make_task(2, "stamp", {"x": 0})]
    observations, events = await run(tools.unit(), tasks)
    assert tools.calls["stamp"] == 2
    assert sorted(o["value"] for o in observations.values()) == [1, 2]
    assert set(reused_from(events, "task_started").values()) == {None}


async def test_a_non_idempotent_tool_by_policy_is_always_called() -> None:
    tools = Tools(delay=0.01)
    unit = tools.unit(policies={"echo": ToolPolicy(idempotent=False)})
    tasks = [make_task(1, "echo", {"x": 0}), make_task(2, "echo", {"x": 0})]
    await run(unit, tasks)
    assert tools.calls["echo"] == 2


def test_the_policy_argument_wins_over_the_metadata() -> None:
    unit = Tools().unit(policies={"stamp": ToolPolicy(idempotent=True)})
    assert unit.policies["stamp"].idempotent is True
    assert "stamp" in unit.idempotent
    assert "echo" in Tools().unit().idempotent
    assert "stamp" not in Tools().unit().idempotent


def test_idempotent_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="idempotent"):
        ToolPolicy(idempotent="no")  # type: ignore[arg-type]


async def test_a_call_of_an_earlier_round_is_reused() -> None:
    tools = Tools()
    earlier_tasks = [make_task(1, "echo", {"x": "a"}), make_task(2, "echo", {"x": "$1!"}, [1])]
    earlier = {
        1: make_observation(1, "ok", "a", dispatched_at=1.0, started_at=1.0),
        2: make_observation(2, "ok", "a!", dispatched_at=1.0, started_at=1.0),
    }
    tasks = [make_task(3, "echo", {"x": "a!"}), make_task(4, "echo", {"x": "b"})]
    observations, events = await run(
        tools.unit(), tasks, observations=earlier, earlier_tasks=earlier_tasks
    )
    assert tools.calls["echo"] == 1  # task 4 only
    assert observations[3]["value"] == "a!"
    assert reused_from(events, "task_finished") == {3: 2, 4: None}


async def test_without_earlier_tasks_an_earlier_round_is_not_reused() -> None:
    """Existing callers (observations only) run as before."""
    tools = Tools()
    earlier = {1: make_observation(1, "ok", "a")}
    observations, events = await run(
        tools.unit(), [make_task(2, "echo", {"x": "a"})], observations=earlier
    )
    assert tools.calls["echo"] == 1
    assert observations[2]["value"] == "a"
    assert reused_from(events, "task_finished") == {2: None}


async def test_nested_unhashable_arguments_compare_by_value() -> None:
    tools = Tools()
    tasks = [
        make_task(1, "echo", {"x": {"b": [1, {"c": 2}], "a": None}}),
        make_task(2, "echo", {"x": {"a": None, "b": [1, {"c": 2}]}}),  # same, other key order
        make_task(3, "echo", {"x": {"a": None, "b": [{"c": 2}, 1]}}),  # list order matters
    ]
    observations, events = await run(tools.unit(), tasks)
    assert tools.calls["echo"] == 2
    assert observations[2]["value"] == observations[1]["value"]
    assert reused_from(events, "task_finished") == {1: None, 2: 1, 3: None}


def test_call_key_rule() -> None:
    assert call_key("t", {"a": 1, "b": [1, 2]}) == call_key("t", {"b": [1, 2], "a": 1})
    assert call_key("t", {"a": 1}) != call_key("u", {"a": 1})
    assert call_key("t", {"a": 1}) != call_key("t", {"a": 1.0})
    assert call_key("t", {"a": True}) != call_key("t", {"a": 1})
    assert call_key("t", {"a": {1, 2}}) is not None  # not JSON: by its repr
    cycle: list[Any] = []
    cycle.append(cycle)
    assert call_key("t", {"a": cycle}) is None


async def test_graph_reuses_an_identical_call_within_one_plan() -> None:
    calls: list[str] = []

    async def lookup(city: str) -> int:
        """Population of a city, in millions."""
        calls.append(city)
        await asyncio.sleep(0.01)
        return {"Paris": 2, "Rome": 3}[city]

    plan = (
        '1. lookup(city="Paris")\n2. lookup(city="Rome")\n3. lookup(city="Paris")\n'
        "4. join()<END_OF_PLAN>"
    )
    model = ScriptedChatModel(
        script=lambda role, messages: (
            plan if role == "planner" else "Thought: ok\nAction: Finish(done)"
        )
    )
    graph = create_llmcompiler(model, [lookup], joiner="text")
    events = [
        event
        async for event in graph.astream(
            {"messages": [HumanMessage("Paris or Rome?")]}, stream_mode="custom"
        )
    ]
    assert sorted(calls) == ["Paris", "Rome"]
    finished = {e["idx"]: e for e in events if e["event"] == "task_finished"}
    assert finished[3]["status"] == "ok"
    assert finished[3]["reused_from"] == 1
    assert finished[3]["preview"] == finished[1]["preview"] == "2"
    assert finished[1]["reused_from"] is None
    assert finished[2]["reused_from"] is None
    started = {e["idx"]: e for e in events if e["event"] == "task_started"}
    assert started[3]["reused_from"] == 1
