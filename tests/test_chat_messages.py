"""`messages` in the shape chat UIs render: each round's tool calls, a ToolMessage per task, the
answer; shown live in `stream_mode="messages"`; earlier turns' calls readable by the next turn."""

from __future__ import annotations

import asyncio
from typing import Any

from helpers import ScriptedChatModel, shape
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from llmcompiler_graph import create_llmcompiler

POPULATION = {"Paris": 2, "Rome": 3}
PLAN = '1. lookup(city="Paris")\n2. lookup(city="Rome")\n3. compare(a=$1, b=$2)\n4. join()'


async def lookup(city: str) -> int:
    """Population of a city, in millions."""
    await asyncio.sleep(0.05)
    return POPULATION[city]


@tool
def compare(a: int, b: int) -> dict[str, int]:
    """Compare two numbers."""
    return {"bigger": max(a, b), "smaller": min(a, b)}


def answering(plan: str = PLAN, asked: list[list[BaseMessage]] | None = None) -> Any:
    def script(role: str, messages: list[BaseMessage]) -> str:
        if asked is not None:
            asked.append(messages)
        return plan if role == "planner" else "Answer: Rome"

    return script


async def test_each_call_shows_as_it_parses_and_each_result_as_its_task_ends() -> None:
    """Ordering facts: task 1's call and result are in the messages stream before the planner
    (slow, 20 ms a character) has finished writing the plan."""
    graph = create_llmcompiler(
        ScriptedChatModel(script=answering(), chunk=4, sleep=0.02), [lookup, compare]
    )
    seen: list[tuple[str, Any]] = []
    async for mode, chunk in graph.astream(
        {"messages": [("user", "Which is bigger?")]}, stream_mode=["messages", "updates"]
    ):
        if mode == "messages":
            seen.append(("message", chunk[0]))
        else:
            seen.extend(("update", node) for node in chunk)
    planner_done = seen.index(("update", "planner"))
    calls = [
        (i, c)
        for i, (kind, m) in enumerate(seen)
        if isinstance(m, AIMessageChunk)
        for c in m.tool_call_chunks
    ]
    results = {m.tool_call_id: i for i, (kind, m) in enumerate(seen) if isinstance(m, ToolMessage)}
    assert [c["name"] for _, c in calls] == ["lookup", "lookup", "compare"]
    first_call_at, first_call = calls[0]
    assert first_call_at < results[first_call["id"]] < planner_done
    assert {c["id"] for _, c in calls} == set(results)
    ids = {m.id for kind, m in seen if isinstance(m, AIMessageChunk) and m.tool_call_chunks}
    assert len(ids) == 1  # chunks of one message: a UI merges them by index


def test_state_keeps_the_calls_results_and_answer_with_stable_ids() -> None:
    graph = create_llmcompiler(
        ScriptedChatModel(script=answering()), [lookup, compare], checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "t"}}
    streamed: dict[str, BaseMessage] = {}
    for message, _ in graph.stream(
        {"messages": [("user", "Which is bigger?")]}, config, stream_mode="messages"
    ):
        streamed.setdefault(message.id, message)
    messages = graph.get_state(config).values["messages"]
    assert shape(messages) == ["human", "calls:lookup,lookup,compare", *["tool:success"] * 3, "ai"]
    plan, *results, answer = messages[1:]
    assert plan.tool_calls[2]["args"] == {"a": "$1", "b": "$2"}
    assert all(len(c["id"]) <= 40 for c in plan.tool_calls)  # OpenAI's limit
    assert results[2].text == '{"bigger": 3, "smaller": 2}'
    assert results[2].artifact == {"bigger": 3, "smaller": 2} and results[0].artifact == 2
    assert answer.text == "Rome"
    # every message a UI got live is the one state keeps (same id): nothing shows twice
    assert {plan.id, answer.id, *(r.id for r in results)} <= set(streamed)


def test_failures_are_error_tool_messages_and_skips_say_why() -> None:
    plan = '1. lookup(city="Atlantis")\n2. compare(a=$1, b=1)\n3. nosuch(x=1)\n4. join()'
    graph = create_llmcompiler(ScriptedChatModel(script=answering(plan)), [lookup, compare])
    messages = graph.invoke({"messages": [("user", "q")]})["messages"]
    assert shape(messages) == [
        "human",
        "calls:lookup,compare,nosuch",
        "tool:error",
        "tool:error",
        "tool:error",
        "ai",
    ]
    assert "KeyError" in messages[2].text
    assert messages[3].text == "skipped: dependency 1 failed"
    assert "unknown tool" in messages[4].text


