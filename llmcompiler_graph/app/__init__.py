"""The `llmcompiler-graph` command-line app: `cli` (the command), `demo` (the offline showcase)
and `view` (the live task table drawn from a run's custom events)."""
