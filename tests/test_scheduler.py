"""The task fetching unit: parallelism, streaming and immediate dispatch, typed references,
errors and skips, limits, cancellation, the sync API, events and callbacks.

Fake tools sleep (asyncio or `time.sleep`) and record when they started and ended in a `Trace`.
Timing bounds are generous; the benchmark (`llmcompiler_graph.bench.scheduler_overhead`) measures
the real numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.tools import BaseTool, tool

from llmcompiler_graph.bench import scheduler_overhead
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.parser import aparse, parse_plan
from llmcompiler_graph.core.plan import Observation, Task, make_observation, make_task
from llmcompiler_graph.core.toolbox import Toolbox

# --- fakes -----------------------------------------------------------------------------------


@dataclass
class Trace:
    """What the fake tools did, keyed by their `key` argument; times are `time.time()`."""

    starts: dict[str, float] = field(default_factory=dict)
    ends: dict[str, float] = field(default_factory=dict)
    received: dict[str, Any] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    finally_ran: set[str] = field(default_factory=set)
    running: int = 0
    peak: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    """Set to end the tools that ignore cancellation (`stubborn`, `shielded`) early."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, key: str, value: Any = None) -> None:
        with self._lock:
            self.starts[key] = time.time()
            self.received[key] = value
            self.threads[key] = threading.get_ident()
            self.running += 1
            self.peak = max(self.peak, self.running)

    def leave(self, key: str) -> None:
        with self._lock:
            self.running -= 1
            self.ends[key] = time.time()


def make_tools(trace: Trace) -> Toolbox:
    """LangChain `@tool`s and plain callables (wrapped by `Toolbox`) that record into `trace`."""

    @tool
    async def wait(key: str, seconds: float = 0.0, value: Any = None) -> Any:
        """Sleep `seconds` asynchronously, then return `value` (or `key`)."""
        trace.enter(key)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            trace.cancelled.add(key)
            raise
        finally:
            trace.finally_ran.add(key)
            trace.leave(key)
        return key if value is None else value

    @tool
    async def consume(key: str, value: Any = None) -> Any:
        """Record `value` exactly as received and return it."""
        trace.enter(key, value)
        trace.leave(key)
        return value

    async def fail(key: str, message: str = "boom") -> str:
        """Raise a ValueError."""
        trace.enter(key)
        trace.leave(key)
        raise ValueError(message)

    async def raise_timeout(key: str) -> str:
        """Raise the tool's own TimeoutError (what a network client does), immediately."""
        trace.enter(key)
        trace.leave(key)
        raise TimeoutError("read timed out")

    def block(key: str, seconds: float = 0.0) -> str:
        """Sleep `seconds` with `time.sleep` (a sync tool: runs in a worker thread)."""
        trace.enter(key)
        try:
            time.sleep(seconds)
        finally:
            trace.leave(key)
        return key

    @tool
    async def stubborn(key: str, seconds: float = 0.0) -> str:
        """Sleep `seconds` (or until `trace.release`), swallowing every cancellation."""
        trace.enter(key)
        deadline = time.monotonic() + seconds
        while not trace.release.is_set() and time.monotonic() < deadline:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                trace.cancelled.add(key)
        trace.leave(key)
        return key

    @tool
    async def shielded(key: str, seconds: float = 0.0) -> str:
        """Do `seconds` of work under `asyncio.shield`, and wait for it even when cancelled."""
        trace.enter(key)

        async def work() -> str:
            deadline = time.monotonic() + seconds
            while not trace.release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return key

        job = asyncio.ensure_future(work())
        while not job.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(job)
            if not job.done():
                trace.cancelled.add(key)
        trace.leave(key)
        return job.result()

    return Toolbox([wait, consume, fail, raise_timeout, block, stubborn, shielded])


def task(
    idx: int, tool: str, deps: Iterable[int] = (), error: str | None = None, **args: Any
) -> Task:
    """A Task as the parser would produce it (arguments as keywords)."""
    return make_task(idx, tool, args, deps, error=error)


def ok(idx: int, value: Any) -> Observation:
    """A successful observation of an earlier round."""
    now = time.time()
    return make_observation(idx, "ok", value, dispatched_at=now, started_at=now, finished_at=now)


def statuses(observations: dict[int, Observation]) -> dict[int, str]:
    return {idx: obs["status"] for idx, obs in sorted(observations.items())}


async def arun(unit: TaskFetchingUnit, tasks: Any, **kwargs: Any) -> dict[int, Observation]:
    """`unit.arun` that fails the test instead of hanging."""
    return await asyncio.wait_for(unit.arun(tasks, **kwargs), 5)


@pytest.fixture
def trace() -> Iterator[Trace]:
    trace = Trace()
    yield trace
    trace.release.set()  # no tool ignoring cancellation outlives its test


@pytest.fixture
def unit(trace: Trace) -> TaskFetchingUnit:
    return TaskFetchingUnit(make_tools(trace))


# --- parallelism, references ------------------------------------------------------------------


async def test_independent_tasks_run_in_parallel(unit: TaskFetchingUnit, trace: Trace) -> None:
    tasks = [task(i, "wait", key=f"t{i}", seconds=0.2) for i in range(1, 9)]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    elapsed = time.perf_counter() - start
    assert statuses(observations) == {i: "ok" for i in range(1, 9)}
    assert elapsed < 0.6, elapsed
    assert max(trace.starts.values()) < min(trace.ends.values())  # all eight overlapped
    assert trace.peak == 8


