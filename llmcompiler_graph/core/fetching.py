"""The task fetching unit: runs each task of a streamed plan the moment its inputs exist.

Tasks arrive from an async iterator (the planner's stream). Each is dispatched as soon as every
task it depends on has an observation - no polling, no batching, no waiting for the next planner
line: finishing a task dispatches its ready dependents in the same step. Independent tasks run
concurrently. A failing task becomes an error observation and its dependents are skipped without
running; an invalid task (the parser said why) is an error observation too. The run ends once the
stream is closed and every task has an observation.

A tool can never hold a run up: each call runs as its own asyncio task (a sync tool on a daemon
thread of its own), and the run stops waiting for it at its timeout or when the run is cancelled,
whether or not the tool acknowledges its cancellation (its late outcome is logged and dropped).
Once a run is cancelled (or interrupted), no tool call starts.

No repeated work: a task whose call (tool and resolved arguments, see `call_key`) equals one that
already succeeded in the same user turn - earlier in this run, or in an earlier round passed as
`earlier_tasks` with their `observations` - takes that result instead of calling the tool (its
events say `reused_from`); one whose identical call is still running waits for it. A failed call
is never reused (the next identical task calls the tool again), and a tool whose policy says
`idempotent=False` or `requires_approval` is always called (see `core.calls`).

>>> import asyncio
>>> from langchain_core.tools import tool
>>> @tool
... def double(x: int) -> int:
...     '''Double a number.'''
...     return 2 * x
>>> plan = [
...     {"idx": 1, "tool": "double", "args": {"x": 3}, "dependencies": [], "thought": None,
...      "error": None},
...     {"idx": 2, "tool": "double", "args": {"x": "$1"}, "dependencies": [1], "thought": None,
...      "error": None},
... ]
>>> observations = TaskFetchingUnit({"double": double}).run(plan)
>>> observations[2]["value"]
12
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp

from llmcompiler_graph.core._sync import in_thread, run_sync
from llmcompiler_graph.core.calls import CallCache
from llmcompiler_graph.core.dag import Dag, error_observation, skipped_observation
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.json_text import loads_in_slices
from llmcompiler_graph.core.plan import (
    Observation,
    PathError,
    Task,
    make_observation,
    parse_container,
    resolve_args,
)
from llmcompiler_graph.core.policy import ToolPolicy
from llmcompiler_graph.core.retry import backoff, is_transient
from llmcompiler_graph.core.toolbox import has_native_coroutine, has_sync_implementation

logger = logging.getLogger(__name__)

Tasks = AsyncIterable[Task] | Iterable[Task]
Done = Callable[[Task, Mapping[str, Any]], Observation | None]
OnFinish = Callable[[Task, Mapping[str, Any] | None, Observation], None]
Starting = Callable[[Task, Mapping[str, Any]], Awaitable[None]]

BACKOFF = 0.5
"""Seconds before the first retry of a transient error, unless the tool's policy says otherwise."""
MAX_BACKOFF = 8.0
"""The longest wait between two attempts (also for a server's `Retry-After`), by default."""
PARSE_ON_LOOP = 100_000
"""JSON text up to this many characters is parsed on the loop when a path needs it (about 1 ms);
longer text on a thread, in slices (`core.json_text`), while other tasks go on."""


