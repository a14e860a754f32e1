"""Incremental parser for the planner's text plan language (docs/plan-language.md).

The planner streams lines such as `3. math("...", context=[$1, $2])`. `PlanParser` turns each one
into a `Task` the moment its call's closing parenthesis arrives, so the scheduler can dispatch it
while the rest of the plan is still being written. Text is scanned with explicit state (string
literal, open brackets) and every decision is taken at a character of the stream, never at a chunk
boundary, so any chunking of the stream yields exactly the tasks `parse_plan` finds in the whole
text. Bad input never raises: it becomes a task's `error`.

CPU is linear in the input, however it is chunked: the scanner jumps from one character that can
change its state to the next (a regex search per event, not a Python step per character), keeps
the text it still needs as the list of chunks received (never concatenated or rescanned from its
start), matches a line's task header once (at its first `(`) and its `Thought:` once (at its end).

Plans as models write them:

- Ids. A task's id must be new and greater than every earlier id of the turn. A plan whose first
  task's id is not greater than the largest id of earlier rounds (`known_ids`), e.g. a replan told
  to continue at 4 that starts again at 1, or a plan numbered from 0, is renumbered: every id of
  this plan is shifted by the same offset so that the plan starts right after the earlier rounds
  (at 1 for a first plan), and every reference to a task of this plan is rewritten in `args`
  (`"$1"` -> `"$4"`). The planner's numbers are not kept anywhere, and the thought is kept as
  written. In a renumbered plan `$k` means task k of this plan if this plan already defined a task
  k, else task k of an earlier round; any other `$k` (forward, self or missing) is reported with
  its shifted id. Later tasks of the plan get the same offset and the usual checks (duplicate,
  non-increasing).
- An id or a reference with more digits than Python converts to `int` (4300) is an error on its
  task (a reference of any kind, even bare text, since it could never be resolved); a task whose
  id is that long gets the next free id. A literal integer argument that long is an argument error.
- A call whose `)` is missing at the end of its line is closed there when the next line starts a
  task (`2. search(` or `join(`) and only the call's own parenthesis is open; with a bracket or a
  string still open it stays an error (`'[' was never closed`).
- References. `$N` / `${N}` may end in a path into the observation (`$1.price`, `$2[0].title`,
  `${3}.items[2].name`, `$1["key"]`; rules in `core.plan`), bare in the argument list, as a whole
  quoted value or inside a longer string; what counts as a reference does not depend on the path
  (`${N}` and whole values always, a bare `$N` inside text only if task N exists). The path is kept
  as written in `args` (renumbering rewrites only the id) and `dependencies` are the task ids. In
  text, `$1.` before a non-letter and `$1.50` are `$1` then text.
- Unquoted text. For a tool with exactly one parameter, a closed call whose arguments do not parse
  as literals, `search(Austin Powers International Man of Mystery)`, passes their raw text,
  stripped, as that parameter; so does a call whose apostrophe opened a string, `search(Reagan's
  birthplace)`, if its line ends with `)`. Not when the text looks like keyword arguments
  (`name=`), starts like a literal (a quote or a bracket), or the arguments parse fine. Only
  parameter names are known here, not their types, so a tool with several parameters never gets
  this.

The checks of a call (tool, argument names, ids, references) do not depend on how it was
written: `PlanParser.call(tool, args)` applies them, with the same messages, to a call that
arrived as a tool name and keyword arguments (the tool-calling planner, `core.tool_plan`).
"""

from __future__ import annotations

import ast
import re
import sys
from bisect import bisect_right
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_graph.core.plan import JOIN, REFERENCE, WHOLE_REFERENCE, Task, make_task
from llmcompiler_graph.core.values import shorten

END_OF_PLAN = "<END_OF_PLAN>"
"""What the planner writes after the plan; also ends the plan when `join()` is missing."""

_HEADER = re.compile(r"\s*(?:(?:step\s*)?(\d+)\s*[.):]\s*)?([A-Za-z_][\w.\-]*)\s*\(", re.IGNORECASE)
"""A task line up to its call's `(`: `3. math(`, `3) math(`, `Step 3: math(`, `join(`.

The name may hold `-` and `.` (valid tool names that are not Python identifiers): only the
argument list goes to `ast`. A header holds one `(`, its last character, so only a line's first
`(` can complete one."""

_THOUGHT = re.compile(r"\s*[*_]*thoughts?[*_]*\s*[:\-–—][*_]*", re.IGNORECASE)
"""The start of `Thought: ...`, `thought - ...`, `**Thought:** ...`; the rest, stripped, is the
text. (No pattern for the text itself: `(.*?)\\s*` is quadratic in a run of spaces.)"""

