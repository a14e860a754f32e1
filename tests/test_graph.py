"""Behaviour of the LLMCompiler graph: shape, rounds, joiner protocols, streaming dispatch,
events, subgraph use, isolation between runs and turns, catch-up, and error handling.

Only fake chat models: `FakeListChatModel` (streams char by char, no tool calling: the joiner
falls back to text) and `ScriptedChatModel` from conftest (replies by role and question, and
with `tool_calling=True` drives the structured joiner).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from helpers import Recorder, ScriptedChatModel, decision, question_of, shape
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    FakeListChatModelError,
)
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import Command, interrupt

import llmcompiler_graph.nodes as nodes_module
from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.joiner import NO_COMPLETE_ANSWER
from llmcompiler_graph.core.prompts import FORCE_ANSWER
from llmcompiler_graph.handoff import streams
from llmcompiler_graph.journal import JOURNAL
from llmcompiler_graph.state import EmptyQuestionError

POPULATION = {"Paris": 2, "Rome": 3, "Oslo": 1}

PLAN = (
    '1. lookup(city="Paris")\n2. lookup("Rome")\n3. compare(a=$1, b="$2")\n4. join()<END_OF_PLAN>'
)
FINISH = "Thought: I have both.\nAction: Finish(Rome is bigger)"


class ToolKit:
    """Small tools that record each call: (tool, args, start time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self._lock = threading.Lock()

    def _record(self, tool: str, **args: Any) -> None:
        with self._lock:
            self.calls.append((tool, args, time.time()))

    def args_of(self, tool: str) -> list[dict[str, Any]]:
        return [args for name, args, _ in self.calls if name == tool]

    def start_of(self, tool: str, **args: Any) -> float:
        return next(t for name, a, t in self.calls if name == tool and a == args)

    @property
    def tools(self) -> list[Any]:
        kit = self

        async def lookup(city: str) -> int:
            """Population of a city, in millions."""
            kit._record("lookup", city=city)
            await asyncio.sleep(0.01)
            return POPULATION[city]

        def compare(a: int, b: int) -> str:
            """Compare two numbers."""
            kit._record("compare", a=a, b=b)
            return f"{max(a, b)} is bigger"

        def fail(x: int) -> int:
            """Always fails."""
            kit._record("fail", x=x)
            raise ValueError("boom")

        def describe(value: Any, label: str) -> str:
            """Label a value."""
            kit._record("describe", value=value, label=label)
            return f"{label}={value}"

        def huge(n: int) -> str:
            """A very long output."""
            kit._record("huge", n=n)
            return "z" * n

        return [lookup, compare, fail, describe, huge]


@pytest.fixture
def kit() -> ToolKit:
    return ToolKit()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def ask(question: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(question)]}


def fake(*responses: str, sleep: float | None = None) -> FakeListChatModel:
    """Planner and joiner replies in call order (plan, joiner, plan, joiner, ...)."""
    return FakeListChatModel(responses=list(responses), sleep=sleep)


def last_text(messages: list[BaseMessage]) -> str:
    return messages[-1].text


# graph shape


def test_graph_shape_and_mermaid(kit: ToolKit) -> None:
    """Exactly the three nodes; fixed edges from START, a conditional fan-out from the joiner."""
    drawn = create_llmcompiler(fake(FINISH), kit.tools).get_graph()
    assert set(drawn.nodes) == {"__start__", "planner", "scheduler", "joiner", "__end__"}
    edges = {(e.source, e.target, e.conditional) for e in drawn.edges}
    assert edges == {
        (START, "planner", False),
        (START, "scheduler", False),
        ("planner", "joiner", False),
        ("scheduler", "joiner", False),
        ("joiner", "planner", True),
        ("joiner", "scheduler", True),
        ("joiner", END, True),
    }
    mermaid = drawn.draw_mermaid()
    assert "joiner -.-> planner;" in mermaid
    assert "__start__ --> scheduler;" in mermaid


def test_schemas_are_messages_only(kit: ToolKit) -> None:
    """A parent sees only `messages` in the input and output schemas."""
    graph = create_llmcompiler(fake(FINISH), kit.tools)
    assert set(graph.get_input_jsonschema()["properties"]) == {"messages"}
    assert set(graph.get_output_jsonschema()["properties"]) == {"messages"}


# one round


def test_plan_then_finish_sync(kit: ToolKit, recorder: Recorder) -> None:
    """One plan, one joiner call: messages are the plan's calls, their results and the answer,
    as `create_react_agent` writes them; the output is messages-only."""
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools)
    out = graph.invoke(ask("Which is bigger, Paris or Rome?"), {"callbacks": [recorder]})
    assert set(out) == {"messages"}
    assert shape(out["messages"]) == [
        "human",
        "calls:lookup,lookup,compare",
        *["tool:success"] * 3,
        "ai",
    ]
    assert out["messages"][1].tool_calls[2]["args"] == {"a": "$1", "b": "$2"}  # as written
    assert [m.text for m in out["messages"][2:5]] == ["2", "3", "3 is bigger"]
    assert out["messages"][-1].content == "Rome is bigger"
    assert sorted(a["city"] for a in kit.args_of("lookup")) == ["Paris", "Rome"]
    assert kit.args_of("compare") == [{"a": 2, "b": 3}]  # typed values, not text
    assert len(recorder.of("planner")) == len(recorder.of("joiner")) == 1
    results = last_text(recorder.of("joiner")[0])
    assert 'Observation: "3 is bigger"' in results


async def test_structured_joiner_finish(kit: ToolKit, recorder: Recorder) -> None:
    """A model with tool calling: the joiner answers through a `JoinerDecision` tool call."""

    def script(role: str, messages: list[BaseMessage]) -> str | AIMessage:
        return PLAN if role == "planner" else decision("finish", "Rome (3) beats Paris (2)")

    model = ScriptedChatModel(script=script, tool_calling=True)
    graph = create_llmcompiler(model, kit.tools, joiner="structured")
    out = await graph.ainvoke(ask("Which is bigger?"), {"callbacks": [recorder]})
    assert out["messages"][-1] == AIMessage("Rome (3) beats Paris (2)", id=out["messages"][-1].id)
    assert "JoinerDecision" in recorder.of("joiner")[0][0].text  # the structured protocol


