"""Timeouts and retries of the package's own LLM calls (`llmcompiler_graph.core.llm`).

The real `ChatOpenAI` (from `load_chat_model`, with the client's own retries off) talks to the
loopback `OpenAISimulator`, whose injected faults play the misbehaving server: `slow_next` (the
answer never comes), `fail_next` (429 / 5xx, with `retry-after`), `cut_next_stream`. A raw socket
that accepts connections and never answers plays the server that hangs before any header.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import pickle
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import openai
import pytest
from helpers import PARALLEL, SCENARIOS, ScriptedChatModel, requests_of
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_openai import ChatOpenAI

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core._sync import iterate_in_thread
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.joiner import Joiner
from llmcompiler_graph.core.llm import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    LLMCall,
    LLMCallError,
    describe_endpoint,
)
from llmcompiler_graph.core.plan import Task, Turn
from llmcompiler_graph.core.planner import Planner
from llmcompiler_graph.core.retry import BASE_DELAY, MAX_DELAY, backoff, is_transient, retry_after
from llmcompiler_graph.core.roles import ANSWER_TAG, PLANNER
from llmcompiler_graph.core.toolbox import Toolbox
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator
from llmcompiler_graph.testing.scenarios import ScenarioBrain
from llmcompiler_graph.tools import create_math_tool

Mode = Literal["async", "sync"]
MODES = ["async", "sync"]

TIMEOUT = 0.5
"""The `llm_timeout` of the tests with a silent server."""
NEVER = 1000.0
"""`slow_next` seconds: an answer that never comes (the simulator's stop wakes it)."""

PLAN = '1. search(query="Paris")\n2. search(query="Rome")\n3. join()<END_OF_PLAN>'
FINISH = "Thought: done\nAction: Finish(Rome)"
MATH_REPLY = "```text\n6 * 7\n```"


def search(query: str) -> str:
    """Search the web."""
    return query


TOOLBOX = Toolbox([search])


# -- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[OpenAISimulator]:
    with OpenAISimulator(latency=LatencyModel.instant()) as simulator:
        yield simulator


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (not even a status line)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)

    def __enter__(self) -> SilentServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture(params=["no-first-chunk", "no-status-line"])
def silent(request: pytest.FixtureRequest) -> Iterator[OpenAISimulator | SilentServer]:
    """A server that never answers: the simulator delaying its answer (a stream gets its headers,
    then nothing), or a socket that never sends a byte."""
    if request.param == "no-status-line":
        with SilentServer() as server:
            yield server
        return
    with OpenAISimulator(latency=LatencyModel.instant()) as simulator:
        for _ in range(5):
            simulator.slow_next(NEVER)
        yield simulator


def chat_model(server: Any, http_client: Any = None, **kwargs: Any) -> ChatOpenAI:
    """The real ChatOpenAI at `server`, with the client's own retries off."""
    if http_client is not None:
        kwargs["http_async_client"] = http_client
    kwargs.setdefault("max_retries", 0)
    return load_chat_model("openai:gpt-4o-mini", base_url=server.base_url, api_key="sim", **kwargs)


def turn(text: str = "Which city is bigger?") -> Turn:
    return Turn(question=HumanMessage(text))


def events() -> EventSink:
    return EventSink(None, graph="test", round=1)


async def plan(planner: Planner, mode: Mode, published: list[Task] | None = None) -> list[Task]:
    """Run the planner in `mode` (sync in a worker thread), collecting what it publishes."""
    published = [] if published is None else published
    question = turn()
    args = (question, [question.question], published.append, events())
    if mode == "async":
        return await planner.aplan(*args)
    return await asyncio.to_thread(planner.plan, *args)


async def decide(joiner: Joiner, mode: Mode) -> Any:
    question = turn()
    kwargs = {
        "turn": question,
        "messages": [question.question],
        "force_answer": False,
        "events": events(),
    }
    if mode == "async":
        return await joiner.adecide(**kwargs)
    return await asyncio.to_thread(joiner.decide, **kwargs)


async def compute(tool: Any, mode: Mode) -> Any:
    args = {"problem": "What is six times seven?"}
    if mode == "async":
        return await tool.ainvoke(args)
    return await asyncio.to_thread(tool.invoke, args)


