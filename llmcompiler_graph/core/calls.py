"""Identical calls within one user turn are made once: the call cache of one plan execution.

A call is a tool and its resolved arguments (`call_key`). A task whose call equals one that
already succeeded in the turn (earlier in this run, or in an earlier round) takes that result;
one whose identical call is still running waits for it. A failed call is never reused (the next
identical task makes the call itself), and only the tools named `idempotent` take part.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any

from llmcompiler_graph.core.plan import Observation, Task, resolve_args


def call_key(tool: str, args: Mapping[str, Any]) -> str | None:
    """What makes two calls identical: the tool's name and its resolved arguments as canonical
    JSON (`json.dumps` with sorted keys; a value JSON cannot encode counts by its `repr`). So
    nested dicts and lists compare by value whatever their key order, `1` and `1.0` differ, and
    a tuple equals the list of the same items. None (never identical to anything) when the
    arguments cannot be encoded (a cycle, dict keys of mixed types).

    >>> call_key("search", {"q": "x", "opts": {"b": 1, "a": [2]}})
    '["search", {"opts": {"a": [2], "b": 1}, "q": "x"}]'
    """
    try:
        return _CANONICAL.encode([tool, args])
    except (TypeError, ValueError, RecursionError):
        return None


_CANONICAL = json.JSONEncoder(sort_keys=True, default=repr)


class CallCache:
    """The calls of one plan execution, and those of earlier rounds of its turn.

    Args:
        idempotent: the tools whose identical calls may share one result.
        earlier: observations of earlier rounds; `earlier_tasks`: their tasks (those without an
            `ok` observation are ignored).
    """

    def __init__(
        self,
        idempotent: frozenset[str],
        earlier: Mapping[int, Observation],
        earlier_tasks: Iterable[Task],
    ) -> None:
        self.idempotent = idempotent
        self.made: dict[str, int] = {}
        """Call key -> id of the first task of the turn whose identical call succeeded."""
        self.running: dict[str, asyncio.Future[None] | None] = {}
        """Call key of a call being made (in this run) -> done when its task has its
        observation (None until an identical task waits for it)."""
        self.making: dict[int, str] = {}
        """Id of a task making a call (in this run) -> its call key."""
        self.reused: dict[int, int] = {}
        """Id of a task that took an earlier result -> the id of the task that made the call."""
        for task in earlier_tasks:
            if (key := self._earlier_call(task, earlier)) is not None:
                self.made.setdefault(key, task["idx"])

    def _earlier_call(self, task: Task, earlier: Mapping[int, Observation]) -> str | None:
        """The call key of a task of an earlier round that succeeded, if it may be reused."""
        seen = earlier.get(task["idx"])
        if seen is None or seen["status"] != "ok" or task["tool"] not in self.idempotent:
            return None
        if task["error"] or any(dep not in earlier for dep in task["dependencies"]):
            return None
        try:
            return call_key(task["tool"], resolve_args(task, earlier))
        except Exception:  # not the observations it ran with: never identical
            return None

    def key(self, task: Task, args: Mapping[str, Any]) -> str | None:
        """The call key of a task about to run (None: its tool takes no part)."""
        return call_key(task["tool"], args) if task["tool"] in self.idempotent else None

    def claim(self, idx: int, key: str) -> None:
        """Task `idx` makes the call `key` unless another is making it already; identical
        tasks wait for its observation."""
        if key not in self.running:
            self.running[key] = None
            self.making[idx] = key

    def makes(self, idx: int, key: str) -> bool:
        return self.making.get(idx) == key

    async def wait(self, idx: int, key: str) -> int | None:
        """Wait while an identical call runs: the id of its task when it succeeded (None, after
        claiming the call, when it failed: task `idx` makes the call itself)."""
        while (source := self.made.get(key)) is None:
            if key not in self.running:
                self.claim(idx, key)
                return None
            if (running := self.running[key]) is None:
                running = self.running[key] = asyncio.get_running_loop().create_future()
            await asyncio.wait([running])  # never cancels `running` (other tasks wait for it)
        return source

    def settle(self, idx: int, observation: Observation) -> None:
        """Task `idx` has its observation: a call it made is done (and, if it succeeded, made)."""
        if (key := self.making.pop(idx, None)) is None:
            return
        if observation["status"] == "ok":
            self.made.setdefault(key, idx)
        if (running := self.running.pop(key, None)) is not None and not running.done():
            running.set_result(None)