# replanning


async def test_replan_continues_ids_and_references(kit: ToolKit, recorder: Recorder) -> None:
    """Round 2 numbers after round 1, uses `$1` from round 1, and its prompt shows the results
    and the joiner's feedback (with parentheses intact)."""
    model = fake(
        '1. lookup(city="Paris")\n2. lookup(city="Oslo")\n3. join()<END_OF_PLAN>',
        "Thought: Rome is missing.\nAction: Replan(look up Rome (the capital), compare with $1)",
        '3. lookup(city="Rome")\n4. compare(a=$1, b="$3")\n5. join()<END_OF_PLAN>',
        FINISH,
    )
    graph = create_llmcompiler(model, kit.tools, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}, "callbacks": [recorder]}
    out = await graph.ainvoke(ask("Is Rome bigger than Paris?"), config)
    assert out["messages"][-1].content == "Rome is bigger"
    assert shape(out["messages"]) == [
        "human",
        "calls:lookup,lookup",
        "tool:success",
        "tool:success",
        "calls:lookup,compare",
        "tool:success",
        "tool:success",
        "ai",
    ]
    assert kit.args_of("compare") == [{"a": 2, "b": 3}]  # round 1's value reached round 2
    state = graph.get_state(config).values
    assert [t["idx"] for t in state["tasks"]] == [1, 2, 3, 4]
    assert [o["idx"] for o in state["observations"]] == [1, 2, 3, 4]
    assert all(o["status"] == "ok" for o in state["observations"])
    assert state["round"] == 2
    first, second = recorder.of("planner")
    assert len(first) == 2  # system + question: no replan context on round 1
    replan = last_text(second)
    assert "look up Rome (the capital), compare with $1" in replan
    assert "lookup(city='Paris')\nObservation: \"2\"" in replan
    assert "lookup(city='Oslo')\nObservation: \"1\"" in replan
    assert "continues the ids at 3" in replan
    assert "$1, $2" in replan
    # the second joiner sees both rounds
    assert 'Observation: "3 is bigger"' in last_text(recorder.of("joiner")[1])


@pytest.mark.parametrize("structured", [True, False], ids=["structured", "text"])
async def test_replan_budget_forces_an_answer(
    kit: ToolKit, recorder: Recorder, structured: bool
) -> None:
    """max_replans=1 and a joiner that always replans: 2 rounds, then a forced answer."""

    def script(role: str, messages: list[BaseMessage]) -> str | AIMessage:
        if role == "planner":
            replanning = len([m for m in messages if isinstance(m, HumanMessage)]) > 1
            city = "Rome" if replanning else "Paris"
            first = 2 if replanning else 1
            return f'{first}. lookup(city="{city}")\n{first + 1}. join()<END_OF_PLAN>'
        if structured:
            return decision("replan", "still need more", thought="not enough")
        return "Thought: not enough\nAction: Replan(still need more)"

    model = ScriptedChatModel(script=script, tool_calling=structured)
    joiner = "structured" if structured else "text"
    graph = create_llmcompiler(model, kit.tools, max_replans=1, joiner=joiner)
    out = await graph.ainvoke(ask("q"), {"callbacks": [recorder], "recursion_limit": 12})
    assert isinstance(out["messages"][-1], AIMessage)
    answer = out["messages"][-1].content
    assert answer.startswith(NO_COMPLETE_ANSWER) and answer.endswith("still need more")
    assert len(recorder.of("planner")) == len(recorder.of("joiner")) == 2
    first, second = recorder.of("joiner")
    assert FORCE_ANSWER not in last_text(first)
    assert FORCE_ANSWER in last_text(second)
    assert [a["city"] for a in kit.args_of("lookup")] == ["Paris", "Rome"]


def test_no_replan_budget_means_one_round(kit: ToolKit, recorder: Recorder) -> None:
    """max_replans=0: the first joiner call must answer."""
    model = fake(PLAN, "Thought: hmm\nAction: Replan(more please)")
    graph = create_llmcompiler(model, kit.tools, max_replans=0)
    out = graph.invoke(ask("q"), {"callbacks": [recorder]})
    answer = out["messages"][-1].content
    assert answer.startswith(NO_COMPLETE_ANSWER) and answer.endswith("more please")
    assert len(recorder.of("planner")) == len(recorder.of("joiner")) == 1
    assert FORCE_ANSWER in last_text(recorder.of("joiner")[0])


def test_max_replans_must_not_be_negative(kit: ToolKit) -> None:
    with pytest.raises(ValueError, match="max_replans"):
        create_llmcompiler(fake(FINISH), kit.tools, max_replans=-1)


async def test_replan_when_the_input_ends_with_an_ai_message(
    kit: ToolKit, recorder: Recorder
) -> None:
    """A conversation whose last message is an AIMessage (e.g. a parent agent's note after the
    question) still gets its replan: the joiner's replan must not be mistaken for an answer."""
    model = fake(
        '1. lookup(city="Paris")\n2. join()<END_OF_PLAN>',
        "Action: Replan(need Rome too)",
        '2. lookup(city="Rome")\n3. join()<END_OF_PLAN>',
        FINISH,
    )
    graph = create_llmcompiler(model, kit.tools)
    messages = [HumanMessage("Paris or Rome?"), AIMessage("Let me check with my tools.")]
    out = await graph.ainvoke({"messages": messages}, {"callbacks": [recorder]})
    assert len(recorder.of("planner")) == 2
    assert out["messages"][-1].content == "Rome is bigger"


# the text joiner protocol


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        (
            "Thought: both known.\nAction: Finish(Rome (3 M) is bigger than Paris (2 M).)",
            "Rome (3 M) is bigger than Paris (2 M).",
        ),
        ("Rome is bigger (by far).", "Rome is bigger (by far)."),
        ("Thought: easy.\nThe answer is Rome.", "The answer is Rome."),
        ("Finish(Rome, clearly)", "Rome, clearly"),
    ],
    ids=["parentheses", "no-action", "thought-no-action", "bare-finish"],
)
def test_text_joiner_answers(kit: ToolKit, reply: str, answer: str) -> None:
    """The paper's text protocol, tolerantly: parentheses survive, no Action means the answer."""
    graph = create_llmcompiler(fake(PLAN, reply), kit.tools, joiner="text")
    assert graph.invoke(ask("Which is bigger?"))["messages"][-1].content == answer


