"""The settings of an LLMCompiler graph: one frozen, validated type that reads no environment.

`create_llmcompiler(model, tools, **settings)` builds a `Settings` from its keyword arguments,
which have the same names and defaults (a test keeps them equal). The ready-made graph's
`Context` (`llmcompiler_graph.context`) has the same fields, each falling back to the environment
variable named in its metadata, plus the model, temperature and search fields; it hands the
graph a `Settings` too. So the fields below are the one list of settings: their descriptions are
what Studio shows, and the env-example files and the generated settings reference
(docs/settings.md) are checked against them.

Every value passes `check`, on every path (library, environment, Studio's context, CLI): a
boolean is a real boolean or one of the usual strings (`"false"` is false); a number is finite
and within its field's bounds; a choice is one of its `Literal`'s values; a tool policy is
checked key by key. A refused value raises `SettingError` naming the setting, the value and why.
Equal settings are equal and hash alike, so components built for them can be reused.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from functools import cache
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from llmcompiler_graph.core.formats import JoinerFormat, PlannerFormat
from llmcompiler_graph.core.policy import ToolPolicy

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")

ToolPolicies = tuple[tuple[str, ToolPolicy], ...]
"""Tool name -> policy, as `Settings` keeps it (hashable); given as any mapping."""


class SettingError(ValueError):
    """A setting's value is refused: `name` (the setting), `value` and `requirement` say which
    and why; `source` (` (env X)`, ...) where it came from when the caller knows."""

    def __init__(self, name: str, value: Any, requirement: str, source: str = "") -> None:
        self.name, self.value, self.requirement = name, value, requirement
        super().__init__(f"{name} {requirement}, got {value!r:.200}{source}.")


def setting(
    default: Any,
    description: str,
    *,
    env: str,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A settings field: its default, the description Studio shows (ending with its environment
    variable), the variable, and the bounds of a number."""
    return field(
        default=default,
        metadata={
            "description": f"{description} Env: {env}.",
            "env": env,
            "minimum": minimum,
            "maximum": maximum,
        },
    )


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How an LLMCompiler graph plans, runs tools, joins and streams (see each field)."""

    max_replans: int = setting(
        2,
        "How many times the joiner may ask for a new plan before it must answer.",
        env="LLMCOMPILER_MAX_REPLANS",
        minimum=0,
        maximum=50,
    )
    planner: PlannerFormat = setting(
        "text",
        "How the planner writes the plan: 'text' (the paper's numbered plan language, each task "
        "dispatched when its line closes) or 'tools' (native tool calls, one per task, each "
        "dispatched when its arguments close; for models that bind tools).",
        env="LLMCOMPILER_PLANNER",
    )
    joiner: JoinerFormat = setting(
        "lean",
        "How the joiner answers: 'lean' (the decision first, then the answer, streamed as it is "
        "written), 'text' (the paper's Thought/Action protocol: reasoning first, then the answer, "
        "streamed) or 'structured' (tool calling, the answer arrives whole; falls back to 'text' "
        "for models without it).",
        env="LLMCOMPILER_JOINER",
    )
    joiner_plans: bool = setting(
        True,
        "On replan, the lean joiner writes the next plan in the same call, and its tasks start "
        "as that reply streams (one LLM call per replan instead of two). Its prompt then opens "
        "with the planner's, so every question sends about 1,000 more input tokens with the "
        "default tools (a provider's prompt cache can serve them). Off: a planner call writes "
        "each replan. The 'text' and 'structured' joiners never write plans.",
        env="LLMCOMPILER_JOINER_PLANS",
    )
    approve_plan: bool = setting(
        False,
        "Pause each plan for a person's approval before any tool runs (a LangGraph interrupt in "
        "LangChain's human-in-the-loop format: approve, edit or reject each task); tasks start "
        "only once the whole plan is approved. Tools with requires_approval in their policy "
        "pause only the tasks that use them.",
        env="LLMCOMPILER_APPROVE_PLAN",
    )
    llm_timeout: float = setting(
        120.0,
        "Seconds each planner, joiner or math LLM call may take, per try, whatever the model "
        "client's own settings (a streamed plan must be finished by then); 0: no limit.",
        env="LLMCOMPILER_LLM_TIMEOUT",
        minimum=0,
    )
    llm_retries: int = setting(
        2,
        "Retries of an LLM call that failed transiently (429, 5xx, connection, timeout), with "
        "backoff that honours retry-after; a plan stream is retried only before its first chunk.",
        env="LLMCOMPILER_LLM_RETRIES",
        minimum=0,
        maximum=20,
    )
    stream_plan: bool = setting(
        False,
        "Show the planner's tokens in stream_mode='messages' (by default chat UIs show the "
        "calls, results and answer; the plan's text is in the custom events and in state).",
        env="LLMCOMPILER_STREAM_PLAN",
    )
    tool_messages: bool = setting(
        True,
        "Write each round's tool calls (an AI message) and their results (a tool message per "
        "task) to messages, shown live in stream_mode='messages', as create_react_agent does, "
        "so chat UIs show the work and draw the approval card; false: the answer only.",
        env="LLMCOMPILER_TOOL_MESSAGES",
    )
    max_concurrency: int = setting(
        0,
        "At most this many tool calls at once; 0: no limit.",
        env="LLMCOMPILER_MAX_CONCURRENCY",
        minimum=0,
    )
    task_timeout: float = setting(
        120.0,
        "Seconds one tool call may take before it becomes an error observation; 0: no limit.",
        env="LLMCOMPILER_TASK_TIMEOUT",
        minimum=0,
    )
    tool_policies: ToolPolicies | None = setting(
        None,
        "Per-tool policies, tool name -> {timeout, retries, max_concurrency, backoff, "
        "max_backoff, idempotent, rerun_unfinished, requires_approval}, e.g. "
        '{"search": {"retries": 2, "max_concurrency": 4}}; over what a tool declares in its '
        "metadata. Default: none (each tool's own metadata, else no limit). In the env var, "
        "as JSON.",
        env="LLMCOMPILER_TOOL_POLICIES",
    )
    max_observation_chars: int = setting(
        2000,
        "Each observation is cut to this many characters in prompts (state keeps all of it).",
        env="LLMCOMPILER_MAX_OBSERVATION_CHARS",
        minimum=1,
    )
    max_state_chars: int = setting(
        1_000_000,
        "State keeps at most this many characters of each observation and argument, JSON-safe "
        "(cut with a marker); tasks of the same run still receive the whole value.",
        env="LLMCOMPILER_MAX_STATE_CHARS",
        minimum=1,
    )
    max_tasks: int = setting(
        64,
        "A plan stops at this many tasks; the joiner is told it was cut.",
        env="LLMCOMPILER_MAX_TASKS",
        minimum=1,
        maximum=10_000,
    )
    producer_timeout: float = setting(
        5.0,
        "Seconds the scheduler waits for its planner to start before it leaves the plan to "
        "catch-up from state (a resumed superstep whose planner finished elsewhere).",
        env="LLMCOMPILER_PRODUCER_TIMEOUT",
        minimum=0,
    )
    planner_prompt: str | None = setting(
        None,
        "System prompt template of the planner, replacing the default (placeholders: {tools}, "
        "{join_number}, {examples}). Default: none (the built-in prompt).",
        env="LLMCOMPILER_PLANNER_PROMPT",
    )
    joiner_prompt: str | None = setting(
        None,
        "System prompt template of the joiner, replacing the default (placeholder: {protocol}). "
        "Default: none (the built-in prompt).",
        env="LLMCOMPILER_JOINER_PROMPT",
    )

    def __post_init__(self) -> None:
        hints = type_hints(Settings)
        for f in fields(self):
            object.__setattr__(self, f.name, check(f, hints[f.name], getattr(self, f.name)))

    @property
    def policies(self) -> dict[str, ToolPolicy]:
        """`tool_policies` as a dict."""
        return dict(self.tool_policies or ())


@cache
def type_hints(kind: type) -> dict[str, Any]:
    """The resolved type of each field of a settings dataclass."""
    return get_type_hints(kind)


def check(f: Field[Any], hint: Any, value: Any) -> Any:
    """`value` as field `f` (of type `hint`) keeps it, or `SettingError`."""
    args = get_args(hint)
    if get_origin(hint) in (Union, UnionType) and type(None) in args:  # X | None
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
    if f.name == "tool_policies":
        return tool_policies(value)
    if hint is bool:
        return flag(f.name, value)
    if get_origin(hint) is Literal:
        if value not in get_args(hint):
            choices = ", ".join(map(repr, get_args(hint)))
            raise SettingError(f.name, value, f"must be one of {choices}")
        return value
    if hint in (int, float):
        return number(f, hint, value)
    if not isinstance(value, hint):
        raise SettingError(f.name, value, f"must be {_KIND.get(hint, hint.__name__)}")
    return value


_KIND = {int: "an integer", float: "a number", str: "a string"}


def flag(name: str, value: Any) -> bool:
    """A boolean setting: a real boolean, or one of the usual strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise SettingError(name, value, f"must be true or false ({', '.join(TRUE + FALSE)})")


