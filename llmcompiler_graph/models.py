"""Chat models from `"provider:model"` strings."""

from __future__ import annotations

import importlib
from typing import Any

from langchain_core.language_models import BaseChatModel


def load_chat_model(spec: str, **kwargs: Any) -> BaseChatModel:
    """`"openai:gpt-4o-mini"` -> a streaming `ChatOpenAI` that reports token usage.

    OpenAI models honour `OPENAI_BASE_URL` (through the `openai` SDK), so vLLM, Ollama or any
    OpenAI-compatible server works. Other providers go through LangChain's `init_chat_model`
    (install `langchain` and the provider's package, e.g. `langchain-anthropic`).
    """
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise ValueError(
            f"model must look like 'provider:model', e.g. 'openai:gpt-4o-mini'; got {spec!r}."
        )
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=name, streaming=True, stream_usage=True, **kwargs)
    for module in ("langchain.chat_models", "langchain_classic.chat_models"):
        try:
            init_chat_model = importlib.import_module(module).init_chat_model
        except ImportError:
            continue
        return init_chat_model(name, model_provider=provider, **kwargs)
    raise ImportError(
        f"Provider {provider!r} needs LangChain's init_chat_model: pip install langchain "
        f"langchain-{provider}"
    )
