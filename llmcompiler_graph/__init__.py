"""LLMCompiler (Kim et al., ICML 2024) as a LangGraph graph.

A planner LLM streams a DAG of tool calls; the task fetching unit runs each call the moment its
inputs exist, in parallel, while the plan is still streaming; a joiner answers or replans.

```python
from llmcompiler_graph import create_llmcompiler

graph = create_llmcompiler(model, tools, max_replans=2)
graph.invoke({"messages": [("user", "question")]})["messages"][-1].content
```

Names load on first use, so `llmcompiler-graph --help` does not wait for the whole LangChain stack.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmcompiler_graph.context import Context
    from llmcompiler_graph.core.fetching import TaskFetchingUnit
    from llmcompiler_graph.core.joiner import Joiner, JoinerDecision
    from llmcompiler_graph.core.parser import PlanParser, parse_plan
    from llmcompiler_graph.core.plan import Observation, Task
    from llmcompiler_graph.core.planner import Planner
    from llmcompiler_graph.graph import create_llmcompiler
    from llmcompiler_graph.state import State

_HOME = {
    "Context": "context",
    "create_llmcompiler": "graph",
    "Joiner": "core.joiner",
    "JoinerDecision": "core.joiner",
    "Observation": "core.plan",
    "Task": "core.plan",
    "PlanParser": "core.parser",
    "parse_plan": "core.parser",
    "Planner": "core.planner",
    "TaskFetchingUnit": "core.fetching",
    "State": "state",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Context",
    "Joiner",
    "JoinerDecision",
    "Observation",
    "PlanParser",
    "Planner",
    "State",
    "Task",
    "TaskFetchingUnit",
    "create_llmcompiler",
    "parse_plan",
]