class TaskFetchingUnit:
    """Executes plans over a fixed set of tools; one instance serves any number of concurrent runs.

    Args:
        tools: tool name -> LangChain tool (see `Toolbox` to build it from plain functions).
        max_concurrency: at most this many tool calls at once per run (None or 0: unbounded).
        task_timeout: seconds a single tool call may take before it becomes an error observation
            (None or 0: no limit). The run moves on at once; a sync tool's thread finishes (or
            not) in the background.
        policies: tool name -> `ToolPolicy` (timeout, retries of transient errors, a per-tool
            concurrency limit). A tool may declare one in its metadata,
            `metadata={"llmcompiler": {"retries": 2}}`; fields set here win over it.
        before_call: called with each task and its resolved arguments just before its tool is
            called (not for a task that reuses an identical call's result); a string it returns
            refuses the call, as that task's error observation (so does an exception it raises).
            Where a per-task budget or a policy sits; it runs on the event loop, in the task's
            own coroutine before its first attempt, so it must be quick.

    The parts: `Dag` (`core.dag`) says which tasks may run, `CallCache` (`core.calls`) which
    need no call, and this unit runs the calls (slots, retries, timeouts, cancellation).
    """

    def __init__(
        self,
        tools: Mapping[str, BaseTool],
        *,
        max_concurrency: int | None = None,
        task_timeout: float | None = None,
        policies: Mapping[str, ToolPolicy] | None = None,
        before_call: Callable[[Task, Mapping[str, Any]], str | None] | None = None,
    ) -> None:
        if (max_concurrency or 0) < 0 or (task_timeout or 0) < 0:
            raise ValueError("max_concurrency and task_timeout must not be negative.")
        policies = policies or {}
        if unknown := sorted(set(policies) - set(tools)):
            raise ValueError(f"Policies for tools that do not exist: {unknown}.")
        self.tools = tools
        self.before_call = before_call
        self.max_concurrency = max_concurrency or None
        self.task_timeout = task_timeout or None
        self.policies: dict[str, ToolPolicy] = {
            name: policies.get(name, ToolPolicy()).over(ToolPolicy.declared_by(tool))
            for name, tool in tools.items()
        }
        """Each tool's policy: the `policies` argument over its metadata (None: the default)."""
        self.limits = {
            name: _Slots(policy.max_concurrency)
            for name, policy in self.policies.items()
            if policy.max_concurrency
        }
        """Each tool's own concurrency limit, shared by every run of this unit."""
        self.idempotent = frozenset(
            name
            for name, policy in self.policies.items()
            if policy.idempotent is not False and not policy.requires_approval
        )
        """The tools whose identical calls within a turn reuse the first one's result (not a
        tool whose calls need approval: an approved call is an action a person asked for)."""
        self.at_most_once = frozenset(
            name
            for name, policy in self.policies.items()
            if policy.idempotent is False and not policy.rerun_unfinished
        )
        """The tools called at most once per task, even across a crash (see `arun`'s
        `starting`): `idempotent=False`, unless their policy opts into re-running."""

    async def arun(
        self,
        tasks: Tasks,
        *,
        observations: Mapping[int, Observation] | None = None,
        earlier_tasks: Iterable[Task] = (),
        events: EventSink | None = None,
        config: RunnableConfig | None = None,
        prefer_sync_tools: bool = False,
        done: Done | None = None,
        on_finish: OnFinish | None = None,
        starting: Starting | None = None,
    ) -> dict[int, Observation]:
        """Execute `tasks` as they arrive; return the new observations by task id.

        `observations` are results of earlier rounds of the same turn that tasks may reference.
        `earlier_tasks` are those rounds' tasks (any iterable; those without an `ok` observation
        are ignored): a task whose call equals one of theirs reuses its observation's value
        instead of calling the tool again (their arguments are resolved against `observations`
        to compare them; see `call_key`).
        A resumed run passes its record: `done(task, args)` (called with the resolved arguments
        before the call) gives the observation an earlier attempt recorded for that call, used
        instead of calling the tool; `on_finish(task, args, observation)` is called with every
        other observation as soon as it is recorded (to make it durable; `args` is None when the
        task never resolved them); `starting(task, args)` is awaited before a call of a tool
        that must run at most once (`at_most_once`) starts, to record that it may have run.
        A tool with a sync implementation and no coroutine of its own is called on a thread of
        its own; `prefer_sync_tools` does that for every tool with a sync implementation (what
        sync graph runs want: no async client is shared across event loops).
        Cancelling this coroutine cancels every tool call in flight, without waiting for them.
        """
        run = _Run(
            self,
            observations or {},
            earlier_tasks,
            events or EventSink(None, graph="", round=0),
            config,
            prefer_sync_tools,
            done or (lambda task, args: None),
            on_finish or (lambda task, args, observation: None),
            starting,
        )
        return await run.execute(tasks)

    def run(self, tasks: Tasks, **kwargs: Any) -> dict[int, Observation]:
        """Sync `arun`: the same logic, tools called through their sync implementation if any."""
        kwargs.setdefault("prefer_sync_tools", True)
        return run_sync(self.arun(tasks, **kwargs))