_LINE_EVENTS = re.compile(r"[\n(>]")
"""Outside a call, what matters: the end of the line, a header's `(`, `<END_OF_PLAN>`'s `>`."""
_SKIP_EVENTS = re.compile(r"[\n>]")
"""Outside a call, once the line can no longer start a task."""
_CALL_EVENTS = re.compile(r"[\n\"'$()\[\]{}]")
"""Inside a call, outside string literals."""
_STRING_EVENTS = {
    '"': re.compile(r'[\n"\\]'),
    "'": re.compile(r"[\n'\\]"),
    '"""': re.compile(r'["\\]'),
    "'''": re.compile(r"['\\]"),
}
"""Inside a string literal: its delimiter, an escape, and (single-quoted only) the newline."""

_KEYWORD_LIKE = re.compile(r"(?<![\w.])[A-Za-z_]\w*\s*=(?!=)")
"""`name=` somewhere in unquoted text: keyword arguments, not text (`a == b` is text)."""
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_PARSE_ERRORS = (SyntaxError, ValueError, TypeError, RecursionError, MemoryError)
"""What `ast` raises on bad input; the last two mean "nested too deeply" (e.g. `- - - ... 1`)."""
_MAX_DIGITS = sys.int_info.default_max_str_digits
"""Python's limit on digits converted to `int` (4300): longer ids and references are errors."""


def _number(digits: str) -> int | None:
    """`int(digits)`, or None when it has too many digits for Python to convert."""
    if len(digits) > _MAX_DIGITS:
        return None
    try:
        return int(digits)
    except ValueError:  # the interpreter's limit was lowered (`sys.set_int_max_str_digits`)
        return None


def _digits(digits: str) -> str:
    return f"{digits[:10]}... ({len(digits)} digits)"


@dataclass
class _Call:
    """Scanning state of a call being received; its argument list starts at stream offset `start`.

    All positions are offsets in the whole stream, so they do not depend on chunking."""

    digits: str | None
    """The id as written (None for an unnumbered `join(`)."""
    name: str
    start: int
    closers: list[str] = field(default_factory=lambda: [")"])
    line_start: int | None = None
    """Where the call's current line begins, when it is not the task's own line."""
    line_checked: bool = False
    """The current line's first `(` was seen: a later one cannot start a task."""
    quote: str = ""
    """The open string literal's delimiter (`"`, `'`, `\"\"\"`, `'''`), empty outside strings."""
    opened: int = 0
    escaped: bool = False
    run: int = 0
    """Consecutive delimiter characters seen, to close a triple-quoted string."""
    last_quote: int = -1
    """Where the last delimiter character was seen (a gap resets `run`)."""
    maybe_triple: str = ""
    """Set right after an empty string `""`: a third quote makes it the start of `\"\"\"`."""
    bare_refs: list[int] = field(default_factory=list)
    """Offsets of `$` outside string literals, quoted before handing to `ast`."""