@pytest.mark.parametrize(
    "value", [{"a": [1, 2], "b": None}, [1, "two", 3.0], 42], ids=["dict", "list", "int"]
)
async def test_dependent_receives_typed_values(
    unit: TaskFetchingUnit, trace: Trace, value: Any
) -> None:
    plan = f"""Thought: produce, then consume.
1. wait(key="p1", seconds=0.05, value={value!r})
2. wait("p2", 0.1, 7)
3. consume(key="whole", value="$1")
4. consume(key="bare", value=$1)
5. consume(key="items", value=["$1", "${{2}}"])
6. consume(key="text", value="${{1}} + ${{2}}")
join()<END_OF_PLAN>"""
    tasks = parse_plan(plan, make_tools(Trace()).signatures)
    assert [t["error"] for t in tasks] == [None] * 6
    observations = await arun(unit, tasks)

    assert statuses(observations) == {i: "ok" for i in range(1, 7)}
    assert observations[1]["value"] == value
    assert type(trace.received["whole"]) is type(value)
    assert trace.received["whole"] == value
    assert trace.received["bare"] == value
    assert trace.received["items"] == [value, 7]
    assert trace.received["text"] == f"{json.dumps(value)} + 7"
    for key in ("whole", "bare"):
        assert trace.starts[key] >= trace.ends["p1"]
    for key in ("items", "text"):
        assert trace.starts[key] >= max(trace.ends["p1"], trace.ends["p2"])


async def test_references_to_earlier_rounds_resolve(unit: TaskFetchingUnit, trace: Trace) -> None:
    earlier = {1: ok(1, {"cap": 3.1}), 2: ok(2, "Apple")}
    plan = """3. consume(key="whole", value="$1")
4. consume(key="text", value="${2} is worth $1 (costs $100)")
5. consume(key="mixed", value=["$3", "$2"])
join()"""
    tasks = parse_plan(plan, make_tools(Trace()).signatures, known_ids=[1, 2])
    observations = await arun(unit, tasks, observations=earlier)
    assert sorted(observations) == [3, 4, 5]  # only the new observations are returned
    assert statuses(observations) == {3: "ok", 4: "ok", 5: "ok"}
    assert trace.received["whole"] == {"cap": 3.1}
    assert trace.received["text"] == 'Apple is worth {"cap": 3.1} (costs $100)'
    assert trace.received["mixed"] == [{"cap": 3.1}, "Apple"]


