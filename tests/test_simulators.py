"""The loopback simulators, driven by the real clients (ChatOpenAI / openai, tavily-python).

Timing checks here are rough ordering checks of the simulator itself, with generous bounds so
that they hold on a loaded 2-core machine.
"""

import asyncio
import gc
import math
import socket
import subprocess
import sys
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
import requests
from langchain_core.messages import AIMessageChunk
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from tavily import AsyncTavilyClient, TavilyClient
from tavily.errors import InvalidAPIKeyError, UsageLimitExceededError

from llmcompiler_graph.testing import (
    ChatRequest,
    ChatResponse,
    LatencyModel,
    OpenAISimulator,
    ResponseQueue,
    TavilySimulator,
    ToolCall,
    estimate_tokens,
)
from llmcompiler_graph.testing.loopback import KEEP_REQUESTS

pytest_plugins = ["llmcompiler_graph.testing.pytest_plugin"]

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    },
}


class Answer(BaseModel):
    answer: str
    confidence: float


def chat_model(sim: OpenAISimulator, **kwargs) -> ChatOpenAI:
    kwargs.setdefault("timeout", 10)
    return ChatOpenAI(model="gpt-4o-mini", base_url=sim.base_url, api_key="sim", **kwargs)


def aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return total


def tavily(sim: TavilySimulator) -> TavilyClient:
    return TavilyClient(api_key="tvly-sim", api_base_url=sim.base_url)


# -- OpenAI: protocol ------------------------------------------------------------------------


def test_stream_arrives_in_chunks_with_usage(openai_simulator: OpenAISimulator) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    openai_simulator.script = [text]
    chunks = list(chat_model(openai_simulator, stream_usage=True).stream("hi"))

    pieces = [chunk.content for chunk in chunks if chunk.content]
    assert len(pieces) == math.ceil(len(text) / 4)
    assert "".join(pieces) == text
    entry = openai_simulator.requests[0]
    assert aggregate(chunks).usage_metadata == {
        "input_tokens": entry.prompt_tokens,
        "output_tokens": estimate_tokens(text),
        "total_tokens": entry.prompt_tokens + estimate_tokens(text),
        "input_token_details": {},
        "output_token_details": {},
    }
    assert entry.request.stream and entry.request.include_usage
    assert entry.status == 200
    assert entry.received_at <= entry.first_chunk_at <= entry.last_chunk_at <= entry.finished_at


