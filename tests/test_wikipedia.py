"""The optional Wikipedia tool, offline: a stand-in `wikipedia` module replaces the network."""

from __future__ import annotations

import sys
import types

import pytest

from llmcompiler_graph.core.toolbox import Toolbox
from llmcompiler_graph.tools.wikipedia import create_wikipedia_tool


@pytest.fixture
def fake_wikipedia(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    queries: list[str] = []
    module = types.ModuleType("wikipedia")

    def search(query: str, results: int = 10) -> list[str]:
        queries.append(query)
        return ["Eiffel Tower", "Gustave Eiffel"][:results]

    def page(title: str, auto_suggest: bool = False) -> types.SimpleNamespace:
        return types.SimpleNamespace(summary=f"{title} summary. " * 50, content="", url="")

    module.search, module.page = search, page  # type: ignore[attr-defined]
    module.set_lang = lambda lang: None  # type: ignore[attr-defined]
    module.exceptions = types.SimpleNamespace(  # type: ignore[attr-defined]
        PageError=LookupError, DisambiguationError=ValueError
    )
    monkeypatch.setitem(sys.modules, "wikipedia", module)
    return queries


def test_wikipedia_tool_returns_bounded_summaries(fake_wikipedia: list[str]) -> None:
    tool = create_wikipedia_tool(top_k_results=2, max_chars=300)
    assert Toolbox([tool]).signatures == {"wikipedia": ["query"]}
    text = tool.invoke({"query": "Eiffel Tower"})
    assert fake_wikipedia == ["Eiffel Tower"]
    assert text.startswith("Page: Eiffel Tower\nSummary: Eiffel Tower summary.")
    assert len(text) <= 300


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wikipedia", None)  # import fails
    with pytest.raises(ImportError, match=r"llmcompiler-graph\[wikipedia\]"):
        create_wikipedia_tool()
