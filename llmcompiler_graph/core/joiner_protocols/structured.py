"""`structured`: the decision through tool calling, a `JoinerDecision` call (thought, action,
answer, feedback); the most reliable with OpenAI models; the answer arrives whole. A model that
cannot bind tools gets the `text` protocol instead; a reply written as text is read as text."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from llmcompiler_graph.core.joiner_protocols._base import JoinerDecision, JoinerProtocol

STRUCTURED_PROTOCOL = """
Reply through the `JoinerDecision` function: a short `thought`, then `action` "finish" with the \
`answer`, or "replan" with the `feedback` for the next plan."""


class Structured(JoinerProtocol):
    streams = False
    fallback = "text"

    def instructions(self, plans: bool) -> str:
        return STRUCTURED_PROTOCOL

    def bind(self, model: BaseChatModel) -> Runnable | None:
        try:
            return model.with_structured_output(
                JoinerDecision, method="function_calling", include_raw=True
            )
        except NotImplementedError:
            return None


STRATEGY = Structured()
