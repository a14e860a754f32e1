"""Benchmarks, each runnable as `python -m llmcompiler_graph.bench.<name>` (stdlib + package)."""
