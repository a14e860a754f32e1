"""The plan's data model: tasks, observations and `$N` references.

Everything here is plain JSON-like data (TypedDicts of str / int / list / dict) so that it lives in
graph state unchanged: checkpointers, the LangGraph server and Studio can store and show it.

A task's `args` keep references as the planner wrote them (`"$1"`, `"${1}"`, or inside a longer
string); its `dependencies` list which ids are real references. `resolve_args` substitutes them at
dispatch time from the observations: a whole-value reference receives the typed observation, a
reference inside a longer string receives its text.

A reference may end in a path into the observation: `$1.price`, `$2[0].title`,
`${3}.items[2].name`, `$1["unit price"]`, `$1['k']`, `$2[-1]`. Steps follow the id with no space:
`.name` (an ASCII identifier), `[int]` (negative counts from the end, as in Python), `["key"]` /
`['key']` (no quote of the same kind, backslash or newline inside). Anything else ends the
reference, so in text `"costs $1."` and `"$1 ."` are `$1` then text, and `"$1.50"` is `$1` then
`.50` (a digit after the dot is never a field): like `$100`, the whole thing is text unless task 1
is a reference. A letter right after the dot is always a step: write `"$1. Then"`, not
`"$1.Then"`. The path does not change `dependencies` (still task ids). At dispatch the path is
walked into the observation's value (see `walk_path`): a whole-value reference receives the typed
value at the path, one inside a longer string its text (`as_text`). A path that does not resolve
raises `PathError`, which the scheduler records as that task's error observation; nothing is
guessed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

from langchain_core.messages import HumanMessage

from llmcompiler_graph.core.values import shorten, to_state

JOIN = "join"
"""The reserved tool name that ends a plan."""

_STEP = r"""\.[A-Za-z_][A-Za-z0-9_]*|\[-?\d+\]|\["[^"\\\n]*"\]|\['[^'\\\n]*'\]"""
"""One path step: `.name`, `[0]` / `[-1]`, `["key"]`, `['key']`."""

REFERENCE = re.compile(rf"\$(?:\{{(\d+)\}}|(\d+))((?:{_STEP})*)")
"""`${N}` (group 1) or `$N` (group 2), then its path (group 3, possibly empty); `$N` is greedy so
`$10` never matches task 1."""

WHOLE_REFERENCE = re.compile(rf"\s*{REFERENCE.pattern}\s*")
"""A value that is nothing but one reference, path included (matched with `fullmatch`)."""

_PATH_STEP = re.compile(
    r"""\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+)\]|\["([^"\\\n]*)"\]|\['([^'\\\n]*)'\]"""
)


class PathError(ValueError):
    """A reference's path does not resolve in its observation (missing key, index out of range,
    a value without fields). Raised at dispatch, it becomes that task's error observation."""


class Task(TypedDict):
    """One step of a plan: a tool call whose arguments may reference earlier tasks."""

    idx: int
    """The task's id as the planner numbered it; unique within one user turn."""
    tool: str
    """The tool's name."""
    args: dict[str, Any]
    """Keyword arguments (positional ones mapped onto the schema order); references unresolved."""
    dependencies: list[int]
    """Ids of the tasks whose observations this one needs, in ascending order."""
    thought: str | None
    """The `Thought:` the planner wrote before this task, if any."""
    error: str | None
    """Why the task is invalid (unknown tool, bad arguments, bad reference...); None when valid."""


def make_task(
    idx: int,
    tool: str,
    args: Mapping[str, Any] | None = None,
    dependencies: Iterable[int] = (),
    thought: str | None = None,
    error: str | None = None,
) -> Task:
    """A `Task`, as the parser makes them (for tests, benchmarks and hand-written plans).

    >>> make_task(2, "math", {"problem": "$1 + 1"}, [1])["dependencies"]
    [1]
    """
    return Task(
        idx=idx,
        tool=tool,
        args=dict(args or {}),
        dependencies=sorted(set(dependencies)),
        thought=thought,
        error=error,
    )


ObservationStatus = Literal["ok", "error", "skipped"]


class Observation(TypedDict):
    """The outcome of one task."""

    idx: int
    status: ObservationStatus
    """`ok`: the tool returned; `error`: invalid task, tool exception or timeout;
    `skipped`: a dependency failed so the tool never ran."""
    value: Any
    """The tool's return value (typed) when `ok`; None otherwise."""
    error: str | None
    """`"ValueError: ..."` for errors, `"skipped: dependency 2 failed"` for skips."""
    dispatched_at: float | None
    """Wall-clock time (`time.time()`) the task's inputs were complete and it was dispatched."""
    started_at: float | None
    """Wall-clock time the tool call began (after any concurrency limit)."""
    finished_at: float
    """Wall-clock time the observation was recorded."""


