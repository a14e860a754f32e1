"""LLMCompiler as a LangGraph graph: `create_llmcompiler(...)`, and the ready-made `graph`.

```
START -> planner --+--> joiner --(Finish)--> END
     \\-> scheduler -+      |
            ^               +--(Replan)--> planner + scheduler (the next round)
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from llmcompiler_graph.context import Context
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.joiner import Joiner, JoinerFormat
from llmcompiler_graph.core.planner import Planner
from llmcompiler_graph.core.toolbox import Toolbox, ToolLike
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.nodes import Components, Nodes
from llmcompiler_graph.state import State
from llmcompiler_graph.tools import default_tools

DEFAULT_PRODUCER_TIMEOUT = 5.0


def create_llmcompiler(
    model: BaseChatModel,
    tools: Sequence[ToolLike],
    *,
    max_replans: int = 2,
    joiner: JoinerFormat = "structured",
    max_concurrency: int | None = None,
    planner_prompt: str | None = None,
    joiner_prompt: str | None = None,
    name: str = "llmcompiler",
    checkpointer: Checkpointer = None,
    task_timeout: float | None = None,
    max_observation_chars: int = 2000,
    producer_timeout: float = DEFAULT_PRODUCER_TIMEOUT,
    max_tasks: int = 64,
) -> CompiledStateGraph:
    """Build an LLMCompiler graph: planner, scheduler (task fetching unit) and joiner.

    Args:
        model: any LangChain chat model; one that streams gives the earliest dispatch.
        tools: LangChain tools or plain (async) functions with type hints and a docstring.
        max_replans: how many new plans the joiner may ask for before it must answer.
        joiner: `"structured"` (tool calling; falls back to `"text"` for models without it)
            or `"text"` (the paper's `Action: Finish(...)` protocol).
        max_concurrency: at most this many tool calls at once (None: no limit).
        planner_prompt, joiner_prompt: system prompt templates replacing the defaults
            (see `llmcompiler_graph.core.prompts` for the placeholders).
        name: the graph's name (LangSmith, Studio, and the `graph` field of custom events).
        checkpointer: to keep conversations across calls (`thread_id` in the config).
        task_timeout: seconds one tool call may take before it becomes an error observation.
        max_observation_chars: each observation is cut to this many characters in prompts.
        producer_timeout: seconds the scheduler waits for its planner to start; if it never
            does (a resumed superstep whose planner finished in another process), the plan
            runs in catch-up once the planner's output is in state.
        max_tasks: a plan stops at this many tasks (the joiner is told it was cut).

    Example:
        ```python
        from langchain_openai import ChatOpenAI
        from llmcompiler_graph import create_llmcompiler

        def population(city: str) -> int:
            '''Population of a city.'''
            ...

        graph = create_llmcompiler(ChatOpenAI(model="gpt-4o-mini"), [population])
        graph.invoke({"messages": [("user", "Which is bigger, Paris or Rome?")]})
        ```
    """
    if max_replans < 0:
        raise ValueError(f"max_replans must be 0 or more, got {max_replans}.")
    toolbox = Toolbox(tools)
    components = Components(
        planner=Planner(
            model,
            toolbox,
            prompt=planner_prompt,
            max_observation_chars=max_observation_chars,
            max_tasks=max_tasks,
        ),
        scheduler=TaskFetchingUnit(
            toolbox, max_concurrency=max_concurrency, task_timeout=task_timeout
        ),
        joiner=Joiner(
            model, format=joiner, prompt=joiner_prompt, max_observation_chars=max_observation_chars
        ),
        max_replans=max_replans,
        producer_timeout=producer_timeout,
    )
    return build_graph(lambda _runtime: components, name=name, checkpointer=checkpointer)


def build_graph(
    components: Callable[[Runtime[Any]], Components],
    *,
    name: str,
    checkpointer: Checkpointer = None,
    context_schema: type[Any] | None = None,
) -> CompiledStateGraph:
    """Wire the three nodes; `components` gives the model, tools and settings of each run."""
    nodes = Nodes(components, name)
    builder = StateGraph(
        State,
        context_schema=context_schema,
        input_schema=MessagesState,
        output_schema=MessagesState,
    )
    builder.add_node("planner", RunnableLambda(nodes.plan, nodes.aplan, name="planner"))
    builder.add_node("scheduler", RunnableLambda(nodes.schedule, nodes.aschedule, name="scheduler"))
    builder.add_node("joiner", RunnableLambda(nodes.join, nodes.ajoin, name="joiner"))
    builder.add_edge(START, "planner")
    builder.add_edge(START, "scheduler")
    builder.add_edge("planner", "joiner")
    builder.add_edge("scheduler", "joiner")
    builder.add_conditional_edges("joiner", nodes.route, ["planner", "scheduler", END])
    return builder.compile(checkpointer=checkpointer, name=name)


@lru_cache(maxsize=16)
def _components_for(key: tuple[Any, ...]) -> Components:
    context = Context(**dict(zip(Context.__dataclass_fields__, key, strict=True)))
    model = load_chat_model(context.model, temperature=context.temperature)
    toolbox = Toolbox(default_tools(model, max_results=context.search_max_results))
    return Components(
        planner=Planner(model, toolbox, max_observation_chars=context.max_observation_chars),
        scheduler=TaskFetchingUnit(
            toolbox,
            max_concurrency=context.max_concurrency or None,
            task_timeout=context.task_timeout or None,
        ),
        joiner=Joiner(
            model, format=context.joiner, max_observation_chars=context.max_observation_chars
        ),
        max_replans=context.max_replans,
        producer_timeout=DEFAULT_PRODUCER_TIMEOUT,
    )


def components_from_context(runtime: Runtime[Any]) -> Components:
    """The ready-made graph's components for this run's context (built once per setting)."""
    return _components_for(Context.of(runtime.context).key())


graph = build_graph(components_from_context, name="llmcompiler", context_schema=Context)
"""The ready-made graph `langgraph.json` points at: OpenAI model, Tavily search, math, calculate.

Compiled without a checkpointer (the LangGraph server brings its own); configured per run through
`Context` (Studio's assistant settings) with environment fallbacks.
"""
