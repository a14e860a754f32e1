"""Per-tool policies: a timeout, retries with backoff for transient errors, a concurrency limit.

Declared on the tool (`metadata={"llmcompiler": {...}}`) or passed to the unit
(`TaskFetchingUnit(..., policies={"name": ToolPolicy(...)})`, which wins field by field).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.tools import StructuredTool

from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.fetching import TaskFetchingUnit, _retry_delay
from llmcompiler_graph.core.plan import Observation, Task, make_task
from llmcompiler_graph.core.policy import ToolPolicy
from llmcompiler_graph.core.retry import is_transient

# --- fakes -----------------------------------------------------------------------------------


@dataclass
class Calls:
    """What the fake tools saw: call times per tool, and how many ran at once."""

    times: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    running: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, name: str) -> int:
        with self.lock:
            self.times[name].append(time.monotonic())
            self.running[name] += 1
            self.peak[name] = max(self.peak[name], self.running[name])
            return len(self.times[name])

    def leave(self, name: str) -> None:
        with self.lock:
            self.running[name] -= 1


class Unavailable(Exception):
    """An HTTP-client style error: transient or not by its status code."""

    def __init__(self, status_code: int, retry_after: Any = None, headers: Any = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        if retry_after is not None:
            self.retry_after = retry_after
        if headers is not None:
            self.response = type("Response", (), {"headers": headers})()


def flaky(calls: Calls, name: str, failures: list[BaseException], metadata: Any = None):
    """An async tool that raises `failures` in turn, then returns the attempt number."""

    async def run(key: str = "") -> int:
        attempt = calls.enter(name)
        try:
            await asyncio.sleep(0)
            if attempt <= len(failures):
                raise failures[attempt - 1]
            return attempt
        finally:
            calls.leave(name)

    return StructuredTool.from_function(
        coroutine=run, name=name, description="Fails, then works.", metadata=metadata
    )


def sleeper(calls: Calls, name: str, seconds: list[float], metadata: Any = None, sync=False):
    """A tool whose n-th call sleeps `seconds[n]` (the last value after that)."""

    def pick() -> float:
        attempt = calls.enter(name)
        return seconds[min(attempt, len(seconds)) - 1]

    async def arun(key: str = "") -> str:
        try:
            await asyncio.sleep(pick())
        finally:
            calls.leave(name)
        return key

    def run(key: str = "") -> str:
        try:
            time.sleep(pick())
        finally:
            calls.leave(name)
        return key

    kind = {"func": run} if sync else {"coroutine": arun}
    return StructuredTool.from_function(**kind, name=name, description="Sleeps.", metadata=metadata)


def task(idx: int, tool: str, **args: Any) -> Task:
    return make_task(idx, tool, args)


async def arun(unit: TaskFetchingUnit, tasks: list[Task], **kwargs: Any) -> dict[int, Observation]:
    return await asyncio.wait_for(unit.arun(tasks, **kwargs), 10)


@pytest.fixture
def calls() -> Calls:
    return Calls()


# --- timeouts ---------------------------------------------------------------------------------


async def test_timeout_declared_in_tool_metadata(calls: Calls) -> None:
    slow = sleeper(calls, "slow", [2], metadata={"llmcompiler": {"timeout": 0.1}})
    other = sleeper(calls, "other", [0.3])
    unit = TaskFetchingUnit({"slow": slow, "other": other})  # no unit-wide timeout
    start = time.perf_counter()
    observations = await arun(unit, [task(1, "slow"), task(2, "other")])
    assert observations[1]["error"] == "TimeoutError: slow did not finish within 0.1 s"
    assert observations[2]["status"] == "ok"  # no timeout for the other tool
    assert time.perf_counter() - start < 1


async def test_timeout_passed_to_the_unit(calls: Calls) -> None:
    unit = TaskFetchingUnit(
        {"slow": sleeper(calls, "slow", [2])}, policies={"slow": ToolPolicy(timeout=0.1)}
    )
    observations = await arun(unit, [task(1, "slow")])
    assert observations[1]["error"] == "TimeoutError: slow did not finish within 0.1 s"


async def test_the_argument_wins_over_metadata_field_by_field(calls: Calls) -> None:
    declared = {"llmcompiler": {"timeout": 5, "retries": 1, "backoff": 0.01}}
    slow = sleeper(calls, "slow", [2, 0.01], metadata=declared)
    unit = TaskFetchingUnit({"slow": slow}, policies={"slow": ToolPolicy(timeout=0.1)})
    assert unit.policies["slow"] == ToolPolicy(timeout=0.1, retries=1, backoff=0.01)
    start = time.perf_counter()
    observations = await arun(unit, [task(1, "slow", key="k")])
    # timeout 0.1 from the argument, the retry from the metadata: the 2nd attempt is fast
    assert observations[1]["status"] == "ok", observations[1]
    assert len(calls.times["slow"]) == 2
    assert time.perf_counter() - start < 1


async def test_unset_fields_fall_back_to_the_unit(calls: Calls) -> None:
    slow = sleeper(calls, "slow", [2], metadata={"llmcompiler": {"max_concurrency": 3}})
    unit = TaskFetchingUnit({"slow": slow}, task_timeout=0.1)
    observations = await arun(unit, [task(1, "slow")])
    assert observations[1]["error"] == "TimeoutError: slow did not finish within 0.1 s"
    assert len(calls.times["slow"]) == 1  # no retries unless asked for


async def test_timeout_zero_lifts_the_unit_timeout_for_one_tool(calls: Calls) -> None:
    patient = sleeper(calls, "patient", [0.3], metadata={"llmcompiler": {"timeout": 0}})
    unit = TaskFetchingUnit({"patient": patient}, task_timeout=0.1)
    observations = await arun(unit, [task(1, "patient")])
    assert observations[1]["status"] == "ok"


def test_invalid_policies_are_refused(calls: Calls) -> None:
    tool = sleeper(calls, "t", [0], metadata={"llmcompiler": {"timout": 1}})
    with pytest.raises(ValueError, match="timout"):
        TaskFetchingUnit({"t": tool})
    with pytest.raises(ValueError, match="nope"):
        TaskFetchingUnit({}, policies={"nope": ToolPolicy(retries=1)})
    with pytest.raises(ValueError, match="retries"):
        ToolPolicy(retries=-1)
    with pytest.raises(ValueError, match="max_concurrency"):
        ToolPolicy(max_concurrency=0)


# --- retries ----------------------------------------------------------------------------------


async def test_transient_errors_are_retried_until_success(calls: Calls) -> None:
    tool = flaky(calls, "api", [ConnectionError("reset"), Unavailable(503)])
    unit = TaskFetchingUnit({"api": tool}, policies={"api": ToolPolicy(retries=2, backoff=0.01)})
    events: list[dict[str, Any]] = []
    observations = await arun(
        unit, [task(1, "api")], events=EventSink(events.append, graph="g", round=1)
    )
    assert observations[1]["status"] == "ok"
    assert observations[1]["value"] == 3  # the third attempt
    assert [e["event"] for e in events] == ["task_planned", "task_started", "task_finished"]
    assert observations[1]["started_at"] == events[1]["started_at"]  # the first attempt's start


async def test_the_last_error_says_how_many_attempts(calls: Calls) -> None:
    tool = flaky(calls, "api", [ConnectionError("down")] * 5)
    unit = TaskFetchingUnit({"api": tool}, policies={"api": ToolPolicy(retries=2, backoff=0.01)})
    observations = await arun(unit, [task(1, "api")])
    assert observations[1]["error"] == "ConnectionError: down (after 3 attempts)"
    assert len(calls.times["api"]) == 3


@pytest.mark.parametrize(
    "error", [ValueError("bad input"), Unavailable(404), FileNotFoundError("x.txt")]
)
async def test_permanent_errors_are_not_retried(calls: Calls, error: Exception) -> None:
    tool = flaky(calls, "api", [error])
    unit = TaskFetchingUnit({"api": tool}, policies={"api": ToolPolicy(retries=3, backoff=0.01)})
    observations = await arun(unit, [task(1, "api")])
    assert observations[1]["status"] == "error"
    assert "attempts" not in observations[1]["error"]
    assert len(calls.times["api"]) == 1


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_the_timeout_applies_per_attempt(calls: Calls, sync: bool) -> None:
    tool = sleeper(calls, "slow", [2, 0.01], sync=sync)
    policy = ToolPolicy(timeout=0.1, retries=1, backoff=0.01)
    unit = TaskFetchingUnit({"slow": tool}, policies={"slow": policy})
    start = time.perf_counter()
    observations = await arun(unit, [task(1, "slow", key="k")])
    assert observations[1]["status"] == "ok", observations[1]
    assert time.perf_counter() - start < 0.6


async def test_a_timed_out_last_attempt_reports_the_attempts(calls: Calls) -> None:
    tool = sleeper(calls, "slow", [2])
    unit = TaskFetchingUnit(
        {"slow": tool}, policies={"slow": ToolPolicy(timeout=0.05, retries=1, backoff=0.01)}
    )
    observations = await arun(unit, [task(1, "slow")])
    assert observations[1]["error"] == (
        "TimeoutError: slow did not finish within 0.05 s (after 2 attempts)"
    )


@pytest.mark.parametrize(
    "hint",
    [
        {"retry_after": 0.3},
        {"headers": {"Retry-After": "0.3"}},
        {"headers": {"retry-after": "0.3"}},
    ],
    ids=["attribute", "header", "lowercase header"],
)
async def test_retry_after_is_honoured(calls: Calls, hint: dict[str, Any]) -> None:
    tool = flaky(calls, "api", [Unavailable(429, **hint)])
    unit = TaskFetchingUnit({"api": tool}, policies={"api": ToolPolicy(retries=1, backoff=0.001)})
    observations = await arun(unit, [task(1, "api")])
    assert observations[1]["status"] == "ok"
    first, second = calls.times["api"]
    assert 0.3 <= second - first < 0.45, second - first


async def test_retry_after_is_capped(calls: Calls) -> None:
    tool = flaky(calls, "api", [Unavailable(429, retry_after=30)])
    policy = ToolPolicy(retries=1, backoff=0.001, max_backoff=0.1)
    unit = TaskFetchingUnit({"api": tool}, policies={"api": policy})
    observations = await arun(unit, [task(1, "api")])
    assert observations[1]["status"] == "ok"
    first, second = calls.times["api"]
    assert 0.1 <= second - first < 0.25


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    policy = ToolPolicy(backoff=0.5, max_backoff=8)
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = {_retry_delay(ConnectionError(), attempt, policy) for _ in range(50)}
        assert all(full / 2 <= d <= full for d in delays), (attempt, delays)
        assert len(delays) > 1  # jittered


class RateLimitError(Exception):
    pass


class APITimeoutError(Exception):
    pass


class ConnectError(Exception):  # httpx
    pass


class ServiceUnavailableError(Exception):
    pass


class HTTPError(OSError):  # requests: every RequestException is an OSError
    def __init__(self, status: int) -> None:
        super().__init__(f"{status}")
        self.response = type("Response", (), {"status_code": status, "headers": {}})()


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (OSError("network is unreachable"), True),
        (Unavailable(429), True),
        (Unavailable(500), True),
        (Unavailable(503), True),
        (Unavailable(400), False),
        (Unavailable(404), False),
        (RateLimitError(), True),
        (APITimeoutError(), True),
        (ConnectError(), True),
        (ServiceUnavailableError(), True),
        (HTTPError(502), True),
        (HTTPError(404), False),
        (FileNotFoundError(), False),
        (PermissionError(), False),
        (ValueError(), False),
        (KeyError(), False),
    ],
)
def test_which_errors_are_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


# --- per-tool concurrency --------------------------------------------------------------------


async def test_per_tool_limit_is_observed_in_addition_to_max_concurrency(calls: Calls) -> None:
    limited = sleeper(calls, "search", [0.1], metadata={"llmcompiler": {"max_concurrency": 2}})
    free = sleeper(calls, "calc", [0.1])
    unit = TaskFetchingUnit({"search": limited, "calc": free}, max_concurrency=5)
    tasks = [task(i, "search", key=str(i)) for i in range(1, 7)] + [
        task(i, "calc", key=str(i)) for i in range(7, 11)
    ]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    assert all(o["status"] == "ok" for o in observations.values())
    assert calls.peak["search"] == 2
    assert calls.peak["calc"] == 3  # the 5 - 2 slots the searches left; they never hold more
    assert 0.3 <= time.perf_counter() - start < 0.6  # 6 searches, 2 at a time


async def test_per_tool_limit_is_shared_by_concurrent_runs(calls: Calls) -> None:
    limited = sleeper(calls, "search", [0.05])
    unit = TaskFetchingUnit({"search": limited}, policies={"search": ToolPolicy(max_concurrency=2)})
    runs = [arun(unit, [task(i, "search", key=str(i)) for i in range(1, 4)]) for _ in range(3)]
    await asyncio.gather(*runs)
    assert calls.peak["search"] == 2
    assert len(calls.times["search"]) == 9


def test_per_tool_limit_holds_across_sync_runs_in_threads(calls: Calls) -> None:
    """Each sync `run` has its own event loop; the limit is the unit's, across all of them."""
    limited = sleeper(calls, "search", [0.05], sync=True)
    unit = TaskFetchingUnit({"search": limited}, policies={"search": ToolPolicy(max_concurrency=2)})
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            observations = unit.run([task(i, "search", key=str(i)) for i in range(1, 5)])
            assert all(o["status"] == "ok" for o in observations.values())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert calls.peak["search"] == 2
    assert len(calls.times["search"]) == 16


async def test_a_cancelled_waiter_does_not_leak_a_slot(calls: Calls) -> None:
    limited = sleeper(calls, "search", [0.2, 0.01])
    unit = TaskFetchingUnit({"search": limited}, policies={"search": ToolPolicy(max_concurrency=1)})
    first = asyncio.create_task(unit.arun([task(1, "search"), task(2, "search")]))
    await asyncio.sleep(0.05)  # task 1 runs, task 2 waits for the tool's slot
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    observations = await arun(unit, [task(1, "search")])
    assert observations[1]["status"] == "ok"
    assert calls.running["search"] == 0
