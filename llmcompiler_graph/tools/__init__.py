"""The tools LLMCompiler ships: web search, the paper's `math` tool and a plain calculator."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT
from llmcompiler_graph.tools.calculator import CalculationError, calculate, safe_eval
from llmcompiler_graph.tools.math import create_math_tool
from llmcompiler_graph.tools.search import MissingSearchKeyError, create_search_tool
from llmcompiler_graph.tools.wikipedia import create_wikipedia_tool

__all__ = [
    "CalculationError",
    "MissingSearchKeyError",
    "calculate",
    "create_math_tool",
    "create_search_tool",
    "create_wikipedia_tool",
    "default_tools",
    "safe_eval",
]


def default_tools(
    model: BaseChatModel,
    *,
    max_results: int = 5,
    llm_timeout: float | None = DEFAULT_TIMEOUT,
    llm_retries: int = DEFAULT_RETRIES,
) -> list[BaseTool]:
    """`[search, math, calculate]`: the paper's tools plus a calculator; `model` drives `math`
    (each of its calls bounded by `llm_timeout` seconds and `llm_retries` retries)."""
    math = create_math_tool(model, llm_timeout=llm_timeout, llm_retries=llm_retries)
    return [create_search_tool(max_results=max_results), math, calculate]
