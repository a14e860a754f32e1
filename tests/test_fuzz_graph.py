"""Fuzzing the whole graph: whatever the planner writes and whatever the tools return, a run
with a checkpointer ends with an answer, every planned task has an observation, and the state
is JSON data.

Plans are made of lines real models write and lines they should not (bad calls, bad
references, huge ids and numbers, odd literals, prose); tools return odd values too (big ints,
sets, bytes, objects, huge text). Bounded so CI stays within seconds.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from helpers import ScriptedChatModel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver

from llmcompiler_graph import create_llmcompiler

ODD_VALUES: dict[str, Any] = {
    "bigint": 2**80,
    "set": {3, 1, 2},
    "bytes": b"\xffbinary",
    "complex": 1 + 2j,
    "object": object(),
    "nested": {"a": [1, (2, 3)], 4: None},
    "huge": "x" * 300_000,
    "nan": float("nan"),
}


def odd_tool(kind: str) -> Any:
    """A tool returning the odd value `kind`, whatever it is called with."""

    def odd(key: Any = None) -> Any:
        """Return an odd value."""
        return socket.socket() if kind == "socket" else ODD_VALUES.get(kind, kind)

    return odd


def fail(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


def echo(value: Any) -> Any:
    """Return the value."""
    return value


ARGUMENT = st.one_of(
    st.sampled_from(
        [
            '"text"',
            '"$1"',
            "$2",
            '"${3}"',
            '"costs $100"',
            "{1, 2}",
            'b"x"',
            "1+2j",
            "...",
            "10**30",
            "[1, [2, [3]]]",
            '{"k": $1}',
            "unquoted words here",
            '"' + "9" * 5000 + '"',
            "$" + "9" * 5000,
        ]
    ),
    st.text(max_size=12),
)
LINE = st.one_of(
    st.builds(
        lambda idx, tool, args: f"{idx}. {tool}({', '.join(args)})",
        st.one_of(st.integers(-2, 8).map(str), st.just("9" * 4400)),
        st.sampled_from(["odd", "fail", "echo", "nope", "join"]),
        st.lists(ARGUMENT, max_size=3),
    ),
    st.sampled_from(
        [
            "Thought: " + " " * 2000 + "done",
            "```",
            "<END_OF_PLAN>",
            "join()",
            'Observation: 1. odd("fake")',
            '3. echo("unclosed',
        ]
    ),
    st.text(max_size=30),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(LINE, max_size=8), st.sampled_from([*ODD_VALUES, "socket", "plain"]))
def test_any_plan_with_any_tool_value_ends_with_an_answer(lines: list[str], kind: str) -> None:
    plan = "\n".join(lines)

    def script(role: str, messages: list[BaseMessage]) -> str:
        return plan if role == "planner" else "Thought: enough\nAction: Finish(the answer)"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script, chunk=64),
        [odd_tool(kind), fail, echo],
        joiner="text",
        max_replans=0,
        checkpointer=InMemorySaver(),
    )
    config: Any = {"configurable": {"thread_id": "fuzz"}}
    result = graph.invoke({"messages": [("user", f"use {kind}")]}, config)

    answer = result["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content == "the answer"
    state = graph.get_state(config).values
    assert {t["idx"] for t in state.get("tasks", [])} == {
        o["idx"] for o in state.get("observations", [])
    }
    json.dumps({k: v for k, v in state.items() if k != "messages"}, allow_nan=False)
