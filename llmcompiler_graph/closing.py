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
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

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
    `invoke`) tells the running nodes when the caller lets go."""

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        token = signals.open()
        configurable = {**(config or {}).get("configurable", {}), CLOSE_TOKEN: token}
        chunks = super().stream(input, {**(config or {}), "configurable": configurable}, **kwargs)
        try:
            # A plain loop, not `yield from`: that would close LangGraph's stream (which waits
            # for the nodes) before the `finally` below could signal them.
            for chunk in chunks:  # noqa: UP028
                yield chunk
        finally:
            signals.close(token)
            chunks.close()
            signals.forget(token)
