"""The LangGraph API server on PostgreSQL and Redis, several workers, driven by `langgraph_sdk`.

The stock `langgraph-api` server with the MIT `langgraph-runtime-pg` runtime (`langhost serve -c
langgraph.json`, from `deploy/requirements-server.txt`, in a virtualenv of its own), real
PostgreSQL and Redis (Debian's packages), all on 127.0.0.1; the graph's model and search go to
the loopback simulators in this process. Each deployment gets its own database and Redis db
(servers on one database share one run queue). See `servers.py` for how they are started.

Figures (runs, workers, throughput, p95, tool calls re-executed after a kill) are printed: run
with `-s` to see them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import SCENARIOS, WITH_MATH, planned, task_events
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk._sync.client import SyncLangGraphClient
from servers import (
    DEPLOY_CONFIG,
    ApiServer,
    Postgres,
    Redis,
    connected_to,
    server_env,
    server_venv,
    services,
)
from test_durable import worker_script

from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import (
    Scenario,
    ScenarioBrain,
    generic_scenario,
    merged_corpus,
)

pytestmark = pytest.mark.slow  # starts PostgreSQL, Redis and the server

GRAPH = "llmcompiler"
RUN_TIMEOUT = 120.0
RUNS = 200
WORKERS = 4
JOBS_PER_WORKER = 10
HEARTBEAT = 5
"""`LG_BG_JOB_HEARTBEAT` of the kill test's deployment: a dead worker's run is reclaimed
within about 2x this (the heartbeat key's lifetime), plus one sweep interval."""

KEY = "operator-key-for-the-tests"
"""The API key of the one user these tests are (the deployment's auth handler wants one)."""

FAST = LatencyModel(ttft_base=0.01, ttft_per_prompt_token=0.0, tokens_per_second=5_000.0)
"""Instant-ish: real SSE chunks, no noticeable waiting."""


class Searches(TavilySimulator):
    """The search simulator, with a latency rule the tests can set per query."""

    def __init__(self) -> None:
        self.rule: Callable[[str], float] = lambda query: 0.02
        super().__init__(merged_corpus(SCENARIOS), latency=lambda query: self.rule(query))

    def of(self, token: str) -> list[Any]:
        return [entry for entry in self.requests if token in entry.query]


@dataclass
class Stack:
    """PostgreSQL, Redis, the simulators and the server's virtualenv, for the whole module."""

    postgres: Postgres
    redis: Redis
    brain: ScenarioBrain
    llm: OpenAISimulator
    search: Searches
    venv: Path
    scratch: Path
    servers: list[ApiServer] = field(default_factory=list)

    def know(self, *scenarios: Scenario) -> None:
        """Script these questions up front: an unscripted question gets its generic scenario
        when first asked, and the brain takes a conversation's latest *known* question as the
        one asked, so a later turn's new question must be known before it is asked."""
        for scenario in scenarios:
            self.brain.scenarios[scenario.question] = scenario

    def deployment(self, name: str, *, workers: int = 1, jobs: int = 1, **env: str) -> ApiServer:
        """A server on a new database and Redis db, migrated and started (stopped at the
        module's end)."""
        scratch = self.scratch / name
        scratch.mkdir()
        server = ApiServer(
            self.venv,
            scratch,
            self.postgres.create_database(name),
            self.redis.new_db(),
            server_env(
                OPENAI_BASE_URL=self.llm.base_url,
                OPENAI_API_KEY="sim",
                TAVILY_BASE_URL=self.search.base_url,
                TAVILY_API_KEY="tvly-sim",
                LLMCOMPILER_MODEL="openai:gpt-4o-mini",
                PG_POOL_SIZE="10",
                PG_MAX_OVERFLOW="10",
                LLMCOMPILER_API_KEYS=f"operator:{KEY}",
                **env,
            ),
            workers=workers,
            jobs_per_worker=jobs,
            config=DEPLOY_CONFIG,
        )
        self.servers.append(server)
        server.migrate()
        return server.start()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    venv = server_venv()
    brain = ScenarioBrain(SCENARIOS)
    with (
        services() as (postgres, redis),
        OpenAISimulator(brain, latency=FAST) as llm,
        Searches() as search,
    ):
        scratch = tmp_path_factory.mktemp("server-pg")
        stack = Stack(postgres, redis, brain, llm, search, venv, scratch)
        try:
            yield stack
        finally:
            for server in stack.servers:
                server.stop()


@pytest.fixture(scope="module")
def cluster(stack: Stack) -> ApiServer:
    """The shared deployment: 4 workers."""
    return stack.deployment("cluster", workers=WORKERS, jobs=JOBS_PER_WORKER)


def _client(server: ApiServer) -> SyncLangGraphClient:
    return get_sync_client(url=server.url, api_key=KEY, timeout=RUN_TIMEOUT)


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _values(client: SyncLangGraphClient, thread_id: str) -> dict[str, Any]:
    return client.threads.get_state(thread_id)["values"]


def _queries(values: dict[str, Any]) -> list[str]:
    return [t["args"]["query"] for t in values["tasks"] if t["tool"] == "search"]


# -- threads in Postgres ---------------------------------------------------------------------


def _is_answer(message: dict[str, Any]) -> bool:
    """An AI message that answers (not one of the plan's tool calls)."""
    return message["type"] == "ai" and not message.get("tool_calls")


def test_threads_survive_a_server_restart(stack: Stack) -> None:
    """A thread written before a restart is read back after it, whole, and its conversation
    goes on: the second turn sees the first."""
    server = stack.deployment("restart")
    first = generic_scenario("How long is the canal K-restart, and how deep is the lake K-restart?")
    second = generic_scenario("How old is the castle K-again?")
    stack.know(first, second)
    with _client(server) as client:
        thread_id = client.threads.create(metadata={"test": "restart"})["thread_id"]
        client.runs.wait(thread_id, GRAPH, input=_user(first.question))
        before = client.threads.get_state(thread_id)
    assert before["values"]["messages"][-1]["content"] == first.answer

    server.stop()
    server.start()

    with _client(server) as client:
        after = client.threads.get_state(thread_id)
        assert after["values"] == before["values"]
        assert after["checkpoint"] == before["checkpoint"]
        found = client.threads.search(metadata={"test": "restart"})
        assert [t["thread_id"] for t in found] == [thread_id]

        client.runs.wait(thread_id, GRAPH, input=_user(second.question))
        values = _values(client, thread_id)
    dialogue = [m for m in values["messages"] if m["type"] == "human" or _is_answer(m)]
    assert [m["type"] for m in dialogue] == ["human", "ai", "human", "ai"]
    assert dialogue[1]["content"] == first.answer
    assert values["messages"][-1]["content"] == second.answer
    assert values["tasks"][0]["idx"] == 1, "the second turn restarts task ids"
    print(f"\nrestart: server up in {server.startup_seconds[-1]:.1f} s, thread intact")


# -- load over several workers ---------------------------------------------------------------


WAYS = ("runs.wait", "runs.join", "runs.stream")
"""How a client gets a run's result: each is used for a third of the load's runs."""


async def _result(client: Any, way: str, thread_id: str, question: str) -> dict[str, Any]:
    """The run's final values as the client receives them (not as stored)."""
    if way == "runs.wait":
        return await client.runs.wait(thread_id, GRAPH, input=_user(question))
    if way == "runs.join":
        run = await client.runs.create(thread_id, GRAPH, input=_user(question))
        return await client.runs.join(thread_id, run["run_id"])
    last: dict[str, Any] = {}
    async for part in client.runs.stream(
        thread_id, GRAPH, input=_user(question), stream_mode="values"
    ):
        if part.event == "values":
            last = part.data
    return last


def test_200_concurrent_runs_over_4_workers(stack: Stack, cluster: ApiServer) -> None:
    """200 runs submitted at once, one thread each: what every client receives (`runs.wait`,
    `runs.join` or the last `values` event of `runs.stream`) is its own question's final answer,
    as stored; every task of a run searches its own question, every search ran exactly once, and
    more than one worker ran them."""
    tokens = [f"R{i:03d}x" for i in range(RUNS)]
    scenarios = [
        generic_scenario(f"What is the length of river {token} and the height of peak {token}?")
        for token in tokens
    ]
    stack.know(*scenarios)
    stack.search.rule = lambda query: 0.05

    async def one(client: Any, n: int, question: str) -> tuple[str, float, dict[str, Any]]:
        began = time.perf_counter()
        thread = await client.threads.create()
        got = await _result(client, WAYS[n % len(WAYS)], thread["thread_id"], question)
        return thread["thread_id"], time.perf_counter() - began, got

    async def everything() -> tuple[list[tuple[str, float, dict[str, Any]]], float]:
        client = get_client(url=cluster.url, api_key=KEY, timeout=600.0)
        began = time.perf_counter()
        done = await asyncio.gather(*(one(client, n, s.question) for n, s in enumerate(scenarios)))
        return list(done), time.perf_counter() - began

    results, seconds = asyncio.run(everything())
    busy_workers = connected_to(stack.search.port, cluster.worker_pids())

    stale: Counter[str] = Counter()
    with _client(cluster) as client:
        for n, (token, scenario, (thread_id, _, got)) in enumerate(
            zip(tokens, scenarios, results, strict=True)
        ):
            values = _values(client, thread_id)
            runs = client.runs.list(thread_id)
            way = WAYS[n % len(WAYS)]
            assert "messages" in values, (way, runs, got)
            assert values["messages"][-1]["content"] == scenario.answer
            if got.get("messages", [{}])[-1].get("content") != scenario.answer:
                stale[way] += 1
            queries = _queries(values)
            assert len(queries) == 2 and all(token in q for q in queries), queries
            assert [o["status"] for o in values["observations"]] == ["ok", "ok"]
            assert all(token in json.dumps(o["value"]) for o in values["observations"])
            assert Counter(e.query for e in stack.search.of(token)) == dict.fromkeys(queries, 1)
            assert [r["status"] for r in runs] == ["success"]

    latencies = sorted(latency for _, latency, _ in results)
    p95 = latencies[int(0.95 * len(latencies)) - 1]
    print(
        f"\n{RUNS} runs over {WORKERS} workers x {JOBS_PER_WORKER} jobs: {seconds:.1f} s, "
        f"{RUNS / seconds:.1f} runs/s; latency (submit -> answer) "
        f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s; "
        f"workers seen searching: {len(busy_workers)}; clients given a stale result: "
        f"{dict(stale) or 0}"
    )
    assert len(busy_workers) > 1, "every run went to one worker"
    assert not stale, f"clients were given another result than the stored answer: {dict(stale)}"


# -- streaming and plan approval through the server -----------------------------------------


def test_custom_events_stream_through_the_server(cluster: ApiServer) -> None:
    with _client(cluster) as client:
        thread_id = client.threads.create()["thread_id"]
        parts = list(
            client.runs.stream(
                thread_id, GRAPH, input=_user(WITH_MATH.question), stream_mode=["custom", "updates"]
            )
        )
        values = _values(client, thread_id)
    assert "error" not in {p.event for p in parts}, parts
    custom = [p.data for p in parts if p.event == "custom"]
    lifecycle = ["task_planned", "task_started", "task_finished"]
    assert task_events(custom) == {t["idx"]: lifecycle for t in WITH_MATH.tasks}
    updated = {node for p in parts if p.event == "updates" for node in p.data}
    assert {"planner", "scheduler", "joiner"} <= updated
    assert values["messages"][-1]["content"] == WITH_MATH.answer


def test_plan_approval_interrupts_and_resumes_through_the_server(
    stack: Stack, cluster: ApiServer
) -> None:
    """`approve_plan` in the run's context: the run stops before any tool runs, with the
    human-in-the-loop request; resuming with one `approve` per action request runs the plan."""
    scenario = generic_scenario("How wide is the river K-approve, and how long is the bridge K-ok?")
    with _client(cluster) as client:
        thread_id = client.threads.create()["thread_id"]
        client.runs.wait(
            thread_id, GRAPH, input=_user(scenario.question), context={"approve_plan": True}
        )
        state = client.threads.get_state(thread_id)
        assert stack.search.of("K-approve") == [], "a tool ran before approval"
        interrupts = [i for task in state["tasks"] for i in task.get("interrupts", [])]
        assert len(interrupts) == 1
        request = interrupts[0]["value"]
        queries = [a["args"]["query"] for a in request["action_requests"]]
        assert [a["name"] for a in request["action_requests"]] == ["search", "search"]
        assert queries == [t["args"]["query"] for t in scenario.tasks]

        resume = {"decisions": [{"type": "approve"}] * len(queries)}
        parts = list(
            client.runs.stream(
                thread_id,
                GRAPH,
                command={"resume": resume},
                context={"approve_plan": True},
                stream_mode="custom",
            )
        )
        values = _values(client, thread_id)
    decided = [
        p.data for p in parts if p.event == "custom" and p.data["event"] == "approval_decided"
    ]
    assert [d["type"] for d in decided[0]["decisions"]] == ["approve", "approve"]
    assert values["messages"][-1]["content"] == scenario.answer
    ran = Counter(e.query for e in stack.search.requests if e.query in queries)
    assert ran == dict.fromkeys(queries, 1), "each approved search runs once"


# -- a worker killed mid-run -----------------------------------------------------------------


def test_a_killed_workers_run_finishes_on_another_without_rerunning_finished_tools(
    stack: Stack,
) -> None:
    """SIGKILL the worker running a plan while one search is still out and three have
    finished: after the heartbeat expires another worker takes the run over, resumes it from
    the last checkpoint and its journal, and runs only the unfinished search again."""
    server = stack.deployment("kill", workers=WORKERS, jobs=2, LG_BG_JOB_HEARTBEAT=str(HEARTBEAT))
    scenario = generic_scenario("Find alpha K9, beta K9, gamma K9 and slowly delta K9")
    assert len(scenario.tasks) == 4
    slow_attempts: list[float] = []

    def rule(query: str) -> float:
        if "slowly" not in query:
            return 0.2
        slow_attempts.append(time.time())
        return 30.0 if len(slow_attempts) == 1 else 2.0

    stack.search.rule = rule
    planner_calls_before = _planner_calls(stack, scenario.question)

    with _client(server) as client:
        thread_id = client.threads.create()["thread_id"]
        run = client.runs.create(thread_id, GRAPH, input=_user(scenario.question))
        _wait_for(lambda: len(_finished(stack.search.of("K9"))) == 3 and slow_attempts, 60)
        time.sleep(1.0)  # the journal writes of the finished searches reach Postgres
        running = connected_to(stack.search.port, server.worker_pids())
        assert len(running) == 1, f"workers talking to the search service: {running}"
        victim = running.pop()
        done_before_kill = sorted(e.query for e in _finished(stack.search.of("K9")))
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()

        _wait_for(lambda: len(slow_attempts) == 2, HEARTBEAT * 6 + 30)
        taken_over = time.time() - killed_at
        time.sleep(0.5)  # the second slow search is in flight: who sends it?
        finisher = connected_to(stack.search.port, server.worker_pids())
        finished = client.runs.join(thread_id, run["run_id"])
        status = client.runs.get(thread_id, run["run_id"])["status"]
        values = _values(client, thread_id)

    calls = Counter(e.query for e in stack.search.of("K9"))
    rerun = {query: calls[query] - 1 for query in done_before_kill if calls[query] > 1}
    planner_calls = _planner_calls(stack, scenario.question) - planner_calls_before
    print(
        f"\nkill: worker {victim} killed with {len(done_before_kill)} searches done and 1 out; "
        f"run taken over after {taken_over:.1f} s by worker(s) {sorted(finisher)}; "
        f"finished searches executed again: {sum(rerun.values())}; "
        f"search calls {dict(calls)}; planner calls {planner_calls}"
    )
    assert status == "success"
    # the heartbeat key lives 2x HEARTBEAT after its last refresh; a sweep every 2x HEARTBEAT
    assert taken_over < 4 * HEARTBEAT + 5, f"taken over only after {taken_over:.1f} s"
    assert finished["messages"][-1]["content"] == scenario.answer
    assert values["messages"][-1]["content"] == scenario.answer
    kinds = [
        m["type"] if m["type"] != "ai" or _is_answer(m) else "calls" for m in values["messages"]
    ]
    assert kinds.count("human") == 1 and kinds.count("ai") == 1, "the input was re-applied"
    call_ids = [c["id"] for m in values["messages"] if m["type"] == "ai" for c in m["tool_calls"]]
    results = [m["tool_call_id"] for m in values["messages"] if m["type"] == "tool"]
    assert sorted(call_ids) == sorted(set(results)) == sorted(results), "a result lost or doubled"
    assert victim not in finisher and finisher
    assert rerun == {}, f"finished searches ran again: {rerun}"
    slow = next(t["args"]["query"] for t in scenario.tasks if "slowly" in t["args"]["query"])
    assert calls == {**dict.fromkeys(done_before_kill, 1), slow: 2}
    assert planned(values["tasks"]) == planned(scenario.tasks)


def _finished(entries: list[Any]) -> list[Any]:
    return [e for e in entries if e.finished_at is not None and e.status == 200]


def _planner_calls(stack: Stack, question: str) -> int:
    return sum(
        1
        for e in stack.llm.requests
        if e.request.role == "planner" and question in json.dumps(e.request.messages)
    )


def _wait_for(condition: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s"
        time.sleep(0.05)


# -- the library on Postgres (no server) ------------------------------------------------------

POSTGRES = """
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg import Connection
from psycopg.rows import dict_row
saver = PostgresSaver(
    Connection.connect(
        os.environ["DATABASE_URI"], autocommit=True, prepare_threshold=0, row_factory=dict_row
    )
)
saver.setup()
"""


def test_create_llmcompiler_with_a_postgres_checkpointer_resumes_after_sigkill(
    stack: Stack, tmp_path: Path
) -> None:
    """`create_llmcompiler(..., checkpointer=PostgresSaver(...))` (the `postgres` extra, in the
    server's virtualenv): a process killed while a tool runs; a new one resumes the thread and
    runs only the unfinished tool."""
    script = tmp_path / "library.py"
    script.write_text(worker_script(POSTGRES))
    log = tmp_path / "tools.log"
    env = {
        **os.environ,
        "DATABASE_URI": stack.postgres.create_database("library"),
        "TOOL_LOG": str(log),
    }
    python = str(stack.venv / "bin" / "python")

    def lines() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    first = subprocess.Popen(
        [python, str(script)], env={**env, "PHASE": "first"}, stderr=subprocess.PIPE
    )
    try:
        needed = {"end a", "end b", "end result of a", "start slow"}
        _wait_for(lambda: needed <= set(lines()) or first.poll() is not None, 60)
        assert first.poll() is None, first.communicate()
        time.sleep(0.5)
    finally:
        first.kill()
        first.wait(10)

    second = subprocess.run(
        [python, str(script)], env={**env, "PHASE": "second"}, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout.strip().splitlines()[-1])
    starts = Counter(line for line in lines() if line.startswith("start "))
    assert starts == {"start a": 1, "start b": 1, "start result of a": 1, "start slow": 2}
    assert result["answer"] == "all done"
    assert result["observations"]["3"] == "result of slow"


# -- stopping a server with runs in flight ------------------------------------------------------

DRAINED_RUNS = 5


def test_runs_in_flight_when_the_server_stops_finish_after_it_starts_again(stack: Stack) -> None:
    """SIGTERM to a server while 5 runs wait on their searches, then the server started again
    on the same database: every run finishes with its answer, and no search that had finished
    is made again."""
    server = stack.deployment("drain", workers=1, jobs=DRAINED_RUNS)
    tokens = [f"D{i:02d}x" for i in range(DRAINED_RUNS)]
    scenarios = [
        generic_scenario(f"How long is the canal {token}, and how wide is the lock {token}?")
        for token in tokens
    ]
    stack.know(*scenarios)
    slow = {s.tasks[1]["args"]["query"] for s in scenarios}
    stack.search.rule = lambda query: 6.0 if query in slow else 0.05

    with _client(server) as client:
        runs = []
        for scenario in scenarios:
            thread_id = client.threads.create()["thread_id"]
            run = client.runs.create(thread_id, GRAPH, input=_user(scenario.question))
            runs.append((thread_id, run["run_id"]))
        _wait_for(lambda: all(len(stack.search.of(t)) == 2 for t in tokens), 60)
        time.sleep(0.5)  # the fast searches' journal entries reach Postgres
    began = time.monotonic()
    server.stop()
    stopped = time.monotonic() - began
    server.start()
    with _client(server) as client:
        joined = [client.runs.join(thread_id, run_id) for thread_id, run_id in runs]
        statuses = Counter(client.runs.get(t, r)["status"] for t, r in runs)
    finished = time.monotonic() - began

    calls = Counter(e.query for t in tokens for e in stack.search.of(t))
    print(
        f"\nSIGTERM with {DRAINED_RUNS} runs in flight: stopped in {stopped:.1f} s; after the "
        f"restart all done {finished:.1f} s after the SIGTERM; statuses {dict(statuses)}; "
        f"searches made again: {sum(n - 1 for n in calls.values())} (the {len(slow)} in flight)"
    )
    assert statuses == {"success": DRAINED_RUNS}
    assert [j["messages"][-1]["content"] for j in joined] == [s.answer for s in scenarios]
    assert all(calls[q] == 1 for q in calls if q not in slow), calls
    assert all(calls[q] <= 2 for q in slow), calls


# -- outages under load (last: they restart the services every deployment shares) -----------

OUTAGE_RUNS = 20
OUTAGE_SECONDS = 10.0


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_runs_in_flight_through_an_outage_finish_with_their_answers(
    stack: Stack, service: str
) -> None:
    """Redis (its data lost) or PostgreSQL stopped for 10 s and started again while 20 runs wait
    on their searches: every run ends `success`, and what `runs.join` gives each client is its
    answer."""
    server = stack.deployment(
        f"outage-{service}", workers=2, jobs=OUTAGE_RUNS, LG_BG_JOB_HEARTBEAT=str(HEARTBEAT)
    )
    tokens = [f"O{service[0]}{i:02d}x" for i in range(OUTAGE_RUNS)]
    scenarios = [
        generic_scenario(f"How tall is tower {token}, and how old is bridge {token}?")
        for token in tokens
    ]
    stack.know(*scenarios)
    stack.search.rule = lambda query: 4.0 if any(t in query for t in tokens) else 0.05

    with _client(server) as client:
        runs = []
        for scenario in scenarios:
            thread_id = client.threads.create()["thread_id"]
            run = client.runs.create(thread_id, GRAPH, input=_user(scenario.question))
            runs.append((thread_id, run["run_id"]))
        _wait_for(lambda: all(stack.search.of(token) for token in tokens), 60)
        began = time.monotonic()
        ready_before = httpx.get(f"{server.url}/ready", timeout=10).json()
        probes: list[httpx.Response] = []
        getattr(stack, service).outage(
            OUTAGE_SECONDS,
            during=lambda: probes.append(httpx.get(f"{server.url}/ready", timeout=10)),
        )
        joined = [client.runs.join(thread_id, run_id) for thread_id, run_id in runs]
        finished = time.monotonic() - began
        statuses = Counter(client.runs.get(t, r)["status"] for t, r in runs)
        stored = [_values(client, thread_id) for thread_id, _ in runs]

    answers = [s.answer for s in scenarios]
    given = [j.get("messages", [{}])[-1].get("content") for j in joined]
    kept = [v["messages"][-1]["content"] for v in stored]
    right_given = sum(g == a for g, a in zip(given, answers, strict=True))
    right_kept = sum(k == a for k, a in zip(kept, answers, strict=True))
    print(
        f"\n{service} outage of {OUTAGE_SECONDS:g} s under {OUTAGE_RUNS} runs: statuses "
        f"{dict(statuses)}; answers given {right_given}, stored {right_kept} of {OUTAGE_RUNS}; "
        f"all done {finished:.1f} s after the outage began"
    )
    assert ready_before == {"ready": True, "postgres": "ok", "redis": "ok"}
    assert probes[0].status_code == 503, probes[0].text
    assert probes[0].json()[service].startswith("failed"), probes[0].json()
    assert statuses == {"success": OUTAGE_RUNS}, server.output()[-3000:]
    assert kept == answers
    assert given == answers
