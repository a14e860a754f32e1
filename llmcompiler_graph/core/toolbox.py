"""The tools a plan may call: LangChain tools or plain (async) functions, by name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
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
            tool = item if isinstance(item, BaseTool) else _function_tool(item)
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


def _function_tool(function: Callable[..., Any]) -> BaseTool:
    """A plain function as a tool. Its docstring is the description the planner chooses tools
    by; LangChain refuses a function without one, but does not say which function."""
    try:
        return as_tool(function)
    except ValueError as exc:
        if getattr(function, "__doc__", "") is not None:
            raise
        name = getattr(function, "__name__", repr(function))
        raise ValueError(
            f"The tool function {name!r} has no docstring: add one that says what it does and "
            "returns (the planner reads it to choose tools), or pass a tool with a description, "
            f'e.g. StructuredTool.from_function({name}, description="...").'
        ) from exc


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