# bad plans and failing tools


def test_unknown_tool_becomes_an_error_the_joiner_sees(kit: ToolKit, recorder: Recorder) -> None:
    plan = '1. teleport(city="Paris")\n2. lookup(city="Rome")\n3. join()<END_OF_PLAN>'
    graph = create_llmcompiler(fake(plan, FINISH), kit.tools)
    out = graph.invoke(ask("q"), {"callbacks": [recorder]})
    assert out["messages"][-1].content == "Rome is bigger"
    results = last_text(recorder.of("joiner")[0])
    assert "teleport" in results
    assert "Observation: ERROR:" in results
    assert kit.args_of("lookup") == [{"city": "Rome"}]


def test_a_task_with_a_taken_id_is_rejected_and_the_joiner_hears_why(
    kit: ToolKit, recorder: Recorder
) -> None:
    plan = '1. lookup(city="Paris")\n2. lookup(city="Rome")\n2. lookup(city="Oslo")\njoin()'
    graph = create_llmcompiler(fake(plan, FINISH), kit.tools, checkpointer=InMemorySaver())
    config: Any = {"callbacks": [recorder], "configurable": {"thread_id": "dup"}}
    graph.invoke(ask("q"), config)
    assert kit.args_of("lookup") == [{"city": "Paris"}, {"city": "Rome"}]
    state = graph.get_state(config).values
    assert [t["args"] for t in state["rejected"]] == [{"city": "Oslo"}]
    results = last_text(recorder.of("joiner")[0])
    assert "Rejected, not run: 2. lookup(city='Oslo')" in results
    assert "duplicate id 2" in results


async def test_failing_tool_errors_and_skips_dependents(kit: ToolKit, recorder: Recorder) -> None:
    plan = (
        '1. fail(x=1)\n2. lookup(city="$1")\n3. lookup(city="Rome")\n4. describe(value=$2, '
        'label="x")\n5. join()<END_OF_PLAN>'
    )
    graph = create_llmcompiler(fake(plan, FINISH), kit.tools, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}, "callbacks": [recorder]}
    out = await graph.ainvoke(ask("q"), config)
    assert out["messages"][-1].content == "Rome is bigger"
    assert kit.args_of("lookup") == [{"city": "Rome"}]
    assert kit.args_of("describe") == []
    statuses = {o["idx"]: o["status"] for o in graph.get_state(config).values["observations"]}
    assert statuses == {1: "error", 2: "skipped", 3: "ok", 4: "skipped"}
    results = last_text(recorder.of("joiner")[0])
    assert 'ERROR: "ValueError: boom"' in results
    assert 'ERROR: "skipped: dependency 1 failed"' in results


def test_plan_without_join_is_joined(kit: ToolKit) -> None:
    graph = create_llmcompiler(fake('1. lookup(city="Paris")', FINISH), kit.tools)
    events = list(graph.stream(ask("q"), stream_mode="custom"))
    assert kit.args_of("lookup") == [{"city": "Paris"}]
    finished = next(e for e in events if e["event"] == "plan_finished")
    assert (finished["tasks"], finished["joined"]) == (1, False)
    assert events[-1]["answer"] == "Rome is bigger"


def test_garbage_plan_still_gets_an_answer(kit: ToolKit, recorder: Recorder) -> None:
    model = fake("I am not sure which tools to use, sorry!", "Action: Finish(I cannot tell.)")
    out = create_llmcompiler(model, kit.tools).invoke(ask("q"), {"callbacks": [recorder]})
    assert out["messages"][-1].content == "I cannot tell."
    assert kit.calls == []
    assert "(no tasks)" in last_text(recorder.of("joiner")[0])


def test_joiner_prompt_truncates_observations(kit: ToolKit, recorder: Recorder) -> None:
    """The joiner never sees unbounded tool output; state keeps the full value."""
    graph = create_llmcompiler(
        fake("1. huge(n=5000)\n2. join()", FINISH),
        kit.tools,
        max_observation_chars=100,
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "t"}, "callbacks": [recorder]}
    graph.invoke(ask("q"), config)
    results = last_text(recorder.of("joiner")[0])
    assert "z" * 100 in results
    assert "z" * 101 not in results
    assert "4900 more characters truncated" in results
    assert graph.get_state(config).values["observations"][0]["value"] == "z" * 5000


@pytest.mark.parametrize(
    "messages",
    [[], [("user", "   ")], [SystemMessage("Be brief.")], [AIMessage("Hello!")]],
    ids=["no-messages", "blank", "system-only", "ai-only"],
)
async def test_empty_question_raises_quickly(
    kit: ToolKit, messages: list[Any], recorder: Recorder
) -> None:
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools)
    started = time.monotonic()
    with pytest.raises(EmptyQuestionError, match="needs a question"):
        await graph.ainvoke({"messages": messages}, {"callbacks": [recorder]})
    with pytest.raises(EmptyQuestionError):
        graph.invoke({"messages": messages})
    assert time.monotonic() - started < 5  # no waiting on a planner that never comes
    assert recorder.prompts == []
    assert kit.calls == []


# streaming dispatch


SLOW_PLAN = (
    '1. lookup(city="Paris")\n'
    "Thought: the next task takes a while to write, long enough to measure it clearly.\n"
    '2. lookup(city="Rome")\n3. join()<END_OF_PLAN>'
)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_first_tool_starts_while_the_plan_streams(
    kit: ToolKit, recorder: Recorder, mode: str
) -> None:
    """Task 1 starts before the planner's LLM stream produced its last token."""
    graph = create_llmcompiler(fake(SLOW_PLAN, FINISH, sleep=0.004), kit.tools)
    config = {"callbacks": [recorder]}
    if mode == "invoke":
        out = await asyncio.to_thread(graph.invoke, ask("q"), config)
    else:
        out = await graph.ainvoke(ask("q"), config)
    assert out["messages"][-1].content == "Rome is bigger"
    assert kit.start_of("lookup", city="Paris") < recorder.stream_end("planner")
    assert kit.start_of("lookup", city="Paris") < kit.start_of("lookup", city="Rome")


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_first_tool_starts_before_plan_finished_event(kit: ToolKit, mode: str) -> None:
    """The same ordering fact, read off the custom events."""
    graph = create_llmcompiler(fake(SLOW_PLAN, FINISH, sleep=0.004), kit.tools)
    events = await collect(graph, ask("q"), mode, "custom")
    plan_finished = next(e["time"] for e in events if e["event"] == "plan_finished")
    first_start = next(e for e in events if e["event"] == "task_started")
    assert first_start["idx"] == 1
    assert first_start["started_at"] < plan_finished
    assert events.index(first_start) < [e["event"] for e in events].index("plan_finished")


