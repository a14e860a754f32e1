"""A replan that carries the next plan (`joiner_plans`): the joiner's node ends at `Replan:` and
the next round's planner node reads the rest of the joiner's reply as it streams, so the next
round's tasks start while the joiner's model is still writing (`handoff.ReplyStream`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from llmcompiler_graph import create_llmcompiler, handoff, nodes
from llmcompiler_graph.handoff import ReplyStream
from tests.helpers import Recorder, ScriptedChatModel, question_of

PADDING = "Thought: " + "the second lookup needs nothing else; " * 8
"""Text the joiner writes after the next round's first task line (about 300 characters)."""
REPLAN = f"Replan: the first result lacks b\n2. look('b')\n{PADDING}\n3. join()<END_OF_PLAN>"


class Script:
    """Round 1's plan, then the joiner's replan (`REPLAN`), then its answer; counts calls."""

    def __init__(self, replan: str = REPLAN) -> None:
        self.replan = replan
        self.planner_calls = 0
        self.planner_prompts: list[list[BaseMessage]] = []

    def __call__(self, role: str, messages: list[BaseMessage]) -> str:
        results = messages[-1].text
        if role == "planner":
            self.planner_calls += 1
            self.planner_prompts.append(messages)
            if "Observation" in results:  # a replan the planner writes itself
                return "2. look('c')\n3. join()<END_OF_PLAN>"
            return "1. look('a')\n2. join()<END_OF_PLAN>"
        assert question_of(messages) == "a and b?"
        second_round = "value of b" in results or "value of c" in results
        return "Answer: found both" if second_round else self.replan


class Started:
    """The `look` tool, recording when each call starts."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def look(self, key: str) -> str:
        """Look a key up."""
        self.at[key] = time.time()
        return f"value of {key}"


def _graph(script: Script, model: ScriptedChatModel | None = None, **settings: Any) -> Any:
    tool = Started()
    model = model or ScriptedChatModel(script=script, sleep=0.004, chunk=4)
    graph = create_llmcompiler(model, [tool.look], joiner_plans=True, **settings)
    return graph, tool


def _config(recorder: Recorder, **configurable: Any) -> dict[str, Any]:
    return {"callbacks": [recorder], "configurable": configurable}


def _joiner_end(recorder: Recorder) -> float:
    return next(c for c in recorder.llm_calls if c.role == "joiner").end


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_the_next_round_starts_while_the_joiner_is_still_writing_it(mode: str) -> None:
    script = Script()
    graph, tool = _graph(script)
    recorder = Recorder()
    question = {"messages": [("user", "a and b?")]}
    kinds = ["values", "custom"]
    if mode == "async":

        async def run() -> list[Any]:
            return [
                part async for part in graph.astream(question, _config(recorder), stream_mode=kinds)
            ]

        parts = asyncio.run(run())
    else:
        parts = list(graph.stream(question, _config(recorder), stream_mode=kinds))
    events = [data for kind, data in parts if kind == "custom"]
    final = [data for kind, data in parts if kind == "values"][-1]

    assert final["messages"][-1].content == "found both"
    assert script.planner_calls == 1  # round 2 was the joiner's
    assert tool.at["b"] < _joiner_end(recorder) - 0.1  # ~75 chunks of 4 ms were still to come
    planned = next(v for k, v in parts if k == "values" and len(v.get("tasks", ())) == 2)
    assert planned["feedback"] == "the first result lacks b"
    assert [t["args"] for t in final["tasks"]] == [{"key": "a"}, {"key": "b"}]
    starts = [e for e in events if e["event"] == "plan_started"]
    assert [(e["round"], e["by"]) for e in starts] == [(1, "planner"), (2, "joiner")]
    decided = [e for e in events if e["event"] == "joiner_decision"]
    assert [e["decision"] for e in decided] == ["replan", "finish"]
    assert decided[0]["feedback"] == "the first result lacks b"  # sent when its line ended
    assert not handoff.replies._open  # the reply was released once read


class Breaking(ScriptedChatModel):
    """A scripted model whose replan stream breaks after `Replan:` and `keep` more chunks."""

    keep: int = 0

    def _pieces(self, text: str) -> Iterator[str]:  # type: ignore[override]
        for n, piece in enumerate(super()._pieces(text)):
            if text.startswith("Replan") and n > 4 + self.keep:
                raise ConnectionError("the joiner's stream broke")
            yield piece


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_a_replan_that_breaks_before_its_first_task_fails_the_run_like_a_planner_would(
    mode: str,
) -> None:
    script = Script()
    graph, _ = _graph(script, Breaking(script=script, chunk=4, keep=0), llm_retries=0)
    question = {"messages": [("user", "a and b?")]}

    with pytest.raises(ConnectionError, match="stream broke"):
        if mode == "async":
            asyncio.run(asyncio.wait_for(graph.ainvoke(question), 10))
        else:
            graph.invoke(question)
    assert not handoff.replies._open


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_tasks_parsed_before_the_replan_broke_stand_as_the_plan(mode: str) -> None:
    script = Script()
    graph, tool = _graph(script, Breaking(script=script, chunk=4, keep=12), llm_retries=0)
    question = {"messages": [("user", "a and b?")]}

    if mode == "async":
        result = asyncio.run(asyncio.wait_for(graph.ainvoke(question), 10))
    else:
        result = graph.invoke(question)

    assert "b" in tool.at  # its line was complete before the stream broke
    assert result["messages"][-1].content == "found both"


def test_a_plan_handed_over_survives_an_interrupt_before_the_planner() -> None:
    script = Script()
    graph, tool = _graph(script, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "handoff-interrupt"}}

    graph.invoke({"messages": [("user", "a and b?")]}, config, interrupt_before=["planner"])
    graph.invoke(None, config, interrupt_before=["planner"])  # round 1, stopped before round 2
    result = graph.invoke(None, config)

    assert result["messages"][-1].content == "found both"
    assert script.planner_calls == 1
    assert set(tool.at) == {"a", "b"}


def test_a_planner_with_no_reply_to_read_makes_its_own_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process resuming the thread has no live reply: its planner plans the round."""
    script = Script()
    graph, tool = _graph(script, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "handoff-elsewhere"}}
    graph.invoke({"messages": [("user", "a and b?")]}, config, interrupt_before=["planner"])
    graph.invoke(None, config, interrupt_before=["planner"])

    monkeypatch.setattr(nodes, "replies", handoff._Registry(ReplyStream))
    result = graph.invoke(None, config)

    assert result["messages"][-1].content == "found both"
    assert script.planner_calls == 2
    assert set(tool.at) == {"a", "c"}
    assert "Observation" in script.planner_prompts[-1][-1].text


