"""Plan approval: `approve_plan=True` and tools that require approval (LangGraph `interrupt`,
LangChain's human-in-the-loop request and decisions)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from helpers import ScriptedChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.approval import ApprovalError

POPULATION = {"Paris": 2, "Rome": 3, "Oslo": 1}
PLAN = (
    '1. lookup(city="Paris")\n'
    '2. lookup(city="Rome")\n'
    "3. compare(a=$1, b=$2)\n"
    "4. join()<END_OF_PLAN>"
)


class Calls:
    """Tools that record each call: (tool, args, time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self._lock = threading.Lock()

    def record(self, name: str, **args: Any) -> None:
        with self._lock:
            self.calls.append((name, args, time.time()))

    def of(self, name: str) -> list[dict[str, Any]]:
        return [args for tool_name, args, _ in self.calls if tool_name == name]

    def tools(self, *, sensitive: bool = False) -> list[Any]:
        calls = self

        async def lookup(city: str) -> int:
            """Population of a city, in millions."""
            calls.record("lookup", city=city)
            return POPULATION[city]

        @tool
        def compare(a: int, b: int) -> str:
            """Compare two numbers."""
            calls.record("compare", a=a, b=b)
            return f"{max(a, b)} is bigger"

        if sensitive:
            compare.metadata = {"llmcompiler": {"requires_approval": True}}
        return [lookup, compare]


def planner_then_answer(plans: list[str]) -> Any:
    """A script: the plans in order for the planner; the joiner answers with what it saw."""
    asked: list[list[BaseMessage]] = []

    def script(role: str, messages: list[BaseMessage]) -> str:
        if role == "planner":
            asked.append(messages)
            return plans[min(len(asked), len(plans)) - 1]
        return "Answer: " + messages[-1].text.splitlines()[-1]

    script.asked = asked  # type: ignore[attr-defined]
    return script


def reviewed(calls: Calls) -> Any:
    """A graph whose every plan (PLAN) waits for approval."""
    return create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(),
        approve_plan=True,
        checkpointer=InMemorySaver(),
    )


def config() -> dict[str, Any]:
    return {"configurable": {"thread_id": "review"}}


def ask(question: str = "Which is bigger, Paris or Rome?") -> dict[str, Any]:
    return {"messages": [HumanMessage(question)]}


def test_the_whole_plan_waits_for_approval_then_runs() -> None:
    calls = Calls()
    graph = reviewed(calls)
    out = graph.invoke(ask(), config())
    (request,) = [i.value for i in out["__interrupt__"]]
    assert calls.calls == [], "a tool ran before the plan was approved"
    assert [a["name"] for a in request["action_requests"]] == ["lookup", "lookup", "compare"]
    assert request["action_requests"][2]["args"] == {"a": "$1", "b": "$2"}
    assert "Task 3 of the plan" in request["action_requests"][2]["description"]
    assert request["review_configs"][0] == {
        "action_name": "lookup",
        "allowed_decisions": ["approve", "edit", "reject"],
    }

    out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}] * 3}), config())
    assert "__interrupt__" not in out
    assert out["messages"][-1].text.endswith('"3 is bigger"')
    assert sorted(a["city"] for a in calls.of("lookup")) == ["Paris", "Rome"]
    assert calls.of("compare") == [{"a": 2, "b": 3}]


async def test_an_edited_task_runs_as_edited_and_state_keeps_the_edit() -> None:
    calls = Calls()
    graph = reviewed(calls)
    await graph.ainvoke(ask(), config())
    edit = {"type": "edit", "edited_action": {"name": "lookup", "args": {"city": "Oslo"}}}
    out = await graph.ainvoke(
        Command(resume={"decisions": [{"type": "approve"}, edit, {"type": "approve"}]}),
        config(),
    )
    assert sorted(a["city"] for a in calls.of("lookup")) == ["Oslo", "Paris"]
    assert calls.of("compare") == [{"a": 2, "b": 1}]
    assert out["messages"][-1].text.endswith('"2 is bigger"')
    tasks = (await graph.aget_state(config())).values["tasks"]
    assert tasks[1]["args"] == {"city": "Oslo"}


