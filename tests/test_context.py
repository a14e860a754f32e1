"""The ready-made graph's `Context`: env fallbacks, and whatever a caller passes as context."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, fields
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmcompiler_graph.context import Context
from llmcompiler_graph.graph import components_from_context, create_llmcompiler, graph


@dataclass
class ParentContext:
    """A parent graph's own context, with a field of the same name meaning something else."""

    model: str = "parent-model-not-ours"
    user_id: str = "u1"


def test_defaults_and_env_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Context().model == "openai:gpt-4o-mini" and Context().max_replans == 2
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "5")
    monkeypatch.setenv("LLMCOMPILER_MODEL", "openai:gpt-4.1-mini")
    monkeypatch.setenv("LLMCOMPILER_TASK_TIMEOUT", "7.5")
    context = Context()
    assert (context.max_replans, context.model, context.task_timeout) == (
        5,
        "openai:gpt-4.1-mini",
        7.5,
    )


@pytest.mark.parametrize(
    ("given", "max_replans", "model"),
    [
        (None, 2, "openai:gpt-4o-mini"),
        ({"max_replans": 0, "unknown": "ignored"}, 0, "openai:gpt-4o-mini"),
        (ParentContext(), 2, "openai:gpt-4o-mini"),
        (Context(max_replans=1, model="openai:x"), 1, "openai:x"),
    ],
    ids=["none", "dict", "foreign", "ours"],
)
def test_of_accepts_what_a_runtime_may_carry(given: object, max_replans: int, model: str) -> None:
    context = Context.of(given)
    assert (context.max_replans, context.model) == (max_replans, model)


def test_every_field_explains_itself_in_studio() -> None:
    assert all(f.metadata.get("description") for f in fields(Context))
    assert all(f.metadata["env"] in f.metadata["description"] for f in fields(Context))


REALLY_NONE = {"tool_policies", "planner_prompt", "joiner_prompt"}
"""Fields whose built-in default is None (their description says "none")."""


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for f in fields(Context):
        monkeypatch.delenv(f.metadata["env"], raising=False)


def test_studio_schema_shows_every_default_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema LangGraph serves to Studio (`get_context_jsonschema`, pydantic's
    `TypeAdapter(Context).json_schema()`) carries each field's default and its env var."""
    _clear_env(monkeypatch)
    properties = graph.get_context_jsonschema()["properties"]
    context = Context()
    assert set(properties) == {f.name for f in fields(Context)}
    for f in fields(Context):
        shown = properties[f.name]
        assert "default" in shown, f.name
        assert shown["default"] == getattr(context, f.name), f.name
        if f.name in REALLY_NONE:
            assert shown["default"] is None and "none" in shown["description"], f.name
        else:
            assert shown["default"] is not None, f.name
        assert shown["description"].endswith(f"Env: {f.metadata['env']}."), f.name


def test_env_vars_change_the_studio_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "5")
    monkeypatch.setenv("LLMCOMPILER_MODEL", "anthropic:claude-sonnet-4-5")
    monkeypatch.setenv("LLMCOMPILER_STREAM_PLAN", "yes")
    monkeypatch.setenv("LLMCOMPILER_TOOL_POLICIES", '{"search": {"retries": 1}}')
    properties = graph.get_context_jsonschema()["properties"]
    assert properties["max_replans"]["default"] == 5
    assert properties["model"]["default"] == "anthropic:claude-sonnet-4-5"
    assert properties["stream_plan"]["default"] is True
    assert properties["tool_policies"]["default"] == {"search": {"retries": 1}}
    monkeypatch.delenv("LLMCOMPILER_MAX_REPLANS")
    assert graph.get_context_jsonschema()["properties"]["max_replans"]["default"] == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_replans", -1),
        ("max_tasks", 0),
        ("llm_timeout", -0.5),
        ("task_timeout", -1),
        ("producer_timeout", -2.0),
        ("llm_retries", -1),
        ("max_concurrency", -3),
        ("max_observation_chars", 0),
        ("max_state_chars", 0),
        ("max_replans", "3"),
        ("max_tasks", 2.5),
        ("planner", "graph"),
        ("joiner", "loud"),
    ],
)
def test_bad_settings_are_refused_naming_field_value_and_env(
    monkeypatch: pytest.MonkeyPatch, name: str, value: object
) -> None:
    _clear_env(monkeypatch)
    env = next(f.metadata["env"] for f in fields(Context) if f.name == name)
    with pytest.raises(ValueError, match=rf"^{name} .*{re.escape(repr(value))}.*{env}"):
        Context(**{name: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=env):
        Context.of({name: value})


def test_zero_is_accepted_where_it_means_no_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    context = Context(max_replans=0, llm_timeout=0, task_timeout=0, max_concurrency=0)
    assert (context.max_replans, context.llm_timeout, context.max_concurrency) == (0, 0, 0)
    assert Context(llm_timeout=30).llm_timeout == 30  # an int where a float is expected


@pytest.mark.parametrize(
    ("env", "raw"),
    [
        ("LLMCOMPILER_MAX_REPLANS", "abc"),
        ("LLMCOMPILER_TEMPERATURE", "warm"),
        ("LLMCOMPILER_TASK_TIMEOUT", "10s"),
        ("LLMCOMPILER_STREAM_PLAN", "maybe"),
        ("LLMCOMPILER_TOOL_POLICIES", "{not json"),
        ("LLMCOMPILER_TOOL_POLICIES", "[1, 2]"),
    ],
)
def test_unreadable_env_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, raw: str
) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv(env, raw)
    with pytest.raises(ValueError, match=rf"^Environment variable {env}={re.escape(repr(raw))}"):
        Context()


