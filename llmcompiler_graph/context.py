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
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError(f"expected one of {', '.join(_TRUE + _FALSE)}")


def _json_object(raw: str) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


_EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def _env(
    name: str, default: Any, description: str, parse: Callable[[str], Any] | None = None
) -> Any:
    """A field whose default is read from the environment when a Context is made (by `parse`,
    else typed like `default`), with the description Studio shows (ending with the variable).

    A value the variable cannot be read as is refused with an error naming the variable."""
    if parse is None and isinstance(default, bool):
        parse = _flag
    elif parse is None and default is not None:
        parse = type(default)

    def factory() -> Any:
        raw = os.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        if parse is None:
            return raw
        try:
            return parse(raw.strip())
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            expected = _EXPECTED.get(type(default), "a valid value")
            raise ValueError(
                f"Environment variable {name}={raw!r} is not {expected} ({exc})."
            ) from None

    return field(
        default_factory=factory,
        metadata={"description": f"{description} Env: {name}.", "env": name},
    )


def _show_defaults(schema: dict[str, Any]) -> None:
    """Put each field's effective default (its env var's value if set, else the built-in one)
    into the JSON schema LangGraph derives from `Context` (`TypeAdapter(Context).json_schema()`,
    what `graph.get_context_jsonschema()` and so Studio use): `default_factory` fields have
    none there otherwise, and Studio would show empty settings."""
    current = Context()
    properties = schema.get("properties", {})
    for f in fields(Context):
        if f.name in properties:
            properties[f.name]["default"] = getattr(current, f.name)


# Lower bounds of the numeric settings (the field must be a number of at least this).
_MINIMUMS: dict[str, int] = {
    "max_replans": 0,
    "max_tasks": 1,
    "llm_timeout": 0,
    "task_timeout": 0,
    "producer_timeout": 0,
    "llm_retries": 0,
    "max_concurrency": 0,
    "max_observation_chars": 1,
    "max_state_chars": 1,
}


@dataclass(kw_only=True)
class Context:
    """Settings of an LLMCompiler graph (the ready-made graph's run context)."""

    # Read by pydantic, whose JSON schema of this dataclass is what LangGraph serves to Studio.
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(json_schema_extra=_show_defaults)

    model: str = _env(
        "LLMCOMPILER_MODEL",
        "openai:gpt-4o-mini",
        "Chat model as 'provider:model', or a bare name whose provider LangChain infers "
        "('gpt-4o-mini', 'claude-sonnet-4-5') (ready-made graph). OpenAI models honour "
        "OPENAI_BASE_URL, so vLLM, Ollama or any OpenAI-compatible server works; other providers "
        "need `pip install langchain langchain-<provider>`.",
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
    )
    approve_plan: bool = _env(
        "LLMCOMPILER_APPROVE_PLAN",
        False,
        "Pause each plan for a person's approval before any tool runs (a LangGraph interrupt in "
        "LangChain's human-in-the-loop format: approve, edit or reject each task); tasks start "
        "only once the whole plan is approved. Tools with requires_approval in their policy "
        "pause only the tasks that use them.",
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
    )
    tool_messages: bool = _env(
        "LLMCOMPILER_TOOL_MESSAGES",
        True,
        "Write each round's tool calls (an AI message) and their results (a tool message per "
        "task) to messages, shown live in stream_mode='messages', as create_react_agent does, "
        "so chat UIs show the work and draw the approval card; false: the answer only.",
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
        "over what a tool declares in its metadata. Default: none (each tool's own metadata, "
        "else no limit). In the env var, as JSON.",
        parse=_json_object,
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
        "{join_number}, {examples}). Default: none (the built-in prompt).",
    )
    joiner_prompt: str | None = _env(
        "LLMCOMPILER_JOINER_PROMPT",
        None,
        "System prompt template of the joiner, replacing the default (placeholder: {protocol}). "
        "Default: none (the built-in prompt).",
    )

    def __post_init__(self) -> None:
        for name, minimum in _MINIMUMS.items():
            value = getattr(self, name)
            integer = _FIELDS[name].type == "int"
            kinds = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
                kind = "an integer" if integer else "a number"
                self._refuse(name, f"must be {kind} >= {minimum}")
        if self.planner not in ("text", "tools"):
            self._refuse("planner", "must be 'text' or 'tools'")
        if self.joiner not in ("lean", "structured", "text"):
            self._refuse("joiner", "must be 'lean', 'structured' or 'text'")
        if self.joiner_plans and self.joiner != "lean":
            raise ValueError(
                "joiner_plans=True needs joiner='lean' (the joiner writes the next plan after "
                f"its 'Replan:' line); got joiner={self.joiner!r} (env LLMCOMPILER_JOINER_PLANS, "
                "LLMCOMPILER_JOINER)."
            )
        if self.tool_policies is not None and not isinstance(self.tool_policies, dict):
            self._refuse("tool_policies", "must be a dict of tool name -> policy, or None")

    def _refuse(self, name: str, requirement: str) -> None:
        raise ValueError(
            f"{name} {requirement}, got {getattr(self, name)!r} "
            f"(env {_FIELDS[name].metadata['env']})."
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


_FIELDS = {f.name: f for f in fields(Context)}
