"""Chat models from `"provider:model"` strings (the ready-made graph's and the simulators').

`load_chat_model` reads a spec the way LangChain's `init_chat_model` does: `"provider:model"`, or
a bare name whose provider LangChain infers (`"gpt-4o-mini"` -> openai, `"claude-..."` ->
anthropic, ...). OpenAI models are our `RoleAwareChatOpenAI`; the others come from the `langchain`
package's `init_chat_model`, and a missing package is an `ImportError` saying what to install
(`require_packages` checks before a run); a provider LangChain does not know is a `ValueError`
naming the ones it knows.
`describe_model_error` turns a provider's failure (key, model, rate limit, connection) into one
sentence on what to check, whichever provider it is.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import sys
from typing import Any

from langchain_core.language_models import BaseChatModel

from llmcompiler_graph.core.retry import http_status
from llmcompiler_graph.core.roles import PROTOCOL_HEADER, ROLE_HEADER, RoleAware, RoleName

PROVIDER_PACKAGES: dict[str, str] = {
    "anthropic": "langchain-anthropic",
    "anthropic_bedrock": "langchain-aws",
    "azure_ai": "langchain-azure-ai",
    "azure_openai": "langchain-openai",
    "baseten": "langchain-baseten",
    "bedrock": "langchain-aws",
    "bedrock_converse": "langchain-aws",
    "cohere": "langchain-cohere",
    "deepseek": "langchain-deepseek",
    "fireworks": "langchain-fireworks",
    "google_anthropic_vertex": "langchain-google-vertexai",
    "google_genai": "langchain-google-genai",
    "google_vertexai": "langchain-google-vertexai",
    "groq": "langchain-groq",
    "huggingface": "langchain-huggingface",
    "ibm": "langchain-ibm",
    "litellm": "langchain-litellm",
    "mistralai": "langchain-mistralai",
    "nvidia": "langchain-nvidia-ai-endpoints",
    "ollama": "langchain-ollama",
    "openai": "langchain-openai",
    "openrouter": "langchain-openrouter",
    "perplexity": "langchain-perplexity",
    "together": "langchain-together",
    "upstage": "langchain-upstage",
    "xai": "langchain-xai",
}
"""The providers LangChain's `init_chat_model` knows, and the package each needs (a copy of
LangChain's table, used when `langchain` is not installed; LangChain's own wins when it is)."""

_INFERRED: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gpt-", "o1", "o3", "chatgpt", "text-davinci"), "openai"),
    (("claude",), "anthropic"),
    (("command",), "cohere"),
    (("accounts/fireworks",), "fireworks"),
    (("gemini",), "google_vertexai"),
    (("amazon.", "anthropic.", "meta."), "bedrock"),
    (("mistral", "mixtral"), "mistralai"),
    (("deepseek",), "deepseek"),
    (("grok",), "xai"),
    (("sonar",), "perplexity"),
    (("solar",), "upstage"),
)
"""Name prefix -> provider, as LangChain's `init_chat_model` infers it (used when `langchain`
is not installed)."""

PROVIDER_ENV: dict[str, tuple[str | None, str | None]] = {
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "azure_openai": ("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"),
    "cohere": ("COHERE_API_KEY", None),
    "deepseek": ("DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE"),
    "fireworks": ("FIREWORKS_API_KEY", None),
    "google_genai": ("GOOGLE_API_KEY", None),
    "google_vertexai": (None, None),
    "groq": ("GROQ_API_KEY", None),
    "mistralai": ("MISTRAL_API_KEY", None),
    "ollama": (None, "OLLAMA_HOST"),
    "openrouter": ("OPENROUTER_API_KEY", None),
    "perplexity": ("PPLX_API_KEY", None),
    "together": ("TOGETHER_API_KEY", None),
    "upstage": ("UPSTAGE_API_KEY", None),
    "xai": ("XAI_API_KEY", None),
}
"""Provider -> (the env var of its API key, the env var of its server's URL), for the hints of
`describe_model_error` and for a CLI that checks keys before it starts."""

_PROVIDER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class MissingPackageError(ImportError, ValueError):
    """A model's provider package is not installed; the message says what to `pip install`.

    Also a `ValueError`, so that the LangGraph server passes its message on to clients (it
    replaces the message of other exception types, `ImportError` among them, with "An internal
    error occurred")."""


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`"provider:model"` or a bare model name -> `(provider, model)`, as `init_chat_model`
    reads it: a known provider prefix is split off, else the provider is inferred from the name
    (`"gpt-4o-mini"` -> `("openai", "gpt-4o-mini")`). `ValueError` if neither works, naming
    the providers LangChain knows when the prefix is a provider it does not know (`"foo:bar"`:
    installing a `langchain-foo` would not help)."""
    prefix, sep, rest = spec.partition(":")
    known = _known_providers()
    if sep and rest and prefix in known:
        return prefix, rest
    inferred = infer_provider(spec) if spec else None
    if inferred is not None:
        return inferred, spec
    if sep and rest and _PROVIDER_NAME.fullmatch(prefix):
        provider = prefix.replace("-", "_").lower()
        if provider in known:
            return provider, rest
        raise ValueError(
            f"unknown model provider {prefix!r} (in {spec!r}): LangChain's init_chat_model "
            f"knows {', '.join(sorted(known))}. For an OpenAI-compatible server (vLLM, Ollama, "
            "...) write 'openai:<model>' and set OPENAI_BASE_URL."
        )
    raise ValueError(
        "model must be 'provider:model' (e.g. 'openai:gpt-4o-mini', "
        "'anthropic:claude-sonnet-4-5', 'ollama:llama3.1:8b') or a name whose provider LangChain "
        f"infers (gpt-..., o1/o3..., claude-..., gemini-..., mistral-..., ...); got {spec!r}."
    )


def infer_provider(name: str) -> str | None:
    """The provider LangChain's `init_chat_model` infers from a bare model name, or None."""
    infer = _langchain_attribute("_attempt_infer_model_provider")
    if infer is not None:
        try:
            return infer(name)
        except Exception:  # a private helper of LangChain's; our table stands in
            pass
    lowered = name.lower()
    for prefixes, provider in _INFERRED:
        if lowered.startswith(prefixes):
            return provider
    return None


def provider_package(provider: str) -> str:
    """The pip package of a provider's LangChain integration (`langchain-<provider>` if
    LangChain's table does not say otherwise)."""
    builtin = _langchain_attribute("_BUILTIN_PROVIDERS")
    if isinstance(builtin, dict) and provider in builtin:
        return builtin[provider][0].split(".")[0].replace("_", "-")
    return PROVIDER_PACKAGES.get(provider, f"langchain-{provider.replace('_', '-')}")


def load_chat_model(spec: str, **kwargs: Any) -> BaseChatModel:
    """`"openai:gpt-4o-mini"` (or `"gpt-4o-mini"`) -> a streaming `ChatOpenAI` that reports
    token usage.

    OpenAI models honour `OPENAI_BASE_URL` (through the `openai` SDK), so vLLM, Ollama or any
    OpenAI-compatible server works, and send the role of each of the package's calls (planner,
    joiner, math) as the `X-LLMCompiler-Role` header. Other providers go through the `langchain`
    package's `init_chat_model`; if it or the provider's integration is not installed, an
    `ImportError` says what to install (e.g. `pip install langchain langchain-anthropic`).
    `kwargs` go to the model's constructor.
    """
    provider, name = require_packages(spec)
    if provider == "openai":
        return _chat_openai()(model=name, streaming=True, stream_usage=True, **kwargs)
    return _langchain_attribute("init_chat_model")(name, model_provider=provider, **kwargs)


def require_packages(spec: str) -> tuple[str, str]:
    """`parse_model_spec(spec)`, once the packages its models need are installed: else a
    `MissingPackageError` says what to `pip install` (the `langchain` package, for its
    `init_chat_model`, and the provider's integration; OpenAI's is a dependency of ours)."""
    provider, name = parse_model_spec(spec)
    if provider == "openai":
        return provider, name
    package = provider_package(provider)
    missing = [] if _langchain_attribute("init_chat_model") is not None else ["langchain"]
    if not _installed(package.replace("-", "_")) and not (
        provider == "ollama" and _installed("langchain_community")  # LangChain's fallback
    ):
        missing.append(package)
    if missing:
        raise MissingPackageError(
            f"the model {spec!r} (provider {provider!r}) needs {' and '.join(missing)}: "
            f"pip install {' '.join(missing)}"
        )
    return provider, name


def describe_model_error(exc: BaseException, spec: str | None = None) -> str | None:
    """One sentence on what went wrong with the model provider and what to check, for any
    provider (LangChain's `ModelError` classes, the SDKs' `AuthenticationError`,
    `APIConnectionError`... by name, HTTP statuses, connection errors); None if `exc` is not a
    provider's failure. `spec` (the model setting) names the provider's env vars in the hint."""
    provider = None
    if spec:
        try:
            provider = parse_model_spec(spec)[0]
        except ValueError:
            provider = None
    key_env, url_env = PROVIDER_ENV.get(provider or "", (None, None))
    key_hint = f"Check {key_env}" if key_env else "Check the provider's credentials"
    if url_env:
        key_hint += f" (and {url_env} if you use another server)"
    server = os.environ.get(url_env) if url_env else None
    if provider == "openai":
        server = server or "https://api.openai.com/v1"
    where = f" at {server}" if server else ""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    names = {cls.__name__ for cls in type(exc).__mro__}
    status = http_status(exc)
    if names & {"ModelAuthenticationError", "ModelPermissionDeniedError"} or (
        names & {"AuthenticationError", "PermissionDeniedError"} or status in (401, 403)
    ):
        return f"the model provider refused the credentials ({message}). {key_hint}."
    if names & {"ModelNotFoundError", "NotFoundError"} or status == 404:
        return (
            f"the model provider does not know this model ({message}). "
            "Check --model / LLMCOMPILER_MODEL."
        )
    if names & {"ModelRateLimitError", "RateLimitError"} or status == 429:
        return f"the provider is rate-limiting this key, or its quota is spent ({message})."
    if (
        names & {"ModelConnectionError", "APIConnectionError", "ConnectError", "NetworkError"}
        or isinstance(exc, ConnectionError)
    ) and not names & {"APITimeoutError", "ModelTimeoutError"}:
        hint = f", proxy settings or {url_env}" if url_env else " or proxy settings"
        return (
            f"could not reach the model server{where} ({_root_cause(exc)}). "
            f"Check your network{hint}."
        )
    if names & {"ModelTimeoutError", "APITimeoutError", "TimeoutException"}:
        return f"the model server{where} did not answer in time ({message})."
    if names & {"ModelError", "APIStatusError", "APIError"} or status is not None:
        return f"the model provider failed ({message})."
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception of a chain: what actually failed (e.g. the socket error)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _known_providers() -> set[str]:
    builtin = _langchain_attribute("_BUILTIN_PROVIDERS")
    return set(PROVIDER_PACKAGES) | (set(builtin) if isinstance(builtin, dict) else set())


def _langchain_attribute(name: str) -> Any:
    """An attribute of the `langchain` package's `chat_models` (its `base` module for private
    ones), or None when `langchain` is not installed."""
    module = "langchain.chat_models" if not name.startswith("_") else "langchain.chat_models.base"
    if not _installed("langchain"):
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _installed(module: str) -> bool:
    """Whether `module` can be imported (a `None` in `sys.modules` means it cannot)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def _chat_openai() -> type[BaseChatModel]:
    """`ChatOpenAI` whose requests carry the role of the call (imported on first use)."""
    from langchain_openai import ChatOpenAI

    class RoleAwareChatOpenAI(RoleAware, ChatOpenAI):
        """`ChatOpenAI` that sends `X-LLMCompiler-Role` (and `X-LLMCompiler-Protocol`) when a
        call has one of our roles."""

        def with_role(
            self, role: RoleName, protocol: str | None, kwargs: dict[str, Any]
        ) -> dict[str, Any]:
            headers = {**kwargs.get("extra_headers", {}), ROLE_HEADER: role}
            if protocol:
                headers[PROTOCOL_HEADER] = protocol
            return {**kwargs, "extra_headers": headers}

    return RoleAwareChatOpenAI
