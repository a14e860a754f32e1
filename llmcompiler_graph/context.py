"""Run-time settings of the ready-made graph (`llmcompiler_graph.graph:graph`).

LangGraph Studio shows these fields (with their descriptions) as the assistant's context; each
falls back to an environment variable, then to a default. A graph built with
`create_llmcompiler(...)` takes its settings as arguments instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any, Literal


def _env(name: str, default: Any, description: str) -> Any:
    """A field whose default is read from the environment when a Context is made, typed like
    `default`, with the description Studio shows."""

    def factory() -> Any:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        return type(default)(raw) if default is not None else raw

    return field(default_factory=factory, metadata={"description": description})


@dataclass(kw_only=True)
class Context:
    """Settings of one run of the ready-made LLMCompiler graph."""

    model: str = _env(
        "LLMCOMPILER_MODEL",
        "openai:gpt-4o-mini",
        "Chat model as 'provider:model'. OpenAI models honour OPENAI_BASE_URL, so vLLM, Ollama or "
        "any OpenAI-compatible server works. Env: LLMCOMPILER_MODEL.",
    )
    temperature: float = _env("LLMCOMPILER_TEMPERATURE", 0.0, "Sampling temperature of the model.")
    max_replans: int = _env(
        "LLMCOMPILER_MAX_REPLANS",
        2,
        "How many times the joiner may ask for a new plan before it must answer. "
        "Env: LLMCOMPILER_MAX_REPLANS.",
    )
    joiner: Literal["structured", "text"] = _env(
        "LLMCOMPILER_JOINER",
        "structured",
        "How the joiner answers: 'structured' (tool calling) or 'text' (the paper's "
        "Thought/Action protocol). Env: LLMCOMPILER_JOINER.",
    )
    search_max_results: int = _env(
        "LLMCOMPILER_SEARCH_MAX_RESULTS", 5, "Results per Tavily search."
    )
    max_concurrency: int = _env(
        "LLMCOMPILER_MAX_CONCURRENCY",
        0,
        "At most this many tool calls at once; 0 means no limit.",
    )
    task_timeout: float = _env(
        "LLMCOMPILER_TASK_TIMEOUT",
        120.0,
        "Seconds one tool call may take before it becomes an error observation; 0: no limit.",
    )
    max_observation_chars: int = _env(
        "LLMCOMPILER_MAX_OBSERVATION_CHARS",
        2000,
        "Each observation is cut to this many characters in prompts (state keeps all of it).",
    )

    @classmethod
    def of(cls, value: Any) -> Context:
        """The context of a run, whatever the caller passed.

        `None` or a parent graph's foreign context object gives the defaults (env included); a
        dict gives the defaults overridden by the keys this class knows; a `Context` is itself.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in value.items() if k in names})
        return cls()

    def key(self) -> tuple[Any, ...]:
        """A hashable identity, to reuse the model and tools built for equal settings."""
        return tuple(getattr(self, f.name) for f in fields(self))
