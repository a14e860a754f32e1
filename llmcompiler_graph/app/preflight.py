"""Checks the commands make before a run starts: settings, keys, the model's provider package.

Each problem is a `UsageProblem` whose message says what to fix and how; `ask` and `dev` both use
them (the CLI prints the message and exits with 2).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from llmcompiler_graph.context import Context

KEY_HELP = {
    "OPENAI_API_KEY": ("sk-...", "https://platform.openai.com/api-keys"),
    "TAVILY_API_KEY": ("tvly-...", "https://app.tavily.com"),
}


class UsageProblem(Exception):
    """Something the user must fix before the run; the message says what and how."""


FLAGS = {"model": "--model", "max_replans": "--max-replans", "joiner": "--joiner"}
"""The Context fields `ask` sets from flags, and the flag of each."""


def read_context(overrides: dict[str, Any], command: str = "ask") -> Context:
    """The run's settings: `overrides` (from flags) over the environment and the defaults; a
    value the run cannot use is a usage error naming the flag or the variable."""
    try:
        return Context.of(overrides)
    except ValueError as exc:
        said = str(exc)
        given = [flag for name, flag in FLAGS.items() if name in overrides]
        flags = [flag for flag in given if said.startswith(flag[2:].replace("-", "_") + " ")]
        where = f"{flags[0]}: " if flags else ""
        raise UsageProblem(
            f"Error: {where}{exc}\nSee llmcompiler-graph {command} --help, or "
            "llmcompiler-graph env-example for every setting."
        ) from None


def require_keys(model: str, command: str = "ask") -> None:
    """Refuse to start without the keys the run needs, saying how to set them."""
    from llmcompiler_graph.models import PROVIDER_ENV, parse_model_spec

    try:
        provider = parse_model_spec(model)[0]
    except ValueError as exc:
        raise UsageProblem(f"Error: {exc}") from None
    key = PROVIDER_ENV.get(provider, (None, None))[0]
    needed = [key] if key else []
    missing = [key for key in [*needed, "TAVILY_API_KEY"] if not os.environ.get(key)]
    if missing:
        raise UsageProblem(missing_keys_message(missing, command))


def check_model(model: str) -> None:
    """Refuse a model whose provider package is not installed, saying what to install (what
    `load_chat_model` would raise at the first LLM call, before anything runs)."""
    import importlib.util

    from llmcompiler_graph.models import parse_model_spec, provider_package

    provider = parse_model_spec(model)[0]
    if provider == "openai":
        return
    package = provider_package(provider)
    needed = [
        name
        for name in ("langchain", package)
        if importlib.util.find_spec(name.replace("-", "_")) is None
    ]
    if provider == "ollama" and importlib.util.find_spec("langchain_community") is not None:
        needed = [name for name in needed if name != package]  # LangChain's fallback
    if needed:
        raise UsageProblem(
            f"Error: the model {model!r} (provider {provider!r}) needs {' and '.join(needed)}: "
            f"pip install {' '.join(needed)}"
        )


def missing_keys_message(missing: Sequence[str], command: str = "ask") -> str:
    from llmcompiler_graph.app.demo import SHOWCASE_QUESTIONS

    helps = {key: KEY_HELP.get(key, ("...", "from your model provider")) for key in missing}
    exports = "\n".join(
        f"  export {key}={example:<12} # {where}" for key, (example, where) in helps.items()
    )
    local = (
        "\nOPENAI_BASE_URL is set: if that server needs no key, any value will do "
        "(export OPENAI_API_KEY=none)."
        if "OPENAI_API_KEY" in missing and os.environ.get("OPENAI_BASE_URL")
        else ""
    )
    offline = (
        "  llmcompiler-graph dev --simulate"
        if command == "dev"
        else "  llmcompiler-graph demo\n"
        f'  llmcompiler-graph ask --simulate "{SHOWCASE_QUESTIONS[0]}"'
    )
    what = "`langgraph dev` serves the graph with" if command == "dev" else "`ask` calls"
    return (
        f"Missing {' and '.join(missing)}: {what} a real model and web search.\n"
        f"Set them in your shell:\n{exports}\n"
        "or in a .env file in this directory; this writes one listing every setting:\n"
        f"  llmcompiler-graph env-example --write .env{local}\n"
        f"No keys? Run offline on simulated services:\n{offline}"
    )
