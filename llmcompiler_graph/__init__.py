"""LLMCompiler (Kim et al., ICML 2024) as a LangGraph graph.

A planner LLM streams a DAG of tool calls; the task fetching unit runs each call the moment its
inputs exist, in parallel, while the plan is still streaming; a joiner answers or replans.

>>> from llmcompiler_graph import create_llmcompiler  # doctest: +SKIP
>>> graph = create_llmcompiler(model, tools, max_replans=2)  # doctest: +SKIP
>>> graph.invoke({"messages": [("user", "question")]})["messages"][-1].content  # doctest: +SKIP
"""

from llmcompiler_graph.context import Context
from llmcompiler_graph.graph import create_llmcompiler
from llmcompiler_graph.joiner import Joiner, JoinerDecision
from llmcompiler_graph.plan import Observation, Task
from llmcompiler_graph.plan_parser import PlanParser, parse_plan
from llmcompiler_graph.planner import Planner
from llmcompiler_graph.scheduler import TaskFetchingUnit
from llmcompiler_graph.state import State

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
