"""What each part of the planner's and the joiner's system prompts costs, in tokens and time.

`python -m llmcompiler_graph.bench.prompt_parts` prints one table: each part (the tool
descriptions one by one, the rules, the example, the joiner's instructions and protocol), its
tokens, and the time to first token it adds to every call that carries it at two prefill rates:
the bench's simulated gpt-4o-mini (0.05 ms a token) and a slower provider (0.2 ms a token).
Tokens are the simulator's estimate (a token per 4 characters); nothing is downloaded.

A prompt's parts are static for a set of tools and come before anything that changes with the
question, so a provider's prefix cache can serve them: the column `cacheable` says whether the
whole static prefix of that call reaches the 1,024 tokens OpenAI caches from.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from llmcompiler_graph.core import prompts
from llmcompiler_graph.core.toolbox import Toolbox
from llmcompiler_graph.nodes import Components
from llmcompiler_graph.settings import Settings
from llmcompiler_graph.testing.latency import estimate_tokens
from llmcompiler_graph.tools import default_tools

RATES_MS = (0.05, 0.2)
"""Prefill milliseconds per prompt token: the bench's simulated model, a slower provider."""
CACHE_MIN_TOKENS = 1024
"""OpenAI caches a prompt's prefix from this many tokens on."""


def parts(toolbox: Toolbox) -> list[tuple[str, str]]:
    """(name, text) of each part of the text planner's and the lean joiner's system prompts."""
    tools = toolbox.describe().split("\n")
    entries: list[tuple[str, str]] = []
    for line in tools:
        if line[:1].isdigit():
            entries.append((f"tool {line.split('(')[0].split('. ', 1)[1]}", line))
        else:
            name, text = entries[-1]
            entries[-1] = (name, f"{text}\n{line}")
    filled = prompts.fill(
        prompts.PLANNER_PROMPT.replace("{tools}", "\0").replace("{examples}", "\0"),
        join_number=str(len(entries) + 1),
    )
    head, rules, _ = filled.split("\0")
    return [
        ("planner: task and action list", head),
        *[(f"planner: {name}", text) for name, text in entries],
        ("planner: join and rules", rules),
        ("planner: example", prompts.planner_examples(toolbox.signatures)),
        ("joiner: instructions", prompts.JOINER_PROMPT.split("{protocol}")[0]),
    ]


def table(model_tools: Sequence[object] | None = None) -> str:
    """The markdown table of the default tools' prompts (or of `model_tools`)."""
    model = FakeListChatModel(responses=["unused"])
    tools = list(model_tools) if model_tools is not None else default_tools(model)
    one_call = Components.build(model, tools, Settings())
    two_call = Components.build(model, tools, Settings(joiner_plans=False))
    rows = [(name, estimate_tokens(text)) for name, text in parts(one_call.planner.toolbox)]
    protocol = one_call.joiner.protocol
    rows.append(("joiner: lean protocol", estimate_tokens(protocol.instructions(False))))
    rows.append(("joiner: lean protocol, with plans", estimate_tokens(protocol.instructions(True))))
    calls = [
        ("planner call", one_call.planner.system_prompt),
        ("joiner call, one-call replans (default)", one_call.joiner.system_prompt),
        ("joiner call, planner-written replans", two_call.joiner.system_prompt),
    ]
    lines = [
        "| part | tokens | " + " | ".join(f"TTFT at {r:g} ms/token" for r in RATES_MS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in RATES_MS) + " |",
    ]
    for name, tokens in rows:
        times = " | ".join(f"{tokens * r:.0f} ms" for r in RATES_MS)
        lines.append(f"| {name} | {tokens:,} | {times} |")
    lines += ["", "| system prompt of | tokens | cacheable (>= 1,024) |", "| --- | --- | --- |"]
    for name, text in calls:
        tokens = estimate_tokens(text)
        lines.append(f"| {name} | {tokens:,} | {'yes' if tokens >= CACHE_MIN_TOKENS else 'no'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print(table())


if __name__ == "__main__":
    main()
