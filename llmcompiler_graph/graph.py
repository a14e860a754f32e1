"""LLMCompiler as a LangGraph graph: `create_llmcompiler(...)`, and the ready-made `graph`.

```
START -> planner --+--> joiner --(Finish)--> END
     \\-> scheduler -+      |
            ^               +--(Replan)--> planner + scheduler (the next round)
```
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime, get_runtime
from langgraph.types import Checkpointer

from llmcompiler_graph.closing import LLMCompilerGraph
from llmcompiler_graph.context import Context
from llmcompiler_graph.core.formats import JoinerFormat
from llmcompiler_graph.core.planner import PlannerFormat
from llmcompiler_graph.core.policy import ToolPolicy
from llmcompiler_graph.core.toolbox import ToolLike
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.nodes import Components, Nodes
from llmcompiler_graph.settings import Settings
from llmcompiler_graph.state import State
from llmcompiler_graph.tools import default_tools


def create_llmcompiler(
    model: BaseChatModel,
    tools: Sequence[ToolLike],
    *,
    max_replans: int = 2,
    planner: PlannerFormat = "text",
    joiner: JoinerFormat = "lean",
    joiner_plans: bool = True,
    approve_plan: bool = False,
    llm_timeout: float = 120.0,
    llm_retries: int = 2,
    stream_plan: bool = False,
    tool_messages: bool = True,
    max_concurrency: int = 0,
    task_timeout: float = 120.0,
    tool_policies: Mapping[str, ToolPolicy | Mapping[str, float | bool]] | None = None,
    max_observation_chars: int = 2000,
    max_state_chars: int = 1_000_000,
    max_tasks: int = 64,
    producer_timeout: float = 5.0,
    planner_prompt: str | None = None,
    joiner_prompt: str | None = None,
    name: str = "llmcompiler",
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph:
    """Build an LLMCompiler graph: planner, scheduler (task fetching unit) and joiner.

    The settings are the fields of `Settings` (`llmcompiler_graph.settings`), with the same
    defaults, each validated (a refused value raises `SettingError`, a `ValueError`, naming it);
    the ready-made graph reads the same fields from its run context instead.

    Args:
        model: any LangChain chat model; one that streams gives the earliest dispatch.
        tools: LangChain tools or plain (async) functions with type hints and a docstring.
        max_replans: how many new plans the joiner may ask for before it must answer.
        planner: `"text"` (the paper's numbered plan language; each task is dispatched the
            moment its line closes) or `"tools"` (the plan as native tool calls, one per task,
            each dispatched the moment its arguments close; for models that bind tools).
        joiner: `"lean"` (the decision first, then the answer, streamed to
            `stream_mode="messages"` as the model writes it), `"text"` (the paper's
            `Thought:` / `Action: Finish(...)`: reasoning first, then the answer, streamed) or
            `"structured"` (tool calling; the answer arrives whole; falls back to `"text"`).
        joiner_plans: on replan, the lean joiner writes the next plan in the same call, and
            its tasks start as that reply streams (one LLM call per replan, not two); its
            prompt then opens with the planner's. False: a planner call writes each replan.
            The `text` and `structured` joiners never write plans.
        approve_plan: pause each plan for approval before any tool runs (see
            `llmcompiler_graph.approval`); needs a checkpointer to resume.
        llm_timeout: seconds each planner, joiner or math call may take, per try, whatever the
            model client's settings (0: no limit); a call that runs out raises `LLMCallError`.
        llm_retries: retries of an LLM call that failed transiently (429, 5xx, connection,
            timeout), with backoff honouring `retry-after`; they wrap the client's own.
        stream_plan: show the planner's tokens in `stream_mode="messages"` (default: the answer
            only; the plan is in the custom events and in state).
        tool_messages: write each round's tool calls and results to `messages`, shown live in
            `stream_mode="messages"` (see `llmcompiler_graph.messages`), as
            `create_react_agent` does; False keeps the question and the answer only.
        max_concurrency: at most this many tool calls at once (0: no limit).
        task_timeout: seconds one tool call may take before it becomes an error observation
            (0: no limit).
        tool_policies: tool name -> `ToolPolicy` (or its fields as a dict): a timeout, retries
            of transient errors with backoff, a concurrency limit for that tool; over what the
            tool declares in `metadata={"llmcompiler": {...}}`.
        max_observation_chars: each observation is cut to this many characters in prompts.
        max_state_chars: state keeps at most this many characters of each observation and
            argument, JSON-safe (see `llmcompiler_graph.core.values`); tasks of the same run
            still receive the whole value.
        max_tasks: a plan stops at this many tasks (the joiner is told it was cut).
        producer_timeout: seconds the scheduler waits for its planner to start; if it never
            does (a resumed superstep whose planner finished in another process), the plan
            runs in catch-up once the planner's output is in state.
        planner_prompt, joiner_prompt: system prompt templates replacing the defaults
            (see `llmcompiler_graph.core.prompts` for the placeholders).
        name: the graph's name (LangSmith, Studio, and the `graph` field of custom events).
        checkpointer: to keep conversations across calls (`thread_id` in the config).

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
    settings = Settings(
        max_replans=max_replans,
        planner=planner,
        joiner=joiner,
        joiner_plans=joiner_plans,
        approve_plan=approve_plan,
        llm_timeout=llm_timeout,
        llm_retries=llm_retries,
        stream_plan=stream_plan,
        tool_messages=tool_messages,
        max_concurrency=max_concurrency,
        task_timeout=task_timeout,
        tool_policies=tool_policies,
        max_observation_chars=max_observation_chars,
        max_state_chars=max_state_chars,
        max_tasks=max_tasks,
        producer_timeout=producer_timeout,
        planner_prompt=planner_prompt,
        joiner_prompt=joiner_prompt,
    )
    components = Components.build(model, tools, settings)
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
    builder.add_node("planner", _node("planner", nodes.plan, nodes.aplan))
    builder.add_node("scheduler", _node("scheduler", nodes.schedule, nodes.aschedule))
    builder.add_node("joiner", _node("joiner", nodes.join, nodes.ajoin))
    builder.add_edge(START, "planner")
    builder.add_edge(START, "scheduler")
    builder.add_edge("planner", "joiner")
    builder.add_edge("scheduler", "joiner")
    builder.add_conditional_edges("joiner", nodes.route, ["planner", "scheduler", END])
    # The same graph, whose sync stream signals a close and whose resumes are checked.
    return LLMCompilerGraph.of(builder.compile(checkpointer=checkpointer, name=name))