def test_a_rejection_skips_the_dependents_and_replans_with_the_reviewers_message() -> None:
    calls = Calls()
    replan = '5. lookup(city="Oslo")\n6. join()<END_OF_PLAN>'
    script = planner_then_answer([PLAN, replan])
    graph = create_llmcompiler(
        ScriptedChatModel(script=script),
        calls.tools(),
        approve_plan=True,
        checkpointer=InMemorySaver(),
    )
    events: list[dict[str, Any]] = []
    for mode, chunk in graph.stream(ask(), config(), stream_mode=["custom", "updates"]):
        if mode == "custom":
            events.append(chunk)
    reject = {"type": "reject", "message": "Rome is not the question; use Oslo."}
    resume = Command(resume={"decisions": [{"type": "approve"}, reject, {"type": "approve"}]})
    for mode, chunk in graph.stream(resume, config(), stream_mode=["custom", "updates"]):
        if mode == "custom":
            events.append(chunk)
    # the replan's own plan waits for approval too
    state = graph.get_state(config())
    assert state.interrupts and [
        a["args"] for a in state.interrupts[0].value["action_requests"]
    ] == [{"city": "Oslo"}]
    assert calls.of("lookup") == [{"city": "Paris"}]
    assert calls.of("compare") == []  # it needed the rejected task
    finished = {e["idx"]: e for e in events if e["event"] == "task_finished"}
    assert finished[2]["status"] == "error" and "rejected by the reviewer" in finished[2]["error"]
    assert finished[3]["status"] == "skipped"
    decisions = [e for e in events if e["event"] == "joiner_decision"]
    assert [d["decision"] for d in decisions] == ["replan"]
    assert "use Oslo" in decisions[0]["feedback"]
    second_prompt = script.asked[1][-1].text  # type: ignore[attr-defined]
    assert "use Oslo" in second_prompt and "rejected by the reviewer" in second_prompt
    requested = [e for e in events if e["event"] == "approval_requested"]
    assert requested[0]["tasks"] == [1, 2, 3]
    decided = next(e for e in events if e["event"] == "approval_decided")
    assert [d["type"] for d in decided["decisions"]] == ["approve", "reject", "approve"]

    out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    assert calls.of("lookup") == [{"city": "Paris"}, {"city": "Oslo"}]
    assert "__interrupt__" not in out


async def test_only_tasks_of_sensitive_tools_wait_the_others_stream_as_usual() -> None:
    """`compare` requires approval: the lookups run while the plan streams, before the pause."""
    calls = Calls()
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(sensitive=True),
        checkpointer=InMemorySaver(),
    )
    out = await graph.ainvoke(ask(), config())
    (request,) = [i.value for i in out["__interrupt__"]]
    assert [a["name"] for a in request["action_requests"]] == ["compare"]
    assert sorted(a["city"] for a in calls.of("lookup")) == ["Paris", "Rome"]
    assert calls.of("compare") == []
    out = await graph.ainvoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    assert calls.of("compare") == [{"a": 2, "b": 3}]
    assert sorted(a["city"] for a in calls.of("lookup")) == ["Paris", "Rome"]  # not run again


@pytest.mark.parametrize(
    "resume",
    [
        "yes",
        {"decisions": [{"type": "approve"}]},
        {"decisions": [{"type": "maybe"}] * 3},
        {"decisions": [{"type": "edit", "edited_action": "Oslo"}, {"type": "approve"}, {}]},
    ],
)
def test_a_resume_value_that_does_not_answer_the_request_says_what_to_send(resume: Any) -> None:
    calls = Calls()
    graph = reviewed(calls)
    graph.invoke(ask(), config())
    with pytest.raises(ApprovalError, match=r"decision|edited_action"):
        graph.invoke(Command(resume=resume), config())
    assert calls.calls == []


def test_an_edit_is_checked_like_a_plan_line() -> None:
    calls = Calls()
    graph = reviewed(calls)
    graph.invoke(ask(), config())
    bad = {"type": "edit", "edited_action": {"name": "lookup", "args": {"town": "$3"}}}
    events = [
        chunk
        for mode, chunk in graph.stream(
            Command(resume={"decisions": [bad, {"type": "approve"}, {"type": "approve"}]}),
            config(),
            stream_mode=["custom", "updates"],
        )
        if mode == "custom"
    ]
    error = next(e for e in events if e["event"] == "task_finished" and e["idx"] == 1)["error"]
    assert "unknown argument 'town'" in error and "forward reference: $3" in error
    assert calls.of("lookup") == [{"city": "Rome"}]


def test_without_approval_settings_nothing_waits() -> None:
    calls = Calls()
    graph = create_llmcompiler(ScriptedChatModel(script=planner_then_answer([PLAN])), calls.tools())
    out = graph.invoke(ask())
    assert "__interrupt__" not in out and calls.of("compare") == [{"a": 2, "b": 3}]


def test_a_slow_sync_scheduler_can_be_approved_from_another_thread() -> None:
    """The sync path: the interrupt leaves the scheduler's thread, the resume comes back in."""
    calls = Calls()
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(sensitive=True),
        checkpointer=InMemorySaver(),
    )

    async def run_in_loop() -> dict[str, Any]:  # a sync invoke from inside a running loop
        return await asyncio.to_thread(graph.invoke, ask(), config())

    out = asyncio.run(run_in_loop())
    assert out["__interrupt__"]
    out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    assert calls.of("compare") == [{"a": 2, "b": 3}]
