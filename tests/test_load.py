"""Under load: 200 concurrent runs on one graph with a checkpointer (so the scheduler's journal
is written for every task) each answer their own question, and no task crosses runs."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from helpers import ScriptedChatModel, question_of
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from llmcompiler_graph import create_llmcompiler

RUNS = 200


def script(role: str, messages: list[BaseMessage]) -> str:
    question = question_of(messages)
    if role == "planner":
        return f'1. tag(text="{question}")\n2. tag(text="$1")\n3. join()<END_OF_PLAN>'
    results = [m.text for m in messages if isinstance(m, HumanMessage)][-1]
    last = json.loads(results.rsplit("Observation: ", 1)[-1])
    return f"Thought: done\nAction: Finish({last})"


@pytest.mark.slow
async def test_200_concurrent_runs_each_answer_their_own_question() -> None:
    seen: list[str] = []

    async def tag(text: str) -> str:
        """Tag a text."""
        seen.append(text)
        await asyncio.sleep(0.01)
        return f"<{text}>"

    graph = create_llmcompiler(
        ScriptedChatModel(script=script, chunk=8),
        [tag],
        joiner="text",
        checkpointer=InMemorySaver(),
    )
    configs: list[Any] = [{"configurable": {"thread_id": f"t{n}"}} for n in range(RUNS)]
    start = time.perf_counter()
    outs = await asyncio.gather(
        *(
            graph.ainvoke({"messages": [("user", f"q{n}")]}, config)
            for n, config in enumerate(configs)
        )
    )
    seconds = time.perf_counter() - start
    assert [o["messages"][-1].content for o in outs] == [f"<<q{n}>>" for n in range(RUNS)]
    assert sorted(seen) == sorted([f"q{n}" for n in range(RUNS)] + [f"<q{n}>" for n in range(RUNS)])
    for n, config in enumerate(configs):
        observations = (await graph.aget_state(config)).values["observations"]
        assert [o["value"] for o in observations] == [f"<q{n}>", f"<<q{n}>>"]
    print(f"{RUNS} concurrent runs in {seconds:.2f} s")
