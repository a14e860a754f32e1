"""Incremental parser for the planner's text plan language (DESIGN.md, "The plan language").

The planner streams lines such as `3. math("...", context=[$1, $2])`. `PlanParser` turns each one
into a `Task` the moment its call's closing parenthesis arrives, so the scheduler can dispatch it
while the rest of the plan is still being written. Text is scanned one character at a time with
explicit state (string literal, open brackets), so any chunking of the stream yields exactly the
tasks `parse_plan` finds in the whole text. Bad input never raises: it becomes a task's `error`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_graph.core.plan import JOIN, REFERENCE, Task, is_whole_reference, make_task

END_OF_PLAN = "<END_OF_PLAN>"
"""What the planner writes after the plan; also ends the plan when `join()` is missing."""

_HEADER = re.compile(r"\s*(?:(?:step\s*)?(\d+)\s*[.):]\s*)?([A-Za-z_][\w.\-]*)\s*\(", re.IGNORECASE)
"""A task line up to its call's `(`: `3. math(`, `3) math(`, `Step 3: math(`, `join(`.

The name may hold `-` and `.` (valid tool names that are not Python identifiers): only the
argument list goes to `ast`."""

_THOUGHT = re.compile(r"\s*[*_]*thoughts?[*_]*\s*[:\-–—][*_]*\s*(.*?)\s*", re.IGNORECASE)
"""`Thought: ...`, `thought - ...`, `**Thought:** ...`; group 1 is the text."""

_BARE_REFERENCE = re.compile(r"\$(?:\{\d+\}|\d+)")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_PARSE_ERRORS = (SyntaxError, ValueError, TypeError, RecursionError, MemoryError)
"""What `ast` raises on bad input; the last two mean "nested too deeply" (e.g. `- - - ... 1`)."""


@dataclass
class _Call:
    """Scanning state of a call being received; its argument list starts at `_buf[start]`."""

    idx: int | None
    name: str
    start: int
    closers: list[str] = field(default_factory=lambda: [")"])
    line_start: int = 0
    """Where the current line of a multi-line call begins in the buffer (0: the task's own line)."""
    quote: str = ""
    """The open string literal's delimiter (`"`, `'`, `\"\"\"`, `'''`), empty outside strings."""
    opened: int = 0
    escaped: bool = False
    run: int = 0
    """Consecutive delimiter characters seen, to close a triple-quoted string."""
    maybe_triple: str = ""
    """Set right after an empty string `""`: a third quote makes it the start of `\"\"\"`."""
    bare_refs: list[int] = field(default_factory=list)
    """Offsets (from `start`) of `$` outside string literals, quoted before handing to `ast`."""


class PlanParser:
    """Feed it chunks of streamed planner output; it returns each Task as soon as it is complete."""

    def __init__(
        self, tools: Mapping[str, Sequence[str]], *, known_ids: Iterable[int] = ()
    ) -> None:
        """`tools` maps each tool name to its parameter names in schema order (for positional
        arguments); `known_ids` are the tasks of earlier rounds of this turn, which may be
        referenced and which new ids must exceed."""
        self._tools = {name: tuple(params) for name, params in tools.items()}
        self._ids = set(known_ids)
        self._last = max(self._ids, default=0)
        self._tasks: list[Task] = []
        self._thoughts: list[str] = []
        self._done = False
        self._joined = False
        self._buf = ""
        """Unconsumed text: the current line, from its start (a call keeps its whole text)."""
        self._pos = 0
        """Next index of `_buf` to scan."""
        self._skip_line = False
        """The current line can no longer be a task: only watch for its end."""
        self._call: _Call | None = None

    @property
    def done(self) -> bool:
        """True once the plan ended: `join()`, `<END_OF_PLAN>`, or `close()`."""
        return self._done

    @property
    def joined(self) -> bool:
        """True iff the planner wrote an explicit `join()`."""
        return self._joined

    @property
    def tasks(self) -> list[Task]:
        """All tasks yielded so far, in order."""
        return list(self._tasks)

    def feed(self, chunk: str) -> list[Task]:
        """Scan `chunk`; return the tasks it completed, in order (none once the plan is done)."""
        emitted = len(self._tasks)
        if not self._done:
            self._buf += chunk
            while not self._done and self._pos < len(self._buf):
                ch = self._buf[self._pos]
                self._pos += 1
                if self._call:
                    self._scan_call(ch, self._call)
                else:
                    self._scan_line(ch)
        return self._tasks[emitted:]

    def close(self) -> list[Task]:
        """End of stream: a call still open becomes an (invalid) task; the plan is joined."""
        emitted = len(self._tasks)
        if not self._done and self._call:
            self._end_call(self._call, len(self._buf))
        self._done = True
        return self._tasks[emitted:]

    def _scan_line(self, ch: str) -> None:
        """Outside a call: find the task header, remember thoughts, notice `<END_OF_PLAN>`."""
        if ch == "\n":
            thought = _THOUGHT.fullmatch(self._buf, 0, self._pos - 1)
            if thought and thought[1]:
                self._thoughts.append(thought[1])
            self._consume(self._pos)
            self._skip_line = False
        elif ch == "(" and not self._skip_line:
            if header := self._task_header(0):
                idx = int(header[1]) if header[1] else None
                self._call = _Call(idx, header[2], start=self._pos - 1)
            else:
                self._skip_line = True
        elif ch == ">" and self._buf.endswith(END_OF_PLAN, 0, self._pos):
            self._done = True

    def _scan_call(self, ch: str, call: _Call) -> None:
        """Inside a call: track string literals and brackets until the call's `)`."""
        if call.quote:
            if call.escaped:
                call.escaped = False
            elif ch == "\\":
                call.escaped, call.run = True, 0
            elif ch == call.quote[0]:
                call.run += 1
                if call.run == len(call.quote):
                    call.maybe_triple = ch if self._pos - 1 == call.opened else ""
                    call.quote = ""
            elif ch == "\n" and len(call.quote) == 1:
                self._end_call(call, self._pos - 1)  # unterminated string: the call is broken
                self._scan_line(ch)
            else:
                call.run = 0
            return
        maybe_triple, call.maybe_triple = call.maybe_triple, ""
        if ch == maybe_triple:
            call.quote, call.run = ch * 3, 0
        elif ch in "\"'":
            call.quote, call.run, call.opened = ch, 0, self._pos
        elif ch == "(" and call.line_start and self._task_header(call.line_start):
            self._end_call(call, call.line_start)  # a new task began: this call was never closed
            self._scan_line(ch)
        elif ch in _CLOSERS:
            call.closers.append(_CLOSERS[ch])
        elif ch in ")]}":
            if ch != call.closers.pop() or not call.closers:
                self._end_call(call, self._pos)  # complete, or a mismatched bracket `ast` reports
                self._skip_line = True
        elif ch == "$":
            call.bare_refs.append(self._pos - 1 - call.start)
        elif ch == "\n":
            call.line_start = self._pos

    def _task_header(self, line_start: int) -> re.Match[str] | None:
        """The header if the line so far is one that starts a task (an id, or `join`)."""
        header = _HEADER.fullmatch(self._buf, line_start, self._pos)
        return header if header and (header[1] or header[2] == JOIN) else None

    def _consume(self, end: int) -> None:
        self._buf = self._buf[end:]
        self._pos -= end

    def _end_call(self, call: _Call, end: int) -> None:
        """Turn `_buf[call.start:end]` into a task (or the end of the plan, for `join`)."""
        self._call = None
        thought = " ".join(self._thoughts) or None
        self._thoughts.clear()
        if call.name == JOIN:
            self._joined = self._done = True
        elif call.idx is not None:
            source = "_" + _quote_bare_refs(self._buf[call.start : end], call.bare_refs)
            task = self._task(call.idx, call.name, source, thought)
            self._tasks.append(task)
            self._ids.add(task["idx"])
            self._last = max(self._last, task["idx"])
        self._consume(end)

    def _task(self, idx: int, tool: str, source: str, thought: str | None) -> Task:
        """Parse and check one call; every problem found goes into `error`."""
        problems: list[str] = []
        params = self._tools.get(tool)
        if params is None:
            known = ", ".join(sorted(self._tools)) or "none"
            problems.append(f"unknown tool {tool!r} (known tools: {known})")
        args: dict[str, Any] = {}
        try:
            positional, keywords = _parse_call(source)
        except _PARSE_ERRORS as exc:
            problems.append(f"unparsable arguments: {_reason(exc)}")
        else:
            args = _bind(tool, params, positional, keywords, problems)
        if idx in self._ids:
            problems.append(f"duplicate id {idx}")
        elif idx <= self._last:
            problems.append(f"non-increasing id {idx} (must be greater than {self._last})")
        dependencies = self._dependencies(idx, args, problems)
        error = "; ".join(dict.fromkeys(problems)) or None
        return make_task(idx, tool, args, dependencies, thought, error)

    def _dependencies(self, idx: int, args: dict[str, Any], problems: list[str]) -> list[int]:
        """Ids of the existing tasks `args` reference; bad references are added to `problems`.

        Whole values and `${N}` are always references; a bare `$N` inside a longer string is one
        only if task N exists, so `"costs $100"` stays text. Every returned id exists, so a
        scheduler never waits on a task that will not come.
        """
        found: set[int] = set()

        def check(ref: int) -> None:
            if ref == idx:
                problems.append(f"self reference: ${ref}")
            elif ref in self._ids:
                found.add(ref)
            elif ref > idx:
                problems.append(f"forward reference: ${ref} (only earlier tasks can be used)")
            else:
                problems.append(f"missing reference: ${ref} (there is no task {ref})")

        def walk(value: Any) -> None:
            if isinstance(value, str):
                whole = is_whole_reference(value)
                if whole is not None:
                    check(whole)
                    return
                for match in REFERENCE.finditer(value):
                    ref = int(match[1] or match[2])
                    if match[1] or (ref in self._ids and ref != idx):
                        check(ref)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
            elif isinstance(value, dict):
                for item in value.values():
                    walk(item)

        walk(list(args.values()))
        return sorted(found)


def _quote_bare_refs(source: str, offsets: list[int]) -> str:
    """`context=[$1, ${2}]` -> `context=["$1", "${2}"]`: a bare reference is a whole value."""
    parts, last = [], 0
    for offset in offsets:
        if ref := _BARE_REFERENCE.match(source, offset):
            parts += [source[last:offset], f'"{ref[0]}"']
            last = ref.end()
    return "".join([*parts, source[last:]])


def _parse_call(source: str) -> tuple[list[Any], list[tuple[str, Any]]]:
    """The literal positional and keyword arguments of `_(...)`, via `ast` (never `eval`)."""
    call = ast.parse(source, mode="eval").body
    if not isinstance(call, ast.Call):
        raise SyntaxError("not a function call")
    positional = [_literal(node) for node in call.args]
    keywords = []
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ValueError(f"not a literal value: {_shorten(ast.unparse(keyword))}")
        keywords.append((keyword.arg, _literal(keyword.value)))
    return positional, keywords


def _literal(node: ast.expr) -> Any:
    """The node's literal value; tuples become lists so that args stay JSON-like."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"not a literal value: {_shorten(ast.unparse(node))}") from None
    return _json_like(value)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return exc.msg
    if isinstance(exc, RecursionError | MemoryError):
        return "too deeply nested"
    return _shorten(str(exc), 200)


def _json_like(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_like(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_like(item) for key, item in value.items()}
    return value


def _bind(
    tool: str,
    params: tuple[str, ...] | None,
    positional: list[Any],
    keywords: list[tuple[str, Any]],
    problems: list[str],
) -> dict[str, Any]:
    """Name the arguments after the tool's parameters (unknown tool: keep only keywords)."""
    if params is None:
        return dict(keywords)
    if len(positional) > len(params):
        problems.append(
            f"too many positional arguments: {tool}() takes {len(params)}, got {len(positional)}"
        )
    args = dict(zip(params, positional, strict=False))
    for name, value in keywords:
        if name in args:
            problems.append(f"argument {name!r} given twice")
            continue
        if name not in params:
            problems.append(
                f"unknown argument {name!r} for {tool}() (parameters: {', '.join(params)})"
            )
        args[name] = value
    return args


def parse_plan(
    text: str, tools: Mapping[str, Sequence[str]], *, known_ids: Iterable[int] = ()
) -> list[Task]:
    """All tasks of a complete plan text (the join marker itself is not a task)."""
    parser = PlanParser(tools, known_ids=known_ids)
    return parser.feed(text) + parser.close()


async def aparse(
    chunks: AsyncIterable[str], tools: Mapping[str, Sequence[str]], *, known_ids: Iterable[int] = ()
) -> AsyncIterator[Task]:
    """Yield tasks from a stream of text chunks as soon as each one is complete.

    The whole stream is consumed (text after `join()` is ignored, not cut off), so the caller
    can still collect the full planner output from the same source.
    """
    parser = PlanParser(tools, known_ids=known_ids)
    async for chunk in chunks:
        for task in parser.feed(chunk):
            yield task
    for task in parser.close():
        yield task
