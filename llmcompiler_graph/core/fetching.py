"""The task fetching unit: runs each task of a streamed plan the moment its inputs exist.

Tasks arrive from an async iterator (the planner's stream). Each is dispatched as soon as every
task it depends on has an observation - no polling, no batching, no waiting for the next planner
line: finishing a task dispatches its ready dependents in the same step. Independent tasks run
concurrently. A failing task becomes an error observation and its dependents are skipped without
running; an invalid task (the parser said why) is an error observation too. The run ends once the
stream is closed and every task has an observation.

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
import contextvars
import functools
import time
from collections import ChainMap, defaultdict
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp

from llmcompiler_graph.core._sync import run_sync
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.plan import Observation, ObservationStatus, Task, resolve_args
from llmcompiler_graph.core.toolbox import has_sync_implementation

Tasks = AsyncIterable[Task] | Iterable[Task]


class TaskFetchingUnit:
    """Executes plans over a fixed set of tools; one instance serves any number of concurrent runs.

    Args:
        tools: tool name -> LangChain tool (see `Toolbox` to build it from plain functions).
        max_concurrency: at most this many tool calls at once (None or 0: unbounded).
        task_timeout: seconds a single tool call may take before it becomes an error observation
            (None or 0: no limit). A sync tool that times out keeps its worker thread until it
            returns on its own.
    """

    def __init__(
        self,
        tools: Mapping[str, BaseTool],
        *,
        max_concurrency: int | None = None,
        task_timeout: float | None = None,
    ) -> None:
        if (max_concurrency or 0) < 0 or (task_timeout or 0) < 0:
            raise ValueError("max_concurrency and task_timeout must not be negative.")
        self.tools = tools
        self.max_concurrency = max_concurrency or None
        self.task_timeout = task_timeout or None

    async def arun(
        self,
        tasks: Tasks,
        *,
        observations: Mapping[int, Observation] | None = None,
        events: EventSink | None = None,
        config: RunnableConfig | None = None,
        prefer_sync_tools: bool = False,
    ) -> dict[int, Observation]:
        """Execute `tasks` as they arrive; return the new observations by task id.

        `observations` are results of earlier rounds of the same turn that tasks may reference.
        `prefer_sync_tools` calls tools' sync implementation in a worker thread when they have
        one (what sync graph runs want: no async client is shared across event loops).
        Cancelling this coroutine cancels every tool call in flight.
        """
        run = _Run(
            self,
            observations or {},
            events or EventSink(None, graph="", round=0),
            config,
            prefer_sync_tools,
        )
        return await run.execute(tasks)

    def run(self, tasks: Tasks, **kwargs: Any) -> dict[int, Observation]:
        """Sync `arun`: the same logic, tools called through their sync implementation if any."""
        kwargs.setdefault("prefer_sync_tools", True)
        return run_sync(self.arun(tasks, **kwargs))


_TOOL_THREADS = 256
"""Threads for sync tools, shared by all runs: enough that `max_concurrency` is the only limit."""


@functools.cache
def _tool_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_TOOL_THREADS, thread_name_prefix="llmcompiler-tool")


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
        iterator, loop = iter(tasks), asyncio.get_running_loop()
        while (
            task := await loop.run_in_executor(_tool_threads(), next, iterator, None)
        ) is not None:
            yield task


class _Run:
    """The bookkeeping of one plan execution."""

    def __init__(
        self,
        unit: TaskFetchingUnit,
        earlier: Mapping[int, Observation],
        events: EventSink,
        config: RunnableConfig | None,
        prefer_sync: bool,
    ) -> None:
        self.unit = unit
        self.earlier = earlier
        self.events = events
        self.config = config
        self.prefer_sync = prefer_sync
        self.results: dict[int, Observation] = {}
        self.known: ChainMap[int, Observation] = ChainMap(self.results, dict(earlier))
        self.admitted: set[int] = set()
        self.blocked: dict[int, tuple[Task, set[int]]] = {}
        self.dependents: defaultdict[int, list[int]] = defaultdict(list)
        self.in_flight: dict[asyncio.Task[None], Task] = {}
        self.settled = asyncio.Event()
        self.failure: BaseException | None = None
        self.consumer: asyncio.Task[Any] | None = None
        limit = unit.max_concurrency
        self.slots = asyncio.Semaphore(limit) if limit else None

    async def execute(self, tasks: Tasks) -> dict[int, Observation]:
        self.consumer = asyncio.current_task()
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
            jobs = list(self.in_flight)
            self.in_flight.clear()  # from here on a cancelled job is ours, not a lost task
            for job in jobs:
                job.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*jobs, return_exceptions=True)
        if self.failure is not None:
            raise self.failure
        for idx in self.admitted - self.results.keys():  # never happens unless a bug lost one
            task, _ = self.blocked.pop(idx, (None, None))
            if task is not None:
                self.finish(task, _error(task, "the task never became ready"))
        return self.results

    def admit(self, task: Task) -> None:
        """Take one task from the stream: reject, skip, block on its dependencies, or dispatch."""
        idx = task["idx"]
        self.events.task_planned(task)
        if idx in self.admitted or idx in self.earlier:
            # Reported, never recorded: the observation of the first task with this id stands.
            self.events.task_finished(task, _error(task, task["error"] or f"duplicate id {idx}"))
            return None
        self.admitted.add(idx)
        if task["error"]:
            return self.finish(task, _error(task, task["error"]))
        if task["tool"] not in self.unit.tools:
            return self.finish(task, _error(task, f"unknown tool {task['tool']!r}"))
        unmet = set()
        for dep in task["dependencies"]:
            done = self.known.get(dep)
            if dep == idx or (done is None and dep not in self.admitted):
                return self.finish(task, _error(task, f"missing reference ${dep}"))
            if done is None:
                unmet.add(dep)
            elif done["status"] != "ok":
                return self.finish(task, _skipped(task, dep))
        if unmet:
            self.blocked[idx] = (task, unmet)
            for dep in unmet:
                self.dependents[dep].append(idx)
        else:
            self.dispatch(task)

    def dispatch(self, task: Task) -> None:
        job = asyncio.create_task(
            self.call(task, time.time()), name=f"llmcompiler-task-{task['idx']}"
        )
        self.in_flight[job] = task
        job.add_done_callback(self.retire)

    def retire(self, job: asyncio.Task[None]) -> None:
        """A tool call's asyncio task ended. Tool errors are observations already; what escapes
        (an interrupt or another `GraphBubbleUp`) stops the run at once."""
        task = self.in_flight.pop(job, None)
        if job.cancelled():
            if task is not None and task["idx"] not in self.results:
                # The tool cancelled itself: we cancel only jobs already out of in_flight.
                self.finish(task, _error(task, "CancelledError: the tool call was cancelled"))
        elif job.exception() is not None and self.failure is None:
            self.failure = job.exception()
            if self.consumer is not None:
                self.consumer.cancel()
            return
        if not self.in_flight:
            self.settled.set()

    async def call(self, task: Task, dispatched_at: float) -> None:
        async with self.slots or contextlib.nullcontext():
            started_at = time.time()
            deadline = asyncio.timeout(self.unit.task_timeout)
            try:
                args = resolve_args(task, self.known)
                self.events.task_started(task, args, dispatched_at, started_at)
                async with deadline:
                    value = await self.invoke(self.unit.tools[task["tool"]], args)
                status, error = "ok", None
            except GraphBubbleUp:
                raise
            except Exception as exc:
                value, status, error = None, "error", f"{type(exc).__name__}: {exc}"
                if isinstance(exc, TimeoutError) and deadline.expired():
                    limit = self.unit.task_timeout
                    error = f"TimeoutError: {task['tool']} did not finish within {limit:g} s"
        self.finish(
            task,
            Observation(
                idx=task["idx"],
                status=status,
                value=value,
                error=error,
                dispatched_at=dispatched_at,
                started_at=started_at,
                finished_at=time.time(),
            ),
        )

    async def invoke(self, tool: BaseTool, args: dict[str, Any]) -> Any:
        if self.prefer_sync and has_sync_implementation(tool):
            call = functools.partial(contextvars.copy_context().run, tool.invoke, args, self.config)
            return await asyncio.get_running_loop().run_in_executor(_tool_threads(), call)
        return await tool.ainvoke(args, self.config)

    def finish(self, task: Task, observation: Observation) -> None:
        """Record an observation and release the tasks that waited for it: dispatch those now
        ready, skip (transitively, without recursion) those whose input failed."""
        settled = [(task, observation)]
        while settled:
            task, observation = settled.pop()
            idx = task["idx"]
            self.results[idx] = observation
            self.events.task_finished(task, observation)
            for waiting_idx in self.dependents.pop(idx, []):
                if waiting_idx not in self.blocked:
                    continue  # skipped already through another failed input
                waiting, unmet = self.blocked[waiting_idx]
                if observation["status"] != "ok":
                    del self.blocked[waiting_idx]
                    settled.append((waiting, _skipped(waiting, idx)))
                    continue
                unmet.discard(idx)
                if not unmet:
                    del self.blocked[waiting_idx]
                    self.dispatch(waiting)


def _error(task: Task, error: str, status: ObservationStatus = "error") -> Observation:
    """The observation of a task that never ran."""
    return Observation(
        idx=task["idx"],
        status=status,
        value=None,
        error=error,
        dispatched_at=None,
        started_at=None,
        finished_at=time.time(),
    )


def _skipped(task: Task, failed_dependency: int) -> Observation:
    return _error(task, f"skipped: dependency {failed_dependency} failed", "skipped")
