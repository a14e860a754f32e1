"""`tools`: the plan as native tool calls, one per task, `"$N"` references inside the JSON
arguments, then a call of `join`; each task is published the moment its call's arguments close
(`core.tool_plan`). The model must bind tools."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from llmcompiler_graph.core.planner_formats._base import PlanFormat, PlanReader
from llmcompiler_graph.core.prompts import TOOLS_PLANNER_PROMPT, tool_planner_examples
from llmcompiler_graph.core.tool_plan import ToolPlanReader, join_tool
from llmcompiler_graph.core.toolbox import Toolbox


class Tools(PlanFormat):
    template = TOOLS_PLANNER_PROMPT

    def examples(self, signatures: Mapping[str, list[str]]) -> str:
        return tool_planner_examples(signatures)

    def bind(self, model: BaseChatModel, toolbox: Toolbox) -> Runnable:
        try:
            return model.bind_tools([*toolbox.values(), join_tool()])
        except NotImplementedError:
            raise ValueError(
                f"planner='tools' needs a chat model that binds tools, and "
                f"{type(model).__name__} cannot: use planner='text'."
            ) from None

    def reader(
        self, signatures: Mapping[str, Sequence[str]], known_ids: Iterable[int]
    ) -> PlanReader:
        return ToolPlanReader(signatures, known_ids=known_ids)

    def continue_ids(self, next_id: int) -> str:
        return (
            f"Call the functions of a new plan: its first call is ${next_id}, the next "
            f"${next_id + 1}, and so on."
        )


STRATEGY = Tools()