async def collect(graph: Any, inputs: Any, mode: str, stream_mode: Any, **kw: Any) -> list[Any]:
    """Everything `stream` / `astream` yields (sync streaming runs in a worker thread)."""
    if mode == "stream":
        return await asyncio.to_thread(
            lambda: list(graph.stream(inputs, stream_mode=stream_mode, **kw))
        )
    return [chunk async for chunk in graph.astream(inputs, stream_mode=stream_mode, **kw)]


# custom events


def one_event(events: list[dict[str, Any]], name: str, idx: int) -> dict[str, Any]:
    (found,) = [e for e in events if e["event"] == name and e.get("idx") == idx]
    return found


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_custom_events_per_task(kit: ToolKit, mode: str) -> None:
    """plan_started, then per task planned < started < finished, then joiner_decision; every
    event carries the documented fields."""
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools, name="calc")
    events = await collect(graph, ask("Which is bigger?"), mode, "custom")
    names = [e["event"] for e in events]
    assert names[0] == "plan_started"
    assert names[-1] == "joiner_decision"
    assert names.count("plan_finished") == 1
    for event in events:
        assert {"event", "graph", "round", "time"} <= set(event)
        assert (event["graph"], event["round"]) == ("calc", 1)
    times = [e["time"] for e in events if e["event"].startswith("task_")]
    assert times == sorted(times)

    for idx in (1, 2, 3):
        planned, started, finished = (
            one_event(events, f"task_{n}", idx) for n in ("planned", "started", "finished")
        )
        assert events.index(planned) < events.index(started) < events.index(finished)
        assert planned["tool"] == started["tool"] == finished["tool"]
        assert finished["status"] == "ok"
        assert finished["error"] is None
        assert finished["dispatched_at"] <= finished["started_at"] <= finished["finished_at"]
        assert finished["duration"] == pytest.approx(
            finished["finished_at"] - finished["started_at"]
        )
        assert started["dispatched_at"] == finished["dispatched_at"]
    planned3, started3, finished3 = (
        one_event(events, f"task_{n}", 3) for n in ("planned", "started", "finished")
    )
    assert planned3["args"] == {"a": "$1", "b": "$2"}
    assert planned3["dependencies"] == [1, 2]
    assert planned3["thought"] is None and planned3["error"] is None
    assert started3["args"] == {"a": 2, "b": 3}  # as called
    assert finished3["args"] == planned3["args"]  # as planned
    assert finished3["preview"] == "3 is bigger"
    assert events.index(started3) > max(
        events.index(one_event(events, "task_finished", i)) for i in (1, 2)
    )
    plan_finished = events[names.index("plan_finished")]
    assert (plan_finished["tasks"], plan_finished["joined"]) == (3, True)
    decided = events[-1]
    assert (decided["decision"], decided["thought"]) == ("finish", "I have both.")
    assert (decided["answer"], decided["feedback"]) == ("Rome is bigger", None)


def test_error_and_skip_events(kit: ToolKit) -> None:
    plan = '1. fail(x=1)\n2. lookup(city="$1")\n3. nosuch()\n4. join()'
    graph = create_llmcompiler(fake(plan, FINISH), kit.tools)
    events = list(graph.stream(ask("q"), stream_mode="custom"))
    failed = one_event(events, "task_finished", 1)
    assert (failed["status"], failed["error"], failed["preview"]) == (
        "error",
        "ValueError: boom",
        None,
    )
    skipped = one_event(events, "task_finished", 2)
    assert skipped["status"] == "skipped"
    assert skipped["started_at"] is None and skipped["duration"] is None
    assert one_event(events, "task_finished", 3)["status"] == "error"
    assert not [e for e in events if e["event"] == "task_started" and e["idx"] != 1]


async def test_round_numbers_in_events(kit: ToolKit) -> None:
    model = fake(
        '1. lookup(city="Paris")\n2. join()',
        "Action: Replan(and Rome)",
        '2. lookup(city="Rome")\n3. join()',
        FINISH,
    )
    graph = create_llmcompiler(model, kit.tools)
    events = [e async for e in graph.astream(ask("q"), stream_mode="custom")]
    rounds = [(e["event"], e["round"]) for e in events if e["event"] != "task_started"]
    assert ("joiner_decision", 1) in rounds and ("joiner_decision", 2) in rounds
    assert one_event(events, "task_finished", 2)["round"] == 2
    replan = next(e for e in events if e["event"] == "joiner_decision")
    assert (replan["decision"], replan["feedback"], replan["answer"]) == (
        "replan",
        "and Rome",
        None,
    )


# stream_mode="messages"


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("stream_plan", [False, True])
async def test_messages_stream_shows_the_answer_and_on_request_the_plan(
    kit: ToolKit, mode: str, stream_plan: bool
) -> None:
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools, stream_plan=stream_plan)
    chunks = await collect(graph, ask("q"), mode, "messages")
    planner = "".join(m.text for m, meta in chunks if meta["langgraph_node"] == "planner")
    if stream_plan:
        assert planner.startswith('1. lookup(city="Paris")\n2. lookup("Rome")')
        assert "join()" in planner
    else:
        assert planner == ""
    joiner = [m for m, meta in chunks if meta["langgraph_node"] == "joiner"]
    assert "".join(m.text for m in joiner) == "Rome is bigger"  # the answer, not the protocol
    assert len(joiner) > 1, "the answer streamed as it was written (it has no `)`)"
    assert all(isinstance(m, AIMessage) for m in joiner)


