"""Benchmarks: `llmcompiler-graph bench` (LLMCompiler against ReAct, see `run`), and smaller ones
runnable as `python -m llmcompiler_graph.bench.<name>` (e.g. `scheduler_overhead`)."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """`llmcompiler-graph bench ARGS`; imported lazily so the small benchmarks stay light."""
    from llmcompiler_graph.bench.run import main as run

    return run(argv)
