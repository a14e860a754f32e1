"""`ToolPolicy`: how the task fetching unit calls one tool (timeout, retries, limits, reuse,
approval). Plain data, importable without LangChain (the settings and the CLI use it)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

POLICY_KEY = "llmcompiler"
"""The key of a tool's `metadata` under which it declares its `ToolPolicy` (a dict or one)."""


_POLICY_NUMBERS: dict[str, tuple[Any, float, float]] = {
    "timeout": ((int, float), 0, 1e9),
    "retries": (int, 0, 20),
    "max_concurrency": (int, 1, 10_000),
    "backoff": ((int, float), 0, 3600),
    "max_backoff": ((int, float), 0, 3600),
}
"""Each numeric policy field: its types, least and greatest value."""


@dataclass(frozen=True)
class ToolPolicy:
    """How the task fetching unit calls one tool. A field left None is unset: it falls back to
    the tool's declaration, then to the unit's default.

    Declare it on the tool, `metadata={"llmcompiler": {"timeout": 5, "retries": 2}}`, or pass it
    to the unit, `TaskFetchingUnit(tools, policies={"search": ToolPolicy(max_concurrency=2)})`;
    the unit's argument wins field by field.

    Args:
        timeout: seconds one attempt may take (0: no limit). Default: the unit's `task_timeout`.
        retries: attempts after the first when it fails with a transient error (a timeout, a
            connection error, HTTP 408, 409, 429 or 5xx: see `core.retry`). Default: 0.
        max_concurrency: calls of this tool at once, across every run of the unit, on top of
            the unit's own limit (a rate-limited API). Default: unlimited.
        backoff: seconds before the first retry; each retry waits twice as long as the previous
            one, less a random part of up to a quarter (jitter). Default: 0.5.
        max_backoff: the longest wait between attempts, also for a server's `Retry-After`.
            Default: 8.
        idempotent: whether an identical call (same tool, equal resolved arguments) made
            earlier in the same user turn may stand for this one: its successful result is
            reused instead of calling the tool again. Set False for a tool with side effects
            or a changing answer (send a message, read the clock): it is always called, and
            at most once per task even across a crash: a call that was running when its process
            died is not made again on resume but becomes an error observation saying it may or
            may not have run (the call is journaled before it starts). Default: True.
        rerun_unfinished: for a tool with `idempotent=False`: make a call that was running
            when its process died again on resume (at least once, instead of at most once).
            Default: False.
        requires_approval: a task calling this tool waits for a person's approval (LangGraph
            `interrupt`, LangChain's human-in-the-loop format) before it runs; the tasks that do
            not need one run as usual, as the plan streams. Default: False.
    """

    timeout: float | None = None
    retries: int | None = None
    max_concurrency: int | None = None
    backoff: float | None = None
    max_backoff: float | None = None
    idempotent: bool | None = None
    rerun_unfinished: bool | None = None
    requires_approval: bool | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (requirement := self.requirement(f.name, value)) is not None:
                raise ValueError(f"ToolPolicy.{f.name} {requirement}, got {value!r}.")

    @staticmethod
    def requirement(name: str, value: Any) -> str | None:
        """What field `name` requires that `value` is not (None when it is acceptable)."""
        if value is None:
            return None
        if name in ("idempotent", "rerun_unfinished", "requires_approval"):
            return None if isinstance(value, bool) else "must be True, False or None"
        kinds, low, high = _POLICY_NUMBERS[name]
        if isinstance(value, bool) or not isinstance(value, kinds):
            return f"must be {'an integer' if kinds is int else 'a number'} (None: unset)"
        if not (math.isfinite(value) and low <= value <= high):
            return f"must be from {low:g} to {high:g} (None: unset)"
        return None

    def over(self, fallback: ToolPolicy) -> ToolPolicy:
        """This policy, with its unset fields taken from `fallback`."""
        return ToolPolicy(
            **{
                f.name: getattr(fallback, f.name)
                if getattr(self, f.name) is None
                else getattr(self, f.name)
                for f in dataclasses.fields(self)
            }
        )

    @classmethod
    def declared_by(cls, tool: BaseTool) -> ToolPolicy:
        """The policy in the tool's `metadata` (an empty one when it declares none)."""
        declared = (tool.metadata or {}).get(POLICY_KEY)
        if declared is None or isinstance(declared, ToolPolicy):
            return declared or cls()
        if not isinstance(declared, Mapping):
            raise ValueError(f"Tool {tool.name!r}: metadata[{POLICY_KEY!r}] must be a dict.")
        unknown = set(declared) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(
                f"Tool {tool.name!r}: unknown policy settings {sorted(unknown)} in "
                f"metadata[{POLICY_KEY!r}]."
            )
        return cls(**declared)