# the caller's system message


def test_caller_system_message_is_merged(kit: ToolKit, recorder: Recorder) -> None:
    """The model always gets one system message, first, carrying the caller's instructions."""
    model = fake(PLAN, "Action: Replan(again)", '4. lookup(city="Oslo")\n5. join()', FINISH)
    messages = [
        SystemMessage("Always answer in French."),
        HumanMessage("Which is bigger?"),
        SystemMessage("Be terse."),
    ]
    graph = create_llmcompiler(model, kit.tools)
    graph.invoke({"messages": messages}, {"callbacks": [recorder]})
    assert len(recorder.prompts) == 4
    for _, prompt in recorder.prompts:
        systems = [i for i, m in enumerate(prompt) if isinstance(m, SystemMessage)]
        assert systems == [0]
        assert "Always answer in French." in prompt[0].text
        assert "Be terse." in prompt[0].text
        assert prompt[1].text == "Which is bigger?"


# used inside a parent graph


class ParentState(MessagesState):
    notes: list[str]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_as_a_node_of_a_parent_graph(kit: ToolKit, mode: str) -> None:
    """The compiled graph added directly as a node; the parent keeps its own keys."""
    sub = create_llmcompiler(fake(PLAN, FINISH), kit.tools)
    builder = StateGraph(ParentState)
    builder.add_node("before", lambda s: {"notes": [*s["notes"], "before"]})
    builder.add_node("llmcompiler", sub)
    builder.add_node("after", lambda s: {"notes": [*s["notes"], s["messages"][-1].text]})
    builder.add_edge(START, "before")
    builder.add_edge("before", "llmcompiler")
    builder.add_edge("llmcompiler", "after")
    parent = builder.compile()
    inputs = {"messages": [("user", "Which is bigger?")], "notes": ["start"]}
    if mode == "invoke":
        out = await asyncio.to_thread(parent.invoke, inputs)
    else:
        out = await parent.ainvoke(inputs)
    assert out["notes"] == ["start", "before", "Rome is bigger"]
    assert shape(out["messages"]) == [
        "human",
        "calls:lookup,lookup,compare",
        *["tool:success"] * 3,
        "ai",
    ]
    assert set(out) == {"messages", "notes"}
    assert kit.args_of("compare") == [{"a": 2, "b": 3}]


async def test_as_a_subgraph_with_the_parents_checkpointer(kit: ToolKit) -> None:
    """Two turns through a checkpointed parent: the second turn's ids start at 1 again."""
    model = fake(PLAN, FINISH, '1. describe(value="Oslo", label="x")\n2. join()', FINISH)
    builder = StateGraph(ParentState)
    builder.add_node("llmcompiler", create_llmcompiler(model, kit.tools))
    builder.add_edge(START, "llmcompiler")
    parent = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "p"}}
    await parent.ainvoke({"messages": [("user", "one")], "notes": []}, config)
    out = await parent.ainvoke({"messages": [("user", "two")]}, config)
    assert shape(out["messages"]) == [
        "human",
        "calls:lookup,lookup,compare",
        *["tool:success"] * 3,
        "ai",
        "human",
        "calls:describe",
        "tool:success",
        "ai",
    ]
    assert kit.args_of("describe") == [{"value": "Oslo", "label": "x"}]


async def test_called_from_a_parent_node_function(kit: ToolKit) -> None:
    sub = create_llmcompiler(fake(PLAN, FINISH), kit.tools)

    async def delegate(state: ParentState) -> dict[str, Any]:
        out = await sub.ainvoke({"messages": state["messages"]})
        return {"messages": [out["messages"][-1]], "notes": ["delegated"]}

    builder = StateGraph(ParentState)
    builder.add_node("delegate", delegate)
    builder.add_edge(START, "delegate")
    out = await builder.compile().ainvoke({"messages": [("user", "q")], "notes": []})
    assert out["messages"][-1].content == "Rome is bigger"
    assert out["notes"] == ["delegated"]


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
async def test_two_instances_in_one_parent_superstep_stay_apart(kit: ToolKit, mode: str) -> None:
    """Two LLMCompiler subgraphs as parallel nodes of one parent superstep: each scheduler runs
    its own planner's tasks only (their handoff keys differ by namespace and checkpoint)."""
    slow = 0.002  # both plans stream at once, interleaved
    paris = create_llmcompiler(
        fake('1. describe(value="P", label="paris")\n2. join()', FINISH, sleep=slow), kit.tools
    )
    oslo = create_llmcompiler(
        fake('1. describe(value="O", label="oslo")\n2. join()', FINISH, sleep=slow), kit.tools
    )
    builder = StateGraph(MessagesState)
    builder.add_node("paris", paris)
    builder.add_node("oslo", oslo)
    builder.add_edge(START, "paris")
    builder.add_edge(START, "oslo")
    parent = builder.compile()
    if mode == "invoke":
        await asyncio.to_thread(parent.invoke, ask("q"))
    else:
        await parent.ainvoke(ask("q"))
    assert sorted(map(str, kit.args_of("describe"))) == sorted(
        [str({"value": "P", "label": "paris"}), str({"value": "O", "label": "oslo"})]
    )
    assert len(streams) == 0


# isolation between concurrent runs and between turns


def by_question(role: str, messages: list[BaseMessage]) -> str:
    """Plans and answers that depend on the question (a city name)."""
    city = question_of(messages)
    if role == "planner":
        return (
            f'1. lookup(city="{city}")\n'
            f"Thought: now label it for {city}, slowly enough to interleave with another run.\n"
            f'2. describe(value=$1, label="{city}")\n3. join()<END_OF_PLAN>'
        )
    observation = json.loads(last_text(messages).rsplit("Observation: ", 1)[-1])
    return f"Action: Finish({city}: {observation})"