def statuses(sim: OpenAISimulator) -> list[int | None]:
    return [entry.status for entry in sim.requests]


def assert_fails_in_time(excinfo: pytest.ExceptionInfo[LLMCallError], role: str, server: Any):
    error = excinfo.value
    message = str(error)
    assert message.startswith(f"{role} call to {server.base_url} (model gpt-4o-mini) failed")
    assert "after 1 try" in message and "llm_timeout=0.5 s" in message
    assert (error.role, error.endpoint, error.tries) == (
        role,
        f"{server.base_url} (model gpt-4o-mini)",
        1,
    )
    assert isinstance(error.__cause__, TimeoutError)


def llm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("llmcompiler-")]


# -- a server that never answers -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_silent_server_fails_the_planner_within_its_timeout(
    silent: Any, http_client: Any, mode: Mode
) -> None:
    planner = Planner(chat_model(silent, http_client), TOOLBOX, llm_timeout=TIMEOUT, llm_retries=0)
    published: list[Task] = []

    started = time.monotonic()
    with pytest.raises(LLMCallError) as excinfo:
        await asyncio.wait_for(plan(planner, mode, published), 10)
    elapsed = time.monotonic() - started

    assert TIMEOUT * 0.9 <= elapsed < 1.5, elapsed
    assert_fails_in_time(excinfo, "planner", silent)
    assert "no answer within 0.5 s" in str(excinfo.value)
    assert published == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("role", ["joiner", "math"])
async def test_silent_server_fails_the_joiner_and_math_within_their_timeout(
    silent: Any, http_client: Any, mode: Mode, role: str
) -> None:
    model = chat_model(silent, http_client)
    if role == "joiner":
        call = decide(Joiner(model, llm_timeout=TIMEOUT, llm_retries=0), mode)
    else:
        call = compute(create_math_tool(model, llm_timeout=TIMEOUT, llm_retries=0), mode)

    started = time.monotonic()
    with pytest.raises(LLMCallError) as excinfo:
        await asyncio.wait_for(call, 10)
    elapsed = time.monotonic() - started

    assert TIMEOUT * 0.9 <= elapsed < 1.5, elapsed
    assert_fails_in_time(excinfo, role, silent)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
