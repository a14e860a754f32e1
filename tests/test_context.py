"""The ready-made graph's `Context`: env fallbacks, and whatever a caller passes as context."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from llmcompiler_graph.context import Context
from llmcompiler_graph.graph import components_from_context, graph


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
    from dataclasses import fields

    assert all(f.metadata.get("description") for f in fields(Context))


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
    assert first.max_replans == 1 and other.max_replans == 2
    assert set(first.scheduler.tools) == {"search", "math", "calculate"}


def test_model_spec_errors_say_what_to_write() -> None:
    from llmcompiler_graph.models import load_chat_model

    with pytest.raises(ValueError, match="provider:model"):
        load_chat_model("gpt-4o-mini")
