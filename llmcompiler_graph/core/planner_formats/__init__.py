"""The planner's formats: one module each, named as the `planner=` setting names it.

- `text` (the default): the paper's numbered plan language; a task is dispatched when its
  line's call closes (`core.parser`).
- `tools`: the plan as native tool calls, one per task, then `join`; a task is dispatched when
  its call's JSON arguments close (`core.tool_plan`). For models that bind tools.

Adding a format is one module here (plus its tests): it defines `STRATEGY`, an instance of a
`PlanFormat` subclass (its prompt, what the model is bound to, the reader of its stream). Its
name then is one of the settings' choices (`core.formats.PlannerFormat`), in Studio and the CLI.
"""

from __future__ import annotations

from llmcompiler_graph.core.formats import load
from llmcompiler_graph.core.planner_formats._base import PlanFormat, PlanReader

__all__ = ["PlanFormat", "PlanReader", "planner_format"]


def planner_format(name: str) -> PlanFormat:
    """The format of that name (a module of this package)."""
    found = load(__name__, name, "planner")
    assert isinstance(found, PlanFormat)
    return found
