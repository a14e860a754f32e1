"""Reader of a plan streamed as native tool calls (the tool-calling planner, `planner="tools"`).

The planner binds the tools plus `join` and the model answers with one tool call per task, in
order, then `join`. The k-th call of the plan is task `next_id + k - 1` (1 for a first plan):
ids are positional, so the model never writes them, and references to earlier results are
`"$N"` strings inside the JSON arguments (`"$1"`, `"${2}"`, `"$1.price"`, `"see $3[0].name"`).

`ToolPlanReader` is fed the streamed `AIMessageChunk`s and returns each task the moment its call
is complete, so the task fetching unit starts it while the model still writes the next calls:

- its JSON arguments close: the reader tracks the braces and brackets of the arguments outside
  string literals (escapes included) as they stream, each character looked at once;
- else (arguments that are not a JSON object or array, or never close) when the next call's
  first piece arrives (see below), or at the end of the stream.

A task is decided at a character of the stream, never at a chunk boundary, so any chunking of
the same calls yields the same tasks. Checking is the text parser's (`PlanParser.call`): unknown
tool, unknown argument names, references (forward, self, missing, too long) become the task's
`error` with the same messages; so do arguments that are not JSON or not a JSON object. The
message's text before a call is that call's thought, like a `Thought:` line (usually the text
before the first call). A call to `join` ends the plan: later calls are ignored. A message
without any tool call is an empty plan, which the joiner answers.

The call a streamed piece (`ToolCallChunk`: name, args, id, index, any of them None) belongs to:
the one with its id, when the call has one; else the one at its index (LangChain's `merge_lists`
joins chunks alike: same index, ids not in conflict). A piece with neither continues the call of
the piece before, unless it carries a name: providers that send neither stream a call's name
first, then its arguments. A piece of a call already handed over (its id, or an index seen
before, again: providers that re-send a finished call, whole or in pieces) never makes a second
task, so no tool runs twice: it is compared with what was read, and other content is logged as a
warning, not run.

A model that does not stream hands over one whole `AIMessage`: its parsed `tool_calls` (then
its `invalid_tool_calls`) are read the same way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.tools import BaseTool, StructuredTool

from llmcompiler_graph.core.parser import PlanParser
from llmcompiler_graph.core.plan import JOIN, Task

logger = logging.getLogger(__name__)

JOIN_DESCRIPTION = (
    "Ends the plan. Call it last, once, after every other call of the plan; it collects their "
    "results to answer the user or to ask for a new plan."
)


def _join() -> None:
    """Ends the plan (never run: the planner reads the call, the tool is not invoked)."""


def join_tool() -> BaseTool:
    """The `join` function the tool-calling planner binds next to the tools (no arguments)."""
    return StructuredTool.from_function(_join, name=JOIN, description=JOIN_DESCRIPTION)


_EVENTS = re.compile(r'[{}\[\]"]')
"""Outside string literals: what can change the nesting of the arguments."""
_STRING_EVENTS = re.compile(r'["\\]')
"""Inside a string literal: its end, or an escape."""


@dataclass
class _Call:
    """One tool call being received: its name and JSON arguments so far, and the scanner's
    state over them (nesting depth, inside a string, after a backslash)."""

    index: int | None
    id: str | None
    thought: str | None
    name: str = ""
    pieces: list[str] = field(default_factory=list)
    length: int = 0
    """Characters of arguments received so far."""
    started: bool = False
    """The first non-blank character of the arguments was seen."""
    nested: bool = False
    """The arguments start with `{` or `[`: the bracket that closes it completes the call."""
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    end: int | None = None
    """Where the arguments closed (characters from their start), once they did."""
    handed: bool = False
    """Handed to the parser: later pieces of this call are ignored."""
    task: int | None = None
    """The id of the task it became (None: `join`, or a call after the plan ended)."""

    @property
    def arguments(self) -> str:
        """The arguments' text up to where they closed (all of it if they never did)."""
        return "".join(self.pieces)[: self.end]


@dataclass
class _Resend:
    """A call already handed over, sent again: gathered to be compared with what was read,
    never a task."""

    call: _Call
    name: str = ""
    pieces: list[str] = field(default_factory=list)


