"""`text`: the paper's protocol, `Thought: ...` then `Action: Finish(<answer>)` or
`Action: Replan(<what is missing>)`: reasoning first; the answer streams once `Finish(` is
written (its argument runs to the reply's last `)`)."""

from __future__ import annotations

from llmcompiler_graph.core.joiner_protocols._base import JoinerProtocol

TEXT_PROTOCOL = """
Reply in exactly this format:
Thought: <your short reasoning about the observations>
Action: Finish(<the final answer to the user>)
or
Thought: <your short reasoning>
Action: Replan(<what is missing and what the next plan should do>)"""


class Text(JoinerProtocol):
    def instructions(self, plans: bool) -> str:
        return TEXT_PROTOCOL


STRATEGY = Text()
