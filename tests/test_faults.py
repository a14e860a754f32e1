"""Every injected fault ends the run quickly, with an answer or a clear error (docs/reliability.md's
fault table comes from the same runs: `python -m llmcompiler_graph.bench.faults`)."""

from __future__ import annotations

import asyncio

import pytest

from llmcompiler_graph.bench.faults import FAULTS, LIMITS, run_fault

pytestmark = pytest.mark.slow  # each fault runs the simulators for up to ~3 s

EXPECTED = {
    "none": ("answer", "3 ok"),
    "planner model never answers": ("LLMCallError: planner call", ""),
    "planner model answers 500 to every request": ("LLMCallError: planner call", ""),
    "planner model answers 429, once": ("answer", "3 ok"),
    "plan stream cut after the first task": ("answer", "1 ok"),
    "joiner model never answers": ("LLMCallError: joiner call", "3 ok"),
    "search API answers 500": ("answer", "3 error"),
    "search ignores cancellation for 10 s": ("answer", "3 error"),
    "sync search blocks for a minute": ("answer", "3 error"),
    "search returns big ints, a set, a socket, 5 MB": ("answer", "3 ok"),
}
"""How each fault must end: the start of `Outcome.ended`, and the observations' statuses."""


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_ends_quickly_and_clearly(fault: str) -> None:
    outcome = asyncio.run(run_fault(fault))
    ended, tasks = EXPECTED[fault]
    assert outcome.ended.startswith(ended), outcome.ended
    assert outcome.tasks == tasks
    tries = 1 + LIMITS["llm_retries"]
    bound = tries * LIMITS["llm_timeout"] + 1.5  # every try timed out, plus backoff
    assert outcome.seconds < bound, outcome.seconds
    if ended.startswith("LLMCallError"):
        assert f"after {tries} tries" in outcome.ended and "127.0.0.1" in outcome.ended