async def test_a_timed_out_try_is_tried_again(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    """A timeout is transient: with one retry a second request goes out after the backoff, and
    the error counts both tries."""
    sim.slow_next(NEVER)
    sim.slow_next(NEVER)
    planner = Planner(chat_model(sim, http_client), TOOLBOX, llm_timeout=TIMEOUT, llm_retries=1)

    started = time.monotonic()
    with pytest.raises(LLMCallError, match=r"^planner call to .* failed after 2 tries") as excinfo:
        await asyncio.wait_for(plan(planner, mode), 10)
    elapsed = time.monotonic() - started

    assert len(sim.requests) == 2
    assert excinfo.value.tries == 2
    # two tries of 0.5 s and one backoff of 0.375-0.5 s
    assert 2 * TIMEOUT + 0.3 <= elapsed < 3.0, elapsed


def test_an_abandoned_sync_call_ends_with_its_connection(sim: OpenAISimulator) -> None:
    """On timeout the sync call's helper thread is left behind, blocked in its read; it ends as
    soon as the server closes the connection."""
    sim.slow_next(NEVER)
    joiner = Joiner(chat_model(sim), format="text", llm_timeout=TIMEOUT, llm_retries=0)
    before = set(llm_threads())

    with pytest.raises(LLMCallError):
        joiner.decide(turn(), [turn().question], force_answer=False, events=events())

    left = [t for t in llm_threads() if t not in before]
    assert [t.name for t in left] == ["llmcompiler-joiner-llm"]
    assert left[0].daemon
    sim.stop()
    left[0].join(5)
    assert not left[0].is_alive()


# -- transient errors and retry-after ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limited_planner_waits_retry_after_and_succeeds(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    sim.script = [PLAN]
    sim.fail_next(1, status=429, retry_after=0.3)
    planner = Planner(chat_model(sim, http_client), TOOLBOX)  # default timeout and retries
    published: list[Task] = []

    started = time.monotonic()
    tasks = await asyncio.wait_for(plan(planner, mode, published), 10)
    elapsed = time.monotonic() - started

    assert statuses(sim) == [429, 200]
    gap = sim.requests[1].received_at - sim.requests[0].finished_at
    assert gap >= 0.28, gap
    assert elapsed >= 0.3
    assert [t["args"]["query"] for t in tasks] == ["Paris", "Rome"]
    assert published == tasks


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
async def test_joiner_server_errors_are_retried(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    sim.script = [FINISH]
    sim.fail_next(2, status=503)
    joiner = Joiner(chat_model(sim, http_client), format="text")

    decision = await asyncio.wait_for(decide(joiner, mode), 10)

    assert decision.finish and decision.answer == "Rome"
    assert statuses(sim) == [503, 503, 200]


@pytest.mark.parametrize("mode", MODES)
async def test_math_server_error_is_retried(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    sim.script = [MATH_REPLY]
    sim.fail_next(1, status=500)
    tool = create_math_tool(chat_model(sim, http_client))

    assert await asyncio.wait_for(compute(tool, mode), 10) == 42
    assert statuses(sim) == [500, 200]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
async def test_persistent_server_errors_fail_after_every_try(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    sim.fail_next(3, status=500)
    planner = Planner(chat_model(sim, http_client), TOOLBOX, llm_retries=2)

    with pytest.raises(LLMCallError) as excinfo:
        await asyncio.wait_for(plan(planner, mode), 10)

    message = str(excinfo.value)
    assert message.startswith(f"planner call to {sim.base_url} (model gpt-4o-mini) failed")
    assert "after 3 tries" in message and "Error code: 500" in message
    assert isinstance(excinfo.value.__cause__, openai.InternalServerError)
    assert statuses(sim) == [500, 500, 500]


@pytest.mark.parametrize("mode", MODES)
async def test_a_bad_request_is_not_retried_nor_wrapped(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    """Not transient: the client's own error, with a note naming the call."""
    sim.fail_next(1, status=400)
    joiner = Joiner(chat_model(sim, http_client), format="text")

    with pytest.raises(openai.BadRequestError) as excinfo:
        await asyncio.wait_for(decide(joiner, mode), 10)

    assert statuses(sim) == [400]
    assert any(f"joiner call to {sim.base_url}" in note for note in excinfo.value.__notes__)


async def test_the_server_saying_not_to_retry_is_obeyed(
    sim: OpenAISimulator, http_client: Any
) -> None:
    """The simulator answers a script error with 500 and `x-should-retry: false`."""
    sim.script = []  # exhausted
    joiner = Joiner(chat_model(sim, http_client), format="text")

    with pytest.raises(openai.InternalServerError):
        await decide(joiner, "async")

    assert statuses(sim) == [500]


async def test_a_retry_after_beyond_the_cap_ends_the_call_at_once(
    sim: OpenAISimulator, http_client: Any
) -> None:
    sim.fail_next(1, status=429, retry_after=600)
    joiner = Joiner(chat_model(sim, http_client), format="text")

    started = time.monotonic()
    with pytest.raises(LLMCallError, match="asked to wait 600 s"):
        await decide(joiner, "async")

    assert time.monotonic() - started < 2
    assert statuses(sim) == [429]


# -- the backoff schedule ------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers


class FakeAPIError(Exception):
    """Shaped like the openai SDK's status errors: the response rides on the exception."""

    def __init__(self, status_code: int = 429, **headers: str) -> None:
        super().__init__(f"status {status_code}")
        self.response = FakeResponse(
            status_code, {k.replace("_", "-"): v for k, v in headers.items()}
        )


def test_backoff_honours_retry_after() -> None:
    assert backoff(1, FakeAPIError(retry_after="2.5")) == 2.5
    assert backoff(3, FakeAPIError(retry_after_ms="150")) == pytest.approx(0.15)
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= backoff(1, FakeAPIError(retry_after=date)) <= 30
    assert retry_after(FakeAPIError(retry_after="soon")) is None
    assert retry_after(FakeAPIError()) is None
    assert retry_after(ValueError()) is None


def test_backoff_is_exponential_with_jitter_without_retry_after() -> None:
    no_jitter, full_jitter = (lambda: 0.0), (lambda: 1.0)
    assert [backoff(n, rng=no_jitter) for n in (1, 2, 3, 4, 5, 6)] == [0.5, 1, 2, 4, 8, 8]
    assert backoff(1, FakeAPIError(), rng=full_jitter) == BASE_DELAY * 0.75
    assert backoff(10, rng=full_jitter) == MAX_DELAY * 0.75
    assert all(0.375 <= backoff(1) <= 0.5 for _ in range(50))


def test_transient_errors() -> None:
    assert is_transient(FakeAPIError(429))
    assert is_transient(FakeAPIError(503))
    assert is_transient(FakeAPIError(408))
    assert not is_transient(FakeAPIError(400))
    assert not is_transient(FakeAPIError(401))
    assert not is_transient(FakeAPIError(500, x_should_retry="false"))
    assert is_transient(FakeAPIError(400, x_should_retry="true"))
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("bad output"))
    assert not is_transient(RuntimeError("the provider said no"))
    assert not is_transient(ssl.SSLCertVerificationError("certificate verify failed"))


# -- streams that break or stall after they started -----------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_cut_after_a_task_was_published_is_not_retried(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    """The partial plan stands; no second request, so no task is published twice."""
    sim.script = [PLAN, PLAN]
    sim.cut_next_stream(after_chars=PLAN.index("\n2.") + len("\n2. sea"))
    planner = Planner(chat_model(sim, http_client), TOOLBOX, llm_retries=2)
    published: list[Task] = []

    tasks = await asyncio.wait_for(plan(planner, mode, published), 10)

    assert [t["args"]["query"] for t in published] == ["Paris"]
    assert tasks == published
    (entry,) = sim.requests
    assert entry.cut


@pytest.mark.parametrize("mode", MODES)
async def test_a_stream_cut_before_any_task_fails_with_the_clients_error(
    sim: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    """A stream that started is never retried, even before its first task line completed."""
    sim.script = [PLAN, PLAN]
    sim.cut_next_stream(after_chars=len("1. sea"))
    planner = Planner(chat_model(sim, http_client), TOOLBOX, llm_retries=2)
    published: list[Task] = []

    with pytest.raises(openai.APIConnectionError) as excinfo:
        await asyncio.wait_for(plan(planner, mode, published), 10)

    assert published == []
    assert len(sim.requests) == 1
    assert any("planner call to" in note for note in excinfo.value.__notes__)


SLOW_PLAN = '1. search(query="Paris")\n2. search(query="' + "Rome " * 60 + '")\n3. join()'
"""Task 1's line arrives at once; at 40 tokens/s the rest takes about two seconds."""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
async def test_a_stream_timing_out_after_a_task_keeps_the_partial_plan(
    sim: OpenAISimulator, http_client: Any, mode: Mode, caplog: pytest.LogCaptureFixture
) -> None:
    sim.script = [SLOW_PLAN, SLOW_PLAN]
    sim.latency = LatencyModel(ttft_base=0.0, ttft_per_prompt_token=0.0, tokens_per_second=40.0)
    planner = Planner(chat_model(sim, http_client), TOOLBOX, llm_timeout=0.7)
    published: list[Task] = []

    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        tasks = await asyncio.wait_for(plan(planner, mode, published), 10)
    elapsed = time.monotonic() - started

    assert 0.6 <= elapsed < 1.6, elapsed
    assert tasks[0]["args"] == {"query": "Paris"} and published == tasks
    # task 2's unfinished line, if any, becomes an error task (as for any broken stream)
    assert all(t["error"] for t in tasks[1:])
    assert len(sim.requests) == 1
    assert "the stream did not finish within 0.7 s" in caplog.text


class _Chunks:
    """A runnable whose stream yields `before` chunks at once, then waits `then` seconds for
    each next one; `busy` seconds of the consumer's own work follow each chunk."""

    def __init__(self, before: int, then: float) -> None:
        self.before, self.then = before, then

    async def astream(self, input: Any, config: Any = None) -> Any:
        for n in range(1000):
            if n >= self.before:
                await asyncio.sleep(self.then)
            yield n


async def _read(call: LLMCall, runnable: Any, busy: float = 0.0) -> list[int]:
    got = []
    async for chunk in call.astream(runnable, None):
        got.append(chunk)
        if busy:
            time.sleep(busy)  # the consumer's own work, during which no wait is pending
    return got


async def test_one_deadline_bounds_the_whole_stream_however_fast_its_chunks() -> None:
    call = LLMCall(PLANNER, None, timeout=0.3, retries=0)
    started = time.monotonic()

    with pytest.raises(LLMCallError, match=r"the stream did not finish within 0\.3 s"):
        await asyncio.wait_for(_read(call, _Chunks(before=0, then=0.02)), 5)

    assert 0.25 <= time.monotonic() - started < 1.0


async def test_a_deadline_passing_while_the_consumer_works_fails_the_next_wait() -> None:
    call = LLMCall(PLANNER, None, timeout=0.1, retries=0)

    with pytest.raises(LLMCallError, match="did not finish"):
        await asyncio.wait_for(_read(call, _Chunks(before=3, then=0.0), busy=0.08), 5)


class _Converting:
    """A stream that turns the cancellation of its wait into its own error, as some clients do."""

    async def astream(self, input: Any, config: Any = None) -> Any:
        yield 0
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ConnectionError("connection closed") from None
        yield 1


async def test_a_deadline_the_stream_turned_into_its_own_error_is_still_a_timeout() -> None:
    call = LLMCall(PLANNER, None, timeout=0.2, retries=0)

    with pytest.raises(LLMCallError, match="did not finish"):
        async with asyncio.timeout(5):
            await _read(call, _Converting())

    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_a_cancelled_stream_is_a_cancellation_not_a_timeout() -> None:
    call = LLMCall(PLANNER, None, timeout=5, retries=0)
    reading = asyncio.create_task(_read(call, _Chunks(before=2, then=10)))
    await asyncio.sleep(0.05)

    reading.cancel()

    with pytest.raises(asyncio.CancelledError):
        await reading


# -- the sync helper thread keeps the caller's context -------------------------------------------

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


class Starts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tags: list[list[str]] = []
        self.tokens = 0

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.tags.append(kwargs.get("tags") or [])

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens += 1


def test_sync_calls_run_on_a_helper_thread_with_the_callers_context() -> None:
    seen: list[tuple[str, str]] = []

    def script(role: str, messages: list[BaseMessage]) -> str:
        seen.append((threading.current_thread().name, REQUEST_ID.get()))
        return PLAN if role == "planner" else FINISH

    model = ScriptedChatModel(script=script)
    planner = Planner(model, TOOLBOX, llm_timeout=5)
    joiner = Joiner(model, format="text", llm_timeout=5)
    handler = Starts()
    REQUEST_ID.set("r-42")
    question = turn()

    tasks = planner.plan(
        question, [question.question], [].append, events(), {"callbacks": [handler]}
    )
    decision = joiner.decide(
        question,
        [question.question],
        force_answer=False,
        events=events(),
        config={"callbacks": [handler]},
    )

    assert len(tasks) == 2 and decision.answer == "Rome"
    assert seen == [("llmcompiler-planner-llm", "r-42"), ("llmcompiler-joiner-llm", "r-42")]
    # the planner's and the joiner's calls, then the relay of the joiner's answer
    assert [(PLANNER.tag in tags, ANSWER_TAG in tags) for tags in handler.tags] == [
        (True, False),
        (False, False),
        (False, True),
    ]
    assert handler.tokens >= len(PLAN)  # one per character (plus an empty closing chunk)


def test_without_a_timeout_sync_calls_still_run_on_a_helper_thread() -> None:
    """The sync form is the async one run on a private loop: its blocking model call never runs
    on (and blocks) that loop's thread, limit or not."""
    seen: list[str] = []

    def script(role: str, messages: list[BaseMessage]) -> str:
        seen.append(threading.current_thread().name)
        return PLAN

    planner = Planner(ScriptedChatModel(script=script), TOOLBOX, llm_timeout=0)
    question = turn()
    tasks = planner.plan(question, [question.question], [].append, events())

    assert len(tasks) == 2
    assert seen == ["llmcompiler-planner-llm"]
    assert planner.llm.timeout is None


async def test_iterate_in_thread_reads_on_one_thread_and_closes_when_left_early() -> None:
    threads: set[str] = set()
    closed = threading.Event()

    def numbers(n: int) -> Iterator[int]:
        try:
            for i in range(n):
                threads.add(threading.current_thread().name)
                yield i
                time.sleep(0.01)
        finally:
            closed.set()

    async with contextlib.aclosing(iterate_in_thread(numbers, 1000, name="reader")) as items:
        async for item in items:
            if item == 2:
                break
    assert await asyncio.to_thread(closed.wait, 5)  # closed by the reader, at its next item
    assert threads == {"reader"}

    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("cut")

    got: list[int] = []
    with pytest.raises(ValueError, match="cut"):
        async for item in iterate_in_thread(broken):
            got.append(item)
    assert got == [1]


# -- the graph with its default wiring -----------------------------------------------------------


@pytest.fixture
def brain() -> Iterator[OpenAISimulator]:
    with OpenAISimulator(ScenarioBrain(SCENARIOS), latency=LatencyModel.instant()) as simulator:
        yield simulator


def local_search(query: str) -> str:
    """Search the web."""
    return f"results for {query}"


async def test_graph_with_default_settings_answers(brain: OpenAISimulator, http_client: Any):
    """`create_llmcompiler` builds its planner and joiner with the default timeout and retries."""
    graph = create_llmcompiler(chat_model(brain, http_client), [local_search])

    out = await asyncio.wait_for(graph.ainvoke({"messages": [("user", PARALLEL.question)]}), 30)

    assert out["messages"][-1].content == PARALLEL.answer
    assert all(entry.status == 200 for entry in brain.requests)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.slow
async def test_graph_run_fails_when_the_planner_gives_up(
    brain: OpenAISimulator, http_client: Any, mode: Mode
) -> None:
    """Three 500s before any task: the default 2 retries are spent and the run fails with
    `LLMCallError`; no tool ran."""
    brain.fail_next(3, status=500)
    graph = create_llmcompiler(chat_model(brain, http_client), [local_search])
    question = {"messages": [("user", PARALLEL.question)]}

    with pytest.raises(LLMCallError, match=r"^planner call to .* after 3 tries"):
        if mode == "async":
            await asyncio.wait_for(graph.ainvoke(question), 30)
        else:
            await asyncio.wait_for(asyncio.to_thread(graph.invoke, question), 30)

    assert statuses(brain) == [500, 500, 500]
    assert len(requests_of(brain, "planner")) == 3


# -- the error and the policy object -------------------------------------------------------------


def test_llm_call_error_pickles_with_its_fields() -> None:
    error = LLMCallError("joiner call to x failed", role="joiner", endpoint="x", tries=3)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.role, copy.endpoint, copy.tries) == (str(error), "joiner", "x", 3)
    assert isinstance(copy, RuntimeError)


def test_endpoint_names() -> None:
    secret = ChatOpenAI(
        model="gpt-4o-mini", base_url="https://user:pw@llm.example:8443/v1/?key=k", api_key="x"
    )
    assert describe_endpoint(secret) == "https://llm.example:8443/v1 (model gpt-4o-mini)"
    default = ChatOpenAI(model="gpt-4o", api_key="x", base_url=None)
    assert describe_endpoint(default.bind(stop=["x"])).endswith("/v1 (model gpt-4o)")
    assert describe_endpoint(FakeListChatModel(responses=["a"])) == "FakeListChatModel"


def test_policy_arguments() -> None:
    model = FakeListChatModel(responses=["a"])
    default = LLMCall(PLANNER, model)
    assert (default.timeout, default.retries) == (DEFAULT_TIMEOUT, DEFAULT_RETRIES) == (120, 2)
    assert LLMCall(PLANNER, model, timeout=0).timeout is None
    assert LLMCall(PLANNER, model, timeout=None).timeout is None
    for bad in ({"timeout": -1}, {"retries": -1}, {"retries": 1.5}, {"timeout": "5"}):
        with pytest.raises(ValueError, match="llm_"):
            LLMCall(PLANNER, model, **bad)
    with pytest.raises(ValueError, match="llm_timeout"):
        Planner(model, TOOLBOX, llm_timeout=-1)
    with pytest.raises(ValueError, match="llm_retries"):
        Joiner(model, llm_retries=-2)
    with pytest.raises(ValueError, match="llm_timeout"):
        create_math_tool(model, llm_timeout=-3)