def test_a_replan_without_a_plan_is_the_feedback_of_a_planner_call() -> None:
    """A model that writes only `Replan: <feedback>` (no plan) still gets its next round."""
    script = Script(replan="Replan: try the key c instead")
    graph, tool = _graph(script)

    result = graph.invoke({"messages": [("user", "a and b?")]})

    assert result["messages"][-1].content == "found both"
    assert script.planner_calls == 2 and set(tool.at) == {"a", "c"}
    assert "Feedback: try the key c instead" in script.planner_prompts[-1][-1].text


def test_a_handed_over_plan_waits_for_approval_like_a_planned_one() -> None:
    script = Script()
    graph, tool = _graph(script, approve_plan=True, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "handoff-approval"}}
    approve = Command(resume={"decisions": [{"type": "approve"}]})

    first = graph.invoke({"messages": [("user", "a and b?")]}, config)
    second = graph.invoke(approve, config)  # round 1 runs; the joiner's plan waits

    (request,) = [i.value for i in second["__interrupt__"]]
    assert [a["args"] for a in request["action_requests"]] == [{"key": "b"}]
    assert "b" not in tool.at and "__interrupt__" in first
    result = graph.invoke(approve, config)
    assert result["messages"][-1].content == "found both"
    assert script.planner_calls == 1 and set(tool.at) == {"a", "b"}


class Counting(ScriptedChatModel):
    """A scripted model that counts the chunks its replan streams."""

    joiner_chunks: list[int]

    def _pieces(self, text: str) -> Iterator[str]:  # type: ignore[override]
        for piece in super()._pieces(text):
            if text.startswith("Replan"):
                self.joiner_chunks.append(1)
            yield piece


async def test_a_run_cancelled_while_the_joiner_writes_its_plan_stops_the_joiner() -> None:
    script = Script()
    model = Counting(script=script, sleep=0.004, chunk=4, joiner_chunks=[])
    graph, tool = _graph(script, model)
    run = asyncio.create_task(graph.ainvoke({"messages": [("user", "a and b?")]}))
    async with asyncio.timeout(5):
        while "b" not in tool.at:
            await asyncio.sleep(0.005)
    sent = len(model.joiner_chunks)

    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await asyncio.sleep(0.2)  # 50 more chunks would have come

    assert len(model.joiner_chunks) <= sent + 2 < len(REPLAN) // 4
    assert not handoff.replies._open
