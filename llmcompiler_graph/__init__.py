"""LLMCompiler (Kim et al., ICML 2024) as a LangGraph graph.

A planner LLM streams a DAG of tool calls; the task fetching unit runs each call the moment its
inputs exist, in parallel, while the plan is still streaming; a joiner answers or replans.

```python
from llmcompiler_graph import create_llmcompiler

graph = create_llmcompiler(model, tools, max_replans=2)
graph.invoke({"messages": [("user", "question")]})["messages"][-1].content
```

The package: `core/` is the paper (plan, parser, planner, fetching, joiner, prompts, toolbox,
events, roles) with no graph state; `state`, `nodes`, `handoff`, `graph`, `context` and `models`
are the LangGraph glue; `app/` is the command line; `tools/`, `testing/` (simulators), `bench/`,
`react` (the ReAct baselines) and `measure` are the kits. Names load on first use, so
`llmcompiler-graph --help` does not wait for the LangChain stack.
"""

from typing import TYPE_CHECKING

from llmcompiler_graph._lazy import lazy_exports

if TYPE_CHECKING:
    from llmcompiler_graph.approval import NotPausedError
    from llmcompiler_graph.context import Context
    from llmcompiler_graph.core.fetching import TaskFetchingUnit
    from llmcompiler_graph.core.joiner import Joiner
    from llmcompiler_graph.core.joiner_protocols import JoinerDecision
    from llmcompiler_graph.core.llm import LLMCallError
    from llmcompiler_graph.core.parser import PlanParser, parse_plan
    from llmcompiler_graph.core.plan import Observation, Task, make_task
    from llmcompiler_graph.core.planner import Planner
    from llmcompiler_graph.core.policy import ToolPolicy
    from llmcompiler_graph.core.toolbox import Toolbox
    from llmcompiler_graph.graph import create_llmcompiler
    from llmcompiler_graph.handoff import ConcurrentRunError
    from llmcompiler_graph.models import load_chat_model
    from llmcompiler_graph.state import State

__getattr__ = lazy_exports(
    __name__,
    {
        "create_llmcompiler": "graph",
        "Context": "context",
        "State": "state",
        "load_chat_model": "models",
        "Task": "core.plan",
        "Observation": "core.plan",
        "make_task": "core.plan",
        "Toolbox": "core.toolbox",
        "ToolPolicy": "core.policy",
        "PlanParser": "core.parser",
        "parse_plan": "core.parser",
        "Planner": "core.planner",
        "TaskFetchingUnit": "core.fetching",
        "Joiner": "core.joiner",
        "JoinerDecision": "core.joiner_protocols",
        "LLMCallError": "core.llm",
        "NotPausedError": "approval",
        "ConcurrentRunError": "handoff",
    },
)

__all__ = [
    "ConcurrentRunError",
    "Context",
    "Joiner",
    "JoinerDecision",
    "LLMCallError",
    "NotPausedError",
    "Observation",
    "PlanParser",
    "Planner",
    "State",
    "Task",
    "TaskFetchingUnit",
    "ToolPolicy",
    "Toolbox",
    "create_llmcompiler",
    "load_chat_model",
    "make_task",
    "parse_plan",
]
