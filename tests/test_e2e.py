"""End to end: the real `ChatOpenAI` and the real `tavily-python` client through the whole graph.

Both clients talk HTTP to the loopback simulators of `llmcompiler_graph.testing` (SSE streaming,
usage chunks, injected faults and latency). The scripted model plays every role from
`SHOWCASE` (`ScenarioBrain`) or from a `RoleScript` written by the test.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import openai
import pytest
from helpers import (
    PARALLEL,
    REPLANS,
    WITH_MATH,
    RoleScript,
    first,
    joiner_reply,
    math_results,
    planned,
    referenced_values,
    requests_of,
    role_of,
    round_tasks,
    scenario_id,
    task_events,
)
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.events import bounded
from llmcompiler_graph.core.formats import JoinerFormat
from llmcompiler_graph.core.llm import LLMCallError
from llmcompiler_graph.core.plan import as_text
from llmcompiler_graph.core.toolbox import ToolLike
from llmcompiler_graph.handoff import streams
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.testing import (
    ChatRequest,
    ChatResponse,
    LatencyModel,
    OpenAISimulator,
    TavilySimulator,
)
from llmcompiler_graph.testing.scenarios import Scenario
from llmcompiler_graph.tools import calculate, create_math_tool, create_search_tool

TIMEOUT = 30.0
"""Seconds any single run may take before the test calls it a hang."""

Mode = Literal["async", "sync"]

HttpClient = openai.DefaultAsyncHttpxClient


# -- fixtures and helpers ------------------------------------------------------------------------


def chat_model(
    llm: OpenAISimulator, http_client: HttpClient | None = None, **kwargs: Any
) -> ChatOpenAI:
    """The real ChatOpenAI (streaming with usage, naming each call's role) at the simulator."""
    if http_client is not None:
        kwargs["http_async_client"] = http_client
    return load_chat_model("openai:gpt-4o-mini", base_url=llm.base_url, api_key="sim", **kwargs)


def build(
    model: ChatOpenAI,
    tavily: TavilySimulator,
    *,
    extra_tools: Sequence[ToolLike] = (),
    **kwargs: Any,
) -> CompiledStateGraph:
    """LLMCompiler over search (real Tavily client), math and calculate, with a checkpointer."""
    search = create_search_tool(api_key="tvly-sim", base_url=tavily.base_url)
    tools = [search, create_math_tool(model), calculate, *extra_tools]
    return create_llmcompiler(model, tools, checkpointer=InMemorySaver(), **kwargs)


def new_thread() -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def question(text: str) -> dict[str, Any]:
    return {"messages": [("user", text)]}


@dataclass
class Run:
    """What one run produced: the final answer, the thread's state and the custom events."""

    answer: str
    state: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def observations(self) -> dict[int, dict[str, Any]]:
        return {o["idx"]: o for o in self.state["observations"]}

    @property
    def task_ids(self) -> list[int]:
        return [t["idx"] for t in self.state["tasks"]]


async def astream_run(
    graph: CompiledStateGraph, text: str, config: RunnableConfig | None = None
) -> Run:
    """Run with `astream` (custom events collected), bounded by TIMEOUT."""
    config = config or new_thread()
    events: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in graph.astream(question(text), config, stream_mode="custom"):
            events.append(event)

    await asyncio.wait_for(consume(), TIMEOUT)
    state = (await graph.aget_state(config)).values
    return Run(state["messages"][-1].content, state, events)


def stream_run(graph: CompiledStateGraph, text: str, config: RunnableConfig | None = None) -> Run:
    """Run with sync `stream` (custom events collected)."""
    config = config or new_thread()
    events = list(graph.stream(question(text), config, stream_mode="custom"))
    state = graph.get_state(config).values
    return Run(state["messages"][-1].content, state, events)


async def run_streamed(graph: CompiledStateGraph, text: str, mode: Mode) -> Run:
    """`astream`, or sync `stream` in a worker thread; bounded by TIMEOUT either way."""
    if mode == "async":
        return await astream_run(graph, text)
    return await asyncio.wait_for(asyncio.to_thread(stream_run, graph, text), TIMEOUT)


async def invoke_run(graph: CompiledStateGraph, text: str, mode: Mode) -> Run:
    """Run with `ainvoke` or `invoke`; checks the output is messages-only."""
    config = new_thread()
    if mode == "async":
        result = await asyncio.wait_for(graph.ainvoke(question(text), config), TIMEOUT)
    else:
        result = await asyncio.to_thread(graph.invoke, question(text), config)
    assert set(result) == {"messages"}
    assert isinstance(result["messages"][-1], AIMessage)
    state = graph.get_state(config).values
    return Run(result["messages"][-1].content, state, [])


def scenario_plan_until_join(scenario: Scenario, round: int = 0) -> str:
    """The scenario's plan text up to and including `join()`."""
    plan = scenario.rounds[round].plan
    return plan[: plan.index("join()") + len("join()")]


# -- finish and replan ---------------------------------------------------------------------------


def search_queries(scenario: Scenario) -> list[str]:
    return sorted(t["args"]["query"] for t in scenario.tasks if t["tool"] == "search")


def assert_results(run: Run, scenario: Scenario) -> None:
    """Every task ok, math as the scenario's expressions, references resolved to their values."""
    observations = run.observations
    assert {idx: o["status"] for idx, o in observations.items()} == {
        t["idx"]: "ok" for t in scenario.tasks
    }
    for idx, value in math_results(scenario).items():
        assert observations[idx]["value"] == pytest.approx(value)
    started = {e["idx"]: e for e in run.events if e["event"] == "task_started"}
    for task in run.state["tasks"]:
        if task["dependencies"] and run.events:  # invoke runs collect no events
            received = started[task["idx"]]["args"]["context"]
            assert (
                received == bounded({"context": referenced_values(task, observations)})["context"]
            )


@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("joiner", ["structured", "text"])
async def test_one_round_finish(
    llm: OpenAISimulator,
    tavily: TavilySimulator,
    http_client: HttpClient,
    joiner: JoinerFormat,
    mode: Mode,
) -> None:
    """Searches and a math task over their results, one round, answered by the joiner."""
    graph = build(chat_model(llm, http_client), tavily, joiner=joiner)

    run = await invoke_run(graph, WITH_MATH.question, mode)

    assert run.answer == WITH_MATH.answer
    assert run.state["round"] == 1
    assert planned(run.state["tasks"]) == planned(WITH_MATH.tasks)
    assert_results(run, WITH_MATH)
    assert sorted(e.query for e in tavily.requests) == search_queries(WITH_MATH)
    assert Counter(role_of(e.request) for e in llm.requests) == {
        "planner": 1,
        "math": len(math_results(WITH_MATH)),
        "joiner": 1,
    }
    (join_request,) = (e.request for e in requests_of(llm, "joiner"))
    assert join_request.wants_structure is (joiner == "structured")
    assert all(e.status == 200 for e in llm.requests)


CUSTOM_PLANNER = """You are a planning robot. Available functions:
{tools}
{join_number}. join() ends the plan.
Write numbered calls, reference earlier results as $N, end with join()<END_OF_PLAN>."""
CUSTOM_JOINER = "Decide if the results answer the user. {protocol}"


@pytest.mark.parametrize("joiner", ["structured", "text"])
async def test_custom_prompts_work_with_the_simulators(
    llm: OpenAISimulator, tavily: TavilySimulator, joiner: JoinerFormat
) -> None:
    """The simulated model tells the planner, joiner and math calls apart by the role each call
    carries, not by the prompt's wording: custom prompts change nothing in what it answers."""
    graph = build(
        chat_model(llm),
        tavily,
        joiner=joiner,
        planner_prompt=CUSTOM_PLANNER,
        joiner_prompt=CUSTOM_JOINER,
    )
    run = await invoke_run(graph, WITH_MATH.question, "async")
    assert run.answer == WITH_MATH.answer
    assert planned(run.state["tasks"]) == planned(WITH_MATH.tasks)
    (plan_request,) = requests_of(llm, "planner")
    assert plan_request.request.system_text.startswith("You are a planning robot.")
    (join_request,) = requests_of(llm, "joiner")
    assert join_request.request.system_text.startswith("Decide if the results answer the user.")


@pytest.mark.parametrize("scenario", REPLANS, ids=scenario_id)
@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("joiner", ["structured", "text"])
async def test_replan_continues_ids_and_uses_earlier_results(
    llm: OpenAISimulator,
    tavily: TavilySimulator,
    http_client: HttpClient,
    joiner: JoinerFormat,
    mode: Mode,
    scenario: Scenario,
) -> None:
    """Round 1 searches, the joiner replans, round 2 continues the ids and builds on `$1`."""
    graph = build(chat_model(llm, http_client), tavily, joiner=joiner)

    run = await invoke_run(graph, scenario.question, mode)

    first_round, *later = round_tasks(scenario)
    assert run.state["round"] == len(scenario.rounds), "the joiner should have replanned"
    assert run.answer == scenario.answer
    assert planned(run.state["tasks"]) == planned(scenario.tasks)
    assert later and min(t["idx"] for t in later[0]) > max(t["idx"] for t in first_round)
    assert_results(run, scenario)
    observations = run.observations
    earlier = {t["idx"] for t in first_round}
    builds_on = {d for rnd in later for t in rnd for d in t["dependencies"] if d in earlier}
    assert builds_on, "the scenario's second plan should reference the first one's results"
    # round 2 reused the first round's results instead of searching again
    assert sorted(e.query for e in tavily.requests) == search_queries(scenario)
    planners, joiners = requests_of(llm, "planner"), requests_of(llm, "joiner")
    assert len(planners) == len(joiners) == len(scenario.rounds)
    replan_prompt = planners[1].request.last_user_text
    assert scenario.rounds[0].replan in replan_prompt
    for idx in builds_on:
        assert f"${idx}" in replan_prompt
        text = as_text(observations[idx]["value"])
        assert json.dumps(text, ensure_ascii=False) in replan_prompt
        assert any(text in e.request.last_user_text for e in requests_of(llm, "math"))


# -- failures ------------------------------------------------------------------------------------

FAILING_SEARCH_PLAN = (
    '1. search(query="Microsoft market cap")\n'
    '2. math(problem="How many trillion dollars larger is the first market cap than the second?",'
    ' context=["$1"])\n'
    '3. calculate(expression="6 * 7")\n'
    "4. join()<END_OF_PLAN>"
)


def _answer_if_error_seen(request: ChatRequest) -> ChatResponse | str:
    seen = "ERROR:" in request.last_user_text
    return joiner_reply(request, answer="The search failed." if seen else "No error was shown.")


async def test_search_error_becomes_an_observation(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """Tavily answers 500: the search gets an error observation, its dependent is skipped,
    the independent task still runs and the joiner answers."""
    llm.script = RoleScript([FAILING_SEARCH_PLAN], _answer_if_error_seen)
    tavily.fail_next(1, 500)
    graph = build(chat_model(llm, http_client), tavily)

    run = await astream_run(graph, "How much bigger is Microsoft than Apple?")

    assert run.answer == "The search failed."
    observations = run.observations
    assert observations[1]["status"] == "error"
    assert "500" in observations[1]["error"]
    assert observations[2]["status"] == "skipped"
    assert observations[2]["error"] == "skipped: dependency 1 failed"
    assert (observations[3]["status"], observations[3]["value"]) == ("ok", 42)
    assert [e.status for e in tavily.requests] == [500]
    assert requests_of(llm, "math") == [], "a skipped task must not call its tool"
    events = task_events(run.events)
    assert events[1] == ["task_planned", "task_started", "task_finished"]
    assert events[2] == ["task_planned", "task_finished"]
    assert first(run.events, "task_finished", idx=1)["status"] == "error"
    (join_request,) = requests_of(llm, "joiner")
    assert 'ERROR: "skipped: dependency 1 failed"' in join_request.request.last_user_text


@pytest.mark.slow
async def test_rate_limited_planner_is_retried(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """Two 429s, `max_retries=2`: the openai client retries the planner call and the run ends
    normally."""
    llm.fail_next(2, 429)
    graph = build(chat_model(llm, http_client, max_retries=2), tavily)

    run = await astream_run(graph, PARALLEL.question)

    assert run.answer == PARALLEL.answer
    log = llm.requests
    assert [e.status for e in log] == [429, 429, 200, 200]
    assert [role_of(e.request) for e in log] == ["planner", "planner", "planner", "joiner"]
    assert log[0].request.messages == log[2].request.messages
    assert sorted(e.query for e in tavily.requests) == search_queries(PARALLEL)


@pytest.mark.slow
async def test_rate_limit_beyond_retries_fails_the_run(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """More 429s than retries (the client's and ours): the run fails with an LLMCallError
    naming the planner and the tries, caused by the client's RateLimitError."""
    llm.fail_next(4, 429)
    graph = build(chat_model(llm, http_client, max_retries=1), tavily, llm_retries=1)
    held = len(streams)

    with pytest.raises(LLMCallError, match=r"planner call .* after 2 tries") as failed:
        await astream_run(graph, PARALLEL.question)

    assert isinstance(failed.value.__cause__, openai.RateLimitError)
    assert [e.status for e in llm.requests] == [429, 429, 429, 429]
    assert tavily.requests == []
    assert len(streams) == held, "a failed run must not leave a plan stream registered"


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_stream_cut_before_any_task_fails_clearly(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient, mode: Mode
) -> None:
    """The planner's stream drops before a task line is complete: a connection error, no hang."""
    plan = PARALLEL.rounds[0].plan
    llm.cut_next_stream(after_chars=plan.index("1.") + len("1. sea"))
    graph = build(chat_model(llm, http_client), tavily)
    held = len(streams)

    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        await run_streamed(graph, PARALLEL.question, mode)

    assert time.monotonic() - started < 10
    (entry,) = llm.requests
    assert entry.cut
    assert tavily.requests == []
    assert len(streams) == held, "a failed run must not leave a plan stream registered"


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_stream_cut_after_first_task_keeps_partial_plan(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient, mode: Mode
) -> None:
    """The stream drops after task 1's line: task 1 stands as the plan, runs, and the joiner
    answers from it."""
    plan = PARALLEL.rounds[0].plan
    llm.cut_next_stream(after_chars=plan.index("\n2.") + len("\n2. sea"))
    graph = build(chat_model(llm, http_client), tavily)

    run = await run_streamed(graph, PARALLEL.question, mode)

    assert run.answer == PARALLEL.answer  # the scripted joiner finishes after one round
    assert run.task_ids == [1]
    assert run.observations[1]["status"] == "ok"
    first_task = PARALLEL.tasks[0]
    assert planned(run.state["tasks"]) == planned([first_task])
    assert [e.query for e in tavily.requests] == [first_task["args"]["query"]]
    planner, joiner = llm.requests
    assert planner.cut and not joiner.cut
    finished = first(run.events, "plan_finished")
    assert (finished["tasks"], finished["joined"]) == (1, False)
    assert "2. search" not in joiner.request.last_user_text


MALFORMED_PLAN = """\
Thought: try a few things.
1. search(query="Tokyo metropolitan area population")
2. fly(to="the moon")
3. search(query="Delhi", extra=True)
4. search("a", "b")
5. math(problem="How much?", context=["$9"])
this line is garbage ))) ((
6. calculate(expression="$2 + 1")
7. search(query=)
8. search(query=["not", "a", "string"])
9. join()<END_OF_PLAN>"""


async def test_malformed_plan_becomes_error_observations(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """Unknown tool, bad arguments, a forward reference, garbage, a schema violation: each bad
    task gets an error observation, dependents are skipped, the good task runs, the joiner
    answers."""
    llm.script = RoleScript(
        [MALFORMED_PLAN], lambda request: joiner_reply(request, answer="Tokyo: 37.1 million.")
    )
    graph = build(chat_model(llm, http_client), tavily)

    run = await astream_run(graph, "What is the population of Tokyo?")

    assert run.answer == "Tokyo: 37.1 million."
    statuses = {idx: o["status"] for idx, o in run.observations.items()}
    assert statuses == {
        1: "ok",
        2: "error",
        3: "error",
        4: "error",
        5: "error",
        6: "skipped",
        7: "error",
        8: "error",
    }
    errors = {idx: o["error"] or "" for idx, o in run.observations.items()}
    assert "unknown tool 'fly'" in errors[2]
    assert "extra" in errors[3]
    assert "positional" in errors[4]
    assert "$9" in errors[5]
    assert errors[6] == "skipped: dependency 2 failed"
    assert "ValidationError" in errors[8] or "validation" in errors[8].lower()
    assert [e.query for e in tavily.requests] == ["Tokyo metropolitan area population"]
    (join_request,) = requests_of(llm, "joiner")
    assert join_request.request.last_user_text.count("ERROR:") == 7


# -- streaming dispatch --------------------------------------------------------------------------

SLOW_DECODE = LatencyModel(ttft_base=0.2, ttft_per_prompt_token=0.0, tokens_per_second=60.0)
"""About one second to stream the PARALLEL plan."""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_first_search_starts_before_the_plan_stream_ends(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient, mode: Mode
) -> None:
    """With real SSE pacing, task 1 is dispatched (and reaches Tavily) while the planner's
    response is still streaming."""
    llm.latency = SLOW_DECODE
    graph = build(chat_model(llm, http_client), tavily)

    run = await run_streamed(graph, PARALLEL.question, mode)

    assert run.answer == PARALLEL.answer
    planner = requests_of(llm, "planner")[0]
    assert planner.first_chunk_at is not None and planner.last_chunk_at is not None
    assert planner.last_chunk_at - planner.first_chunk_at > 0.5, "the plan should stream slowly"
    started = first(run.events, "task_started", idx=1)["time"]
    assert planner.first_chunk_at < started < planner.last_chunk_at
    assert tavily.requests[0].received_at < planner.last_chunk_at


# -- usage, concurrency, big outputs, message streaming ------------------------------------------


async def test_usage_matches_the_simulator(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """The run's token usage (planner, math and joiner calls) is what the server billed."""
    graph = build(chat_model(llm, http_client), tavily)

    with get_usage_metadata_callback() as callback:
        run = await astream_run(graph, WITH_MATH.question)

    assert run.answer == WITH_MATH.answer
    assert len(llm.requests) == 2 + len(math_results(WITH_MATH))
    (usage,) = callback.usage_metadata.values()
    served = llm.usage_totals()
    assert {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": usage["output_tokens"],
        "total_tokens": usage["total_tokens"],
    } == served


@pytest.mark.slow
async def test_concurrent_runs_answer_their_own_questions(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """Two overlapping async runs of one compiled graph: each gets its own plan, events and
    answer."""
    llm.latency = LatencyModel(ttft_base=0.1, ttft_per_prompt_token=0.0, tokens_per_second=400.0)
    graph = build(chat_model(llm, http_client), tavily)

    parallel, with_math = await asyncio.gather(
        astream_run(graph, PARALLEL.question), astream_run(graph, WITH_MATH.question)
    )

    _assert_isolated(llm, [(PARALLEL, parallel), (WITH_MATH, with_math)])


@pytest.mark.slow
def test_concurrent_sync_runs_answer_their_own_questions(
    llm: OpenAISimulator, tavily: TavilySimulator
) -> None:
    """The same with sync `stream` from two threads."""
    llm.latency = LatencyModel(ttft_base=0.1, ttft_per_prompt_token=0.0, tokens_per_second=400.0)
    graph = build(chat_model(llm), tavily)

    with ThreadPoolExecutor(2) as pool:
        parallel = pool.submit(stream_run, graph, PARALLEL.question)
        with_math = pool.submit(stream_run, graph, WITH_MATH.question)
        runs = [(PARALLEL, parallel.result(TIMEOUT)), (WITH_MATH, with_math.result(TIMEOUT))]

    _assert_isolated(llm, runs)


def _assert_isolated(llm: OpenAISimulator, runs: list[tuple[Scenario, Run]]) -> None:
    for scenario, run in runs:
        assert run.answer == scenario.answer
        assert planned(run.state["tasks"]) == planned(scenario.tasks)
        events = [e for e in run.events if e["event"] == "task_planned"]
        assert planned(events) == planned(scenario.tasks)
        assert set(task_events(run.events)) == {t["idx"] for t in scenario.tasks}
    first_plan, second_plan = requests_of(llm, "planner")
    assert first_plan.last_chunk_at is not None
    assert second_plan.received_at < first_plan.last_chunk_at, "the runs did not overlap"


BIG = 1_000_000
LIMIT = 500


def dump(topic: str) -> str:
    """Everything known about a topic (a lot)."""
    return (f"{topic}:" + "0123456789" * (BIG // 10))[:BIG]


def length(text: str) -> int:
    """The length of a text."""
    return len(text)


async def test_huge_observation_is_kept_in_state_and_cut_in_prompts(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient
) -> None:
    """A 1 MB tool output: state and dependent tasks get all of it; the joiner and the
    replanning planner see at most `max_observation_chars` of it."""
    first_plan = '1. dump(topic="everything")\n2. join()<END_OF_PLAN>'
    second_plan = "3. length(text=$1)\n4. join()<END_OF_PLAN>"
    decisions = iter(
        [
            lambda request: joiner_reply(request, feedback="Measure it."),
            lambda request: joiner_reply(request, answer="It is long."),
        ]
    )
    llm.script = RoleScript([first_plan, second_plan], lambda request: next(decisions)(request))
    graph = build(
        chat_model(llm, http_client),
        tavily,
        extra_tools=[dump, length],
        max_observation_chars=LIMIT,
    )

    run = await astream_run(graph, "How much is known about everything?")

    assert run.answer == "It is long."
    assert len(run.observations[1]["value"]) == BIG
    assert run.observations[3]["value"] == BIG
    assert len(first(run.events, "task_finished", idx=1)["preview"]) <= 200
    cut_note = f"[{BIG - LIMIT} more characters truncated]"
    for entry in [*requests_of(llm, "joiner"), requests_of(llm, "planner")[1]]:
        prompt = entry.request.last_user_text
        assert cut_note in prompt
        assert len(prompt) < 5 * LIMIT
        assert entry.prompt_tokens < 5_000


@pytest.mark.parametrize("joiner", ["lean", "text", "structured"])
@pytest.mark.parametrize("stream_plan", [False, True])
async def test_messages_stream_shows_the_answer_and_on_request_the_plan(
    llm: OpenAISimulator,
    tavily: TavilySimulator,
    http_client: HttpClient,
    joiner: JoinerFormat,
    stream_plan: bool,
) -> None:
    """Documented (docs/messages.md): `stream_mode="messages"` shows the final answer (not the
    joiner's raw decision, nor the math tool's inner call) and, with `stream_plan=True`, the
    plan's tokens. The lean and text joiners stream the answer's tokens as one message whose id
    the final `AIMessage` in state keeps; the structured joiner's answer comes whole."""
    graph = build(chat_model(llm, http_client), tavily, joiner=joiner, stream_plan=stream_plan)
    chunks: dict[str, str] = {}
    ids: dict[str, set[str | None]] = {}
    answers: list[str] = []
    config = new_thread()

    async def consume() -> None:
        async for message, metadata in graph.astream(
            question(WITH_MATH.question), config, stream_mode="messages"
        ):
            if isinstance(message, AIMessageChunk) and message.text:  # not the calls' chunks
                node = metadata["langgraph_node"]
                chunks[node] = chunks.get(node, "") + message.text
                ids.setdefault(node, set()).add(message.id)
            elif isinstance(message, AIMessage) and not isinstance(message, AIMessageChunk):
                answers.append(message.text)

    await asyncio.wait_for(consume(), TIMEOUT)

    final = (await graph.aget_state(config)).values["messages"][-1]
    assert final.text == WITH_MATH.answer
    if joiner == "structured":
        assert answers == [WITH_MATH.answer]
        assert "joiner" not in chunks, "the joiner's raw decision was streamed as tokens"
    else:
        assert answers == [], "the streamed answer was sent a second time"
        assert chunks["joiner"] == WITH_MATH.answer, "the joiner's protocol words were streamed"
        assert ids["joiner"] == {final.id}
    if stream_plan:
        assert chunks["planner"].startswith(scenario_plan_until_join(WITH_MATH))
    else:
        assert "planner" not in chunks, "the plan was streamed as the assistant's reply"
    others = sorted(set(chunks) - {"planner", "joiner"})
    assert not others, f"model tokens also streamed from {others} (the math tool's inner call)"
