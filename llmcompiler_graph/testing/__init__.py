"""Loopback stand-ins for the hosted services, so demos and tests run offline.

- :class:`OpenAISimulator`: OpenAI-compatible Chat Completions (streaming, tool calls, structured
  output, usage, faults, a latency model), answering from a script;
- :class:`TavilySimulator`: Tavily-compatible ``/search`` from a canned corpus;
- :class:`SimulatedWorld`: both, with the real model and tools wired to them.

Both drive the real clients (``ChatOpenAI``, ``tavily-python``) over 127.0.0.1 and need nothing
beyond the standard library. Pytest users get fixtures with
``pytest_plugins = ["llmcompiler_graph.testing.pytest_plugin"]``.
"""

from typing import TYPE_CHECKING

from llmcompiler_graph._lazy import lazy_exports
from llmcompiler_graph.testing.latency import LatencyModel, estimate_tokens
from llmcompiler_graph.testing.script import (
    ChatRequest,
    ChatResponse,
    ResponseQueue,
    Script,
    ScriptExhausted,
    ToolCall,
    echo_script,
    message_text,
)

if TYPE_CHECKING:
    from llmcompiler_graph.testing.openai_server import ChatLogEntry, OpenAISimulator
    from llmcompiler_graph.testing.tavily_server import (
        DEFAULT_CORPUS,
        SearchLogEntry,
        TavilySimulator,
        fabricate_results,
    )
    from llmcompiler_graph.testing.world import SimulatedWorld

# The server modules load on first use, so that ``python -m ...openai_server`` does not find its
# own module imported already by this package (runpy warns about that).
_LAZY = {
    "ChatLogEntry": "openai_server",
    "OpenAISimulator": "openai_server",
    "DEFAULT_CORPUS": "tavily_server",
    "SearchLogEntry": "tavily_server",
    "TavilySimulator": "tavily_server",
    "fabricate_results": "tavily_server",
    "SimulatedWorld": "world",
}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "DEFAULT_CORPUS",
    "ChatLogEntry",
    "ChatRequest",
    "ChatResponse",
    "LatencyModel",
    "OpenAISimulator",
    "ResponseQueue",
    "Script",
    "ScriptExhausted",
    "SearchLogEntry",
    "SimulatedWorld",
    "TavilySimulator",
    "ToolCall",
    "echo_script",
    "estimate_tokens",
    "fabricate_results",
    "message_text",
]
