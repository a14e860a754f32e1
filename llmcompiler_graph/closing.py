"""Closing a sync run early: the signal from the caller's `stream()` to the running nodes.

Async runs need nothing: closing `astream` (or cancelling `ainvoke`) cancels the node tasks, and
the task fetching unit cancels its tools and starts no more. A sync run's nodes run in threads
that nothing can cancel, and LangGraph waits for them when the caller closes `stream()` (or an
exception such as KeyboardInterrupt leaves `invoke`), so without a signal the scheduler would go
on starting tools after the close and the close would wait for the whole plan.

`LLMCompilerGraph.stream` gives each run a token in its config and sets it when the caller lets
go; the scheduler node cancels its private loop's work on that signal (no tool starts after it;
sync tool threads already running finish in the background) and the planner stops reading its
stream. A graph used as a subgraph of another graph gets its parent's close only if the parent
is an `LLMCompilerGraph` too; otherwise its nodes end as they would have.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from llmcompiler_graph import approval

CLOSE_TOKEN = "llmcompiler_close_token"
"""The `configurable` key carrying a run's token."""


class _Signals:
    """Token -> callbacks to call once the run's caller has let go (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Callable[[], None]]] = {}
        self._closed: set[str] = set()

    def open(self) -> str:
        token = uuid.uuid4().hex
        with self._lock:
            self._waiting[token] = []
        return token

    def close(self, token: str) -> None:
        with self._lock:
            callbacks = self._waiting.pop(token, [])
            self._closed.add(token)
        for callback in callbacks:
            callback()

    def forget(self, token: str) -> None:
        with self._lock:
            self._waiting.pop(token, None)
            self._closed.discard(token)

    def closed(self, token: str | None) -> bool:
        with self._lock:
            return token in self._closed

    def subscribe(self, token: str | None, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when `token` closes (at once if it has); returns the unsubscriber."""
        with self._lock:
            waiting = self._waiting.get(token) if token else None
            if waiting is not None:
                waiting.append(callback)
            closed = token in self._closed
        if closed:
            callback()

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                if waiting is not None:
                    waiting.remove(callback)

        return unsubscribe


signals = _Signals()


def token_of(config: RunnableConfig) -> str | None:
    """The close token of the run `config` belongs to (None outside an `LLMCompilerGraph`)."""
    return config.get("configurable", {}).get(CLOSE_TOKEN)


