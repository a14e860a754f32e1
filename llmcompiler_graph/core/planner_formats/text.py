"""`text`: the paper's plan language, `1. search(query="...")` one task a line, ending with
`join()`; each task is published the moment its line's call closes (`core.parser`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from langchain_core.messages import BaseMessageChunk

from llmcompiler_graph.core.parser import PlanParser
from llmcompiler_graph.core.plan import Task
from llmcompiler_graph.core.planner_formats._base import PlanFormat, PlanReader
from llmcompiler_graph.core.prompts import PLANNER_PROMPT, planner_examples


class _TextReader:
    """The plan parser, fed the text of each chunk."""

    def __init__(self, parser: PlanParser) -> None:
        self.parser = parser

    def feed(self, chunk: BaseMessageChunk) -> list[Task]:
        return self.parser.feed(chunk.text)

    def close(self) -> list[Task]:
        return self.parser.close()

    @property
    def joined(self) -> bool:
        return self.parser.joined


class Text(PlanFormat):
    template = PLANNER_PROMPT

    def examples(self, signatures: Mapping[str, list[str]]) -> str:
        return planner_examples(signatures)

    def reader(
        self, signatures: Mapping[str, Sequence[str]], known_ids: Iterable[int]
    ) -> PlanReader:
        return _TextReader(PlanParser(signatures, known_ids=known_ids))


STRATEGY = Text()
