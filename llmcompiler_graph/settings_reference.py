"""The settings reference: a markdown table rendered from the settings types themselves.

`markdown_table()` lists every field of the ready-made graph's `Context` (the fields of
`Settings` plus `model`, `temperature` and `search_max_results`) with its environment variable,
built-in default, allowed values and description, all read from the fields' metadata. The
documentation site puts it on its settings page at build time (`docs/hooks.py`), so the
reference cannot drift from the code. `signature()` renders `create_llmcompiler`'s signature the
same way.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import MISSING, Field, fields
from typing import Any, Literal, get_args, get_origin

from llmcompiler_graph.context import Context
from llmcompiler_graph.settings import FALSE, TRUE, Settings, type_hints

__all__ = ["builtin_default", "markdown_table", "rows", "signature"]


HEADER = ("Setting", "Environment variable", "Default", "Allowed values", "Description")


@contextmanager
def _without(variable: str) -> Iterator[None]:
    """The environment without `variable` for a moment (a field's factory reads it)."""
    saved = os.environ.pop(variable, None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ[variable] = saved


def builtin_default(f: Field[Any]) -> Any:
    """The default a field has when its environment variable is not set."""
    if f.default is not MISSING:
        return f.default
    own = Settings.__dataclass_fields__.get(f.name)
    if own is not None:
        return own.default
    with _without(f.metadata["env"]):
        return f.default_factory()  # type: ignore[misc]


def _code(text: str) -> str:
    return f"`{text}`"


def show_default(value: Any) -> str:
    """A default as a person types it: in Python, in the environment or in Studio."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, int | float):
        return _code(f"{value:,}" if isinstance(value, int) and value >= 10_000 else f"{value:g}")
    return _code(str(value))


def allowed(f: Field[Any], hint: Any) -> str:
    """What a field accepts: its choices, its bounds or its kind."""
    args = get_args(hint)
    if type(None) in args:
        hint = next(a for a in args if a is not type(None))
    if get_origin(hint) is Literal:
        return ", ".join(_code(str(choice)) for choice in get_args(hint))
    if hint is bool:
        return f"{_code(TRUE[0])} or {_code(FALSE[0])}"
    if hint in (int, float):
        kind = "integer" if hint is int else "number"
        low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
        if low is not None and high is not None:
            return f"{kind}, {low:g} to {high:,}"
        if low is not None:
            return f"{kind} >= {low:g}"
        return kind
    if f.name == "tool_policies":
        return "tool name -> policy (JSON object in the variable)"
    return "text"


def describe(f: Field[Any]) -> str:
    """The field's description without its trailing `Env: X.` (the table has a column for it)."""
    text = f.metadata["description"]
    suffix = f" Env: {f.metadata['env']}."
    text = text[: -len(suffix)] if text.endswith(suffix) else text
    return text.replace("|", "\\|")


def rows() -> list[tuple[str, str, str, str, str]]:
    """One row per `Context` field, in the fields' order."""
    hints = type_hints(Context)
    table = []
    for f in fields(Context):
        table.append(
            (
                _code(f.name),
                _code(f.metadata["env"]),
                show_default(builtin_default(f)),
                allowed(f, hints[f.name]),
                describe(f),
            )
        )
    return table


def markdown_table() -> str:
    """The settings reference as a markdown table: each setting's name with its environment
    variable under it, its default, its allowed values and its description."""
    header = (f"{HEADER[0]} / {HEADER[1].lower()}", *HEADER[2:])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, env, *rest in rows():
        lines.append("| " + " | ".join((f"{name}<br>{env}", *rest)) + " |")
    return "\n".join(lines) + "\n"


def signature() -> str:
    """`create_llmcompiler`'s signature, wrapped at 96 characters."""
    from llmcompiler_graph.graph import create_llmcompiler

    params = list(inspect.signature(create_llmcompiler).parameters.values())
    parts, keyword_only = [], False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not keyword_only:
            parts.append("*")
            keyword_only = True
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    lines, line = [], "create_llmcompiler("
    indent = " " * len(line)
    for i, part in enumerate(parts):
        piece = part + (", " if i < len(parts) - 1 else ")")
        if len(line) + len(piece.rstrip()) > 96:
            lines.append(line.rstrip())
            line = indent
        line += piece
    lines.append(line)
    return "\n".join(lines) + "\n"