@contextlib.contextmanager
def on_close(config: RunnableConfig, callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` (from the closing thread) if the run is closed while inside the block."""
    unsubscribe = signals.subscribe(token_of(config), callback)
    try:
        yield
    finally:
        unsubscribe()


class LLMCompilerGraph(CompiledStateGraph):
    """The compiled LLMCompiler graph: a `CompiledStateGraph` whose sync `stream` (and so
    `invoke`) tells the running nodes when the caller lets go, and whose resumes are checked
    against the thread's state first (`approval.checked_resume`)."""

    @classmethod
    def of(cls, compiled: CompiledStateGraph) -> LLMCompilerGraph:
        """`compiled` as an `LLMCompilerGraph`: built from its attributes, the way LangGraph's
        own `copy` and `with_config` rebuild a compiled graph."""
        return cls(**{k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"})

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        if _checkable(input, config) and (snapshot := _snapshot(self.get_state, config)):
            input = approval.checked_resume(input, snapshot)
        token = signals.open()
        configurable = {**(config or {}).get("configurable", {}), CLOSE_TOKEN: token}
        full = FullUpdates(self, kwargs)
        chunks = super().stream(
            input, {**(config or {}), "configurable": configurable}, **full.kwargs
        )
        try:
            # A plain loop, not `yield from`: that would close LangGraph's stream (which waits
            # for the nodes) before the `finally` below could signal them.
            for chunk in chunks:
                yield from full.rewrite(chunk)
            yield from full.rest()
        finally:
            signals.close(token)
            chunks.close()
            signals.forget(token)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        if _checkable(input, config) and (snapshot := await _asnapshot(self, config)):
            input = approval.checked_resume(input, snapshot)
        full = FullUpdates(self, kwargs)
        async with aclosing(super().astream(input, config, **full.kwargs)) as chunks:
            async for chunk in chunks:
                for out in full.rewrite(chunk):
                    yield out
            for out in full.rest():
                yield out


def _checkable(input: Any, config: RunnableConfig | None) -> bool:
    """Whether the input is a resume of a named thread (without a thread id, LangGraph says what
    is missing)."""
    thread = (config or {}).get("configurable", {}).get("thread_id")
    return approval.is_resume(input) and thread is not None


def _snapshot(get_state: Callable[..., StateSnapshot], config: Any) -> StateSnapshot | None:
    """The thread's state, or None without a checkpointer (LangGraph then says what is wrong)."""
    try:
        return get_state(config)
    except ValueError:
        return None


async def _asnapshot(graph: CompiledStateGraph, config: Any) -> StateSnapshot | None:
    try:
        return await graph.aget_state(config)
    except ValueError:
        return None


class FullUpdates:
    """One run's stream, with each node's whole update in `updates` whatever `output_keys` say.

    LangGraph keeps only the `output_keys` channels of a node's writes in `updates`, and the
    LangGraph server streams with `output_keys=graph.output_channels` (`messages`: the output
    schema), so the planner and scheduler, which write no messages, showed as
    `{'planner': None}`. When a caller narrows `output_keys` and asks for `updates`, the run
    also streams `tasks` (a task's result holds every channel its node wrote) and each update of
    this graph's nodes is rebuilt from its task's result. `values` (the output) stay as narrow
    as asked; `tasks` chunks are passed on only when asked for. Otherwise chunks pass unchanged.
    """

    def __init__(self, graph: CompiledStateGraph, kwargs: dict[str, Any]) -> None:
        mode = kwargs.get("stream_mode")
        mode = graph.stream_mode if mode is None else mode
        self.single = isinstance(mode, str)
        modes = [mode] if isinstance(mode, str) else list(mode)
        keys = kwargs.get("output_keys")
        wanted = {keys} if isinstance(keys, str) else set(keys or ())
        self.active = (
            "updates" in modes and keys is not None and wanted != set(graph.stream_channels_list)
        )
        self.nodes = set(graph.nodes)
        self.subgraphs = bool(kwargs.get("subgraphs"))
        self.v2 = kwargs.get("version") == "v2"
        self.tasks_asked = "tasks" in modes
        self.kwargs = dict(kwargs)
        if self.active and not self.tasks_asked:
            self.kwargs["stream_mode"] = [*modes, "tasks"]
        self._held: dict[str, Any] = {}

    def rewrite(self, item: Any) -> list[Any]:
        """What the caller gets for one chunk LangGraph streamed (none, it, or more)."""
        if not self.active:
            return [item]
        ns, mode, data = self._split(item)
        own = not ns
        if mode == "updates" and own and isinstance(data, dict) and len(data) == 1:
            (name,) = data
            if name in self.nodes:
                self._held[name] = item  # its task's result comes next: rebuilt from it
                return []
        out = []
        if mode == "tasks" and own and "result" in data and data["name"] in self._held:
            held = self._held.pop(data["name"])
            if data.get("error") is None and not data.get("interrupts"):
                out.append(self._join(ns, "updates", {data["name"]: data["result"] or None}, held))
            else:
                out.append(self._join(*self._split(held), held))
        if mode != "tasks" or self.tasks_asked:
            out.append(self._join(ns, mode, data, item))
        return out

    def rest(self) -> list[Any]:
        """Updates still held when the stream ended (a task result that never came)."""
        held, self._held = list(self._held.values()), {}
        return [self._join(*self._split(item), item) for item in held]

    def _split(self, item: Any) -> tuple[tuple[str, ...], str, Any]:
        if self.v2:
            return tuple(item.get("ns") or ()), item["type"], item["data"]
        if self.subgraphs:
            ns, mode, data = item
            return tuple(ns), mode, data
        mode, data = item
        return (), mode, data

    def _join(self, ns: tuple[str, ...], mode: str, data: Any, like: Any) -> Any:
        if self.v2:
            return {**like, "type": mode, "data": data}
        if self.subgraphs:
            return (ns, data) if self.single else (ns, mode, data)
        return data if self.single else (mode, data)