def number(f: Field[Any], kind: type, value: Any) -> Any:
    """A finite int (or, for a float field, int or float) within the field's bounds."""
    kinds = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        low = f.metadata.get("minimum")
        bound = f" >= {low}" if low is not None else ""
        raise SettingError(f.name, value, f"must be {_KIND[kind]}{bound}")
    low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
    if low is not None and value < low:
        raise SettingError(f.name, value, f"must be {_KIND[kind]} >= {low}")
    if high is not None and value > high:
        raise SettingError(f.name, value, f"must be {_KIND[kind]} <= {high}")
    return value


def tool_policies(value: Any) -> ToolPolicies:
    """Tool name -> policy, each given as a `ToolPolicy` or a mapping of its fields, checked
    entry by entry and key by key."""
    items = value if isinstance(value, tuple) else None
    if isinstance(value, Mapping):
        items = tuple(value.items())
    if items is None or not all(isinstance(i, tuple) and len(i) == 2 for i in items):
        raise SettingError(
            "tool_policies", value, "must map tool names to policies, e.g. {'search': {...}}"
        )
    known = [f.name for f in fields(ToolPolicy)]
    checked = []
    for tool, policy in items:
        where = f"tool_policies[{tool!r}]"
        if not isinstance(tool, str):
            raise SettingError("tool_policies", value, f"has a tool name that is not text: {tool}")
        if not isinstance(policy, ToolPolicy):
            if not isinstance(policy, Mapping):
                raise SettingError(where, policy, f"must be a mapping of {', '.join(known)}")
            for key, given in policy.items():
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    requirement = f"has an unknown key {key!r}{hint}; known: {', '.join(known)}"
                    raise SettingError(where, policy, requirement)
                if (requirement := ToolPolicy.requirement(key, given)) is not None:
                    raise SettingError(f"{where}[{key!r}]", given, requirement)
            policy = ToolPolicy(**policy)
        checked.append((tool, policy))
    return tuple(sorted(checked, key=lambda item: item[0]))