async def test_concurrent_ainvoke_runs_do_not_mix(kit: ToolKit) -> None:
    graph = create_llmcompiler(ScriptedChatModel(script=by_question, sleep=0.002), kit.tools)
    cities = ["Paris", "Rome", "Oslo"]
    outs = await asyncio.gather(*(graph.ainvoke(ask(c)) for c in cities))
    assert [o["messages"][-1].content for o in outs] == [
        f"{c}: {c}={POPULATION[c]}" for c in cities
    ]
    described = sorted((a["label"], a["value"]) for a in kit.args_of("describe"))
    assert described == sorted((c, POPULATION[c]) for c in cities)
    assert len(kit.args_of("lookup")) == 3
    # they really overlapped: every run's first tool started before any run finished
    first_starts = [kit.start_of("lookup", city=c) for c in cities]
    last_starts = [kit.start_of("describe", value=POPULATION[c], label=c) for c in cities]
    assert max(first_starts) < min(last_starts)


def test_concurrent_sync_invokes_in_threads_do_not_mix(kit: ToolKit) -> None:
    graph = create_llmcompiler(ScriptedChatModel(script=by_question, sleep=0.002), kit.tools)
    cities = ["Paris", "Rome", "Oslo"]
    with ThreadPoolExecutor(3) as pool:
        outs = list(pool.map(lambda c: graph.invoke(ask(c)), cities))
    assert [o["messages"][-1].content for o in outs] == [
        f"{c}: {c}={POPULATION[c]}" for c in cities
    ]
    described = sorted((a["label"], a["value"]) for a in kit.args_of("describe"))
    assert described == sorted((c, POPULATION[c]) for c in cities)


async def test_second_turn_on_a_thread_starts_at_one(kit: ToolKit, recorder: Recorder) -> None:
    """Turn 2 numbers from 1 and its `$1` is turn 2's result, never turn 1's."""
    graph = create_llmcompiler(
        ScriptedChatModel(script=by_question), kit.tools, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}, "callbacks": [recorder]}
    await graph.ainvoke(ask("Paris"), config)
    out = await graph.ainvoke(ask("Rome"), config)
    dialogue = [m for m in out["messages"] if isinstance(m, HumanMessage) or m.type == "ai"]
    texts = [m.text for m in dialogue if not getattr(m, "tool_calls", None)]
    assert texts == ["Paris", "Paris: Paris=2", "Rome", "Rome: Rome=3"]
    assert kit.args_of("describe") == [
        {"value": 2, "label": "Paris"},
        {"value": 3, "label": "Rome"},
    ]
    state = graph.get_state(config).values
    assert [t["idx"] for t in state["tasks"]] == [1, 2]
    assert [o["value"] for o in state["observations"]] == [3, "Rome=3"]
    assert state["round"] == 1
    # turn 2's planner got the conversation but no replan context from turn 1
    second_planner = recorder.of("planner")[1]
    assert [m.text for m in second_planner[1:]] == [
        "Paris",
        "Called lookup(city='Paris')\nResult: \"2\"\n"
        "Called describe(value='$1', label='Paris')\nResult: \"Paris=2\"",
        "Paris: Paris=2",
        "Rome",
    ]


# catch-up: tasks in state without observations


async def test_catch_up_from_state(kit: ToolKit, recorder: Recorder) -> None:
    """A checkpointed thread whose plan was written but never executed (the planner's superstep
    was cut off): resuming routes joiner -> scheduler alone, then answers."""
    graph = create_llmcompiler(
        fake("Action: Finish(caught up)"), kit.tools, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}, "callbacks": [recorder]}
    question = HumanMessage("q", id="q-1")
    tasks = [
        {
            "idx": 1,
            "tool": "lookup",
            "args": {"city": "Paris"},
            "dependencies": [],
            "thought": None,
            "error": None,
        },
        {
            "idx": 2,
            "tool": "describe",
            "args": {"value": "$1", "label": "p"},
            "dependencies": [1],
            "thought": None,
            "error": None,
        },
    ]
    await graph.aupdate_state(
        config,
        {"messages": [question], "turn_id": "q-1", "round": 1, "tasks": tasks, "observations": []},
        as_node="planner",
    )
    assert (await graph.aget_state(config)).next == ("joiner",)
    updates = [u async for u in graph.astream(None, config, stream_mode="updates")]
    nodes = [next(iter(u)) for u in updates if JOURNAL not in u]
    assert nodes == ["joiner", "scheduler", "joiner"]
    state = (await graph.aget_state(config)).values
    assert [(o["idx"], o["status"]) for o in state["observations"]] == [(1, "ok"), (2, "ok")]
    assert kit.args_of("describe") == [{"value": 2, "label": "p"}]
    assert state["messages"][-1].content == "caught up"
    assert recorder.of("planner") == []
    assert 'Observation: "p=2"' in last_text(recorder.of("joiner")[0])