async def test_failed_observation_of_an_earlier_round_skips_dependents(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    failed = ok(1, None) | {"status": "error", "error": "ValueError: x"}
    observations = await arun(
        unit, [task(2, "consume", [1], key="c", value="$1")], observations={1: failed}
    )
    assert observations[2]["status"] == "skipped"
    assert observations[2]["error"] == "skipped: dependency 1 failed"
    assert "c" not in trace.starts


# --- streaming and dispatch --------------------------------------------------------------------


async def test_tasks_start_while_the_stream_is_still_producing(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    produced: dict[int, float] = {}

    async def slow_planner() -> AsyncIterator[Task]:
        for i in range(1, 4):
            produced[i] = time.time()
            yield task(i, "wait", key=f"t{i}", seconds=0.01)
            await asyncio.sleep(0.1)

    observations = await arun(unit, slow_planner())
    assert statuses(observations) == {1: "ok", 2: "ok", 3: "ok"}
    assert trace.starts["t1"] < produced[3]
    assert trace.ends["t1"] < produced[3]  # finished, even, before the last task was produced


async def test_tasks_start_while_the_plan_text_is_still_streaming(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    text = '1. wait(key="first")\n2. wait(key="second")\njoin()<END_OF_PLAN>'
    stream_ended: list[float] = []

    async def chunks() -> AsyncIterator[str]:
        for ch in text:
            yield ch
            await asyncio.sleep(0.002)
        stream_ended.append(time.time())

    signatures = make_tools(Trace()).signatures
    observations = await arun(unit, aparse(chunks(), signatures))
    assert statuses(observations) == {1: "ok", 2: "ok"}
    assert trace.starts["first"] < trace.starts["second"] < stream_ended[0]


async def test_dependent_is_dispatched_as_soon_as_its_parent_finishes(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    tasks = [
        task(1, "wait", key="a", seconds=0.05),
        task(2, "wait", key="b", seconds=0.15),
        task(3, "consume", [1], key="after_a", value="$1"),
        task(4, "consume", [1, 2], key="after_both", value=["$1", "$2"]),
        task(5, "consume", [3], key="chained", value="$3"),
    ]
    observations = await arun(unit, tasks)
    assert statuses(observations) == {i: "ok" for i in range(1, 6)}
    for child, parents in ((3, [1]), (4, [1, 2]), (5, [3])):
        ready = max(observations[p]["finished_at"] for p in parents)
        started = observations[child]["started_at"]
        assert started is not None
        assert 0 <= started - ready < 0.05, (child, started - ready)
    # after_a did not wait for the slower, unrelated task 2
    assert trace.starts["after_a"] < trace.ends["b"]


# --- errors and skips ---------------------------------------------------------------------------


async def test_error_propagates_to_dependents_but_not_to_siblings(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    tasks = [
        task(1, "fail", key="bad", message="no such page"),
        task(2, "consume", [1], key="child", value="$1"),
        task(3, "consume", [2], key="grandchild", value="${2}!"),
        task(4, "wait", key="sibling", seconds=0.01),
        task(5, "consume", [4], key="nephew", value="$4"),
    ]
    observations = await arun(unit, tasks)
    assert statuses(observations) == {1: "error", 2: "skipped", 3: "skipped", 4: "ok", 5: "ok"}
    assert observations[1]["error"] == "ValueError: no such page"
    assert observations[1]["value"] is None
    assert observations[2]["error"] == "skipped: dependency 1 failed"
    assert observations[3]["error"] == "skipped: dependency 2 failed"
    for idx in (2, 3):
        assert observations[idx]["started_at"] is None
        assert observations[idx]["dispatched_at"] is None
    assert "child" not in trace.starts
    assert "grandchild" not in trace.starts
    assert trace.received["nephew"] == "sibling"


async def test_dependents_arriving_after_the_failure_are_skipped_too(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    async def planner() -> AsyncIterator[Task]:
        yield task(1, "fail", key="bad")
        await asyncio.sleep(0.05)  # task 1 has failed by now
        yield task(2, "consume", [1], key="late", value="$1")

    observations = await arun(unit, planner())
    assert statuses(observations) == {1: "error", 2: "skipped"}
    assert "late" not in trace.starts


async def _stream_without_join() -> AsyncIterator[Task]:
    yield task(1, "wait", key="only", seconds=0.01)


NO_HANG_CASES: dict[str, tuple[Any, dict[int, str], dict[int, str]]] = {
    "tool raises": (
        [task(1, "fail", key="f"), task(2, "consume", [1], key="c", value="$1")],
        {1: "error", 2: "skipped"},
        {1: "ValueError: boom"},
    ),
    "missing reference": (
        [task(1, "wait", key="w"), task(2, "consume", [7], key="c", value="$7")],
        {1: "ok", 2: "error"},
        {2: "missing reference $7"},
    ),
    "forward reference": (
        [task(1, "consume", [2], key="c", value="$2"), task(2, "wait", key="w")],
        {1: "error", 2: "ok"},
        {1: "missing reference $2"},
    ),
    "stream ends without join": (_stream_without_join, {1: "ok"}, {}),
    "plan text without join": ('1. wait(key="a")\n2. consume("b", "$1")\n', {1: "ok", 2: "ok"}, {}),
    "invalid task": (
        [
            task(1, "wait", error="unparsable arguments: bad", key="w"),
            task(2, "consume", [1], key="c", value="$1"),
        ],
        {1: "error", 2: "skipped"},
        {1: "unparsable arguments: bad", 2: "skipped: dependency 1 failed"},
    ),
    "unknown tool": (
        [task(1, "nope", q="x"), task(2, "consume", [1], key="c", value="$1")],
        {1: "error", 2: "skipped"},
        {1: "unknown tool 'nope'"},
    ),
    "unknown tool in plan text": (
        '1. nope("x")\n2. wait(key="w")\njoin()',
        {1: "error", 2: "ok"},
        {},
    ),
    "duplicate id": (
        [task(1, "wait", key="first", value="first"), task(1, "wait", key="second")],
        {1: "ok"},
        {},
    ),
    "bad arguments": (
        [task(1, "wait", key="w", seconds="soon")],
        {1: "error"},
        {},
    ),
}


@pytest.mark.parametrize("case", list(NO_HANG_CASES))
async def test_bad_input_never_hangs(unit: TaskFetchingUnit, case: str) -> None:
    source, expected_status, expected_error = NO_HANG_CASES[case]
    if isinstance(source, str):
        source = parse_plan(source, make_tools(Trace()).signatures)
    elif callable(source):
        source = source()
    observations = await arun(unit, source)
    assert statuses(observations) == expected_status
    for idx, message in expected_error.items():
        assert observations[idx]["error"] == message
    for obs in observations.values():
        assert obs["status"] == "ok" or obs["error"]


# --- limits ---------------------------------------------------------------------------------------


async def test_max_concurrency_bounds_running_tools(trace: Trace) -> None:
    unit = TaskFetchingUnit(make_tools(trace), max_concurrency=2)
    tasks = [task(i, "wait", key=f"t{i}", seconds=0.05) for i in range(1, 7)]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    assert statuses(observations) == {i: "ok" for i in range(1, 7)}
    assert trace.peak == 2
    assert time.perf_counter() - start >= 3 * 0.05 * 0.9
    # tasks waiting for a slot were dispatched long before they started
    waited = [o["started_at"] - o["dispatched_at"] for o in observations.values()]
    assert max(waited) > 0.09


def test_limits_zero_means_none_and_negative_is_refused() -> None:
    unit = TaskFetchingUnit({}, max_concurrency=0, task_timeout=0)
    assert unit.max_concurrency is None and unit.task_timeout is None
    with pytest.raises(ValueError, match="max_concurrency"):
        TaskFetchingUnit({}, max_concurrency=-1)


async def test_task_timeout_turns_a_slow_tool_into_an_error(trace: Trace) -> None:
    unit = TaskFetchingUnit(make_tools(trace), task_timeout=0.2)
    tasks = [
        task(1, "wait", key="slow", seconds=5),
        task(2, "wait", key="fast", seconds=0.01),
        task(3, "consume", [1], key="c", value="$1"),
    ]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    assert time.perf_counter() - start < 1
    assert statuses(observations) == {1: "error", 2: "ok", 3: "skipped"}
    assert observations[1]["error"] == "TimeoutError: wait did not finish within 0.2 s"
    assert "slow" in trace.cancelled  # the tool call itself was cancelled, not abandoned


@pytest.mark.parametrize("task_timeout", [None, 5.0])
async def test_tool_raising_its_own_timeout_error_is_an_error_observation(
    trace: Trace, task_timeout: float | None
) -> None:
    """A TimeoutError raised by the tool (a network client's) is not the scheduler's timeout.
    (With `task_timeout=None` the error message once formatted `None` with `:g` and crashed.)
    """
    unit = TaskFetchingUnit(make_tools(trace), task_timeout=task_timeout)
    observations = await arun(unit, [task(1, "raise_timeout", key="t")])
    assert observations[1]["status"] == "error"
    assert observations[1]["error"] == "TimeoutError: read timed out"


def test_sync_run_returns_at_task_timeout(trace: Trace) -> None:
    """`run()` must return once a sync tool timed out, not when its thread finally returns.

    A worker thread from the loop's default executor would make `asyncio.run` wait for it.
    """
    unit = TaskFetchingUnit(make_tools(trace), task_timeout=0.1)
    start = time.perf_counter()
    observations = unit.run([task(1, "block", key="stuck", seconds=1.0)])
    elapsed = time.perf_counter() - start
    assert observations[1]["error"] == "TimeoutError: block did not finish within 0.1 s"
    assert elapsed < 0.6, elapsed


def test_sync_tools_are_not_capped_by_the_default_thread_pool() -> None:
    """`max_concurrency=None` means unbounded, for sync tools too.

    The loop's default executor has `min(32, os.cpu_count() + 4)` threads (6 on a 2-core box).
    """
    n = 40
    everyone = threading.Barrier(n, timeout=1)

    def meet(key: str) -> str:
        """Return once all n calls are running at the same time (BrokenBarrierError after 1 s)."""
        everyone.wait()
        return key

    unit = TaskFetchingUnit(Toolbox([meet]))
    observations = unit.run([task(i, "meet", key=f"t{i}") for i in range(1, n + 1)])
    assert statuses(observations) == {i: "ok" for i in range(1, n + 1)}


# --- tools that ignore cancellation, stuck sync tools (no timeout may depend on the tool) ------


@pytest.mark.parametrize("tool_name", ["stubborn", "shielded"])
async def test_task_timeout_holds_against_a_tool_that_ignores_cancellation(
    trace: Trace, tool_name: str
) -> None:
    """At the timeout the task is an error observation and the run moves on, whatever the tool
    does with its cancellation (it used to run on for as long as the tool liked)."""
    unit = TaskFetchingUnit(make_tools(trace), task_timeout=0.2)
    tasks = [
        task(1, tool_name, key="stuck", seconds=3),
        task(2, "wait", key="fast", seconds=0.01),
        task(3, "consume", [1], key="c", value="$1"),
    ]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.6, elapsed
    assert statuses(observations) == {1: "error", 2: "ok", 3: "skipped"}
    assert observations[1]["error"] == f"TimeoutError: {tool_name} did not finish within 0.2 s"
    await asyncio.sleep(0.05)
    assert "stuck" in trace.cancelled  # it was asked to stop, and said no
    trace.release.set()
    await asyncio.sleep(0.05)  # the late result is dropped: no observation changes, no error
    assert observations[1]["status"] == "error"
    assert "stuck" in trace.ends


def _run_script(body: str, timeout: float = 20) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run `body` in a fresh interpreter; how long it took to exit, and how it went."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    return time.perf_counter() - start, done


STUCK_SYNC_TOOL = """
    import asyncio, time
    from llmcompiler_graph.core.fetching import TaskFetchingUnit
    from llmcompiler_graph.core.plan import make_task
    from llmcompiler_graph.core.toolbox import Toolbox

    def stuck(seconds: float) -> str:
        '''Block the calling thread.'''
        time.sleep(seconds)
        return "done"

    unit = TaskFetchingUnit(Toolbox([stuck]), task_timeout=0.2)
    plan = [make_task(1, "stuck", {"seconds": 30})]

    async def nested():
        return unit.run(plan)  # a sync run where a loop is running (Jupyter)
"""


@pytest.mark.parametrize(
    "call",
    [
        "asyncio.run(unit.arun(plan))",
        "asyncio.run(unit.arun(plan, prefer_sync_tools=True))",
        "unit.run(plan)",
        "asyncio.run(nested())",
    ],
)
@pytest.mark.slow
def test_process_exits_after_a_sync_tool_timed_out(call: str) -> None:
    """A sync tool stuck for 30 s must not keep the process alive once its task timed out.

    `asyncio.run` waits for the loop's default executor at shutdown, and the interpreter joins
    `ThreadPoolExecutor` threads at exit: neither may run a tool call.
    """
    script = (
        STUCK_SYNC_TOOL
        + f"""
    observations = {call}
    print(observations[1]["error"])
    """
    )
    elapsed, done = _run_script(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TimeoutError: stuck did not finish within 0.2 s"
    assert elapsed < 6, elapsed  # about 1.5 s: interpreter start and imports, then 0.2 s


@pytest.mark.parametrize("prefer_sync_tools", [True, False])
async def test_stuck_sync_tools_do_not_exhaust_the_threads_of_healthy_ones(
    trace: Trace, prefer_sync_tools: bool
) -> None:
    """300 timed-out blocking calls used to hold every thread of the tool pool (256), so that a
    healthy sync tool queued behind them timed out too."""
    stuck_unit = TaskFetchingUnit(make_tools(trace), task_timeout=0.05)
    stuck = [task(i, "block", key=f"stuck{i}", seconds=3) for i in range(1, 301)]
    observations = await arun(stuck_unit, stuck, prefer_sync_tools=prefer_sync_tools)
    assert {obs["status"] for obs in observations.values()} == {"error"}

    healthy_unit = TaskFetchingUnit(make_tools(trace), task_timeout=2)
    start = time.perf_counter()
    observations = await arun(
        healthy_unit,
        [task(1, "block", key="healthy", seconds=0.01)],
        prefer_sync_tools=prefer_sync_tools,
    )
    assert observations[1]["status"] == "ok", observations[1]
    assert time.perf_counter() - start < 0.5


@pytest.mark.slow
async def test_sync_tools_run_at_full_width_in_async_runs(trace: Trace) -> None:
    """12 sync tools of 0.5 s in an async run take 0.5 s: not capped by the loop's default
    executor (6 threads on a 2-core machine), only by `max_concurrency`."""
    unit = TaskFetchingUnit(make_tools(trace))
    tasks = [task(i, "block", key=f"t{i}", seconds=0.5) for i in range(1, 13)]
    start = time.perf_counter()
    observations = await arun(unit, tasks)
    elapsed = time.perf_counter() - start
    assert statuses(observations) == {i: "ok" for i in range(1, 13)}
    assert elapsed < 0.9, elapsed
    assert trace.peak == 12

    capped = TaskFetchingUnit(make_tools(trace), max_concurrency=4)
    trace.peak = 0
    observations = await arun(
        capped, [task(i, "block", key=f"c{i}", seconds=0.1) for i in range(8)]
    )
    assert trace.peak == 4


# --- cancellation --------------------------------------------------------------------------------


async def test_cancelling_arun_cancels_tool_calls_in_flight(trace: Trace) -> None:
    unit = TaskFetchingUnit(make_tools(trace))
    tasks = [
        task(1, "wait", key="a", seconds=5),
        task(2, "wait", key="b", seconds=5),
        task(3, "consume", [1], key="c", value="$1"),
    ]
    run = asyncio.create_task(unit.arun(tasks))
    while len(trace.starts) < 2:
        await asyncio.sleep(0.005)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 1)
    assert trace.cancelled == {"a", "b"}
    assert trace.finally_ran == {"a", "b"}
    assert trace.running == 0
    await asyncio.sleep(0.02)
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("llmcompiler-task")]
    assert leftovers == []
    assert "c" not in trace.starts


async def test_cancelling_a_streaming_run_stops_the_stream_too(trace: Trace) -> None:
    unit = TaskFetchingUnit(make_tools(trace))
    closed = asyncio.Event()

    async def planner() -> AsyncIterator[Task]:
        try:
            yield task(1, "wait", key="a", seconds=5)
            await asyncio.sleep(5)
            yield task(2, "wait", key="never")
        finally:
            closed.set()

    run = asyncio.create_task(unit.arun(planner()))
    while "a" not in trace.starts:
        await asyncio.sleep(0.005)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 1)
    assert trace.cancelled == {"a"}
    await asyncio.wait_for(closed.wait(), 1)
    assert "never" not in trace.starts


async def test_cancelling_arun_returns_promptly_when_a_tool_ignores_cancellation(
    trace: Trace,
) -> None:
    await assert_cancel_returns_promptly(trace, task(1, "stubborn", key="s", seconds=3))
    trace.release.set()


@pytest.mark.parametrize("tool_name", ["block", "wait"])
async def test_cancelling_arun_returns_promptly_while_a_tool_blocks(
    trace: Trace, tool_name: str
) -> None:
    await assert_cancel_returns_promptly(trace, task(1, tool_name, key="b", seconds=5))


async def assert_cancel_returns_promptly(trace: Trace, running: Task) -> None:
    """Cancel a run once `running` has started: it ends within 0.5 s."""
    unit = TaskFetchingUnit(make_tools(trace))
    run = asyncio.create_task(unit.arun([running]))
    while running["args"]["key"] not in trace.starts:
        await asyncio.sleep(0.005)
    start = time.perf_counter()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 2)
    assert time.perf_counter() - start < 0.5


async def test_no_tool_starts_after_a_cancel(trace: Trace) -> None:
    """Neither the dependents of a task that finishes after the cancel (its tool ignored it) nor
    the tasks waiting for a `max_concurrency` slot may start once `arun` is cancelled."""
    unit = TaskFetchingUnit(make_tools(trace), max_concurrency=1)
    events: list[dict[str, Any]] = []
    tasks = [
        task(1, "stubborn", key="first", seconds=0.1),  # finishes 0.1 s after the cancel
        task(2, "wait", [1], key="child"),
        task(3, "wait", key="queued", seconds=0.01),
        task(4, "block", key="queued_sync", seconds=0.01),
    ]
    run = asyncio.create_task(unit.arun(tasks, events=EventSink(events.append, graph="", round=1)))
    while "first" not in trace.starts:
        await asyncio.sleep(0.001)
    cancelled_at = time.time()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, 1)
    await asyncio.sleep(0.3)  # anything that would start late has started by now
    assert set(trace.starts) == {"first"}
    assert [e["idx"] for e in events if e["event"] == "task_started"] == [1]
    assert all(e["time"] < cancelled_at for e in events if e["event"] == "task_started")


@pytest.mark.slow
def test_interrupting_a_sync_run_inside_a_running_loop_stops_it() -> None:
    """Ctrl-C while `run()` waits for its helper thread (a loop runs in the caller's thread, as in
    Jupyter): `run()` raises at once and no tool starts afterwards (it used to run the plan to
    the end in the background)."""
    script = """
    import asyncio, json, os, signal, threading, time
    from llmcompiler_graph.core.fetching import TaskFetchingUnit
    from llmcompiler_graph.core.plan import make_task
    from llmcompiler_graph.core.toolbox import Toolbox

    t0 = time.monotonic()
    starts = []

    def block(key: str) -> str:
        '''Block for 0.4 s.'''
        starts.append(time.monotonic() - t0)
        time.sleep(0.4)
        return key

    unit = TaskFetchingUnit(Toolbox([block]), max_concurrency=1)
    plan = [make_task(i, "block", {"key": str(i)}) for i in range(1, 6)]

    async def cell():
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        interrupted = None
        try:
            unit.run(plan)
        except KeyboardInterrupt:
            interrupted = time.monotonic() - t0
        time.sleep(1.2)  # the kernel lives on after the interrupt
        print(json.dumps({"interrupted": interrupted, "starts": starts}))

    asyncio.new_event_loop().run_until_complete(cell())  # no SIGINT handler, like Jupyter
    """
    _, done = _run_script(script)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["interrupted"] is not None and result["interrupted"] < 0.5, result
    assert len(result["starts"]) == 1, result


# --- sync API ------------------------------------------------------------------------------------


def test_sync_run_calls_sync_tools_in_worker_threads(unit: TaskFetchingUnit, trace: Trace) -> None:
    tasks = [task(i, "block", key=f"t{i}", seconds=0.2) for i in range(1, 5)]
    tasks.append(task(5, "consume", [1, 4], key="joined", value="${1}+${4}"))
    start = time.perf_counter()
    observations = unit.run(tasks)
    elapsed = time.perf_counter() - start
    assert statuses(observations) == {i: "ok" for i in range(1, 6)}
    assert elapsed < 0.6, elapsed
    assert trace.peak == 4
    blocking_threads = {trace.threads[f"t{i}"] for i in range(1, 5)}
    assert threading.get_ident() not in blocking_threads
    assert len(blocking_threads) == 4
    assert trace.received["joined"] == "t1+t4"


def test_sync_run_with_async_only_tools(unit: TaskFetchingUnit, trace: Trace) -> None:
    tasks = [task(i, "wait", key=f"t{i}", seconds=0.2) for i in range(1, 5)]
    tasks.append(task(5, "consume", [2], key="c", value="$2"))
    start = time.perf_counter()
    observations = unit.run(tasks)
    assert time.perf_counter() - start < 0.6
    assert statuses(observations) == {i: "ok" for i in range(1, 6)}
    assert trace.received["c"] == "t2"


def test_sync_run_accepts_an_async_stream(unit: TaskFetchingUnit, trace: Trace) -> None:
    async def planner() -> AsyncIterator[Task]:
        yield task(1, "block", key="a", seconds=0.01)
        await asyncio.sleep(0.01)
        yield task(2, "consume", [1], key="b", value="$1")

    observations = unit.run(planner())
    assert statuses(observations) == {1: "ok", 2: "ok"}
    assert trace.received["b"] == "a"


async def test_sync_run_inside_a_running_event_loop(unit: TaskFetchingUnit, trace: Trace) -> None:
    asyncio.get_running_loop()  # a loop is running here, as in Jupyter
    tasks = [
        task(1, "block", key="sync", seconds=0.05),
        task(2, "wait", key="async", seconds=0.05),
        task(3, "consume", [1, 2], key="c", value=["$1", "$2"]),
    ]
    observations = unit.run(tasks)
    assert statuses(observations) == {1: "ok", 2: "ok", 3: "ok"}
    assert trace.received["c"] == ["sync", "async"]


# --- events, observations, callbacks ----------------------------------------------------------

COMMON = {"event", "graph", "round", "time", "idx", "tool", "args", "dependencies"}
EVENT_FIELDS = {
    "task_planned": COMMON | {"thought", "error"},
    "task_started": COMMON | {"dispatched_at", "started_at", "reused_from"},
    "task_finished": COMMON
    | {
        "status",
        "preview",
        "value",
        "error",
        "dispatched_at",
        "started_at",
        "finished_at",
        "duration",
        "reused_from",
    },
}


async def test_events_follow_each_task_through_its_life(unit: TaskFetchingUnit) -> None:
    events: list[dict[str, Any]] = []
    sink = EventSink(events.append, graph="g", round=2)
    tasks = [
        task(1, "wait", key="a", seconds=0.02, value={"n": 1}),
        task(2, "consume", [1], key="b", value="$1"),
        task(3, "fail", key="f"),
        task(4, "consume", [3], key="s", value="$3"),
        task(5, "wait", error="unknown tool 'x'", key="i"),
    ]
    tasks[0]["thought"] = "Start here."
    observations = await arun(unit, tasks, events=sink)
    assert statuses(observations) == {1: "ok", 2: "ok", 3: "error", 4: "skipped", 5: "error"}

    for event in events:
        assert set(event) == EVENT_FIELDS[event["event"]], event
        assert (event["graph"], event["round"]) == ("g", 2)
    by_task = {idx: [e for e in events if e["idx"] == idx] for idx in observations}
    for idx in (1, 2, 3):
        assert [e["event"] for e in by_task[idx]] == [
            "task_planned",
            "task_started",
            "task_finished",
        ]
        planned, started, finished = by_task[idx]
        assert planned["time"] <= started["time"] <= finished["time"]
        assert started["started_at"] == observations[idx]["started_at"]
        assert finished["finished_at"] == observations[idx]["finished_at"]
        assert finished["duration"] == pytest.approx(
            finished["finished_at"] - finished["started_at"]
        )
    for idx in (4, 5):
        assert [e["event"] for e in by_task[idx]] == ["task_planned", "task_finished"]
        assert by_task[idx][1]["started_at"] is None
        assert by_task[idx][1]["duration"] is None

    planned = by_task[1][0]
    assert planned["thought"] == "Start here."
    assert planned["args"] == {"key": "a", "seconds": 0.02, "value": {"n": 1}}
    assert by_task[2][0]["args"] == {"key": "b", "value": "$1"}  # as planned
    assert by_task[2][1]["args"] == {"key": "b", "value": {"n": 1}}  # as called
    assert by_task[2][1]["dependencies"] == [1]
    assert by_task[1][2]["status"] == "ok"
    assert by_task[1][2]["preview"] == '{"n": 1}' and by_task[1][2]["value"] == {"n": 1}
    assert by_task[3][2]["error"] == "ValueError: boom"
    assert by_task[3][2]["preview"] is None
    assert by_task[4][1]["error"] == "skipped: dependency 3 failed"
    assert by_task[5][0]["error"] == by_task[5][1]["error"] == "unknown tool 'x'"


async def test_observations_record_timestamps_and_tools_get_resolved_args(trace: Trace) -> None:
    unit = TaskFetchingUnit(make_tools(trace), max_concurrency=1)
    tasks = [
        task(1, "wait", key="a", seconds=0.02, value=[1, 2]),
        task(2, "wait", key="b", seconds=0.02),
        task(3, "consume", [1, 2], key="c", value={"first": "$1", "text": "${2}/${1}"}),
    ]
    observations = await arun(unit, tasks)
    assert statuses(observations) == {1: "ok", 2: "ok", 3: "ok"}
    for obs in observations.values():
        assert obs["dispatched_at"] is not None and obs["started_at"] is not None
        assert obs["dispatched_at"] <= obs["started_at"] <= obs["finished_at"]
    # task 2 waited for the single slot: dispatched at once, started after task 1
    assert observations[2]["started_at"] >= observations[1]["finished_at"]
    assert observations[2]["dispatched_at"] < observations[1]["finished_at"]
    assert trace.received["c"] == {"first": [1, 2], "text": "b/[1, 2]"}
    assert "args" not in observations[3]  # state keeps results, not copies of their inputs


class ToolStarts(BaseCallbackHandler):
    """Records the tools LangChain reports as started."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        self.started.append((serialized["name"], input_str))


async def test_tools_receive_the_callbacks_of_the_config(unit: TaskFetchingUnit) -> None:
    handler = ToolStarts()
    tasks = [
        task(1, "wait", key="a"),
        task(2, "consume", [1], key="b", value="$1"),
        task(3, "block", key="c"),
    ]
    await arun(unit, tasks, config={"callbacks": [handler], "tags": ["t"]})
    assert sorted(name for name, _ in handler.started) == ["block", "consume", "wait"]
    consume_input = next(text for name, text in handler.started if name == "consume")
    assert "'value': 'a'" in consume_input  # the resolved reference, not "$1"


def test_sync_run_passes_the_callbacks_to_threaded_tools(unit: TaskFetchingUnit) -> None:
    handler = ToolStarts()
    unit.run([task(1, "block", key="a"), task(2, "wait", key="b")], config={"callbacks": [handler]})
    assert sorted(name for name, _ in handler.started) == ["block", "wait"]


async def test_one_unit_serves_concurrent_runs_in_isolation(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    def plan(tag: str) -> list[Task]:
        return [
            task(1, "wait", key=f"{tag}1", seconds=0.05, value=tag),
            task(2, "consume", [1], key=f"{tag}2", value="$1"),
        ]

    first, second = await asyncio.gather(arun(unit, plan("x")), arun(unit, plan("y")))
    assert first[2]["value"] == "x"
    assert second[2]["value"] == "y"
    assert trace.starts["y1"] < trace.ends["x1"]  # the two runs overlapped


# --- bugs found while testing (see the docstrings) -----------------------------------------------


async def test_duplicate_id_does_not_shadow_the_original_task(
    unit: TaskFetchingUnit, trace: Trace
) -> None:
    """A rejected duplicate must not replace task 1's observation or fail its dependents.

    The parser marks the second `1.` invalid ("duplicate id 1"); were that error recorded under
    id 1 while the first task 1 runs, task 2 would be skipped although task 1 succeeds.
    """
    plan = '1. wait(key="real", seconds=0.05)\n1. wait(key="dup")\n2. consume("c", "$1")\njoin()'
    tasks = parse_plan(plan, make_tools(Trace()).signatures)
    assert [(t["idx"], t["error"]) for t in tasks] == [(1, None), (1, "duplicate id 1"), (2, None)]
    observations = await arun(unit, tasks)
    assert observations[1]["status"] == "ok"
    assert observations[2]["status"] == "ok"
    assert trace.received["c"] == "real"
    assert "dup" not in trace.starts


async def test_duplicate_of_an_earlier_round_does_not_shadow_it(unit: TaskFetchingUnit) -> None:
    """A replan that reuses id 1 gets an error, but `$1` still means round one's task 1."""
    tasks = [task(1, "wait", key="again"), task(2, "consume", [1], key="c", value="$1")]
    observations = await arun(unit, tasks, observations={1: ok(1, "from round one")})
    assert observations[2]["status"] == "ok", observations[2]
    assert observations[2]["value"] == "from round one"


async def test_self_reference_gets_an_observation(unit: TaskFetchingUnit) -> None:
    """Every task ends with an observation, even one that depends on itself (it would otherwise
    block on itself, and the run would end without observing it or its dependents)."""
    tasks = [
        task(1, "consume", [1], key="self", value="$1"),
        task(2, "consume", [1], key="child", value="$1"),
        task(3, "wait", key="other"),
    ]
    observations = await arun(unit, tasks)
    assert statuses(observations) == {1: "error", 2: "skipped", 3: "ok"}


async def test_long_failing_chain_is_skipped_without_recursion_error(
    unit: TaskFetchingUnit,
) -> None:
    """Skipping a long chain of dependents must not recurse once per link.

    1,500 blocked links behind a failing task would raise RecursionError if it did.
    """
    n = 1500
    tasks = [task(1, "fail", key="root")]
    tasks += [task(i, "consume", [i - 1], key=f"k{i}", value=f"${i - 1}") for i in range(2, n + 1)]
    observations = await arun(unit, tasks)
    assert observations[1]["status"] == "error"
    assert all(observations[i]["status"] == "skipped" for i in range(2, n + 1))


# --- the benchmark script ------------------------------------------------------------------------


def test_benchmark_main_runs_on_a_small_plan() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = scheduler_overhead.main(
            [
                *("--chain", "20", "--levels", "3", "--width", "3"),
                *("--tasks", "40", "--repeat", "1", "--json"),
            ]
        )
    assert code == 0
    results = json.loads(out.getvalue())
    shapes = {(r["tools"], r["shape"]) for r in results["latency"]}
    assert ("bare", "chain of 20") in shapes
    assert ("langchain", "fan-in 3->1 x3") in shapes
    assert all(r["n"] > 0 and r["max_ms"] >= r["median_ms"] >= 0 for r in results["latency"])
    assert {r["tasks"] for r in results["plans"]} == {40}
    assert len(results["plans"]) == 7
    markdown = scheduler_overhead.markdown(results)
    assert markdown.count("| bare |") == 6


def test_benchmark_plans_have_the_intended_shapes() -> None:
    mixed = scheduler_overhead.mixed_plan(40)
    assert [t["idx"] for t in mixed] == list(range(1, 41))
    assert sum(not t["dependencies"] for t in mixed) == 20
    assert mixed[11]["dependencies"] == [2, 11]
    tasks, fan_in = scheduler_overhead.diamond_plan(2, 3)
    assert len(tasks) == 9 and fan_in == {5, 9}
    assert tasks[4]["dependencies"] == [2, 3, 4]
    text = scheduler_overhead.plan_text(mixed)
    parsed = parse_plan(text, scheduler_overhead.SIGNATURES)
    assert [t | {"thought": None} for t in parsed] == mixed


async def test_a_sync_tool_raising_stop_iteration_is_an_error_observation() -> None:
    """StopIteration cannot be set on an asyncio future: it would never complete (a hang)."""

    def exhausted(key: str) -> str:
        """Call next() on an empty iterator."""
        return next(iter([]))

    unit = TaskFetchingUnit(Toolbox([exhausted]))
    observations = await arun(unit, [task(1, "exhausted", key="k")])
    assert observations[1]["status"] == "error"
    assert "StopIteration" in observations[1]["error"]


class AsyncToolStarts(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.started: list[str] = []

    async def on_tool_start(
        self, serialized: dict[str, Any], input_str: str, **kwargs: Any
    ) -> None:
        self.started.append(serialized["name"])


async def test_async_callback_handlers_see_sync_tools_in_async_runs(unit: TaskFetchingUnit) -> None:
    handler = AsyncToolStarts()
    tasks = [task(1, "block", key="a"), task(2, "wait", key="b")]
    observations = await arun(unit, tasks, config={"callbacks": [handler]})
    assert statuses(observations) == {1: "ok", 2: "ok"}
    assert sorted(handler.started) == ["block", "wait"]


async def test_a_tool_overriding_ainvoke_runs_on_the_event_loop() -> None:
    """A tool whose own `ainvoke` is its coroutine is awaited, not sent to a thread."""
    threads: list[threading.Thread] = []

    class Native(BaseTool):
        name: str = "native"
        description: str = "Record the thread."

        def _run(self, x: Any = None) -> Any:
            raise AssertionError("the sync implementation must not be used")

        async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
            threads.append(threading.current_thread())
            return input

    observations = await TaskFetchingUnit({"native": Native()}).arun([task(1, "native", x=1)])
    assert observations[1]["status"] == "ok"
    assert threads == [threading.current_thread()]


STUBBORN = """
import asyncio, sys, time
sys.path.insert(0, {tests!r})
from helpers import ScriptedChatModel
from llmcompiler_graph import create_llmcompiler

async def stubborn() -> str:
    '''Ignores every cancellation.'''
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass

def script(role, messages):
    return "1. stubborn()\\n2. join()" if role == "planner" else "Answer: done"

async def main():
    graph = create_llmcompiler(ScriptedChatModel(script=script), [stubborn], task_timeout=0.3)
    out = await graph.ainvoke({{"messages": [("user", "q")]}})
    print(out["messages"][-1].text, time.time(), flush=True)

asyncio.run(main())
"""


def test_a_tool_that_ignores_cancellation_does_not_keep_the_process_alive(tmp_path: Any) -> None:
    """`asyncio.run` waits for every task of its loop at its end: an abandoned tool call that
    swallows its cancellation must not be one of them."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN.format(tests=str(Path(__file__).parent)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    ended = time.time()
    assert done.returncode == 0, done.stderr
    answer, answered_at = done.stdout.split()
    assert answer == "done" and ended - float(answered_at) < 2.0
