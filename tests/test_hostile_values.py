"""Whatever a tool returns, the run answers: values that break `json.dumps`, `str()`, `repr()`
or recursion reach the joiner, the events, the messages and state as bounded text, under every
joiner protocol, with and without a checkpointer (issue: a tool's value crashed the run)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers import ScriptedChatModel, decision, shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import BaseMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, computed_field

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.events import preview
from llmcompiler_graph.core.plan import as_text


class RaisingStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")


class RaisingField(BaseModel):
    x: int = 1

    @computed_field  # type: ignore[prop-decorator]
    @property
    def boom(self) -> int:
        raise ValueError("computed field raises")


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def cycle() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


HOSTILE: dict[str, Any] = {
    "int of 5,000 digits": 10**5000,
    "list nested 5,000 deep": nested(5000),
    "object whose str and repr raise": RaisingStr(),
    "pydantic model with a raising computed field": RaisingField(),
    "a list inside itself": cycle(),
    "bytes": b"\xff\xfe caf\xc3\xa9",
    "nan and a set": {"x": float("nan"), "s": {3, 1}},
    "a 3 MB string": "x" * 3_000_000,
}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_text_of_any_value_never_raises_and_a_preview_is_bounded(value: Any) -> None:
    assert isinstance(as_text(value), str)
    assert len(preview(value)) <= 200


def _graph(value: Any, joiner: str, checkpointer: Any) -> Any:
    def hostile() -> Any:
        """Returns a hostile value."""
        return value

    def script(role: str, messages: list[BaseMessage]) -> Any:
        if role == "planner":
            return "1. hostile()\n2. join()<END_OF_PLAN>"
        if joiner == "structured":
            return decision("finish", "answered")
        if joiner == "text":
            return "Thought: ok\nAction: Finish(answered)"
        return "Answer: answered"

    tool = StructuredTool.from_function(hostile)
    model = ScriptedChatModel(script=script, tool_calling=joiner == "structured")
    return create_llmcompiler(model, [tool], joiner=joiner, checkpointer=checkpointer)


@settings(
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(HOSTILE)),
    joiner=st.sampled_from(["lean", "text", "structured"]),
    durable=st.booleans(),
    sync=st.booleans(),
)
def test_every_run_answers_whatever_the_tool_returns(
    name: str, joiner: str, durable: bool, sync: bool
) -> None:
    graph = _graph(HOSTILE[name], joiner, InMemorySaver() if durable else None)
    config = {"configurable": {"thread_id": f"{name}-{joiner}-{sync}"}}
    inputs = {"messages": [("user", "q")]}
    events: list[dict[str, Any]] = []
    if sync:
        for mode, chunk in graph.stream(inputs, config, stream_mode=["custom", "values"]):
            if mode == "custom":
                events.append(chunk)
            else:
                out = chunk
    else:

        async def run() -> dict[str, Any]:
            last: dict[str, Any] = {}
            async for mode, chunk in graph.astream(
                inputs, config, stream_mode=["custom", "values"]
            ):
                if mode == "custom":
                    events.append(chunk)
                else:
                    last = chunk
            return last

        out = asyncio.run(run())
    messages = out["messages"]
    assert messages[-1].text == "answered", (name, joiner)
    assert shape(messages) == ["human", "calls:hostile", "tool:success", "ai"]
    assert len(messages[2].text) <= 2_100  # cut like an observation
    finished = next(e for e in events if e["event"] == "task_finished")
    assert finished["status"] == "ok" and len(finished["preview"]) <= 200
