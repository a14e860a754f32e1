"""`python -m llmcompiler_graph.bench`: the same as `llmcompiler-graph bench`."""

from llmcompiler_graph.bench.run import main

raise SystemExit(main())