def test_streamed_tool_calls_aggregate(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = [
        ChatResponse(
            tool_calls=[
                ToolCall("search", {"query": "Apple market cap"}, "call_1"),
                ("search", '{"query": "Microsoft market cap"}'),
            ]
        )
    ]
    model = chat_model(openai_simulator).bind_tools([SEARCH_TOOL])
    chunks = list(model.stream("Compare Apple and Microsoft."))

    assert sum(len(chunk.tool_call_chunks) for chunk in chunks) > 4  # arguments arrive in pieces
    message = aggregate(chunks)
    assert [(call["name"], call["args"]) for call in message.tool_calls] == [
        ("search", {"query": "Apple market cap"}),
        ("search", {"query": "Microsoft market cap"}),
    ]
    assert message.tool_calls[0]["id"] == "call_1"
    assert message.tool_calls[1]["id"].startswith("call_")
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert openai_simulator.requests[0].request.tool_names == ["search"]


def test_invoke_without_streaming(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = ["Paris.", ChatResponse.call("search", query="capital of France")]
    model = chat_model(openai_simulator)

    message = model.invoke("Capital of France?")
    assert message.content == "Paris."
    assert message.usage_metadata["output_tokens"] == estimate_tokens("Paris.")
    assert message.response_metadata["finish_reason"] == "stop"

    message = model.bind_tools([SEARCH_TOOL]).invoke("Capital of France?")
    assert message.content == ""
    assert message.tool_calls[0]["args"] == {"query": "capital of France"}
    assert [entry.request.stream for entry in openai_simulator.requests] == [False, False]
    assert isinstance(openai_simulator.script, ResponseQueue)
    assert len(openai_simulator.script) == 0  # every canned answer was used


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output(openai_simulator: OpenAISimulator, method: str) -> None:
    seen: list[ChatRequest] = []

    def script(request: ChatRequest) -> ChatResponse:
        seen.append(request)
        return request.structured_reply({"answer": "42", "confidence": 0.9})

    openai_simulator.script = script
    model = chat_model(openai_simulator).with_structured_output(Answer, method=method)

    assert model.invoke("What is the answer?") == Answer(answer="42", confidence=0.9)
    assert seen[0].wants_structure
    if method == "function_calling":
        assert seen[0].forced_tool == "Answer"
    else:
        assert seen[0].json_schema["properties"].keys() == {"answer", "confidence"}


def test_models_endpoint_and_missing_key(openai_simulator: OpenAISimulator) -> None:
    client = openai.OpenAI(base_url=openai_simulator.base_url, api_key="sim")
    assert [model.id for model in client.models.list()] == ["gpt-4o-mini"]

    response = httpx.post(f"{openai_simulator.base_url}/chat/completions", json={"messages": []})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_sequential_requests_share_connections(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = lambda request: f"echo {request.last_user_text}"
    model = chat_model(openai_simulator)
    for i in range(10):
        if i % 2:
            assert model.invoke(f"q{i}").content == f"echo q{i}"
        else:
            assert "".join(c.content for c in model.stream(f"q{i}")) == f"echo q{i}"
    assert openai_simulator.usage_totals()["completion_tokens"] == 10 * estimate_tokens("echo q0")


# -- OpenAI: faults --------------------------------------------------------------------------


def test_rate_limits_are_retried(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = ["finally"]
    openai_simulator.fail_next(2, status=429, retry_after=0.01)

    assert chat_model(openai_simulator, max_retries=2).invoke("hi").content == "finally"
    assert [entry.status for entry in openai_simulator.requests] == [429, 429, 200]


def test_server_error_without_retries_raises(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.fail_next(1, status=500)

    with pytest.raises(openai.InternalServerError):
        chat_model(openai_simulator, max_retries=0).invoke("hi")
    assert [entry.status for entry in openai_simulator.requests] == [500]


def test_script_errors_are_500_and_not_retried(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = []  # exhausted at once

    with pytest.raises(openai.InternalServerError, match="response queue is empty"):
        chat_model(openai_simulator, max_retries=2).invoke("hi")
    (entry,) = openai_simulator.requests
    assert entry.status == 500
    assert entry.error.startswith("ScriptExhausted")


def test_cut_stream_raises_without_hanging(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.script = ["0123456789abcdefghij", "next"]
    openai_simulator.cut_next_stream(after_chars=10)
    model = chat_model(openai_simulator)
    received: list[str] = []

    def consume() -> None:
        for chunk in model.stream("hi"):
            received.append(chunk.content)

    with ThreadPoolExecutor(1) as pool, pytest.raises(openai.APIConnectionError):
        pool.submit(consume).result(timeout=15)
    assert "".join(received) == "0123456789"
    entry = openai_simulator.requests[0]
    assert entry.cut and entry.completion_tokens == estimate_tokens("0123456789")
    assert model.invoke("again").content == "next"  # the pool recovers


@pytest.mark.slow
def test_slow_next_delays_the_first_token(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.slow_next(0.3)
    model = chat_model(openai_simulator)
    list(model.stream("slow"))
    list(model.stream("fast"))

    slow, fast = openai_simulator.requests
    assert slow.first_chunk_at - slow.received_at >= 0.29
    assert fast.first_chunk_at - fast.received_at < 0.25


# -- OpenAI: latency and concurrency ---------------------------------------------------------


@pytest.mark.slow
def test_latency_model_paces_the_stream(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.latency = LatencyModel(
        ttft_base=0.2, ttft_per_prompt_token=0.0, tokens_per_second=200
    )
    openai_simulator.script = ["x" * 400]  # 100 tokens: 0.5 s of decoding
    model = chat_model(openai_simulator)
    start = time.monotonic()
    first = None
    for chunk in model.stream("hi"):
        if chunk.content and first is None:
            first = time.monotonic() - start
    total = time.monotonic() - start

    assert 0.19 <= first < 1.0
    assert 0.69 <= total < 2.0
    entry = openai_simulator.requests[0]
    assert 0.19 <= entry.first_chunk_at - entry.received_at < 0.4
    # the finish chunk is due at 0.2 + 0.5 s: chunks run on absolute deadlines, so late wake-ups
    # under load do not add up over the 100 chunks
    assert 0.69 <= entry.last_chunk_at - entry.received_at < 1.2


@pytest.mark.slow
def test_non_streamed_answer_waits_for_full_decode(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.latency = LatencyModel(
        ttft_base=0.1, ttft_per_prompt_token=0.0, tokens_per_second=400
    )
    openai_simulator.script = ["y" * 400]  # 0.25 s of decoding
    model = chat_model(openai_simulator)
    start = time.monotonic()
    model.invoke("hi")
    assert 0.34 <= time.monotonic() - start < 1.5


@pytest.mark.slow
async def test_concurrent_streams_through_one_client(openai_simulator: OpenAISimulator) -> None:
    openai_simulator.latency = LatencyModel(
        ttft_base=0.3, ttft_per_prompt_token=0.0, tokens_per_second=400
    )
    openai_simulator.script = lambda request: f"Answer to {request.last_user_text}. " * 4
    model = chat_model(openai_simulator, stream_usage=True)

    async def ask(i: int) -> str:
        return "".join([chunk.content async for chunk in model.astream(f"question {i}")])

    answers = await asyncio.wait_for(asyncio.gather(*(ask(i) for i in range(20))), timeout=30)

    assert answers == [f"Answer to question {i}. " * 4 for i in range(20)]
    entries = openai_simulator.requests
    assert len(entries) == 20 and {entry.status for entry in entries} == {200}
    # all were in flight together: the last arrived before the first finished
    assert max(e.received_at for e in entries) < min(e.finished_at for e in entries)


# -- lifecycle -------------------------------------------------------------------------------


def test_context_manager_closes_the_port() -> None:
    with OpenAISimulator(latency=LatencyModel.instant()) as sim:
        port = sim.port
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    sim.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = sim.base_url


@pytest.mark.slow
def test_stop_interrupts_streams_in_flight() -> None:
    sim = OpenAISimulator(["z" * 4000], latency=LatencyModel(tokens_per_second=20)).start()
    model = chat_model(sim, max_retries=0)
    started = []

    def consume() -> None:
        for chunk in model.stream("hi"):
            started.append(chunk)

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(consume)
        while not started:
            time.sleep(0.01)
        t0 = time.monotonic()
        sim.stop()
        assert time.monotonic() - t0 < 1.5
        with pytest.raises(openai.APIConnectionError):
            future.result(timeout=10)


@pytest.mark.parametrize("module", ["openai_server", "tavily_server"])
@pytest.mark.slow
def test_standalone_process_prints_its_url(module: str) -> None:
    command = [sys.executable, "-m", f"llmcompiler_graph.testing.{module}", "--port", "0"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            url = process.stdout.readline().strip()
            if module == "openai_server":
                model = ChatOpenAI(model="m", base_url=url, api_key="sim", timeout=10)
                assert model.invoke("hello").content == "You said: hello"
            else:
                client = TavilyClient(api_key="tvly-sim", api_base_url=url)
                assert client.search("What is LangGraph?")["results"][0]["title"] == "LangGraph"
        finally:
            process.terminate()
        assert "Warning" not in process.stderr.read()


# -- the request log -------------------------------------------------------------------------


def test_the_log_keeps_the_latest_requests_and_frees_the_others() -> None:
    """A simulator serving without end (`dev --simulate`) must not grow by every request: past
    `keep` requests the log holds the latest `keep`, older entries are freed, and the usage
    totals and positions (`logged`, `requests_since`) still count every request."""

    def echo(request: ChatRequest) -> str:
        return f"echo {request.last_user_text}"

    with OpenAISimulator(echo, latency=LatencyModel.instant(), keep=5) as sim:
        model = chat_model(sim)
        served = []
        for i in range(12):
            model.invoke(f"q{i}")
            served.append(weakref.ref(sim.requests[-1]))
        entries = sim.requests
        assert [entry.request.last_user_text for entry in entries] == [
            f"q{i}" for i in range(7, 12)
        ]
        assert sim.logged == 12 and sim.requests_since(10) == entries[3:]
        assert sim.requests_since(0) == entries and sim.requests_since(12) == []
        assert sim.usage_totals()["completion_tokens"] == 12 * estimate_tokens("echo q0")
        del entries
        gc.collect()
        assert [ref() is not None for ref in served] == [False] * 7 + [True] * 5


def test_tavily_keeps_the_latest_searches_by_default() -> None:
    headers = {"Authorization": "Bearer tvly-sim"}
    with TavilySimulator() as sim, httpx.Client(base_url=sim.base_url, headers=headers) as client:
        for i in range(KEEP_REQUESTS + 10):
            client.post("/search", json={"query": f"q{i}"}).raise_for_status()
        queries = [entry.query for entry in sim.requests]
        assert queries == [f"q{i}" for i in range(10, KEEP_REQUESTS + 10)]
        assert sim.logged == KEEP_REQUESTS + 10


def test_the_log_is_bounded_by_default_and_can_keep_everything() -> None:
    assert OpenAISimulator().keep == TavilySimulator().keep == KEEP_REQUESTS == 1_000
    assert OpenAISimulator(keep=None).keep is None
    with pytest.raises(ValueError, match="keep must be at least 1"):
        TavilySimulator(keep=0)


# -- Tavily ----------------------------------------------------------------------------------


def test_tavily_corpus_and_fallback(tavily_simulator: TavilySimulator) -> None:
    client = tavily(tavily_simulator)

    response = client.search("Apple market cap", include_answer=True, include_usage=True)
    assert response["query"] == "Apple market cap"
    (result,) = response["results"]
    assert result["url"] == "https://companiesmarketcap.example/apple/marketcap/"
    assert "$2.95 trillion" in result["content"]
    assert result["score"] == 0.9 and result["raw_content"] is None
    assert response["answer"].startswith("Apple has a market cap")
    assert response["usage"] == {"credits": 1}
    assert {"images", "response_time", "request_id", "follow_up_questions"} <= response.keys()

    fabricated = client.search("population of Atlantis", include_raw_content=True)["results"]
    assert len(fabricated) == 2 and fabricated[0]["raw_content"] == fabricated[0]["content"]
    assert client.search("population of Atlantis", max_results=1)["results"] == [
        {**fabricated[0], "raw_content": None}
    ]
    assert [entry.status for entry in tavily_simulator.requests] == [200, 200, 200]


async def test_tavily_async_client(tavily_simulator: TavilySimulator) -> None:
    client = AsyncTavilyClient(api_key="tvly-sim", api_base_url=tavily_simulator.base_url)
    try:
        responses = await asyncio.gather(
            client.search("Microsoft market cap"), client.search("LLMCompiler paper")
        )
    finally:
        await client.close()
    assert "$3.12 trillion" in responses[0]["results"][0]["content"]
    assert responses[1]["results"][0]["url"] == "https://arxiv.org/abs/2312.04511"


@pytest.mark.slow
def test_tavily_latency() -> None:
    with TavilySimulator(latency=lambda query: 0.3 if "slow" in query else 0.0) as sim:
        client = tavily(sim)
        start = time.monotonic()
        client.search("slow query")
        assert 0.29 <= time.monotonic() - start < 2.0
        entry = sim.requests[0]
        assert entry.delay == 0.3 and entry.finished_at - entry.received_at >= 0.29

    a, b = TavilySimulator(jitter=(0.1, 0.5), seed=7), TavilySimulator(jitter=(0.1, 0.5), seed=7)
    delays = [a.delay_for(f"query {i}") for i in range(10)]
    assert delays == [b.delay_for(f"query {i}") for i in range(10)]
    assert all(0.1 <= delay <= 0.5 for delay in delays) and len(set(delays)) == 10


def test_tavily_rejects_a_missing_key(
    tavily_simulator: TavilySimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    with pytest.raises(InvalidAPIKeyError):
        TavilyClient(api_base_url=tavily_simulator.base_url).search("anything")
    assert tavily_simulator.requests[0].status == 401


async def test_tavily_fail_next(tavily_simulator: TavilySimulator) -> None:
    tavily_simulator.fail_next(1, status=429)
    tavily_simulator.fail_next(1, status=500)
    client = tavily(tavily_simulator)
    with pytest.raises(UsageLimitExceededError):
        client.search("q")
    with pytest.raises(requests.HTTPError):
        client.search("q")

    tavily_simulator.fail_next(1, status=500)
    async_client = AsyncTavilyClient(api_key="tvly-sim", api_base_url=tavily_simulator.base_url)
    try:
        with pytest.raises(httpx.HTTPStatusError):
            await async_client.search("q")
        assert (await async_client.search("q"))["results"]
    finally:
        await async_client.close()
    assert [entry.status for entry in tavily_simulator.requests] == [429, 500, 500, 200]


def test_a_follow_up_question_gets_its_own_scenario_not_the_scripted_one_before_it() -> None:
    from llmcompiler_graph.testing.scenarios import SHOWCASE, ScenarioBrain
    from llmcompiler_graph.testing.script import ChatRequest

    brain = ScenarioBrain(SHOWCASE)
    scripted = SHOWCASE[0].question
    messages = [
        {"role": "user", "content": scripted},
        {"role": "assistant", "content": SHOWCASE[0].answer},
        {"role": "user", "content": "And how big is Oslo?"},
        {"role": "user", "content": "The plan and its results:\n1. search(query='Oslo')"},
    ]
    request = ChatRequest.from_body({"messages": messages}, 0.0, role="joiner")
    assert brain.scenario(request).question == "And how big is Oslo?"
    first = ChatRequest.from_body({"messages": messages[:1]}, 0.0, role="planner")
    assert brain.scenario(first) is SHOWCASE[0]


def test_tavily_makes_up_a_figure_a_name_or_nothing(tavily_simulator: TavilySimulator) -> None:
    """A query no corpus entry matches finds a figure in its attribute's unit, a name as the
    top result's title (for a dependent search's `$1[0].title`), or, asking for news, nothing;
    every made-up page says it is simulated."""
    client = tavily(tavily_simulator)

    figure = client.search("Eiffel Tower height")["results"]
    assert figure[0]["content"].startswith("Eiffel Tower height: the most cited figure is ")
    assert figure[0]["content"].split(". ")[0].endswith(" metres")
    named = client.search("film that won the Palme d'Or in 2019")["results"]
    film = named[0]["title"]
    assert named[0]["content"].startswith(f"film that won the Palme d'Or in 2019: {film}.")
    assert all("(simulated result)" in result["content"] for result in (*figure, *named))
    assert client.search("latest population of Oslo")["results"] == []
    assert client.search("film that won the Palme d'Or in 2019")["results"] == named


def test_a_follow_up_question_is_read_against_the_conversation() -> None:
    """An unscripted follow-up gets a plan about the earlier question's subject, so the same
    words after another question plan another search."""
    from llmcompiler_graph.testing.scenarios import SHOWCASE, ScenarioBrain
    from llmcompiler_graph.testing.script import ChatRequest

    brain = ScenarioBrain(SHOWCASE)

    def plan(*questions: str) -> str:
        messages = []
        for question in questions:
            messages += [
                {"role": "user", "content": question},
                {"role": "assistant", "content": "."},
            ]
        request = ChatRequest.from_body({"messages": messages[:-1]}, 0.0, role="planner")
        return str(brain(request))

    assert "search(query='population of Eiffel Tower')" in plan(
        "How tall is the Eiffel Tower?", "What about its population?"
    )
    assert "search(query='population of Big Ben')" in plan(
        "How tall is Big Ben?", "What about its population?"
    )
    assert "calculate(expression='451.5 / 3')" in plan(
        "What is 17.5% of 2,340 plus the square root of 1764?", "What is it divided by 3?"
    )


def test_a_prefix_cache_serves_repeated_prefixes_as_openai_does() -> None:
    """With `cached_prefill`, a prompt that starts like one seen before has that prefix cached
    (1,024 tokens or more, in steps of 128), reported as `cached_tokens` (LangChain's
    `cache_read`) and cheaper to prefill; short prompts are never cached; off by default."""
    latency = LatencyModel(ttft_base=0.0, ttft_per_prompt_token=0.0, cached_prefill=0.25)
    static = "You plan tool calls. " * 400  # ~2,100 tokens shared by every call
    with OpenAISimulator(lambda request: "ok", latency=latency) as sim:
        model = ChatOpenAI(model="gpt-4o-mini", base_url=sim.base_url, api_key="sim")

        def ask(question: str) -> tuple[int, int]:
            usage = model.invoke([("system", static), ("user", question)]).usage_metadata
            assert usage is not None
            return usage["input_tokens"], (usage.get("input_token_details") or {}).get(
                "cache_read", 0
            )

        _, first_cached = ask("Which is older, the tower or the bridge?")
        second, second_cached = ask("How tall is the tower?")
        short = [model.invoke("hi").usage_metadata for _ in range(2)]
        entries = sim.requests

    assert first_cached == 0
    assert 1024 <= second_cached < second and second_cached % 128 == 0
    assert second - second_cached < 150  # only the question and the framing after it
    assert entries[1].cached_tokens == second_cached
    assert all(not (u or {}).get("input_token_details", {}).get("cache_read") for u in short)
    assert latency.ttft(2000, 1920) == pytest.approx(latency.ttft(2000 - 0.75 * 1920))
    assert LatencyModel().caches is False and LatencyModel(cached_prefill=0.5).caches


def test_without_a_prefix_cache_usage_has_no_cached_tokens(
    openai_simulator: OpenAISimulator,
) -> None:
    openai_simulator.script = lambda request: "ok"
    model = ChatOpenAI(model="gpt-4o-mini", base_url=openai_simulator.base_url, api_key="sim")
    static = "You plan tool calls. " * 400
    usages = [model.invoke([("system", static), ("user", "q")]).usage_metadata for _ in range(2)]
    assert all(u and not (u.get("input_token_details") or {}).get("cache_read") for u in usages)
    assert [e.cached_tokens for e in openai_simulator.requests[-2:]] == [0, 0]