class PlanParser:
    """Feed it chunks of streamed planner output; it returns each Task as soon as it is complete."""

    def __init__(
        self, tools: Mapping[str, Sequence[str]], *, known_ids: Iterable[int] = ()
    ) -> None:
        """`tools` maps each tool name to its parameter names in schema order (for positional
        arguments); `known_ids` are the tasks of earlier rounds of this turn, which may be
        referenced and which new ids must exceed (a plan that does not is renumbered)."""
        self._tools = {name: tuple(params) for name, params in tools.items()}
        self._known = frozenset(known_ids)
        self._ids = set(self._known)
        """Ids in use (earlier rounds and this plan, as renumbered)."""
        self._last = max(self._ids, default=0)
        self._plan_ids: set[int] = set()
        """This plan's ids as the planner wrote them (what its references mean)."""
        self._offset: int | None = None
        """Added to this plan's ids; decided by its first task (0 unless it restarted)."""
        self._tasks: list[Task] = []
        self._thoughts: list[str] = []
        self._done = False
        self._joined = False
        self._chunks: list[str] = []
        self._starts: list[int] = []
        """Stream offset of each chunk in `_chunks`."""
        self._head = 0
        """First chunk of `_chunks` still needed (those before it end before `_mark`)."""
        self._end = 0
        """Stream offset just past everything fed."""
        self._mark = 0
        """Where the unconsumed text begins: the current line, or the rest of it after a call."""
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
        if not self._done and chunk:
            base = self._end
            self._chunks.append(chunk)
            self._starts.append(base)
            self._end += len(chunk)
            i = 0
            while not self._done and i < len(chunk):
                if self._call is None:
                    i = self._scan_line(chunk, i, base)
                elif self._call.quote:
                    i = self._scan_string(chunk, i, base, self._call)
                else:
                    i = self._scan_call(chunk, i, base, self._call)
        return self._tasks[emitted:]

    def close(self) -> list[Task]:
        """End of stream: a call still open becomes an (invalid) task; the plan is joined."""
        emitted = len(self._tasks)
        if not self._done and (call := self._call):
            self._end_call(call, self._end, "broken" if call.quote else "")
        self._done = True
        return self._tasks[emitted:]

    # --- scanning ----------------------------------------------------------------------------

    def _scan_line(self, chunk: str, i: int, base: int) -> int:
        """Outside a call: find the task header, remember thoughts, notice `<END_OF_PLAN>`."""
        match = (_SKIP_EVENTS if self._skip_line else _LINE_EVENTS).search(chunk, i)
        if match is None:
            return len(chunk)
        j = match.start()
        ch, at = chunk[j], base + j
        if ch == "\n":
            line = self._text(self._mark, at)
            thought = _THOUGHT.match(line)
            if thought and (text := line[thought.end() :].strip()):
                self._thoughts.append(text)
            self._consume(at + 1)
            self._skip_line = False
        elif ch == "(":
            if header := self._task_header(self._mark, at + 1):
                self._call = _Call(header[1], header[2], start=at)
            else:
                self._skip_line = True
        elif at + 1 - self._mark >= len(END_OF_PLAN):  # ">"
            self._done = self._text(at + 1 - len(END_OF_PLAN), at + 1) == END_OF_PLAN
        return j + 1

    def _scan_string(self, chunk: str, i: int, base: int, call: _Call) -> int:
        """Inside a string literal: find its end (or the newline that breaks a one-line string)."""
        if call.escaped:
            call.escaped = False
            return i + 1
        match = _STRING_EVENTS[call.quote].search(chunk, i)
        if match is None:
            return len(chunk)
        j = match.start()
        ch, at = chunk[j], base + j
        if ch == "\\":
            call.escaped, call.run = True, 0
        elif ch == "\n":  # unterminated string: the call is broken; the newline ends the line
            self._end_call(call, at, "broken")
            return j
        else:
            call.run = call.run + 1 if call.last_quote == at - 1 else 1
            call.last_quote = at
            if call.run == len(call.quote):
                call.maybe_triple = ch if at == call.opened else ""
                call.quote = ""
        return j + 1

    def _scan_call(self, chunk: str, i: int, base: int, call: _Call) -> int:
        """Inside a call, outside strings: track string literals and brackets until its `)`."""
        if call.maybe_triple:
            maybe_triple, call.maybe_triple = call.maybe_triple, ""
            if chunk[i] == maybe_triple:
                call.quote, call.run, call.last_quote = maybe_triple * 3, 0, -1
                return i + 1
        match = _CALL_EVENTS.search(chunk, i)
        if match is None:
            return len(chunk)
        j = match.start()
        ch, at = chunk[j], base + j
        if ch in "\"'":
            call.quote, call.run, call.last_quote, call.opened = ch, 0, -1, at + 1
        elif ch == "(" and call.line_start is not None and not call.line_checked:
            call.line_checked = True
            if header := self._task_header(call.line_start, at + 1):
                self._new_task_line(call, header, at)
            else:
                call.closers.append(")")
        elif ch in _CLOSERS:
            call.closers.append(_CLOSERS[ch])
        elif ch in ")]}":
            if ch != call.closers.pop():  # a mismatched bracket: `ast` reports it
                self._end_call(call, at + 1, "")
                self._skip_line = True
            elif not call.closers:  # complete
                self._end_call(call, at + 1, "closed")
                self._skip_line = True
        elif ch == "$":
            call.bare_refs.append(at)
        else:  # "\n"
            call.line_start, call.line_checked = at + 1, False
        return j + 1

    def _new_task_line(self, call: _Call, header: re.Match[str], at: int) -> None:
        """A line of a call that was never closed starts a new task: end the call first."""
        assert call.line_start is not None
        if call.closers == [")"]:  # only its `)` is missing: close it at the end of its line
            self._end_call(call, call.line_start - 1, "unclosed")
        else:
            self._end_call(call, call.line_start, "")
        if not self._done:
            self._call = _Call(header[1], header[2], start=at)

    def _task_header(self, line_start: int, end: int) -> re.Match[str] | None:
        """The header if the line so far is one that starts a task (an id, or `join`)."""
        header = _HEADER.fullmatch(self._text(line_start, end))
        return header if header and (header[1] or header[2] == JOIN) else None

    # --- the text kept -----------------------------------------------------------------------

    def _text(self, start: int, end: int) -> str:
        """The stream's text from `start` to `end` (both at or after `_mark`)."""
        if start >= end:
            return ""
        chunks, starts = self._chunks, self._starts
        k = bisect_right(starts, start, self._head) - 1
        parts = []
        while start < end:
            chunk, offset = chunks[k], starts[k]
            parts.append(chunk[start - offset : end - offset])
            start = offset + len(chunk)
            k += 1
        return "".join(parts)

    def _consume(self, end: int) -> None:
        """Forget the text before `end`."""
        self._mark = end
        chunks, starts = self._chunks, self._starts
        head = self._head
        while head < len(chunks) and starts[head] + len(chunks[head]) <= end:
            head += 1
        if head > 64 and head * 2 > len(chunks):
            del chunks[:head], starts[:head]
            head = 0
        self._head = head

    # --- tasks -------------------------------------------------------------------------------

    def _end_call(self, call: _Call, end: int, how: str) -> None:
        """Turn the call's text up to `end` into a task (or the end of the plan, for `join`).

        `how` the call ended: `closed` by its `)`, `unclosed` (a `)` is added), `broken` by a
        quote left open, or `` (a mismatched or missing bracket: only `ast` can explain)."""
        self._call = None
        thought = " ".join(self._thoughts) or None
        self._thoughts.clear()
        if call.name == JOIN:
            self._joined = self._done = True
        elif call.digits is not None:
            text = self._text(call.start, end)
            offsets = [at - call.start for at in call.bare_refs if at < end]
            source = "_" + _quote_bare_refs(text, offsets) + ("\n)" if how == "unclosed" else "")
            self._task(call.digits, call.name, source, _raw_arguments(text, how), thought)
        self._consume(end)

    def _task(
        self, digits: str, tool: str, source: str, raw: str | None, thought: str | None
    ) -> Task:
        """Parse the arguments of one call of the text plan, then check it (`_checked`)."""
        params = self._tools.get(tool)
        positional: list[Any] = []
        keywords: list[tuple[str, Any]] = []
        problems: list[str] = []
        try:
            positional, keywords = _parse_call(source)
        except _PARSE_ERRORS as exc:
            text = _unquoted_text(raw) if params is not None and len(params) == 1 else None
            if text is None:
                problems.append(f"unparsable arguments: {_reason(exc)}")
            else:
                keywords = [(params[0], text)]
        return self._checked(digits, _number(digits), tool, positional, keywords, problems, thought)

    def call(
        self,
        tool: str,
        args: Mapping[str, Any],
        *,
        thought: str | None = None,
        problems: Iterable[str] = (),
    ) -> Task | None:
        """Check one complete call that arrived as a tool name and keyword arguments (a native
        tool call of the tool-calling planner, see `core.tool_plan`) exactly as a plan line.

        It is the plan's next task: ids are positional, one more than the last id of the turn.
        `problems` are what the caller found wrong while reading the arguments (malformed JSON);
        they lead the task's `error`, as a parse error does. A call to `join` ends the plan and
        returns None, as does any call once the plan is done.
        """
        if self._done:
            return None
        if tool == JOIN:
            self._joined = self._done = True
            return None
        number = self._last + 1 - (self._offset or 0)
        keywords = list(args.items())
        return self._checked(str(number), number, tool, [], keywords, list(problems), thought)

    def _checked(
        self,
        digits: str,
        number: int | None,
        tool: str,
        positional: list[Any],
        keywords: list[tuple[str, Any]],
        problems: list[str],
        thought: str | None,
    ) -> Task:
        """Check one call and add it to the plan: every problem found goes into `error`.

        `digits` is the id as written (`number` its value, None when too long); `problems`
        are those found reading the arguments."""
        params = self._tools.get(tool)
        if params is None:
            known = ", ".join(sorted(self._tools)) or "none"
            problems.insert(0, f"unknown tool {tool!r} (known tools: {known})")
        args = _bind(tool, params, positional, keywords, problems)
        if self._offset is None:
            base = max(self._known, default=0)
            self._offset = base + 1 - number if number is not None and number <= base else 0
        if number is None:
            idx = self._last + 1
            problems.append(f"task id too long: {_digits(digits)}")
        else:
            idx = number + self._offset
            if idx in self._ids:
                problems.append(f"duplicate id {idx}")
            elif idx <= self._last:
                problems.append(f"non-increasing id {idx} (must be greater than {self._last})")
        args, dependencies = self._references(idx, args, problems)
        if number is not None:
            self._plan_ids.add(number)
        error = "; ".join(dict.fromkeys(problems)) or None
        task = make_task(idx, tool, args, dependencies, thought, error)
        self._tasks.append(task)
        self._ids.add(idx)
        self._last = max(self._last, idx)
        return task

    def _references(
        self, idx: int, args: dict[str, Any], problems: list[str]
    ) -> tuple[dict[str, Any], list[int]]:
        """`args` with references renumbered, and the ids of the existing tasks they reference.

        Whole values and `${N}` are always references; a bare `$N` inside a longer string is one
        only if task N exists, so `"costs $100"` stays text. Every returned id exists, so a
        scheduler never waits on a task that will not come. Bad references go to `problems`.
        """
        found: set[int] = set()
        offset = self._offset or 0

        def exists(ref: int) -> bool:
            return ref in self._plan_ids or ref in self._known

        def target(ref: int) -> int:
            """The id `$ref` means (renumbered unless it is an earlier round's task)."""
            return ref if ref in self._known and ref not in self._plan_ids else ref + offset

        def check(ref: int) -> int:
            new = target(ref)
            if new == idx:
                problems.append(f"self reference: ${new}")
            elif exists(ref):
                found.add(new)
            elif new > idx:
                problems.append(f"forward reference: ${new} (only earlier tasks can be used)")
            else:
                problems.append(f"missing reference: ${new} (there is no task {new})")
            return new

        def reference(match: re.Match[str], whole: bool) -> str:
            braced, bare = match[1], match[2]
            ref = _number(braced or bare)
            if ref is None:
                problems.append(f"reference too long: ${_digits(braced or bare)}")
                return match[0]
            if not (whole or braced or (exists(ref) and target(ref) != idx)):
                return match[0]  # text, such as a price
            new = check(ref)
            path = match[3]
            return match[0] if new == ref else f"${{{new}}}{path}" if braced else f"${new}{path}"

        def visit(value: Any) -> Any:
            if isinstance(value, str):
                if WHOLE_REFERENCE.fullmatch(value):
                    ref = REFERENCE.search(value)
                    assert ref is not None
                    return value[: ref.start()] + reference(ref, True) + value[ref.end() :]
                return REFERENCE.sub(lambda match: reference(match, False), value)
            if isinstance(value, list):
                return [visit(item) for item in value]
            if isinstance(value, dict):
                return {key: visit(item) for key, item in value.items()}
            return value

        args = {name: visit(value) for name, value in args.items()}
        return args, sorted(found)


