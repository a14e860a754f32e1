"""Checks the commands make before a run starts: settings, the model, keys.

Each problem is a `UsageProblem` whose message says what to fix and how; `ask` and `dev` both use
them (the CLI prints the message and exits with 2).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from llmcompiler_graph.context import Context, env_variable
from llmcompiler_graph.settings import SettingError

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
    value the run cannot use is a usage error naming where it came from: the flag, or the
    environment variable."""
    try:
        return Context.of(overrides)
    except ValueError as exc:  # a SettingError, or a variable's text that is not a value
        said = _sourced(exc, overrides) if isinstance(exc, SettingError) else exc
        raise UsageProblem(
            f"Error: {said}\nSee llmcompiler-graph {command} --help, or "
            "llmcompiler-graph env-example for every setting."
        ) from None


def _sourced(exc: SettingError, overrides: dict[str, Any]) -> SettingError:
    """`exc` saying where its value came from: the flag that gave it, else the environment
    variable (a command's context has no other source; `Context` cannot tell them apart)."""
    name = exc.name.partition("[")[0]
    if name in overrides and name in FLAGS:
        return SettingError(FLAGS[name], exc.value, exc.requirement)
    env = env_variable(name)
    source = f" (env {env})" if env and os.environ.get(env, "").strip() else ""
    return SettingError(exc.name, exc.value, exc.requirement, source)


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
    """Refuse a model spec that cannot load, saying why: malformed, a provider LangChain does
    not know, or a provider package to install (what `load_chat_model` would raise at the first
    LLM call, before anything runs)."""
    from llmcompiler_graph.models import require_packages

    try:
        require_packages(model)
    except ValueError as exc:  # a `MissingPackageError` is one too
        raise UsageProblem(f"Error: {exc}") from None


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
