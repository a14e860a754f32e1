"""Chat models from `"provider:model"` strings (the ready-made graph's and the simulators')."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from langchain_core.language_models import BaseChatModel

from llmcompiler_graph.core.roles import PROTOCOL_HEADER, ROLE_HEADER, RoleAware, RoleName


def load_chat_model(spec: str, **kwargs: Any) -> BaseChatModel:
    """`"openai:gpt-4o-mini"` -> a streaming `ChatOpenAI` that reports token usage.

    OpenAI models honour `OPENAI_BASE_URL` (through the `openai` SDK), so vLLM, Ollama or any
    OpenAI-compatible server works, and send the role of each of the package's calls (planner,
    joiner, math) as the `X-LLMCompiler-Role` header. Other providers go through LangChain's
    `init_chat_model` (install `langchain` and the provider's package, e.g.
    `langchain-anthropic`). `kwargs` go to the model's constructor.
    """
    provider, sep, name = spec.partition(":")
    if not sep or not provider or not name:
        raise ValueError(
            f"model must look like 'provider:model', e.g. 'openai:gpt-4o-mini'; got {spec!r}."
        )
    if provider == "openai":
        return _chat_openai()(model=name, streaming=True, stream_usage=True, **kwargs)
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