def _raw_arguments(text: str, how: str) -> str | None:
    """The argument list as written, without its parentheses, if the call was closed (`text`
    starts at its `(`); a call broken by a quote counts when its text ends with `)`: `(it's)`."""
    if how == "closed":
        return text[1:-1]
    if how == "unclosed":
        return text[1:]
    if how == "broken":
        text = text.rstrip()
        return text[1:-1] if text.endswith(")") else None
    return None


def _unquoted_text(raw: str | None) -> str | None:
    """`raw`, stripped, if it reads as one unquoted text argument rather than broken literals."""
    if raw is None:
        return None
    text = raw.strip()
    if not text or text[0] in "\"'([{" or _KEYWORD_LIKE.search(text):
        return None
    return text


def _quote_bare_refs(source: str, offsets: list[int]) -> str:
    """`context=[$1, ${2}.items[0]]` -> `context=['$1', '${2}.items[0]']`: a bare reference, path
    included, is a whole value."""
    parts, last = [], 0
    for offset in offsets:
        if offset >= last and (ref := REFERENCE.match(source, offset)):
            parts += [source[last:offset], repr(ref[0])]
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
            raise ValueError(f"not a literal value: {shorten(ast.unparse(keyword), 60)}")
        keywords.append((keyword.arg, _literal(keyword.value)))
    return positional, keywords


def _literal(node: ast.expr) -> Any:
    """The node's literal value; tuples become lists so that args stay JSON-like."""
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"not a literal value: {shorten(ast.unparse(node), 60)}") from None
    return _json_like(value)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return exc.msg
    if isinstance(exc, RecursionError | MemoryError):
        return "too deeply nested"
    return shorten(str(exc), 200)


def _json_like(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json_like(item) for item in value]
    if isinstance(value, dict):
        return {_printable(key): _json_like(item) for key, item in value.items()}
    return _printable(value)


def _printable(value: Any) -> Any:
    """`value`, unless it is an integer too long to print (JSON, logs and prompts need digits)."""
    if isinstance(value, int) and value.bit_length() > _MAX_DIGITS * 3:
        try:
            str(value)
        except ValueError:
            raise ValueError(f"integer too large (more than {_MAX_DIGITS} digits)") from None
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