@dataclass(frozen=True)
class Turn:
    """One user question and what has been planned and observed for it so far."""

    question: HumanMessage
    round: int = 0
    """The latest round planned in this turn; 0 for a new turn (so the next plan is `round + 1`)."""
    tasks: list[Task] = field(default_factory=list)
    observations: dict[int, Observation] = field(default_factory=dict)
    feedback: str = ""
    """What the joiner asked the next plan to do ('' before the first replan)."""
    rejected: list[Task] = field(default_factory=list)
    """Tasks planned in this turn that were not run: their id was taken (see `error`)."""

    @property
    def pending(self) -> list[Task]:
        """Tasks planned in this turn that have no observation yet (the scheduler was cut off)."""
        return [t for t in self.tasks if t["idx"] not in self.observations]

    @property
    def next_id(self) -> int:
        """The first task id the next plan may use."""
        return max((t["idx"] for t in self.tasks), default=0) + 1


def make_observation(
    idx: int,
    status: ObservationStatus,
    value: Any = None,
    error: str | None = None,
    dispatched_at: float | None = None,
    started_at: float | None = None,
    finished_at: float | None = None,
) -> Observation:
    """An `Observation`, finished now unless `finished_at` says when.

    >>> make_observation(1, "ok", 42)["value"]
    42
    """
    return Observation(
        idx=idx,
        status=status,
        value=value,
        error=error,
        dispatched_at=dispatched_at,
        started_at=started_at,
        finished_at=time.time() if finished_at is None else finished_at,
    )


def is_whole_reference(value: Any) -> int | None:
    """The task id if `value` is a string that is exactly one `$N` / `${N}` without a path (so the
    value it stands for is the whole observation), else None; see `whole_reference` for paths."""
    found = whole_reference(value)
    return found[0] if found is not None and not found[1] else None


def whole_reference(value: Any) -> tuple[int, str] | None:
    """`(task id, path)` if `value` is a string that is exactly one reference, else None.

    >>> whole_reference(" ${3}.items[2].name ")
    (3, '.items[2].name')
    """
    if isinstance(value, str) and (m := WHOLE_REFERENCE.fullmatch(value)):
        return int(m.group(1) or m.group(2)), m.group(3)
    return None


def as_text(value: Any) -> str:
    """How an observation reads inside a string (and in prompts): a str as it is, anything
    else as JSON (`str()` for what JSON cannot write). Never raises: a value that even that
    fails on (an int of more than 4,300 digits, nesting deeper than the recursion limit, a
    `__str__` that raises) reads as `values.to_state` writes it."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except Exception:
        safe = to_state(value, max_chars=sys.maxsize)
        return safe if isinstance(safe, str) else json.dumps(safe, ensure_ascii=False)


_NO_FIELDS = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    bool,
    type(None),
    list,
    tuple,
    set,
    frozenset,
)
_LISTED = 20
"""At most this many keys or fields are named in a `PathError`."""


def walk_path(value: Any, path: str, idx: int, written: str | None = None) -> Any:
    """The value at `path` (`.name`, `[0]`, `["key"]` steps, as in `REFERENCE`) inside `value`,
    the observation of task `idx`; `written` is the reference as the plan wrote it (for errors).

    A step reads a mapping's key (`.name` and `["name"]` alike; `[0]` the key 0), a list's or
    tuple's item (`[-1]` is the last), a pydantic model's or dataclass's field, or another
    object's public attribute. A string is parsed as JSON first when it holds an object or array
    and a step needs it. Anything else raises `PathError`, naming what exists.

    >>> walk_path({"items": [{"name": "a"}]}, ".items[0].name", 1)
    'a'
    """
    written = shorten(written or f"${idx}{path}")
    where = f"${idx}"
    for step in _PATH_STEP.finditer(path):
        index, key = step[2], next((k for k in (step[1], step[3], step[4]) if k is not None), None)
        try:
            value = _step(value, index, key, where)
        except PathError as exc:
            raise PathError(f"reference {written}: {shorten(str(exc), 1000)}") from None
        where += step[0]
    return value


def _step(value: Any, index: str | None, key: str | None, where: str) -> Any:
    """One path step: `index` (digits) for `[0]`, else `key` for `.key`, `["key"]`, `['key']`."""
    if isinstance(value, str):
        value = _json_container(value, where, "a list" if index is not None else None)
    if index is not None:
        try:
            position = int(index)
        except ValueError:  # more digits than Python converts
            raise PathError(f"index {index[:12]}... out of range in {where}") from None
        if isinstance(value, Mapping):
            if position in value:
                return value[position]
            raise PathError(f"no key {position} in {where} ({_names('keys', value)})")
        if isinstance(value, list | tuple):
            if -len(value) <= position < len(value):
                return value[position]
            items = "1 item" if len(value) == 1 else f"{len(value)} items"
            raise PathError(f"index {position} out of range ({where} has {items})")
        raise PathError(f"{where} is {_a(value)}, not a list")
    assert key is not None
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        raise PathError(f"no key {_quote(key)} in {where} ({_names('keys', value)})")
    fields = _fields(value)
    if fields is not None:
        if key in fields:
            return getattr(value, key)
        raise PathError(f"no field {_quote(key)} in {where} ({_names('fields', fields)})")
    if isinstance(value, _NO_FIELDS):
        raise PathError(f"{where} is {_a(value)}, not an object with fields")
    if key.startswith("_"):
        raise PathError(
            f"{where} is {_a(value)}: its private attribute {_quote(key)} is not readable"
        )
    try:
        return getattr(value, key)
    except AttributeError:
        raise PathError(f"no attribute {_quote(key)} on {where} ({_a(value)})") from None


def _json_container(text: str, where: str, wanted: str | None) -> Any:
    """`text` parsed as JSON if it holds an object or array; else the step's `PathError`."""
    if holds_container(text):
        return parse_container(text, where)
    raise PathError(f"{where} is a str, not {wanted or 'an object with fields'}")


