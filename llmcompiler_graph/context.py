"""The ready-made graph's run context: every setting, with environment fallbacks, for Studio.

`Context` has the fields of `Settings` (`llmcompiler_graph.settings`, where each is described and
validated), plus the three the ready-made graph needs to build its own model and tools: `model`,
`temperature`, `search_max_results`. Each field falls back to its environment variable, then to
its default; LangGraph Studio shows the fields with their descriptions and current defaults as
the assistant's settings. `Context.settings()` is what the graph runs with.

A value that cannot be used is refused with a `SettingError` naming the setting, the value and
where it came from: `Environment variable LLMCOMPILER_MAX_REPLANS='abc' is not an integer`,
`max_tasks must be an integer >= 1, got 0 (env LLMCOMPILER_MAX_TASKS)`, or for a value given in
the run's context `... (given in the context, or env LLMCOMPILER_X)`.
"""

from __future__ import annotations

import difflib
import json
import os
import warnings
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, get_args, get_origin

from pydantic import ConfigDict

from llmcompiler_graph.core.formats import JoinerFormat, PlannerFormat
from llmcompiler_graph.settings import (
    FALSE,
    TRUE,
    SettingError,
    Settings,
    check,
    setting,
    type_hints,
)

_SETTINGS: dict[str, Field[Any]] = {f.name: f for f in fields(Settings)}


def from_env(of: str | Field[Any]) -> Any:
    """A context field that falls back to an environment variable: `of` names a `Settings`
    field (its default, description, variable and bounds are taken from there), or is a field
    made by `setting` for the ready-made graph alone. Its type is the annotation of the field
    it is assigned to (read when a value is checked)."""
    spec = _SETTINGS[of] if isinstance(of, str) else of
    env = spec.metadata["env"]

    def factory() -> Any:
        raw = os.environ.get(env)
        if raw is None or raw.strip() == "":
            return spec.default
        name = next(n for n, f in _ENV_FIELDS.items() if f.metadata["env"] == env)
        hint = type_hints(Context)[name]
        try:
            return _checked(spec, name, hint, _read(raw.strip(), hint, env))
        except SettingError as exc:
            raise SettingError(exc.name, exc.value, exc.requirement, f" (env {env})") from None

    return field(default_factory=factory, metadata=spec.metadata)


def _read(raw: str, hint: Any, env: str) -> Any:
    """An environment variable's text as a value of type `hint` (not yet checked)."""
    base = next((a for a in get_args(hint) if a is not type(None)), hint)
    try:
        if base is bool:
            if raw.lower() not in TRUE + FALSE:
                raise ValueError(f"expected one of {', '.join(TRUE + FALSE)}")
            return raw.lower() in TRUE
        if base in (int, float):
            return base(raw)
        if get_origin(base) is dict:
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError(f"expected a JSON object, got {type(value).__name__}")
            return value
        return raw
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        expected = {bool: "true or false", int: "an integer", float: "a number"}.get(base)
        raise ValueError(
            f"Environment variable {env}={raw!r} is not {expected or 'a valid value'} ({exc})."
        ) from None


def _checked(spec: Field[Any], name: str, hint: Any, value: Any) -> Any:
    """`value` checked as the setting `spec` (the policies as Studio shows them: a dict)."""
    if name == "tool_policies":
        check(spec, hint, value)  # raises if any entry is wrong
        return value
    return check(spec, hint, value)


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


@dataclass(kw_only=True)
class Context:
    """Settings of the ready-made graph's runs (each field: see `Settings`, or below)."""

    # Read by pydantic, whose JSON schema of this dataclass is what LangGraph serves to Studio.
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(json_schema_extra=_show_defaults)

    model: str = from_env(
        setting(
            "openai:gpt-4o-mini",
            "Chat model as 'provider:model', or a bare name whose provider LangChain infers "
            "('gpt-4o-mini', 'claude-sonnet-4-5') (ready-made graph). OpenAI models honour "
            "OPENAI_BASE_URL, so vLLM, Ollama or any OpenAI-compatible server works; other "
            "providers need `pip install langchain langchain-<provider>`.",
            env="LLMCOMPILER_MODEL",
        )
    )
    temperature: float = from_env(
        setting(
            0.0,
            "Sampling temperature of the model (ready-made graph).",
            env="LLMCOMPILER_TEMPERATURE",
            minimum=0,
            maximum=2,
        )
    )
    search_max_results: int = from_env(
        setting(
            5,
            "Results per Tavily search (ready-made graph).",
            env="LLMCOMPILER_SEARCH_MAX_RESULTS",
            minimum=1,
            maximum=20,
        )
    )
    max_replans: int = from_env("max_replans")
    planner: PlannerFormat = from_env("planner")
    joiner: JoinerFormat = from_env("joiner")
    joiner_plans: bool = from_env("joiner_plans")
    approve_plan: bool = from_env("approve_plan")
    llm_timeout: float = from_env("llm_timeout")
    llm_retries: int = from_env("llm_retries")
    stream_plan: bool = from_env("stream_plan")
    tool_messages: bool = from_env("tool_messages")
    max_concurrency: int = from_env("max_concurrency")
    task_timeout: float = from_env("task_timeout")
    tool_policies: dict[str, dict[str, float | bool]] | None = from_env("tool_policies")
    max_observation_chars: int = from_env("max_observation_chars")
    max_state_chars: int = from_env("max_state_chars")
    max_tasks: int = from_env("max_tasks")
    producer_timeout: float = from_env("producer_timeout")
    planner_prompt: str | None = from_env("planner_prompt")
    joiner_prompt: str | None = from_env("joiner_prompt")

    def __post_init__(self) -> None:
        warn_unknown_variables()
        hints = type_hints(Context)
        try:
            for f in fields(self):
                setattr(self, f.name, _checked(f, f.name, hints[f.name], getattr(self, f.name)))
            self.settings()
        except SettingError as exc:
            source = f" (given in the context, or env {env_variable(exc.name)})"
            raise SettingError(exc.name, exc.value, exc.requirement, source) from None

    def settings(self) -> Settings:
        """The settings the graph runs with (all fields but the ready-made graph's own)."""
        return Settings(**{name: getattr(self, name) for name in _SETTINGS})

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


_ENV_FIELDS: dict[str, Field[Any]] = {f.name: f for f in fields(Context)}


def env_variable(name: str) -> str | None:
    """The environment variable of setting `name` (`tool_policies[search]` counts as
    `tool_policies`), or None for a name that is not a setting."""
    field = _ENV_FIELDS.get(name.partition("[")[0])
    return None if field is None else field.metadata["env"]


OTHER_VARIABLES = ("LLMCOMPILER_DB", "LLMCOMPILER_NOTEBOOK_SIMULATE", "LLMCOMPILER_SERVER_VENV")
"""`LLMCOMPILER_*` variables that are not settings: the CLI's thread store, the notebooks' and
the tests' switches."""


def warn_unknown_variables() -> None:
    """Warn (once per name, a `UserWarning`) about an `LLMCOMPILER_*` variable that nothing
    reads: a misspelt setting (`LLMCOMPILER_MAX_REPLAN`) would otherwise be ignored silently."""
    known = [f.metadata["env"] for f in _ENV_FIELDS.values()] + list(OTHER_VARIABLES)
    for name in os.environ:
        if name.startswith("LLMCOMPILER_") and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.warn(f"{name} is not a setting{hint}; it is ignored.", stacklevel=3)


READY_MADE_ONLY = ("model", "temperature", "search_max_results")
"""The fields of `Context` that are not `Settings`: `create_llmcompiler` takes its model and
tools as objects instead."""
