"""What every planner format shares: the interface of a format and of its reader."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessageChunk
from langchain_core.runnables import Runnable

from llmcompiler_graph.core.plan import Task
from llmcompiler_graph.core.prompts import fill
from llmcompiler_graph.core.toolbox import Toolbox


class PlanReader(Protocol):
    """Reads one streamed plan: each call of `feed` returns the tasks completed by that chunk
    (in order, each once); `close` the rest; `joined` whether the plan reached `join`."""

    def feed(self, chunk: BaseMessageChunk) -> list[Task]: ...

    def close(self) -> list[Task]: ...

    @property
    def joined(self) -> bool: ...


class PlanFormat:
    """How the planner asks for a plan, and how the streamed reply becomes tasks.

    A format is a module of `llmcompiler_graph.core.planner_formats` whose `STRATEGY` is an
    instance of a subclass; the module's name is the format's name (`planner=` setting).
    """

    template: ClassVar[str]
    """The default system prompt template (placeholders: `{tools}`, `{join_number}`,
    `{examples}`; see `core.prompts`)."""

    @property
    def name(self) -> str:
        return type(self).__module__.rpartition(".")[2]

    def examples(self, signatures: Mapping[str, list[str]]) -> str:
        """The prompt's example plan, using only tools that exist."""
        raise NotImplementedError

    def bind(self, model: BaseChatModel, toolbox: Toolbox) -> Runnable:
        """What the planner calls."""
        return model

    def reader(
        self, signatures: Mapping[str, Sequence[str]], known_ids: Iterable[int]
    ) -> PlanReader:
        """The reader of one streamed plan (`known_ids`: the turn's earlier task ids)."""
        raise NotImplementedError

    def continue_ids(self, next_id: int) -> str:
        """How a replan's prompt says where the new plan's ids start."""
        return f"Write a new plan that continues the ids at {next_id}."

    def system_prompt(self, toolbox: Toolbox, template: str | None = None) -> str:
        """The planner's system prompt: `template` (default: the format's) filled in."""
        return fill(
            template or self.template,
            tools=toolbox.describe(),
            join_number=str(len(toolbox) + 1),
            examples=self.examples(toolbox.signatures),
        )