async def test_catch_up_when_the_scheduler_never_saw_the_planner(
    kit: ToolKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner shows up after the scheduler's producer_timeout: the scheduler gives up on
    the live stream, the joiner waits, and catch-up executes the plan from state. Run with the
    sync `stream` inside a running loop, so the lone catch-up scheduler runs in this thread."""
    attach = nodes_module.producing

    @contextlib.contextmanager
    def late(key: str) -> Any:
        time.sleep(0.3)  # the planner node starts long after the scheduler
        with attach(key) as stream:
            yield stream

    monkeypatch.setattr(nodes_module, "producing", late)
    graph = create_llmcompiler(
        fake(PLAN, FINISH), kit.tools, max_replans=1, producer_timeout=0.05, name="late"
    )
    chunks = list(graph.stream(ask("q"), stream_mode=["updates", "custom"]))
    nodes = [next(iter(data)) for kind, data in chunks if kind == "updates"]
    assert nodes[-3:] == ["joiner", "scheduler", "joiner"]
    events = [data for kind, data in chunks if kind == "custom"]
    finished = [e["idx"] for e in events if e["event"] == "task_finished"]
    assert sorted(finished) == [1, 2, 3]
    assert events[-1]["answer"] == "Rome is bigger"
    assert kit.args_of("compare") == [{"a": 2, "b": 3}]


# sync entry points inside a running event loop (Jupyter)


async def test_sync_invoke_inside_a_running_loop(kit: ToolKit) -> None:
    asyncio.get_running_loop()  # the Jupyter situation: a loop runs in this thread
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools)
    out = graph.invoke(ask("q"))
    assert out["messages"][-1].content == "Rome is bigger"
    events = list(graph.stream(ask("q"), stream_mode="custom"))
    assert events[-1]["answer"] == "Rome is bigger"


# human in the loop: interrupt() inside a tool


def approvals(kit: ToolKit) -> Any:
    """A tool that asks a human through `interrupt()`."""

    def approve(text: str) -> str:
        """Ask a human to approve."""
        kit._record("approve", text=text)
        return f"{text}->{interrupt(text)}"

    return approve


def observations_answer(role: str, messages: list[BaseMessage]) -> str:
    """Plans from the question; the joiner answers with the observations, joined."""
    if role == "planner":
        return question_of(messages)
    lines = last_text(messages).splitlines()
    observed = [json.loads(x[13:]) for x in lines if x.startswith("Observation: ")]
    return "Finish(" + " | ".join(observed) + ")"


async def test_interrupt_in_the_last_task_pauses_at_once(kit: ToolKit) -> None:
    """A tool's `interrupt()` pauses the run the first time the tool runs (not after a second,
    catch-up call), and resuming delivers the human's value to it."""
    plan = (
        '1. approve(text="send it")\n'
        "Thought: that is all, but this line takes a while to stream so the tool finishes first.\n"
        "2. join()<END_OF_PLAN>"
    )
    model = ScriptedChatModel(script=observations_answer, sleep=0.003)
    graph = create_llmcompiler(
        model, [approvals(kit)], checkpointer=InMemorySaver(), producer_timeout=1.0
    )
    config = {"configurable": {"thread_id": "t"}}
    out = await graph.ainvoke(ask(plan), config)
    assert [i.value for i in out["__interrupt__"]] == ["send it"]
    assert len(kit.args_of("approve")) == 1
    out = await graph.ainvoke(Command(resume="yes"), config)
    assert "__interrupt__" not in out
    assert out["messages"][-1].content == "send it->yes"


async def test_interrupt_while_the_plan_streams_resumes(kit: ToolKit) -> None:
    """An `interrupt()` raised while the planner is still streaming: one resume completes the
    run (the resumed scheduler finds the plan again instead of waiting for a planner that will
    not come, and the human's answer reaches the tool)."""
    plan = (
        '1. approve(text="send it")\n'
        "Thought: this line takes a while to stream so the tool interrupts first.\n"
        '2. lookup(city="Paris")\n3. join()<END_OF_PLAN>'
    )
    model = ScriptedChatModel(script=observations_answer, sleep=0.003)
    graph = create_llmcompiler(
        model, [approvals(kit), *kit.tools], checkpointer=InMemorySaver(), producer_timeout=1.0
    )
    config = {"configurable": {"thread_id": "t"}}
    out = await graph.ainvoke(ask(plan), config)
    assert [i.value for i in out["__interrupt__"]] == ["send it"]
    started = time.monotonic()
    out = await graph.ainvoke(Command(resume="yes"), config)
    assert "__interrupt__" not in out
    assert out["messages"][-1].content == "send it->yes | 2"
    assert time.monotonic() - started < 0.9  # did not sit out producer_timeout


# a failing planner stream


def test_planner_stream_failing_after_a_task_keeps_the_partial_plan(kit: ToolKit) -> None:
    plan = '1. lookup(city="Paris")\n2. lookup(city="Rome")\n3. join()'
    # the fake breaks every stream at its 30th chunk: the joiner's reply is shorter
    model = FakeListChatModel(responses=[plan, "Answer: Rome is bigger"], error_on_chunk_number=30)
    out = create_llmcompiler(model, kit.tools).invoke(ask("q"))
    assert out["messages"][-1].content == "Rome is bigger"
    assert kit.args_of("lookup") == [{"city": "Paris"}]


async def test_planner_stream_failing_before_any_task_fails_fast(kit: ToolKit) -> None:
    model = FakeListChatModel(responses=[PLAN, FINISH], error_on_chunk_number=3)
    graph = create_llmcompiler(model, kit.tools)
    started = time.monotonic()
    with pytest.raises(FakeListChatModelError):
        await graph.ainvoke(ask("q"))
    assert time.monotonic() - started < 5
    assert kit.calls == []


# the planner failing or being cancelled


