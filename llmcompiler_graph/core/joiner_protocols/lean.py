"""`lean`: the decision first, `Answer: <answer>` or `Replan: <what is missing>`, nothing else.

The fewest output tokens (the answer + 2), and the answer streams from its first token. With
`joiner_plans`, a replan is `Replan:`, a few words, then the next plan itself, in the plan
language of the planner's prompt, which then opens the joiner's (see `core.prompts`). A
reply that starts like the text protocol is read as text; one with no decision is the answer.
"""

from __future__ import annotations

from llmcompiler_graph.core.joiner_protocols._base import JoinerProtocol

LEAN_PROTOCOL = """
Reply with your decision first, nothing before it, in one of two ways:
Answer: <the final answer to the user>
or
Replan: <what is missing and what the next plan should do>"""

LEAN_PLANS_PROTOCOL = """
Reply with your decision first, nothing before it, in one of two ways:
Answer: <the final answer to the user>
or, when the results do not answer the question yet:
Replan: <what is missing, in a few words>
then, on the next lines, the next plan in the plan language above, its ids continuing where you \
are told, ending with `join()<END_OF_PLAN>`. Its actions run as you write them; use earlier \
results by their ids instead of repeating them."""


class Lean(JoinerProtocol):
    can_plan = True
    bare_is_answer = True

    def instructions(self, plans: bool) -> str:
        return LEAN_PLANS_PROTOCOL if plans else LEAN_PROTOCOL


STRATEGY = Lean()
