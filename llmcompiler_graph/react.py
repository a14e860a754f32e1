"""The ReAct baselines LLMCompiler is compared with, on the same model and tools.

- sequential ReAct: one tool call per LLM turn (the paper's baseline);
- ReAct with native parallel tool calls: every independent call the model wants in one turn.

Both are LangGraph's prebuilt ReAct agent (`create_react_agent`), the agent LangGraph users know.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langgraph.graph.state import CompiledStateGraph

from llmcompiler_graph.core.toolbox import Toolbox, ToolLike

REACT_PROMPT = (
    "You are a helpful assistant. Use the tools to gather what you need, then answer the "
    "question directly and completely."
)


def create_react_baseline(
    model: BaseChatModel, tools: Sequence[ToolLike], *, parallel_tool_calls: bool = False
) -> CompiledStateGraph:
    """LangGraph's prebuilt ReAct agent; `parallel_tool_calls=False` makes it sequential."""
    toolbox = Toolbox(tools)
    bound = model.bind_tools(list(toolbox.values()), parallel_tool_calls=parallel_tool_calls)
    with warnings.catch_warnings():
        # Moved to langchain.agents.create_agent in LangGraph 1.0; the prebuilt one is what the
        # comparison is about and it needs no extra package.
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        return create_react_agent(
            bound,
            list(toolbox.values()),
            prompt=REACT_PROMPT,
            name="react-parallel" if parallel_tool_calls else "react",
        )
