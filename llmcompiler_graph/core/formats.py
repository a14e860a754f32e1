"""The names of the planner's formats and the joiner's protocols, importable without LangChain
(the settings, Studio and the CLI list their choices from them).

The planner's formats are the modules of `core.planner_formats`, the joiner's protocols those of
`core.joiner_protocols` (found without importing them): adding a module there adds a choice.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Literal


def load(package: str, name: str, setting: str) -> Any:
    """The strategy that module `name` of `package` defines (its `STRATEGY`), or a ValueError
    naming the `setting` and its choices."""
    choices = _modules(package)
    if name not in choices:
        listed = ", ".join(map(repr, choices))
        raise ValueError(f"{setting} must be one of {listed}, got {name!r}.")
    return import_module(f"{package}.{name}").STRATEGY


def _modules(package: str) -> tuple[str, ...]:
    spec = find_spec(package)
    assert spec is not None and spec.submodule_search_locations is not None, package
    found = pkgutil.iter_modules(spec.submodule_search_locations)
    return tuple(sorted(m.name for m in found if not m.name.startswith("_")))


JOINER_PROTOCOLS = _modules("llmcompiler_graph.core.joiner_protocols")
"""Every joiner protocol's name: `lean`, `structured`, `text`, and any module added there."""

PLANNER_FORMATS = _modules("llmcompiler_graph.core.planner_formats")
"""Every planner format's name: `text`, `tools`, and any module added there."""

if TYPE_CHECKING:
    JoinerFormat = Literal["lean", "structured", "text"]
    PlannerFormat = Literal["text", "tools"]
else:
    JoinerFormat = Literal[JOINER_PROTOCOLS]
    PlannerFormat = Literal[PLANNER_FORMATS]
"""The name of a joiner protocol, of a planner format (type checkers see the built-in ones)."""
