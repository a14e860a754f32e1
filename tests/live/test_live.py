"""Against the real OpenAI and Tavily APIs: run with keys set, skipped without them.

OPENAI_API_KEY=... TAVILY_API_KEY=... python -m pytest tests/live -m live
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.live

needs_openai = pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY")
needs_tavily = pytest.mark.skipif(not os.environ.get("TAVILY_API_KEY"), reason="TAVILY_API_KEY")


@needs_openai
async def test_real_model_plans_parallel_calculations() -> None:
    """A real model writes a plan our parser accepts, with independent tasks run in parallel."""
    from langchain_openai import ChatOpenAI

    from llmcompiler_graph import create_llmcompiler
    from llmcompiler_graph.tools import calculate

    model = ChatOpenAI(model=os.environ.get("LIVE_OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    graph = create_llmcompiler(model, [calculate])
    events = []
    async for event in graph.astream(
        {"messages": [("user", "What are 17 * 23 and 19 * 29? Then add the two results.")]},
        stream_mode="custom",
    ):
        events.append(event)
    finished = [e for e in events if e["event"] == "task_finished"]
    assert finished and all(e["status"] == "ok" for e in finished)
    state_answer = next(e for e in reversed(events) if e["event"] == "joiner_decision")
    assert "942" in state_answer["answer"]  # 391 + 551


@needs_openai
@needs_tavily
def test_ready_made_graph_answers_with_search() -> None:
    from llmcompiler_graph.graph import graph

    result = graph.invoke({"messages": [("user", "In which year was the Eiffel Tower completed?")]})
    assert "1889" in result["messages"][-1].content