class ToolPlanReader:
    """Feed it the planner's streamed message chunks; it returns each task as soon as its tool
    call is complete (see the module docstring).

    `tools` and `known_ids` are `PlanParser`'s: parameter names by tool, and the ids of earlier
    rounds of this turn (the plan's first call takes the next id)."""

    def __init__(
        self, tools: Mapping[str, Sequence[str]], *, known_ids: Iterable[int] = ()
    ) -> None:
        self._parser = PlanParser(tools, known_ids=known_ids)
        self._call: _Call | None = None
        """The call being read: the latest new one."""
        self._ids: dict[str, _Call] = {}
        self._indexes: dict[int, _Call] = {}
        """Every call of the plan by id, and by index (the latest call at each index)."""
        self._last: _Call | _Resend | None = None
        """Where the previous piece went: a piece without id, index and name continues it."""
        self._text: list[str] = []
        """Message text since the last call started: the next call's thought."""
        self._completed: list[Task] = []
        """Tasks completed by the chunk being read."""

    @property
    def done(self) -> bool:
        """True once the plan ended: a `join` call, or `close()`."""
        return self._parser.done

    @property
    def joined(self) -> bool:
        """True iff the model called `join`."""
        return self._parser.joined

    @property
    def tasks(self) -> list[Task]:
        """All tasks returned so far, in order."""
        return self._parser.tasks

    def feed(self, message: BaseMessage) -> list[Task]:
        """Read one streamed chunk (or a whole message); return the tasks it completed."""
        if self.done:
            return []
        if text := message.text:
            self._text.append(text)
        if isinstance(message, AIMessageChunk):
            for chunk in message.tool_call_chunks:
                self._take(
                    chunk.get("index"), chunk.get("id"), chunk.get("name"), chunk.get("args")
                )
        elif isinstance(message, AIMessage):  # whole, from a model that does not stream
            calls = [(c["id"], c["name"], json.dumps(c["args"])) for c in message.tool_calls]
            calls += [(c["id"], c["name"], c["args"]) for c in message.invalid_tool_calls]
            for index, (call_id, name, args) in enumerate(calls):
                self._take(index, call_id, name, args)
        return self._returned()

    def close(self) -> list[Task]:
        """End of the stream: the call still open is complete; the plan ends."""
        self._complete()
        self._compare()
        self._parser.close()
        return self._returned()

    def _returned(self) -> list[Task]:
        """The tasks completed since the last call (kept apart: no copy of the whole plan)."""
        completed, self._completed = self._completed, []
        return completed

    def _take(
        self, index: int | None, call_id: str | None, name: str | None, args: str | None
    ) -> None:
        """One piece of a tool call, to the call it belongs to (`_owner`). A new call completes
        the previous one; a piece of a call handed over is a re-send (`_Resend`), and so is a
        name for the current call once handed (a whole call sent twice in a row)."""
        if self.done:
            return
        call = self._owner(index, call_id, name)
        if call is None:
            self._complete()
            if self.done:
                return
            thought = " ".join("".join(self._text).split()) or None
            self._text.clear()
            call = self._call = _Call(index, call_id, thought)
            if index is not None:
                self._indexes[index] = call
        if call_id:  # the call's own id, or the first one it gets
            call.id, self._ids[call_id] = call_id, call
        last = self._last
        if isinstance(last, _Resend) and last.call is call:
            target: _Call | _Resend = last
        elif call is self._call and not (call.handed and name):
            target = call
        else:
            target = _Resend(call)
        if target is not last:
            self._compare()
            self._last = target
        if isinstance(target, _Resend):
            target.name += name or ""
            target.pieces += [args] if args else []
            return
        call.name += name or ""
        if args and not call.handed:
            self._scan(call, args)

    def _owner(self, index: int | None, call_id: str | None, name: str | None) -> _Call | None:
        """The call a piece belongs to (see the module docstring), None for a new call."""
        if call_id and call_id in self._ids:
            return self._ids[call_id]
        if index is not None:
            call = self._indexes.get(index)
        elif name:
            return None
        else:
            call = self._last.call if isinstance(self._last, _Resend) else self._last
        if call is None or (call_id and call.id):
            return None  # an id the call does not have: another call
        return call

    def _compare(self) -> None:
        """Once a re-sent call is over: warn if it differs from the call as it was read (name,
        or decoded arguments). The task stays as it was first read, and runs once."""
        resend = self._last
        if not isinstance(resend, _Resend):
            return
        call, args = resend.call, "".join(resend.pieces)
        renamed = bool(resend.name) and resend.name != call.name
        if renamed or (args.strip() and _arguments(args) != _arguments(call.arguments)):
            logger.warning(
                "the model sent tool call %s (task %s) again with other content, ignored: "
                "%.100s(%.300s), first read as %.100s(%.300s)",
                call.id or f"#{call.index}",
                call.task,
                resend.name or call.name,
                args,
                call.name,
                call.arguments,
            )

    def _scan(self, call: _Call, piece: str) -> None:
        """Track the arguments' nesting over `piece`; complete the call where they close."""
        base, i = call.length, 0
        call.pieces.append(piece)
        call.length += len(piece)
        if not call.started:
            i = len(piece) - len(piece.lstrip())
            if i == len(piece):
                return
            call.started, call.nested = True, piece[i] in "{["
        if not call.nested:
            return  # a scalar: complete at the next call or at the end
        while i < len(piece):
            if call.escaped:
                call.escaped, i = False, i + 1
                continue
            match = (_STRING_EVENTS if call.in_string else _EVENTS).search(piece, i)
            if match is None:
                return
            j = match.start()
            ch = piece[j]
            if ch == "\\":
                call.escaped = True
            elif ch == '"':
                call.in_string = not call.in_string
            elif ch in "{[":
                call.depth += 1
            else:
                call.depth -= 1
                if call.depth == 0:
                    call.end = base + j + 1
                    self._complete()
                    return
            i = j + 1

    def _complete(self) -> None:
        """Hand the current call to the parser, once: its arguments up to where they closed
        (all of them if they never did)."""
        call = self._call
        if call is None or call.handed or self.done:
            return
        call.handed = True
        text = call.arguments  # kept in one piece: what a re-send is checked against
        call.pieces, call.end = [text], None
        args, problems = _arguments(text)
        task = self._parser.call(call.name, args, thought=call.thought, problems=problems)
        if task is not None:
            call.task = task["idx"]
            self._completed.append(task)


def _arguments(text: str) -> tuple[dict[str, Any], list[str]]:
    """The keyword arguments in a call's JSON text (blank: none), or the problem with it."""
    if not text.strip():
        return {}, []
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, [f"unparsable arguments: {exc.msg} in JSON (at character {exc.pos})"]
    except (ValueError, RecursionError) as exc:  # an integer too long, nesting too deep
        reason = "too deeply nested" if isinstance(exc, RecursionError) else str(exc)[:200]
        return {}, [f"unparsable arguments: {reason}"]
    if not isinstance(value, dict):
        return {}, [f"unparsable arguments: a JSON {_kind(value)}, not an object"]
    return value, []


def _kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for the error."""
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return kinds.get(type(value), "null")
