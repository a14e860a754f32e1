"""Real-model mode: the same harness on the paper's datasets, with a real model and real tools.

Datasets are JSON files in the format of the authors' HotpotQA-comparison, movie recommendation
and ParallelQA files: a list of objects with at least `question` and `answer` (other fields,
such as `id`, are ignored). Answers are scored as the paper does (see `scoring`). The questions
go to every approach with the same short instruction to answer with the bare answer, since the
scoring is an exact match.

LLM calls are timed on the client's side (LangChain callbacks), as no provider reports when a
request reached its model; the critical-path bound is then a little larger than the model's own
time, so efficiencies read slightly high compared with simulated runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from llmcompiler_graph.bench.harness import Example
from llmcompiler_graph.measure import LLMCallRecord
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.tools import default_tools

ANSWER_FORMAT = (
    "Give only the final answer, as briefly as possible: a name, yes or no, or a number "
    "without units. Do not explain it."
)
"""The system message every approach gets in real-model mode."""


def load_dataset(path: Path) -> list[Example]:
    """The examples of a dataset file in the paper's format."""
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not all(
        isinstance(item, dict) and "question" in item and "answer" in item for item in data
    ):
        raise ValueError(
            f"{path}: expected a JSON list of objects with 'question' and 'answer' fields "
            "(the format of the LLMCompiler paper's datasets)"
        )
    return [Example(str(item["question"]).strip(), str(item["answer"])) for item in data]


@dataclass
class RealWorld:
    """A real chat model (`provider:model`) with the shipped tools (Tavily search, math)."""

    model: BaseChatModel
    tools: list[BaseTool]
    spec: str

    @classmethod
    def from_spec(cls, spec: str) -> RealWorld:
        model = load_chat_model(spec, temperature=0.0)
        return cls(model, default_tools(model), spec)

    def describe(self) -> dict[str, Any]:
        return {"model": self.spec}

    def mark(self) -> int:
        return 0

    def llm_calls(self, since: int, recorded: list[LLMCallRecord]) -> list[LLMCallRecord]:
        return recorded
