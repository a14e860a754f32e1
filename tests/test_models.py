"""`load_chat_model`: specs read as LangChain reads them, OpenAI through our role-aware client,
other providers through `langchain`'s `init_chat_model`, install hints; no network."""

from __future__ import annotations

import sys
import types
from typing import Any

import httpx
import openai
import pytest
from langchain_core.exceptions import ModelConnectionError

from llmcompiler_graph.core.roles import ROLE_HEADER
from llmcompiler_graph.models import (
    describe_model_error,
    load_chat_model,
    parse_model_spec,
    provider_package,
)


@pytest.mark.parametrize(
    ("spec", "provider", "name"),
    [
        ("gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("o3-mini", "openai", "o3-mini"),
        ("claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"),
        ("mistral-large-latest", "mistralai", "mistral-large-latest"),
        ("deepseek-chat", "deepseek", "deepseek-chat"),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("anthropic:claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("ollama:llama3.1:8b", "ollama", "llama3.1:8b"),
        ("google_genai:gemini-2.5-flash", "google_genai", "gemini-2.5-flash"),
    ],
)
def test_specs_are_read_as_langchain_reads_them(spec: str, provider: str, name: str) -> None:
    assert parse_model_spec(spec) == (provider, name)


@pytest.mark.parametrize("spec", ["openai:gpt-4o-mini", "gpt-4o-mini"])
def test_openai_models_are_our_role_aware_streaming_client(spec: str) -> None:
    model = load_chat_model(spec, api_key="sim", temperature=0.3, max_retries=0)
    assert type(model).__name__ == "RoleAwareChatOpenAI"
    assert (model.model_name, model.temperature, model.max_retries) == ("gpt-4o-mini", 0.3, 0)
    assert model.streaming and model.stream_usage
    assert model.with_role("planner", None, {})["extra_headers"] == {ROLE_HEADER: "planner"}


@pytest.mark.parametrize("spec", ["llama3.1:8b", "my-model", "", ":gpt-4o-mini", "openai:"])
def test_a_bad_spec_says_what_to_write(spec: str) -> None:
    with pytest.raises(ValueError, match=r"provider:model.*openai:gpt-4o-mini"):
        load_chat_model(spec)


@pytest.mark.parametrize("spec", ["foo:bar", "my-cloud:model-1"])
def test_an_unknown_provider_is_named_with_the_known_ones(spec: str) -> None:
    """A provider LangChain does not know is not a package to install (`langchain-foo`)."""
    provider = spec.partition(":")[0]
    with pytest.raises(ValueError, match=f"^unknown model provider '{provider}'") as refused:
        load_chat_model(spec)
    said = str(refused.value)
    assert "anthropic, " in said and "openai:<model>" in said and "OPENAI_BASE_URL" in said
    assert "pip install" not in said and not isinstance(refused.value, ImportError)
    with pytest.raises(ValueError, match="unknown model provider"):
        parse_model_spec(spec)


def test_a_known_provider_may_be_written_as_langchain_normalizes_it() -> None:
    assert parse_model_spec("Google-GenAI:gemini-2.5-flash") == ("google_genai", "gemini-2.5-flash")


@pytest.fixture
def fake_langchain(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """`langchain` installed, as a stand-in whose `init_chat_model` records its calls."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def init_chat_model(model: str, **kwargs: Any) -> str:
        calls.append((model, kwargs))
        return f"chat model {model}"

    chat_models = types.ModuleType("langchain.chat_models")
    chat_models.init_chat_model = init_chat_model  # type: ignore[attr-defined]
    package = types.ModuleType("langchain")
    package.chat_models = chat_models  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", package)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", chat_models)
    return calls


@pytest.mark.parametrize("spec", ["anthropic:claude-sonnet-4-5", "claude-sonnet-4-5"])
def test_other_providers_go_through_init_chat_model(
    monkeypatch: pytest.MonkeyPatch, fake_langchain: list[tuple[str, dict[str, Any]]], spec: str
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_anthropic", types.ModuleType("langchain_anthropic"))
    assert load_chat_model(spec, temperature=0.0) == "chat model claude-sonnet-4-5"  # type: ignore[comparison-overlap]
    assert fake_langchain == [
        ("claude-sonnet-4-5", {"model_provider": "anthropic", "temperature": 0.0})
    ]


def test_a_missing_provider_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, fake_langchain: list[tuple[str, dict[str, Any]]]
) -> None:
    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install langchain-anthropic$"):
        load_chat_model("anthropic:claude-sonnet-4-5")
    monkeypatch.setitem(sys.modules, "langchain_google_genai", None)
    with pytest.raises(ImportError, match=r"pip install langchain-google-genai$"):
        load_chat_model("google_genai:gemini-2.5-flash")
    assert fake_langchain == []


def test_missing_langchain_says_to_install_it_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain", None)
    monkeypatch.setitem(sys.modules, "langchain_anthropic", None)
    with pytest.raises(ImportError, match=r"pip install langchain langchain-anthropic$"):
        load_chat_model("claude-sonnet-4-5")
    monkeypatch.setitem(sys.modules, "langchain_anthropic", types.ModuleType("x"))
    with pytest.raises(ImportError, match=r"pip install langchain$"):
        load_chat_model("anthropic:claude-sonnet-4-5")


def test_provider_packages() -> None:
    assert provider_package("anthropic") == "langchain-anthropic"
    assert provider_package("bedrock_converse") == "langchain-aws"
    assert provider_package("somecloud") == "langchain-somecloud"


class APIConnectionError(Exception):
    """Named like the anthropic SDK's (matched by name, whichever SDK raised it)."""


class AuthenticationError(Exception):
    status_code = 401


def test_connection_errors_get_guidance_for_every_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://proxy.local:8080")
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    refused = openai.APIConnectionError(request=request)
    refused.__cause__ = ConnectionRefusedError("Connection refused")
    said = describe_model_error(refused, "openai:gpt-4o-mini")
    assert said is not None
    assert "https://api.openai.com/v1" in said and "OPENAI_BASE_URL" in said
    assert "Connection refused" in said
    said = describe_model_error(APIConnectionError("down"), "anthropic:claude-sonnet-4-5")
    assert said is not None and "http://proxy.local:8080" in said
    assert "ANTHROPIC_BASE_URL" in said
    said = describe_model_error(ModelConnectionError("no route"), "mistral-large-latest")
    assert said is not None and said.startswith("could not reach the model server")
    said = describe_model_error(AuthenticationError("bad key"), "claude-sonnet-4-5")
    assert said is not None and "ANTHROPIC_API_KEY" in said
    assert describe_model_error(ValueError("not a provider's"), "gpt-4o-mini") is None


def test_a_missing_provider_package_is_also_a_value_error_so_servers_pass_its_message() -> None:
    import importlib.util

    from llmcompiler_graph.models import MissingPackageError, load_chat_model

    if importlib.util.find_spec("langchain_xai") is not None:
        pytest.skip("langchain-xai is installed")
    with pytest.raises(MissingPackageError, match="pip install") as raised:
        load_chat_model("xai:grok-2")
    assert isinstance(raised.value, ImportError) and isinstance(raised.value, ValueError)