def _retry_delay(exc: BaseException, attempt: int, policy: ToolPolicy) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first): the package's
    backoff (`core.retry`) from the policy's `backoff`, at most its `max_backoff`, also when the
    server asked for longer."""
    base = BACKOFF if policy.backoff is None else policy.backoff
    cap = MAX_BACKOFF if policy.max_backoff is None else policy.max_backoff
    return min(backoff(attempt, exc, base=base, cap=cap), cap)


class _TimedOut(TimeoutError):
    """An attempt outlived its timeout (the scheduler's, not a TimeoutError of the tool's)."""

    def __init__(self, limit: float) -> None:
        super().__init__(f"did not finish within {limit:g} s")
        self.limit = limit


class _Slots:
    """A FIFO counting semaphore for coroutines of any event loop. A unit's per-tool limit holds
    across all its runs, and sync runs each have their own loop."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._free = size
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    async def __aenter__(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return
            waiter = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await waiter
        except BaseException:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, waiter))
            # Handed a slot already (its result is set): pass it on. Were the slot's hand-over
            # still under way, `_hand_over` finds the waiter cancelled and passes it on itself.
            if waiter.done() and not waiter.cancelled():
                self._release()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        with self._lock:
            while self._waiters:
                loop, waiter = self._waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._hand_over, waiter)
                    return
                except RuntimeError:  # that waiter's loop is closed: the next one
                    continue
            self._free += 1

    def _hand_over(self, waiter: asyncio.Future[None]) -> None:
        if waiter.done():  # cancelled meanwhile
            self._release()
        else:
            waiter.set_result(None)


_ABANDONED: set[asyncio.Task[Any]] = set()
"""Tool calls cancelled and no longer waited for, kept referenced until they end."""


def _abandon(call: asyncio.Task[Any]) -> None:
    chain = _awaited_tasks(call)
    call.cancel()
    _ABANDONED.add(call)
    call.add_done_callback(_forget)
    # `asyncio.run` ends by waiting for every task of its loop: a call that ignores its
    # cancellation would keep the caller's process alive for ever. Taking it, and the tasks it
    # is awaiting (LangChain runs a tool's coroutine in a task of its own), off the loop's
    # registry of tasks lets the loop end. CPython's registry and `_fut_waiter` are private:
    # there is no public way; where they are missing, the shutdown waits as it always did.
    unregister = getattr(asyncio.tasks, "_unregister_task", None)
    if unregister is not None:
        for task in chain:
            unregister(task)


def _awaited_tasks(call: asyncio.Task[Any]) -> list[asyncio.Task[Any]]:
    """`call` and the chain of tasks it is awaiting, innermost last."""
    chain: list[asyncio.Task[Any]] = []
    current: Any = call
    while isinstance(current, asyncio.Task) and current not in chain:
        chain.append(current)
        current = getattr(current, "_fut_waiter", None)
    return chain


def _forget(call: asyncio.Task[Any]) -> None:
    _ABANDONED.discard(call)
    if call.cancelled():
        return
    if (exc := call.exception()) is not None:
        logger.warning("%s ignored its cancellation, then raised %r", call.get_name(), exc)
    else:
        logger.warning("%s ignored its cancellation; its late result is dropped", call.get_name())


class _ParseFirst(Exception):
    """A path reaches into long JSON text not parsed yet: parse it off the loop first."""

    def __init__(self, idx: int) -> None:
        super().__init__(idx)
        self.idx = idx


def _parsed(text: str, idx: int) -> Any:
    """Task `idx`'s JSON text parsed, or the `PathError` saying it is not valid JSON."""
    try:
        return parse_container(text, f"${idx}", loads_in_slices)
    except PathError as exc:
        return exc


async def _as_async(tasks: Tasks) -> AsyncIterable[Task]:
    """Tasks from any source; a plain iterator (maybe a slow generator) is read off the loop, so
    tools keep starting while it blocks."""
    if isinstance(tasks, AsyncIterable):
        async for task in tasks:
            yield task
    elif isinstance(tasks, Sequence):
        for task in tasks:
            yield task
    else:
        iterator = iter(tasks)
        while (task := await in_thread(next, iterator, None)) is not None:
            yield task


