"""The tools a plan may call: LangChain tools or plain (async) functions, by name."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, Tool
from langchain_core.tools import tool as as_tool

from llmcompiler_graph.core.plan import JOIN

ToolLike = BaseTool | Callable[..., Any]


class Toolbox(Mapping[str, BaseTool]):
    """Name -> tool, plus what the parser and the planner prompt need to know about each one.

    >>> def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> Toolbox([add]).signatures
    {'add': ['a', 'b']}
    """

    def __init__(self, tools: Sequence[ToolLike]) -> None:
        self._tools: dict[str, BaseTool] = {}
        self._schemas: dict[str, dict[str, Any]] = {}
        for item in tools:
            tool = item if isinstance(item, BaseTool) else as_tool(item)
            if tool.name == JOIN:
                raise ValueError("'join' is reserved for the end of a plan: rename that tool.")
            if tool.name in self._tools:
                raise ValueError(f"Two tools are named {tool.name!r}: tool names must be unique.")
            self._tools[tool.name] = tool
            self._schemas[tool.name] = (
                tool.tool_call_schema.model_json_schema() if tool.tool_call_schema else {}
            )

    def __getitem__(self, name: str) -> BaseTool:
        return self._tools[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def signatures(self) -> dict[str, list[str]]:
        """Tool name -> parameter names in schema order (positional arguments map onto these)."""
        return {name: list(schema.get("properties", {})) for name, schema in self._schemas.items()}

    def describe(self) -> str:
        """One numbered entry per tool for the planner prompt: call signature, then description."""
        entries = []
        for n, (name, tool) in enumerate(self._tools.items(), start=1):
            schema = self._schemas[name]
            required = set(schema.get("required", []))
            params = ", ".join(
                f"{p}: {_type_name(prop)}" + ("" if p in required else " = optional")
                for p, prop in schema.get("properties", {}).items()
            )
            description = "\n   ".join(tool.description.strip().splitlines())
            entries.append(f"{n}. {name}({params})\n   {description}")
        return "\n".join(entries)


POLICY_KEY = "llmcompiler"
"""The key of a tool's `metadata` under which it declares its `ToolPolicy` (a dict or one)."""


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
            or a changing answer (send a message, read the clock): it is always called.
            Default: True.
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
    requires_approval: bool | None = None

    def __post_init__(self) -> None:
        for name in ("idempotent", "requires_approval"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"ToolPolicy.{name} must be True, False or None.")
        for name in ("timeout", "retries", "backoff", "max_backoff"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"ToolPolicy.{name} must not be negative.")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("ToolPolicy.max_concurrency must be at least 1 (None: no limit).")

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


def has_sync_implementation(tool: BaseTool) -> bool:
    """False for tools built from a coroutine alone, which can only run with `ainvoke`."""
    return not (isinstance(tool, StructuredTool | Tool) and tool.func is None)


def has_native_coroutine(tool: BaseTool) -> bool:
    """Whether `ainvoke` awaits the tool's own coroutine. When it does not, LangChain would run
    the sync implementation in the event loop's default executor."""
    if isinstance(tool, StructuredTool | Tool):
        return tool.coroutine is not None
    kind = type(tool)
    return kind._arun is not BaseTool._arun or kind.ainvoke is not BaseTool.ainvoke


def _type_name(schema: Mapping[str, Any]) -> str:
    """A compact Python-ish type for a JSON schema property (`str`, `list[str]`, `int | None`)."""
    names = {
        "string": "str",
        "integer": "int",
        "number": "float",
        "boolean": "bool",
        "object": "dict",
        "null": "None",
    }
    if "anyOf" in schema:
        return " | ".join(_type_name(s) for s in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"list[{_type_name(schema.get('items', {}))}]" if schema.get("items") else "list"
    if isinstance(kind, str):
        return names.get(kind, kind)
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    return "Any"