Update = Mapping[str, Any]
"""A node's state update (`state.PlannerUpdate`, `SchedulerUpdate`, `JoinerUpdate`)."""
Node = Callable[[State, Runtime[Any], RunnableConfig], Update]


def _node(name: str, sync: Node, async_: Callable[..., Awaitable[Update]]) -> RunnableLambda:
    """A node with a sync and an async form, each called as `(state, runtime, config)`."""

    def call(state: State, config: RunnableConfig) -> Update:
        return sync(state, get_runtime(), config)

    async def acall(state: State, config: RunnableConfig) -> Update:
        return await async_(state, get_runtime(), config)

    return RunnableLambda(call, acall, name=name)


@lru_cache(maxsize=16)
def _components_for(
    model_name: str, temperature: float, search_max_results: int, settings: Settings
) -> Components:
    # Our retries (llm_retries) replace the client's: with both, a 429 would be retried 3 x 3.
    model = load_chat_model(model_name, temperature=temperature, max_retries=0)
    tools = default_tools(
        model,
        max_results=search_max_results,
        llm_timeout=settings.llm_timeout,
        llm_retries=settings.llm_retries,
    )
    return Components.build(model, tools, settings)


def components_from_context(runtime: Runtime[Any]) -> Components:
    """The ready-made graph's components for this run's context (built once per setting)."""
    context = Context.of(runtime.context)
    return _components_for(
        context.model, context.temperature, context.search_max_results, context.settings()
    )


graph = build_graph(components_from_context, name="llmcompiler", context_schema=Context)
"""The ready-made graph `langgraph.json` points at: OpenAI model, Tavily search, math, calculate.

Compiled without a checkpointer (the LangGraph server brings its own); configured per run through
`Context` (Studio's assistant settings) with environment fallbacks.
"""