class _Run:
    """One plan execution: the executor (slots, retries, timeouts, cancellation) over the plan's
    dependency graph (`Dag`: what may run) and its call cache (`CallCache`: what needs no call)."""

    def __init__(
        self,
        unit: TaskFetchingUnit,
        earlier: Mapping[int, Observation],
        earlier_tasks: Iterable[Task],
        events: EventSink,
        config: RunnableConfig | None,
        prefer_sync: bool,
        done: Done,
        on_finish: OnFinish,
        starting: Starting | None,
    ) -> None:
        self.unit = unit
        self.done = done
        self.on_finish = on_finish
        self.starting = starting
        self.args: dict[int, Mapping[str, Any]] = {}
        """The resolved arguments of each task dispatched and not yet finished."""
        self.replayed: set[int] = set()
        """Tasks whose observation comes from the record of an earlier attempt (`done`)."""
        self.parsed: dict[int, Any] = {}
        """Observations that are JSON text a path reached into, parsed (or the `PathError` of
        text that is not JSON), by task id: each is parsed once, whatever reads it."""
        self.parsing: dict[int, asyncio.Future[Any]] = {}
        """Parses under way off the loop, by task id."""
        self.events = events
        self.config = config
        self.prefer_sync = prefer_sync
        self.dag = Dag(earlier, unit.tools)
        self.cache = CallCache(unit.idempotent, earlier, earlier_tasks)
        self.in_flight: dict[asyncio.Task[None], Task] = {}
        self.settled = asyncio.Event()
        self.failure: BaseException | None = None
        self.consumer: asyncio.Task[Any] | None = None
        self.cancel_requests = 0
        self.stopped = False
        limit = unit.max_concurrency
        self.slots = asyncio.Semaphore(limit) if limit else None

    async def execute(self, tasks: Tasks) -> dict[int, Observation]:
        self.consumer = asyncio.current_task()
        if self.consumer is not None:
            self.cancel_requests = self.consumer.cancelling()
        try:
            async for task in _as_async(tasks):
                self.admit(task)
            while self.in_flight:
                self.settled.clear()
                await self.settled.wait()
        except asyncio.CancelledError:
            # `retire` cancels us to surface a tool's interrupt while we wait for the planner.
            if self.failure is None:
                raise
            self.consumer.uncancel()
        finally:
            self.stopped = True  # whatever finishes from here on dispatches nothing
            jobs = list(self.in_flight)
            self.in_flight.clear()  # from here on a cancelled job is ours, not a lost task
            for job in jobs:
                job.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*jobs, return_exceptions=True)
        if self.failure is not None:
            raise self.failure
        for task in self.dag.stranded():  # never happens unless a bug lost one
            self.finish(task, error_observation(task, "the task never became ready"))
        return self.dag.results

    def admit(self, task: Task) -> None:
        """Take one task from the stream: the DAG says whether it runs, waits or is settled."""
        self.events.task_planned(task)
        admission = self.dag.admit(task)
        if admission == "duplicate":
            # Reported, never recorded: the observation of the first task with this id stands.
            reason = task["error"] or f"duplicate id {task['idx']}"
            self.events.task_finished(task, error_observation(task, reason))
        elif admission == "ready":
            if (observation := self.dispatch(task)) is not None:
                self.finish(task, observation)
        elif admission != "blocked":
            self.finish(task, admission)

    def stopping(self) -> bool:
        """Whether the run is ending early (cancelled, or a tool's interrupt): no tool may start.
        A cancel of the consumer counts from the moment it is requested, before it is delivered."""
        return self.stopped or (
            self.consumer is not None and self.consumer.cancelling() > self.cancel_requests
        )

    def dispatch(self, task: Task) -> Observation | None:
        """Resolve the task's arguments and start its tool call, or return the observation it
        gets without one (the caller records it): what an earlier attempt recorded for this
        call (`done`), the result of an identical call that already succeeded in this turn, or
        the error of resolving its arguments. The first task making a call claims it: an
        identical task dispatched meanwhile waits for its outcome."""
        if self.stopping():
            return None
        dispatched_at = time.time()
        try:
            args = resolve_args(task, self.dag.known, self.json_of)
        except _ParseFirst as wait:
            self.parse_then_dispatch(task, wait.idx)
            return None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            return make_observation(task["idx"], "error", None, error, dispatched_at)
        if (recorded := self.done(task, args)) is not None:
            self.replayed.add(task["idx"])
            return recorded
        self.args[task["idx"]] = args
        key = self.cache.key(task, args)
        if key is not None and (source := self.cache.made.get(key)) is not None:
            return self.reuse(task, args, source, dispatched_at)
        if key is not None:
            self.cache.claim(task["idx"], key)
        job = asyncio.create_task(
            self.call(task, args, key, dispatched_at), name=f"llmcompiler-task-{task['idx']}"
        )
        self.in_flight[job] = task
        job.add_done_callback(self.retire)
        return None

    def json_of(self, idx: int, text: str) -> Any:
        """What the JSON text `text`, task `idx`'s observation, holds: parsed once; long text
        is not parsed here (`_ParseFirst`: `dispatch` has it parsed off the loop)."""
        if idx not in self.parsed:
            if len(text) > PARSE_ON_LOOP:
                raise _ParseFirst(idx)
            self.parsed[idx] = _parsed(text, idx)
        if isinstance(parsed := self.parsed[idx], PathError):
            raise parsed
        return parsed

    def parse_then_dispatch(self, task: Task, idx: int) -> None:
        """Dispatch `task` once task `idx`'s JSON text is parsed, on a thread, in slices (one
        parse for every task that waits for it); until then it counts as in flight."""
        if (parse := self.parsing.get(idx)) is None:
            text = self.dag.known[idx]["value"]
            parse = in_thread(_parsed, text, idx, name=f"llmcompiler-parse-{idx}")
            self.parsing[idx] = parse

        async def dispatch_when_parsed() -> None:
            self.parsed[idx] = await asyncio.shield(parse)
            if (observation := self.dispatch(task)) is not None:
                self.finish(task, observation)

        job = asyncio.create_task(dispatch_when_parsed(), name=f"llmcompiler-parse-{idx}")
        self.in_flight[job] = task
        job.add_done_callback(self.retire)

    def reuse(
        self, task: Task, args: dict[str, Any], source: int, dispatched_at: float
    ) -> Observation:
        """The observation of a task that takes task `source`'s result instead of calling."""
        now = time.time()
        self.cache.reused[task["idx"]] = source
        self.events.task_started(task, args, dispatched_at, now, reused_from=source)
        value = self.dag.known[source]["value"]
        return make_observation(task["idx"], "ok", value, None, dispatched_at, now, now)

    def retire(self, job: asyncio.Task[None]) -> None:
        """A tool call's asyncio task ended. Tool errors are observations already; what escapes
        (an interrupt or another `GraphBubbleUp`) stops the run at once."""
        task = self.in_flight.pop(job, None)
        if job.cancelled():
            if task is not None and task["idx"] not in self.dag.results:
                # The tool cancelled itself: we cancel only jobs already out of in_flight.
                cancelled = "CancelledError: the tool call was cancelled"
                self.finish(task, error_observation(task, cancelled))
        elif job.exception() is not None and self.failure is None:
            self.failure = job.exception()
            self.stopped = True
            if self.consumer is not None:
                self.consumer.cancel()
            return
        if not self.in_flight:
            self.settled.set()

    async def call(
        self, task: Task, args: dict[str, Any], key: str | None, dispatched_at: float
    ) -> None:
        """Run one task: attempts of its tool call, each within the tool's slot then the run's,
        until one succeeds, fails for good or runs out of retries; then record the observation.
        Started once, finished once, however many attempts. A task whose identical call
        (`key`) another task makes waits for that one first, and takes its result if it
        succeeded. The unit's `before_call` may refuse the call: the task's error observation."""
        if key is not None and not self.cache.makes(task["idx"], key):
            source = await self.cache.wait(task["idx"], key)
            if source is not None:
                if not self.stopping():
                    self.finish(task, self.reuse(task, args, source, dispatched_at))
                return
        if self.unit.before_call is not None and not self.stopping():
            try:
                refusal = self.unit.before_call(task, args)
            except Exception as exc:  # a broken hook fails its task, not the run
                refusal = f"before_call raised {type(exc).__name__}: {exc}"
            if refusal is not None:
                refused = make_observation(task["idx"], "error", None, refusal, dispatched_at)
                return self.finish(task, refused)
        name = task["tool"]
        tool, policy = self.unit.tools[name], self.unit.policies.get(name) or ToolPolicy()
        timeout = self.unit.task_timeout if policy.timeout is None else policy.timeout or None
        limit = self.unit.limits.get(name) or contextlib.nullcontext()
        started_at: float | None = None
        attempts = 0
        try:
            while True:
                async with limit, self.slots or contextlib.nullcontext():
                    if self.stopping():
                        return
                    if started_at is None:
                        if self.starting is not None and name in self.unit.at_most_once:
                            await self.starting(task, args)  # durable before the call
                        started_at = time.time()
                        self.events.task_started(task, args, dispatched_at, started_at)
                    attempts += 1
                    try:
                        value = await self.attempt(tool, args, timeout, task)
                        break
                    except Exception as exc:
                        if attempts > (policy.retries or 0) or not is_transient(exc):
                            raise
                        delay = _retry_delay(exc, attempts, policy)
                        logger.info(
                            "task %s: %s failed (%s: %s); attempt %d in %.2f s",
                            task["idx"],
                            name,
                            type(exc).__name__,
                            exc,
                            attempts + 1,
                            delay,
                        )
                await asyncio.sleep(delay)  # holding no slot
            status, error = "ok", None
            if attempts > 1:
                logger.info("task %s: %s succeeded at attempt %d", task["idx"], name, attempts)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            value, status, error = None, "error", f"{type(exc).__name__}: {exc}"
            if isinstance(exc, _TimedOut):
                error = f"TimeoutError: {name} {exc}"
            if attempts > 1:
                error += f" (after {attempts} attempts)"
        observation = make_observation(task["idx"], status, value, error, dispatched_at, started_at)
        self.finish(task, observation)

    async def attempt(
        self, tool: BaseTool, args: dict[str, Any], timeout: float | None, task: Task
    ) -> Any:
        """One tool call, as an asyncio task of its own that is waited for until `timeout` and
        no longer: at the timeout or when this coroutine is cancelled, the call is cancelled and
        abandoned, not waited for (a tool may swallow its cancellation)."""
        call = asyncio.create_task(
            self.invoke(tool, args), name=f"llmcompiler-tool-{task['idx']}-{tool.name}"
        )
        try:
            done, _ = await asyncio.wait([call], timeout=timeout)
        except asyncio.CancelledError:
            _abandon(call)
            raise
        if not done:
            _abandon(call)
            raise _TimedOut(timeout or 0)
        return call.result()

    async def invoke(self, tool: BaseTool, args: dict[str, Any]) -> Any:
        """The tool's coroutine, or its sync implementation on a daemon thread of its own (never
        LangChain's default: a thread of the loop's default executor)."""
        if self.stopping():  # cancelled between the decision to call and this first step
            raise asyncio.CancelledError
        if has_sync_implementation(tool) and (self.prefer_sync or not has_native_coroutine(tool)):
            return await in_thread(tool.invoke, args, self.config)
        return await tool.ainvoke(args, self.config)

    def finish(self, task: Task, observation: Observation) -> None:
        """Record an observation and release the tasks that waited for it: dispatch those now
        ready, skip (transitively, without recursion) those whose input failed."""
        settled = [(task, observation)]
        while settled:
            task, observation = settled.pop()
            idx = task["idx"]
            released = self.dag.finish(idx, observation)
            self.events.task_finished(task, observation, self.cache.reused.get(idx))
            if idx in self.replayed:
                self.replayed.discard(idx)
            else:
                self.on_finish(task, self.args.pop(idx, None), observation)
            self.cache.settle(idx, observation)
            for waiting, failed in released:
                if failed is not None:
                    settled.append((waiting, skipped_observation(waiting, failed)))
                elif (reached := self.dispatch(waiting)) is not None:
                    settled.append((waiting, reached))