def test_out_of_range_env_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("LLMCOMPILER_MAX_TASKS", "0")
    with pytest.raises(ValueError, match="max_tasks must be an integer >= 1, got 0 "):
        Context()
    monkeypatch.setenv("LLMCOMPILER_MAX_TASKS", "3")
    monkeypatch.setenv("LLMCOMPILER_JOINER", "shouty")
    with pytest.raises(ValueError, match=r"joiner .*'shouty'.*LLMCOMPILER_JOINER"):
        Context()


READY_MADE_ONLY = {"model", "temperature", "search_max_results"}
"""Context fields that `create_llmcompiler` takes as objects (its model and tools) instead."""
NOT_SETTINGS = {"model", "tools", "name", "checkpointer"}
"""`create_llmcompiler` arguments that are not serializable settings."""


def test_create_llmcompiler_and_context_are_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same names, same defaults: every serializable option of one is a field of the other."""
    for f in fields(Context):
        monkeypatch.delenv(f.metadata["env"], raising=False)
    parameters = inspect.signature(create_llmcompiler).parameters
    arguments = {name: p.default for name, p in parameters.items() if name not in NOT_SETTINGS}
    defaults = {f.name: getattr(Context(), f.name) for f in fields(Context)}
    assert arguments == {k: v for k, v in defaults.items() if k not in READY_MADE_ONLY}


def test_every_setting_reaches_the_components(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-default value of each setting, given through the environment, shows in the
    components the ready-made graph builds (one wiring path for both entry points)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sim")
    for name, value in {
        "LLMCOMPILER_MAX_REPLANS": "4",
        "LLMCOMPILER_LLM_TIMEOUT": "33",
        "LLMCOMPILER_LLM_RETRIES": "5",
        "LLMCOMPILER_MAX_STATE_CHARS": "999",
        "LLMCOMPILER_TOOL_POLICIES": '{"search": {"retries": 2, "max_concurrency": 4}}',
        "LLMCOMPILER_JOINER": "text",
        "LLMCOMPILER_MAX_CONCURRENCY": "3",
        "LLMCOMPILER_TASK_TIMEOUT": "9",
        "LLMCOMPILER_MAX_OBSERVATION_CHARS": "77",
        "LLMCOMPILER_MAX_TASKS": "5",
        "LLMCOMPILER_PRODUCER_TIMEOUT": "1.5",
        "LLMCOMPILER_PLANNER_PROMPT": "Plan with {tools} please.",
        "LLMCOMPILER_JOINER_PROMPT": "Join, custom. {protocol}",
        "LLMCOMPILER_PLANNER": "tools",
        "LLMCOMPILER_APPROVE_PLAN": "true",
    }.items():
        monkeypatch.setenv(name, value)
    parts = components_from_context(SimpleNamespace(context=None))
    assert parts.planner.format == "tools" and parts.gate() is not None
    assert parts.settings.max_replans == 4 and parts.settings.producer_timeout == 1.5
    assert parts.joiner.format == "text" and parts.joiner.max_observation_chars == 77
    assert parts.joiner.system_prompt.startswith("Join, custom.")
    assert parts.scheduler.max_concurrency == 3 and parts.scheduler.task_timeout == 9
    assert parts.planner.max_tasks == 5 and parts.planner.max_observation_chars == 77
    assert (parts.planner.llm.timeout, parts.planner.llm.retries) == (33, 5)
    assert (parts.joiner.llm.timeout, parts.joiner.llm.retries) == (33, 5)
    assert parts.settings.max_state_chars == 999
    assert (
        parts.scheduler.policies["search"].retries,
        parts.scheduler.policies["search"].max_concurrency,
    ) == (2, 4)
    assert parts.planner.system_prompt.startswith("Plan with 1. search(")


def test_joiner_plans_hands_the_planners_instructions_to_the_joiner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sim")
    monkeypatch.setenv("LLMCOMPILER_JOINER_PLANS", "true")
    parts = components_from_context(SimpleNamespace(context=None))
    assert parts.joiner.planning == parts.planner.system_prompt
    assert parts.joiner.system_prompt.startswith(parts.planner.system_prompt)  # one prefix
    assert "Replan: <what is missing, in a few words>" in parts.joiner.system_prompt


def test_ready_made_graph_builds_its_components_from_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key is needed to import or draw the graph; components are built per setting, once."""
    assert set(graph.get_graph().nodes) == {
        "__start__",
        "planner",
        "scheduler",
        "joiner",
        "__end__",
    }
    monkeypatch.setenv("OPENAI_API_KEY", "sim")
    first = components_from_context(SimpleNamespace(context={"max_replans": 1}))
    again = components_from_context(SimpleNamespace(context={"max_replans": 1}))
    other = components_from_context(SimpleNamespace(context=None))
    assert first is again and first is not other
    assert first.settings.max_replans == 1 and other.settings.max_replans == 2
    assert set(first.scheduler.tools) == {"search", "math", "calculate"}


def test_model_spec_errors_say_what_to_write() -> None:
    from llmcompiler_graph.models import load_chat_model

    with pytest.raises(ValueError, match="provider:model"):
        load_chat_model("llama3.1:8b")  # an Ollama tag without its provider


def test_every_setting_is_in_the_env_example() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    missing = [f.metadata["env"] for f in fields(Context) if f.metadata["env"] not in example]
    assert missing == []
