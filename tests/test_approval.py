"""Plan approval: `approve_plan=True` and tools that require approval (LangGraph `interrupt`,
LangChain's human-in-the-loop request and decisions)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from helpers import ScriptedChatModel, shape
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from llmcompiler_graph import ConcurrentRunError, create_llmcompiler
from llmcompiler_graph.approval import NotPausedError

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


BAD_RESUMES = [
    None,
    {},
    "yes",
    [],
    3,
    {"decisions": [{"type": "approve"}]},
    {"decisions": [{"type": "maybe"}] * 3},
    {"decisions": [{"type": "edit", "edited_action": "Oslo"}, {"type": "approve"}, {}]},
]


@pytest.mark.parametrize("resume", BAD_RESUMES, ids=repr)
def test_a_resume_value_that_does_not_answer_is_answered_by_asking_again(resume: Any) -> None:
    """Nothing runs; the same request comes back with the error; the thread stays usable."""
    calls = Calls()
    graph = reviewed(calls)
    first = graph.invoke(ask(), config())["__interrupt__"][0].value
    out = graph.invoke(Command(resume=resume), config())
    (again,) = [i.value for i in out["__interrupt__"]]
    assert calls.calls == []
    assert again["action_requests"][0]["name"] == first["action_requests"][0]["name"]
    assert len(again["action_requests"]) == 3
    assert re.search(r"decision|edited_action", again["error"])
    assert again["error"] in again["action_requests"][0]["description"]
    out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}] * 3}), config())
    assert "__interrupt__" not in out and calls.of("compare") == [{"a": 2, "b": 3}]


async def test_any_number_of_bad_answers_then_a_good_one_runs_exactly_the_approved_tasks() -> None:
    calls = Calls()
    graph = reviewed(calls)
    await graph.ainvoke(ask(), config())
    for bad in BAD_RESUMES:
        out = await graph.ainvoke(Command(resume=bad), config())
        assert out["__interrupt__"] and calls.calls == []
    reject = {"type": "reject", "message": "no"}
    decisions = [{"type": "approve"}, reject, {"type": "approve"}]
    out = await graph.ainvoke(Command(resume={"decisions": decisions}), config())
    assert calls.of("lookup") == [{"city": "Paris"}] and calls.of("compare") == []


def test_resuming_a_thread_that_is_not_paused_says_so() -> None:
    calls = Calls()
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(),
        checkpointer=InMemorySaver(),
    )
    with pytest.raises(NotPausedError, match="not paused"):
        graph.invoke(Command(resume={"decisions": []}), config())  # a thread never started
    graph.invoke(ask(), config())
    before = graph.get_state(config()).values["messages"]
    with pytest.raises(NotPausedError, match="send a new message"):
        graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    assert graph.get_state(config()).values["messages"] == before
    assert len(calls.of("compare")) == 1


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


def test_at_every_pause_the_last_message_is_the_calls_to_review_on_turns_1_2_and_3() -> None:
    """What a chat UI needs to draw its review card under the turn, turn after turn; edit,
    approve and reject each work on a later turn, and every call ends with its ToolMessage."""
    calls = Calls()
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(sensitive=True),
        checkpointer=InMemorySaver(),
    )
    edit = {"type": "edit", "edited_action": {"name": "compare", "args": {"a": 7, "b": "$2"}}}
    decisions = [{"type": "approve"}, edit, {"type": "reject", "message": "no"}]
    for turn, decision in enumerate(decisions, start=1):
        out = graph.invoke(ask(f"turn {turn}"), config())
        last = out["messages"][-1]
        assert out["__interrupt__"] and isinstance(last, AIMessage)
        assert [c["name"] for c in last.tool_calls] == ["compare"]
        assert last.tool_calls[0]["args"] == {"a": "$1", "b": "$2"}
        out = graph.invoke(Command(resume={"decisions": [decision]}), config())
        if decision["type"] == "reject":  # the replan's plan waits too: approved
            assert isinstance(out["messages"][-1], AIMessage) and out["__interrupt__"]
            out = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
        assert "__interrupt__" not in out
    assert calls.of("compare") == [{"a": 2, "b": 3}, {"a": 7, "b": 3}, {"a": 2, "b": 3}]
    messages = graph.get_state(config()).values["messages"]
    turns = shape(messages)  # asserts every call has its ToolMessage
    assert turns.count("human") == 3 and turns[-1] == "ai"
    edited = next(
        m
        for m in messages
        if isinstance(m, AIMessage) and m.tool_calls and m.tool_calls[0]["args"].get("a") == 7
    )
    assert edited.id.endswith("review-1")  # the card's call shows the edit that ran


def test_the_reviewer_sees_the_values_the_references_resolve_to() -> None:
    calls = Calls()
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer([PLAN])),
        calls.tools(sensitive=True),
        checkpointer=InMemorySaver(),
    )
    (request,) = [i.value for i in graph.invoke(ask(), config())["__interrupt__"]]
    (action,) = request["action_requests"]
    assert action["args"] == {"a": "$1", "b": "$2"}  # what an edit may keep
    assert action["values"] == {"a": {"value": "2", "from": [1]}, "b": {"value": "3", "from": [2]}}
    assert '- a will be "2" (from task 1)' in action["description"]


def test_an_approved_call_is_made_even_when_an_identical_one_ran_before() -> None:
    """Reuse is for lookups: a second approved send is a second send."""
    calls = Calls()
    plans = ["1. compare(a=1, b=2)\n2. join()", "3. compare(a=1, b=2)\n4. join()"]
    script = planner_then_answer(plans)

    def replan_once(role: str, messages: list[BaseMessage]) -> str:
        if role == "joiner" and len(script.asked) == 1:  # type: ignore[attr-defined]
            return "Replan: once more"
        return script(role, messages)

    graph = create_llmcompiler(
        ScriptedChatModel(script=replan_once),
        calls.tools(sensitive=True),
        checkpointer=InMemorySaver(),
    )
    graph.invoke(ask(), config())
    graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config())
    assert calls.of("compare") == [{"a": 1, "b": 2}] * 2
    observations = graph.get_state(config()).values["observations"]
    assert [o["status"] for o in observations] == ["ok", "ok"]


def test_two_concurrent_resumes_of_one_thread_run_the_approved_task_once() -> None:
    sent: list[str] = []

    @tool
    def send(to: str) -> str:
        """Send a message."""
        time.sleep(0.3)
        sent.append(to)
        return "sent"

    send.metadata = {"llmcompiler": {"requires_approval": True}}
    graph = create_llmcompiler(
        ScriptedChatModel(script=planner_then_answer(['1. send(to="bob")\n2. join()'])),
        [send],
        checkpointer=InMemorySaver(),
    )
    graph.invoke(ask(), config())
    approve = Command(resume={"decisions": [{"type": "approve"}]})
    with ThreadPoolExecutor(2) as pool:
        resumes = [pool.submit(graph.invoke, approve, config()) for _ in range(2)]
    assert sent == ["bob"]
    errors = [r.exception() for r in resumes if r.exception() is not None]
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentRunError)
    state = graph.get_state(config())
    assert not state.interrupts and shape(state.values["messages"])[-1] == "ai"


def test_a_huge_rejection_message_is_cut_like_an_observation() -> None:
    calls = Calls()
    script = planner_then_answer([PLAN, "5. join()"])
    graph = create_llmcompiler(
        ScriptedChatModel(script=script),
        calls.tools(),
        approve_plan=True,
        max_observation_chars=500,
        checkpointer=InMemorySaver(),
    )
    graph.invoke(ask(), config())
    reject = {"type": "reject", "message": "no " * 1_000_000}
    graph.invoke(Command(resume={"decisions": [reject] * 3}), config())
    state = graph.get_state(config()).values
    assert all(len(o["error"]) < 700 for o in state["observations"])
    assert len(script.asked[1][-1].text) < 10_000  # type: ignore[attr-defined]


def test_a_resume_without_a_thread_id_gets_langgraphs_own_error() -> None:
    """No thread to check: the resume goes to LangGraph as it is (its checkpointer names the
    missing `thread_id`), not through our check."""
    graph = reviewed(Calls())
    for config in ({}, {"configurable": {}}, None):
        with pytest.raises(KeyError, match="thread_id"):
            graph.invoke(Command(resume={"decisions": []}), config)