class BrokenPlanner(FakeListChatModel):
    """A model whose every call fails at once (auth error, exhausted retries...)."""

    def _stream(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the provider said no")

    async def _astream(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the provider said no")
        yield  # an async generator


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_planner_failure_surfaces_at_once(kit: ToolKit, mode: str) -> None:
    """The scheduler never waits out producer_timeout for a planner that already failed."""
    graph = create_llmcompiler(BrokenPlanner(responses=["unused"]), kit.tools, producer_timeout=30)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="provider said no"):
        if mode == "sync":
            await asyncio.to_thread(graph.invoke, ask("q"))
        else:
            await graph.ainvoke(ask("q"))
    assert time.perf_counter() - start < 10
    assert len(streams) == 0


async def test_resume_after_cancel_runs_the_new_plan_only(kit: ToolKit) -> None:
    """A run cancelled while its plan streams, then resumed: the resumed planner writes a new
    plan, and each task's observation comes from its own call (never the cancelled plan's)."""
    plans = iter(
        [
            '1. lookup(city="Paris")\nThought: ' + "slow " * 40 + '\n2. lookup(city="Rome")\n'
            "3. join()<END_OF_PLAN>",
            '1. lookup(city="Oslo")\n2. join()<END_OF_PLAN>',
        ]
    )

    def script(role: str, messages: list[BaseMessage]) -> str:
        return next(plans) if role == "planner" else "Action: Finish(done)"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script, sleep=0.005),
        kit.tools,
        joiner="text",
        checkpointer=InMemorySaver(),
        producer_timeout=1,
    )
    config = {"configurable": {"thread_id": "cancelled"}}
    run = asyncio.create_task(graph.ainvoke(ask("q"), config))
    await asyncio.sleep(0.3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    out = await graph.ainvoke(None, config)
    state = (await graph.aget_state(config)).values
    assert out["messages"][-1].content == "done"
    assert [(t["idx"], t["args"]) for t in state["tasks"]] == [(1, {"city": "Oslo"})]
    assert [(o["idx"], o["value"]) for o in state["observations"]] == [(1, POPULATION["Oslo"])]


async def test_a_runaway_plan_is_cut_at_max_tasks(kit: ToolKit) -> None:
    """A model that keeps writing tasks starts at most max_tasks tools; the joiner sees the cut."""
    runaway = "\n".join(f'{i}. lookup(city="Oslo{i}")' for i in range(1, 30)) + "\n30. join()"
    model = fake(runaway, FINISH)
    recorder = Recorder()
    graph = create_llmcompiler(model, kit.tools, joiner="text", max_tasks=3)
    out = await graph.ainvoke(ask("q"), {"callbacks": [recorder]})
    assert out["messages"][-1].content == "Rome is bigger"
    assert len(kit.args_of("lookup")) == 3
    joiner_prompt = last_text(recorder.of("joiner")[0])
    assert "exceeds max_tasks=3" in joiner_prompt
    assert "5. lookup" not in joiner_prompt


def test_closing_a_sync_stream_returns_at_once_and_starts_no_tool() -> None:
    """A chain of three 0.5 s sync tools: closing `stream()` during the first one returns at
    once (the first finishes in the background) and the other two never start."""
    log: list[tuple[float, str]] = []

    def work(key: str) -> str:
        """Work on a key."""
        log.append((time.time(), f"start {key}"))
        time.sleep(0.5)
        log.append((time.time(), f"end {key}"))
        return key

    plan = '1. work("a")\n2. work("$1")\n3. work("$2")\n4. join()<END_OF_PLAN>'
    graph = create_llmcompiler(
        ScriptedChatModel(script=lambda role, _: plan if role == "planner" else "Finish(x)"),
        [work],
        joiner="text",
    )
    events = graph.stream(ask("q"), stream_mode="custom")
    next(e for e in events if e["event"] == "task_started")
    closing = time.time()
    events.close()
    closed = time.time() - closing
    time.sleep(1.2)
    assert closed < 0.3, closed
    assert [what for _, what in log] == ["start a", "end a"]


def test_closing_a_sync_stream_while_the_plan_streams_returns_at_once() -> None:
    plan = '1. lookup(city="Paris")\n2. lookup(city="Rome")\n3. join()<END_OF_PLAN>'
    model = ScriptedChatModel(
        script=lambda role, _: plan if role == "planner" else "Finish(x)", sleep=0.05
    )

    def lookup(city: str) -> str:
        """Look a city up."""
        return city

    graph = create_llmcompiler(model, [lookup], joiner="text")
    events = graph.stream(ask("q"), stream_mode="custom")
    next(e for e in events if e["event"] == "plan_started")
    closing = time.time()
    events.close()
    assert time.time() - closing < 0.5  # the rest of the plan would take about 3 s


async def test_a_replan_reuses_an_identical_earlier_call(kit: ToolKit) -> None:
    """Round 2 plans the call round 1 already made: the tool is not called again, and the
    task's events say whose result it took."""
    model = fake(
        '1. lookup(city="Paris")\n2. join()',
        "Thought: need more\nAction: Replan(look again)",
        '2. lookup(city="Paris")\n3. lookup(city="Rome")\n4. join()',
        FINISH,
    )
    graph = create_llmcompiler(model, kit.tools, joiner="text")
    events = [e async for e in graph.astream(ask("q"), stream_mode="custom")]
    assert kit.args_of("lookup") == [{"city": "Paris"}, {"city": "Rome"}]
    finished = {e["idx"]: e for e in events if e["event"] == "task_finished"}
    assert finished[2]["reused_from"] == 1 and finished[2]["status"] == "ok"
    assert finished[3]["reused_from"] is None


# the answer streams (lean joiner)


@pytest.mark.parametrize("sync", [True, False], ids=["stream", "astream"])
async def test_the_lean_answer_streams_as_one_message_that_state_keeps(
    kit: ToolKit, sync: bool
) -> None:
    """The answer's tokens reach `stream_mode="messages"` before the joiner's reply ends, as
    chunks of one message whose id the final `AIMessage` keeps; the protocol's `Answer:` and
    the plan never show."""
    answer = "Rome is bigger, with 3 million people against 2."

    def script(role: str, messages: list[BaseMessage]) -> str:
        return PLAN if role == "planner" else f"Answer: {answer}"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script, chunk=3, sleep=0.001),
        kit.tools,
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": f"lean-{sync}"}}
    chunks: list[tuple[str, str | None, str]] = []
    if sync:
        for message, metadata in graph.stream(ask("q"), config, stream_mode="messages"):
            if message.text and not isinstance(message, ToolMessage):
                chunks.append((metadata["langgraph_node"], message.id, message.text))
        final = graph.get_state(config).values["messages"][-1]
    else:
        async for message, metadata in graph.astream(ask("q"), config, stream_mode="messages"):
            if message.text and not isinstance(message, ToolMessage):
                chunks.append((metadata["langgraph_node"], message.id, message.text))
        final = (await graph.aget_state(config)).values["messages"][-1]
    assert {node for node, _, _ in chunks} == {"joiner"}
    assert {id for _, id, _ in chunks} == {final.id}
    assert len(chunks) > 5, "the answer arrived in one piece"
    assert "".join(text for _, _, text in chunks) == answer == final.text


def test_updates_narrowed_to_the_output_keys_still_show_each_nodes_write(kit: ToolKit) -> None:
    """The LangGraph server streams with `output_keys=["messages"]`: the planner's and the
    scheduler's updates still show what they wrote; `values` stay as narrow as asked."""
    graph = create_llmcompiler(fake(PLAN, FINISH), kit.tools)
    parts = list(
        graph.stream(ask("q"), stream_mode=["updates", "values"], output_keys=["messages"])
    )
    updates = {
        node: value for mode, chunk in parts if mode == "updates" for node, value in chunk.items()
    }
    assert [t["tool"] for t in updates["planner"]["tasks"]] == ["lookup", "lookup", "compare"]
    assert len(updates["scheduler"]["observations"]) == 3
    assert updates["joiner"]["decision"] == "finish"
    assert all(set(chunk) == {"messages"} for mode, chunk in parts if mode == "values")
    assert not any(mode == "tasks" for mode, _ in parts)
