"""`lean`: the decision first, `Answer: <answer>` or `Replan: <what is missing>`, nothing else.

The fewest output tokens (the answer + 2), and the answer streams from its first token. With
`joiner_plans`, a replan is `Replan:` followed by the next plan itself, in the plan language. A
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
or, when the results do not answer the question yet, `Replan:` and then, on the following \
lines, the next plan itself, exactly as the planner would write it by the planner's instructions \
below: a first `Thought:` line saying what is missing and how this plan gets it, then one \
numbered action per line, ids continuing where you are told, ending with \
`join()<END_OF_PLAN>`. Earlier results stay available by their ids; do not repeat them.

The planner's instructions:
{planner}"""


class Lean(JoinerProtocol):
    can_plan = True
    bare_is_answer = True

    def instructions(self, plans: bool) -> str:
        return LEAN_PLANS_PROTOCOL if plans else LEAN_PROTOCOL


STRATEGY = Lean()
