"""The settings of an LLMCompiler graph, one dataclass for both ways of building one.

`create_llmcompiler(model, tools, **settings)` takes these fields (but `model`, `temperature`
and `search_max_results`, which the caller's own model and tools replace) as keyword arguments
with the same defaults. The ready-made graph (`llmcompiler_graph.graph:graph`) reads them per run
from its context: LangGraph Studio shows the fields with their descriptions as the assistant's
settings, and each falls back to an environment variable, then to its default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal


def _env(
    name: str, default: Any, description: str, parse: Callable[[str], Any] | None = None
) -> Any:
    """A field whose default is read from the environment when a Context is made (by `parse`,
    else typed like `default`), with the description Studio shows."""

    def factory() -> Any:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        if parse is not None:
            return parse(raw)
        return type(default)(raw) if default is not None else raw

    return field(
        default_factory=factory,
        metadata={"description": f"{description} Env: {name}.", "env": name},
    )


@dataclass(kw_only=True)
class Context:
    """Settings of an LLMCompiler graph (the ready-made graph's run context)."""

    model: str = _env(
        "LLMCOMPILER_MODEL",
        "openai:gpt-4o-mini",
        "Chat model as 'provider:model' (ready-made graph). OpenAI models honour "
        "OPENAI_BASE_URL, so vLLM, Ollama or any OpenAI-compatible server works.",
    )
    temperature: float = _env(
        "LLMCOMPILER_TEMPERATURE", 0.0, "Sampling temperature of the model (ready-made graph)."
    )
    search_max_results: int = _env(
        "LLMCOMPILER_SEARCH_MAX_RESULTS", 5, "Results per Tavily search (ready-made graph)."
    )
    max_replans: int = _env(
        "LLMCOMPILER_MAX_REPLANS",
        2,
        "How many times the joiner may ask for a new plan before it must answer.",
    )
    planner: Literal["text", "tools"] = _env(
        "LLMCOMPILER_PLANNER",
        "text",
        "How the planner writes the plan: 'text' (the paper's numbered plan language, each task "
        "dispatched when its line closes) or 'tools' (native tool calls, one per task, each "
        "dispatched when its arguments close; for models that bind tools).",
    )
    joiner: Literal["lean", "structured", "text"] = _env(
        "LLMCOMPILER_JOINER",
        "lean",
        "How the joiner answers: 'lean' (the decision first, then the answer, streamed as it is "
        "written), 'text' (the paper's Thought/Action protocol: reasoning first, then the answer, "
        "streamed) or 'structured' (tool calling, the answer arrives whole; falls back to 'text' "
        "for models without it).",
    )
    joiner_plans: bool = _env(
        "LLMCOMPILER_JOINER_PLANS",
        False,
        "On replan, the lean joiner writes the next plan in the same call, which the next round "
        "runs without a planner call (one LLM call per replan instead of two).",
        parse=lambda raw: raw.strip().lower() in ("1", "true", "yes", "on"),
    )
    llm_timeout: float = _env(
        "LLMCOMPILER_LLM_TIMEOUT",
        120.0,
        "Seconds each planner, joiner or math LLM call may take, per try, whatever the model "
        "client's own settings (a streamed plan must be finished by then); 0: no limit.",
    )
    llm_retries: int = _env(
        "LLMCOMPILER_LLM_RETRIES",
        2,
        "Retries of an LLM call that failed transiently (429, 5xx, connection, timeout), with "
        "backoff that honours retry-after; a plan stream is retried only before its first chunk.",
    )
    stream_plan: bool = _env(
        "LLMCOMPILER_STREAM_PLAN",
        False,
        "Show the planner's tokens in stream_mode='messages' (by default chat UIs show the "
        "answer only; the plan is in the custom events and in state).",
        parse=lambda raw: raw.strip().lower() in ("1", "true", "yes", "on"),
    )
    max_concurrency: int = _env(
        "LLMCOMPILER_MAX_CONCURRENCY", 0, "At most this many tool calls at once; 0: no limit."
    )
    task_timeout: float = _env(
        "LLMCOMPILER_TASK_TIMEOUT",
        120.0,
        "Seconds one tool call may take before it becomes an error observation; 0: no limit.",
    )
    tool_policies: dict[str, dict[str, float | bool]] | None = _env(  # noqa: RUF009 (a field())
        "LLMCOMPILER_TOOL_POLICIES",
        None,
        "Per-tool policies, tool name -> {timeout, retries, max_concurrency, backoff, "
        'max_backoff, idempotent}, e.g. {"search": {"retries": 2, "max_concurrency": 4}}; '
        "over what a tool declares in its metadata. Env: as JSON.",
        parse=json.loads,
    )
    max_observation_chars: int = _env(
        "LLMCOMPILER_MAX_OBSERVATION_CHARS",
        2000,
        "Each observation is cut to this many characters in prompts (state keeps all of it).",
    )
    max_state_chars: int = _env(
        "LLMCOMPILER_MAX_STATE_CHARS",
        1_000_000,
        "State keeps at most this many characters of each observation and argument, JSON-safe "
        "(cut with a marker); tasks of the same run still receive the whole value.",
    )
    max_tasks: int = _env(
        "LLMCOMPILER_MAX_TASKS",
        64,
        "A plan stops at this many tasks; the joiner is told it was cut.",
    )
    producer_timeout: float = _env(
        "LLMCOMPILER_PRODUCER_TIMEOUT",
        5.0,
        "Seconds the scheduler waits for its planner to start before it leaves the plan to "
        "catch-up from state (a resumed superstep whose planner finished elsewhere).",
    )
    planner_prompt: str | None = _env(
        "LLMCOMPILER_PLANNER_PROMPT",
        None,
        "System prompt template of the planner, replacing the default (placeholders: {tools}, "
        "{join_number}, {examples}).",
    )
    joiner_prompt: str | None = _env(
        "LLMCOMPILER_JOINER_PROMPT",
        None,
        "System prompt template of the joiner, replacing the default (placeholder: {protocol}).",
    )

    def __post_init__(self) -> None:
        if self.max_replans < 0:
            raise ValueError(f"max_replans must be 0 or more, got {self.max_replans}.")
        if self.planner not in ("text", "tools"):
            raise ValueError(f"planner must be 'text' or 'tools', got {self.planner!r}.")
        if self.joiner not in ("lean", "structured", "text"):
            raise ValueError(f"joiner must be 'lean', 'structured' or 'text', got {self.joiner!r}.")
        if self.joiner_plans and self.joiner != "lean":
            raise ValueError(
                "joiner_plans=True needs joiner='lean' (the joiner writes the next plan after "
                f"its 'Replan:' line); got joiner={self.joiner!r}."
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

    def key(self) -> str:
        """A hashable identity (`Context(**json.loads(key))` is an equal context), to reuse the
        model and tools built for equal settings."""
        return json.dumps(asdict(self), sort_keys=True)
