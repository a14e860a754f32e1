"""The ready-made graph's `Context`: env fallbacks, and whatever a caller passes as context."""

from __future__ import annotations

import inspect
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
    }.items():
        monkeypatch.setenv(name, value)
    parts = components_from_context(SimpleNamespace(context=None))
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
        load_chat_model("gpt-4o-mini")


def test_every_setting_is_in_the_env_example() -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    missing = [f.metadata["env"] for f in fields(Context) if f.metadata["env"] not in example]
    assert missing == []