def holds_container(text: str) -> bool:
    """Whether `text` is meant as a JSON object or array (a path step parses it)."""
    start = _LEADING_SPACE.match(text)
    return start is not None and text[start.end() : start.end() + 1] in ("{", "[")


def parse_container(text: str, where: str, loads: Callable[[str], Any] = json.loads) -> Any:
    """`text` parsed with `loads`, or a `PathError` saying `where` is not valid JSON."""
    try:
        return loads(text)
    except (ValueError, RecursionError) as exc:
        raise PathError(f"{where} is a str that is not valid JSON ({shorten(str(exc))})") from None


_LEADING_SPACE = re.compile(r"\s*")


def _quote(name: Any) -> str:
    """A key or field name for an error message: its repr, cut (a key may be megabytes)."""
    return shorten(repr(name), _QUOTED)


_QUOTED = 80


def _fields(value: Any) -> list[str] | None:
    """The field names of a pydantic model or dataclass instance, else None."""
    cls = type(value)
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, Mapping) and hasattr(value, "model_dump"):
        extra = getattr(value, "model_extra", None) or {}
        computed = getattr(cls, "model_computed_fields", None) or {}
        return [*model_fields, *computed, *extra]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [f.name for f in dataclasses.fields(value)]
    return None


def _names(kind: str, names: Iterable[Any]) -> str:
    listed = list(names)
    if not listed:
        return f"no {kind}"
    shown = ", ".join(_quote(n) for n in listed[:_LISTED])
    more = f", ... ({len(listed)} in all)" if len(listed) > _LISTED else ""
    return f"{kind}: {shown}{more}"


def _a(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def resolve_args(
    task: Task,
    observations: Mapping[int, Observation],
    json_of: Callable[[int, str], Any] | None = None,
) -> dict[str, Any]:
    """The task's arguments with every reference to one of its dependencies substituted.

    Only ids in `task["dependencies"]` are substituted, so text such as `"costs $100"` stays as
    written unless the parser decided task 100 was a real reference. Substituted values are never
    scanned again: tool output is data, not plan text. A reference's path is walked into the
    observation (`walk_path`); one that does not resolve raises `PathError`. A path into an
    observation that is JSON text parses it with `json_of(idx, text)` when given (the task
    fetching unit parses each observation once, big ones off its loop; see `core.json_text`).
    """
    deps = set(task["dependencies"])

    def value_of(m: re.Match[str]) -> Any:
        idx = int(m.group(1) or m.group(2))
        value = observations[idx]["value"]
        if not m.group(3):
            return value
        written = m.group(0).strip()
        if json_of is not None and isinstance(value, str) and holds_container(value):
            try:
                value = json_of(idx, value)
            except PathError as exc:
                raise PathError(f"reference {shorten(written)}: {exc}") from None
        return walk_path(value, m.group(3), idx, written)

    def substitute_text(text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            return as_text(value_of(m)) if int(m.group(1) or m.group(2)) in deps else m.group(0)

        return REFERENCE.sub(repl, text)

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            m = WHOLE_REFERENCE.fullmatch(value)
            if m is not None and int(m.group(1) or m.group(2)) in deps:
                return value_of(m)
            return substitute_text(value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    return {name: resolve(value) for name, value in task["args"].items()}


def format_call(task: Task) -> str:
    """The task as a plan line, `3. math(problem="...", context=["$1"])`, for prompts and logs."""
    args = ", ".join(f"{k}={v!r}" for k, v in task["args"].items())
    return f"{task['idx']}. {task['tool']}({args})"
