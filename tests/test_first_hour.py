"""A newcomer's first `ask` mistakes, each answered in the order and words that help: a model
that cannot load before missing keys, an unknown provider named as such, a bad setting named by
where it came from (the flag, or the environment variable)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from llmcompiler_graph.app import cli
from llmcompiler_graph.app.preflight import read_context
from llmcompiler_graph.graph import components_from_context

KEYS = ("OPENAI_API_KEY", "TAVILY_API_KEY", "OPENAI_BASE_URL", "LLMCOMPILER_MODEL")


@pytest.fixture(autouse=True)
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No API keys nor settings in the environment, and no .env file to find them in."""
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("LLMCOMPILER_MAX_REPLANS", raising=False)
    monkeypatch.chdir(tmp_path)


def said(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What `llmcompiler-graph ARGV` says on stderr, on one line, once it exited with 2."""
    assert cli.main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def test_an_unknown_provider_is_named_with_the_known_ones(capsys) -> None:
    """`foo:bar` is not a provider whose package is missing: no `pip install langchain-foo`."""
    err = said(["ask", "--model", "foo:bar", "Which is older?"], capsys)

    assert err.startswith("Error: unknown model provider 'foo'")
    assert "anthropic" in err and "ollama" in err and "openai:<model>" in err
    assert "pip install" not in err and "langchain-foo" not in err
    assert "Missing" not in err, "the model is checked before the keys"


def test_the_model_is_checked_before_the_keys(capsys) -> None:
    """No keys and a provider package missing: the package is what to fix first (a key would
    not make the model load)."""
    if importlib.util.find_spec("langchain_xai") is not None:
        pytest.skip("langchain-xai is installed")
    err = said(["ask", "--model", "xai:grok-2", "Which is older?"], capsys)

    assert err.startswith("Error: the model 'xai:grok-2' (provider 'xai') needs")
    assert "pip install" in err and "langchain-xai" in err
    assert "Missing" not in err and "XAI_API_KEY" not in err


def test_simulate_checks_neither_the_model_nor_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator plays one model: a model setting it will not use stops nothing."""
    monkeypatch.setenv("LLMCOMPILER_MODEL", "foo:bar")
    args = cli.build_parser().parse_args(["ask", "--simulate", "Which is older?"])

    question, context = cli.prepare_ask(args)

    assert question == "Which is older?" and context.model == "foo:bar"


def test_a_bad_flag_value_names_the_flag(capsys) -> None:
    err = said(["ask", "--max-replans", "-1", "Which is older?"], capsys)

    assert err.startswith("Error: --max-replans must be an integer >= 0, got -1.")
    assert "LLMCOMPILER_MAX_REPLANS" not in err and "given in the context" not in err


def test_a_flag_is_named_even_when_the_variable_is_set(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "1")
    err = said(["ask", "--simulate", "--max-replans", "-1", "Which is older?"], capsys)

    assert err.startswith("Error: --max-replans must be an integer >= 0, got -1.")
    assert "LLMCOMPILER_MAX_REPLANS" not in err


def test_a_bad_variable_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "-1")
    err = said(["ask", "Which is older?"], capsys)

    assert err.startswith(
        "Error: max_replans must be an integer >= 0, got -1 (env LLMCOMPILER_MAX_REPLANS)."
    )
    assert "--max-replans" not in err and "given in the context" not in err


def test_joiner_plans_from_the_environment_is_left_alone_by_a_joiner_that_cannot_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """joiner_plans=true from the environment with --joiner text: the text joiner never writes
    plans, so nothing is refused and no plan-writing instructions reach its prompt."""
    monkeypatch.setenv("LLMCOMPILER_JOINER_PLANS", "true")
    monkeypatch.setenv("OPENAI_API_KEY", "sim")

    context = read_context({"joiner": "text"})
    parts = components_from_context(SimpleNamespace(context=context))

    assert parts.joiner.format == "text" and parts.joiner.planning is None
    assert "Replan: <what is missing" not in parts.joiner.system_prompt