def test_a_huge_result_is_cut_in_its_message_not_in_state() -> None:
    @tool
    def dump() -> str:
        """A big document."""
        return "x" * 100_000

    plan = "1. dump()\n2. join()"
    graph = create_llmcompiler(
        ScriptedChatModel(script=answering(plan)), [dump], checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "big"}}
    messages = graph.invoke({"messages": [("user", "q")]}, config)["messages"]
    assert len(messages[2].text) < 2_100 and "truncated" in messages[2].text
    assert len(graph.get_state(config).values["observations"][0]["value"]) == 100_000


def test_the_next_turn_sees_earlier_calls_and_results_compactly() -> None:
    asked: list[list[BaseMessage]] = []
    graph = create_llmcompiler(
        ScriptedChatModel(script=answering(asked=asked)),
        [lookup, compare],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": "follow-up"}}
    graph.invoke({"messages": [("user", "Which is bigger?")]}, config)
    graph.invoke({"messages": [("user", "By how much?")]}, config)
    planner_turn_2 = asked[2]
    assert [type(m) for m in planner_turn_2] == [
        type(planner_turn_2[0]),  # system
        HumanMessage,
        AIMessage,  # turn 1's calls and results, as text
        AIMessage,  # turn 1's answer
        HumanMessage,
    ]
    earlier = planner_turn_2[2].text
    assert "Called lookup(city='Paris')" in earlier
    assert 'Result: "{\\"bigger\\": 3, \\"smaller\\": 2}"' in earlier
    assert not any(isinstance(m, ToolMessage) for m in planner_turn_2)  # no orphans
    joiner_turn_2 = asked[3]
    assert "Called compare(a='$1', b='$2')" in joiner_turn_2[2].text


def test_tool_messages_off_keeps_the_answer_only_shape() -> None:
    graph = create_llmcompiler(
        ScriptedChatModel(script=answering()), [lookup, compare], tool_messages=False
    )
    streamed = [
        m
        for m, _ in graph.stream({"messages": [("user", "q")]}, stream_mode="messages")
        if isinstance(m, ToolMessage) or getattr(m, "tool_call_chunks", None)
    ]
    out = graph.invoke({"messages": [("user", "q")]})
    assert shape(out["messages"]) == ["human", "ai"] and streamed == []


def test_a_new_question_during_a_review_leaves_the_unrun_calls_unrun() -> None:
    """Agent Chat UI's path: the user sends a message instead of answering the review card,
    and the UI answers every open call with a made-up tool message. The next turn runs, and
    its planner reads the call that never ran as never run."""
    asked: list[list[BaseMessage]] = []
    compare.metadata = {"llmcompiler": {"requires_approval": True}}
    try:
        graph = create_llmcompiler(
            ScriptedChatModel(script=answering(asked=asked)),
            [lookup, compare],
            checkpointer=InMemorySaver(),
        )
        config = {"configurable": {"thread_id": "moved-on"}}
        paused = graph.invoke({"messages": [("user", "Which is bigger?")]}, config)
        (open_call,) = paused["messages"][-1].tool_calls
        made_up = ToolMessage(
            "Successfully handled tool call.", tool_call_id=open_call["id"], id="do-not-render-1"
        )
        out = graph.invoke({"messages": [made_up, HumanMessage("Never mind: Oslo?")]}, config)
    finally:
        compare.metadata = None
    assert out["__interrupt__"]  # turn 2's own plan waits for its own review
    earlier = "\n".join(m.text for m in asked[-1])
    assert "Called compare(a='$1', b='$2')\nResult: (none: it never ran)" in earlier
    assert "Successfully handled" not in "".join(m.text for m in asked[-1])


def test_a_parent_running_the_graph_twice_on_one_question_keeps_both_turns_calls() -> None:
    """Ids come from the question and the graph's namespace: two nodes running this graph on
    the same question do not replace each other's calls and results."""
    from langgraph.graph import END, START, MessagesState, StateGraph

    plans = iter(['1. lookup(city="Paris")\n2. join()', '1. lookup(city="Rome")\n2. join()'])

    def script(role: str, messages: list[BaseMessage]) -> str:
        return next(plans) if role == "planner" else "Answer: done"

    sub = create_llmcompiler(ScriptedChatModel(script=script), [lookup, compare])
    builder = StateGraph(MessagesState)
    builder.add_node("first", sub)
    builder.add_node("second", sub)
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    messages = builder.compile().invoke({"messages": [("user", "q")]})["messages"]
    assert shape(messages) == ["human", "calls:lookup", "tool:success", "ai"] * 1 + [
        "calls:lookup",
        "tool:success",
        "ai",
    ]
    assert [m.text for m in messages if isinstance(m, ToolMessage)] == ["2", "3"]
