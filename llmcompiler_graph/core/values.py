"""What enters graph state: a JSON-safe, size-capped copy of any Python value.

Task arguments (parsed from model-written Python literals) and observations (whatever a tool
returns) go through `to_state` before they are written to graph state. Checkpointers serialize
state with msgpack (`JsonPlusSerializer`), which raises on ints outside 64 bits, complex numbers,
`Ellipsis`, `Fraction`, sockets, custom objects and nesting deeper than 255 levels, restores
custom classes only from modules it allows, and stores a 50 MB tool output whole. The LangGraph
server and Studio show state as JSON. `to_state` makes one copy that all of them accept: only
`dict` with `str` keys, `list`, `str`, `int` within the signed 64-bit range, finite `float`,
`bool` and `None`, and no bigger than `max_chars` characters.

The mapping keeps what a model needs to read the value (docs/design.md, "What state keeps"):

==============================================  ===============================================
Python value                                    In state
==============================================  ===============================================
None, bool, str, int in int64 range,            unchanged (subclasses become the plain type;
finite float                                    lone surrogates in text become U+FFFD)
float nan / inf / -inf                          ``"nan"`` / ``"inf"`` / ``"-inf"``
int outside int64 range                         its exact decimal digits as a str; beyond 4,300
                                                digits ``"≈1.23457e+5000 (an integer of about
                                                5,001 digits)"``
list, tuple                                     list
namedtuple                                      dict of its fields
dict, other Mapping                             dict; non-str keys become ``str(key)`` (on a
                                                clash the later key wins)
set, frozenset                                  sorted list; sorted by repr when unorderable
bytes, bytearray                                text decoded as UTF-8, errors="replace"
datetime, date, time                            ``isoformat()``
Enum member                                     its value, converted
complex, Decimal, Fraction, UUID, Path,         ``str(value)``: ``"(1+2j)"``, ``"1.10"``,
timedelta, Ellipsis                             ``"1/3"``, ``"Ellipsis"``…
pydantic model (LangChain messages, Documents)  ``model_dump(mode="json")``, converted
dataclass instance                              dict of its fields, converted
anything else (sockets, generators, custom      ``repr(value)``, bounded; ``"<Name object>"``
objects, deques, numpy arrays…)                 when repr raises. Never iterated.
containers nested deeper than 100 levels        its bounded repr, e.g. ``"[[[[...]]]]"``
a container inside itself                       ``"<cycle: refers back to an enclosing list>"``
a value bigger than max_chars                   a str: the first max_chars characters of its
                                                text (JSON text for containers) + a cut marker
==============================================  ===============================================

Why these choices:

- An int outside int64 becomes its decimal text: msgpack stops at 64 bits and JSON clients at
  2**53, while the text is exact and reads the same to a model. Past 4,300 digits Python
  itself will not write an int out quickly, so it becomes an approximation.
- nan and the infinities become ``"nan"``, ``"inf"``, ``"-inf"`` rather than null: null would
  read as "no value", the text keeps the meaning and is what Python prints.
- Bytes become UTF-8 text (undecodable bytes as U+FFFD) rather than base64: the bytes a tool
  returns are nearly always text (HTTP bodies, files), which a model reads and base64 hides,
  a third bigger; U+FFFD characters still tell the reader that the data was binary.
- A namedtuple becomes a dict: its field names are information a model needs.
- An unknown iterable is never iterated: a generator can be endless, and consuming it would
  also take its items from the dependent tasks.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime
import enum
import itertools
import json
import math
import reprlib
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePath
from typing import Any, Final, TypeAlias

StateValue: TypeAlias = "bool | int | float | str | list[StateValue] | dict[str, StateValue] | None"
"""What `to_state` returns: plain JSON data that msgpack and JSON both store as is."""

MAX_STATE_CHARS: Final = 1_000_000
"""Default cap on one value's size in state: characters of its text (JSON text for containers).

One million characters is about 250k tokens: more than any prompt shows of one observation (the
prompts cut each to `max_observation_chars`), small enough that a checkpoint stays cheap."""

MAX_DEPTH: Final = 100
"""Containers nested this deep become their bounded repr (msgpack refuses 256 levels)."""

MAX_INT_DIGITS: Final = 4_300
"""Longer ints are written approximately: Python itself refuses to write out more decimal digits
by default (`sys.get_int_max_str_digits`), as the conversion takes quadratic time."""

MAX_REPR_CHARS: Final = 2_000
"""The longest repr kept for a value that has no mapping (a socket, a custom object)."""

MAX_COUNT_NODES: Final = 100_000
"""Once a value is cut, at most this many more of its parts are visited to count what was cut;
beyond that the marker says "over N" (so a cut costs O(max_chars + this), not O(the value))."""

CUT_NOTE: Final = "the full value was passed to dependent tasks in the same run"
"""Default explanation appended to the cut marker."""

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))  # ints up to this many bits have <= 4300 digits


def to_state(
    value: object, *, max_chars: int = MAX_STATE_CHARS, note: str = CUT_NOTE
) -> StateValue:
    """A JSON-safe copy of `value`, at most about `max_chars` characters big (see the module's
    table for the mapping).

    The size of the copy is the length of its text when it is a str, else of its JSON text as
    `json.dumps(copy, ensure_ascii=False)` writes it (the way prompts show observations). A
    value bigger than `max_chars` becomes a str: its first `max_chars` characters plus a marker
    saying how much was cut, so the result is never longer than `max_chars + len(marker)`.
    `note` ends the marker. Only about `max_chars` of a value is copied, whatever its size
    (except that a set is sorted and a pydantic model dumped whole first).

    Never raises for any value, whatever its `__repr__`, `__eq__` or `__iter__` do.

    >>> to_state({"n": 2**64, "tags": {"b", "a"}, "at": (1, 2.5), "raw": b"caf\\xc3\\xa9"})
    {'n': '18446744073709551616', 'tags': ['a', 'b'], 'at': [1, 2.5], 'raw': 'café'}
    >>> to_state([float("nan"), float("-inf"), 1 + 2j, ..., {1: None}])
    ['nan', '-inf', '(1+2j)', 'Ellipsis', {'1': None}]
    >>> to_state("x" * 100, max_chars=10, note="")
    'xxxxxxxxxx… [cut: 90 more characters]'
    >>> to_state(list(range(100)), max_chars=20, note="")
    '[0, 1, 2, 3, 4, 5, 6… [cut: 370 more characters]'
    """
    if max_chars < 0:
        raise ValueError(f"max_chars must be >= 0, got {max_chars}")
    walk = _Walk(max_chars)
    try:
        result = walk.walk(value, 0)
    except Exception:  # a dict resized by another thread, a RecursionError on a short stack...
        return to_state(_fallback(value), max_chars=max_chars, note=note)
    if isinstance(result, str):
        if not walk.cut and len(result) <= max_chars:
            return result
        total = walk.size - 2  # a str's size counts its two JSON quotes
        text = result
    else:
        text = _dumps(result)  # exact size; at most ~max_chars of data was built, so cheap
        if not walk.cut and len(text) <= max_chars:
            return result
        total = max(walk.size, len(text))
    # A walk that stopped early (its budget counts what it skipped) may have built less than
    # max_chars: the marker then follows all of it, and counts from where it stands.
    shown = text[:max_chars]
    return shown + cut_marker(total - len(shown), note=note, over=walk.exhausted)


SAMPLE_ITEMS: Final = 20
"""A sample shows at most this many items of one list or dict."""


def sample(value: object, max_chars: int) -> StateValue:
    """A small JSON-safe picture of `value` that keeps its shape, for previews people read: each
    leaf cut (`to_state`), lists and dicts cut to the items that fit in about `max_chars`
    characters and to `SAMPLE_ITEMS` (a cut container ends with the item `"…"`), four levels
    deep. Costs about `max_chars`, whatever the value's size, and never raises.

    >>> sample([{"title": "Paris", "content": "x" * 40}] * 3, max_chars=50)
    [{'title': 'Paris', 'content': 'xxxxxxxxxxxxxxxxxxxxxxxxx… [cut: 15 more characters]'}, '…']
    >>> sample({"n": list(range(100))}, max_chars=1000)["n"][-2:]
    [19, '…']
    """
    left = max_chars

    def walk(item: object, depth: int) -> StateValue:
        nonlocal left
        if depth < 4 and isinstance(item, Mapping):
            shown: dict[str, StateValue] = {}
            for at, (key, inner) in enumerate(itertools.islice(item.items(), SAMPLE_ITEMS + 1)):
                if left <= 0 or at == SAMPLE_ITEMS:
                    shown["…"] = "…"
                    break
                name = _clean(_key_text(key))[:40]
                left -= len(name) + 4
                shown[name] = walk(inner, depth + 1)
            return shown
        if depth < 4 and isinstance(item, list | tuple):
            listed: list[StateValue] = []
            for at, inner in enumerate(item[: SAMPLE_ITEMS + 1]):
                if left <= 0 or at == SAMPLE_ITEMS:
                    listed.append("…")
                    break
                listed.append(walk(inner, depth + 1))
            return listed
        leaf = to_state(item, max_chars=max(left, 16), note="")
        left -= len(leaf) if isinstance(leaf, str) else len(_dumps(leaf))
        return leaf

    try:
        return walk(value, 0)
    except Exception:  # a mapping that fails while listed, a hostile __getitem__...
        return to_state(value, max_chars=max_chars, note="")


def cut_marker(more: int, *, note: str = CUT_NOTE, over: bool = False) -> str:
    """The text appended where a value was cut.

    >>> cut_marker(52_428_800, note="the full text is in the tool's log")
    "… [cut: 52,428,800 more characters; the full text is in the tool's log]"
    >>> cut_marker(1, note="")
    '… [cut: 1 more character]'
    >>> cut_marker(5_000, note="", over=True)
    '… [cut: over 5,000 more characters]'
    """
    more = max(more, 1)
    amount = f"{'over ' if over else ''}{more:,} more character{'' if more == 1 else 's'}"
    return f"… [cut: {amount}{'; ' + note if note else ''}]"


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(text: str) -> str:
    """`text` with lone surrogates (which UTF-8, hence msgpack, cannot encode) as U+FFFD."""
    if _encodable(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _int_text(number: int) -> str:
    """Exact decimal digits; an approximation for ints Python will not write out quickly."""
    if number.bit_length() <= _INT_BITS:
        try:
            return str(number)
        except ValueError:  # the interpreter's limit was lowered below 4300 digits
            pass
    exponent = math.log10(abs(number))
    digits = math.floor(exponent)
    mantissa = 10 ** (exponent - digits)
    sign = "-" if number < 0 else ""
    return f"≈{sign}{mantissa:.6g}e+{digits} (an integer of about {digits + 1:,} digits)"


class _BoundedRepr(reprlib.Repr):
    """`repr` with bounded size and work, also for huge or deep built-in containers."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxarray = self.maxdict = 20
        self.maxset = self.maxfrozenset = self.maxdeque = 20
        self.maxstring = self.maxlong = 200
        self.maxother = MAX_REPR_CHARS

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = builtins.repr(x)
        except Exception:
            return f"<{type(x).__name__} object>"
        return text if len(text) <= self.maxother else text[: self.maxother] + "…"


_REPR = _BoundedRepr()


def _fallback(value: object) -> str:
    """The bounded repr of a value without a mapping; `<Name object>` when repr raises."""
    try:
        return _REPR.repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def _sorted(items: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(items)
    except Exception:
        pass
    try:
        return sorted(items, key=_fallback)
    except Exception:
        return list(items)


class _Walk:
    """One conversion. Builds the copy until its estimated JSON size reaches `limit`, then only
    counts (at most `MAX_COUNT_NODES` more parts) so the marker can say how much was cut.

    The estimate is exact JSON length except for escapes in strings (bytes count one character
    per byte), which `to_state` settles with one `json.dumps` of the (small) copy."""

    __slots__ = ("cut", "exhausted", "limit", "node_cap", "nodes", "path", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0  # estimated JSON characters of everything visited
        self.cut = False  # part of the value is left out of the copy: the result must be cut
        self.exhausted = False  # counting stopped early: `size` is a lower bound
        self.nodes = 0
        self.node_cap = 0
        self.path: set[int] = set()  # ids of the containers being converted (for cycles)

    def start_cut(self) -> None:
        if not self.cut:
            self.cut = True
            self.node_cap = self.nodes + MAX_COUNT_NODES

    def walk(self, value: object, depth: int) -> Any:
        """The copy of `value` (None once cut: only its size is counted)."""
        self.nodes += 1
        if self.cut and self.nodes > self.node_cap:
            self.exhausted = True
            return None
        kind = type(value)
        if kind is str:
            return self.text(value)  # type: ignore[arg-type]
        if kind is int:
            if INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
                self.size += len(repr(value))
                return value
            return self.text(_int_text(value))  # type: ignore[arg-type]
        if kind is float:
            if math.isfinite(value):  # type: ignore[arg-type]
                self.size += len(repr(value))
                return value
            return self.text(repr(value))
        if value is None or kind is bool:
            self.size += 5 if value is False else 4  # null, true, false
            return value
        if kind is list or kind is tuple:
            return self.nested(value, depth, self.sequence, value)
        if kind is dict:
            return self.nested(value, depth, self.mapping, value.items())  # type: ignore[attr-defined]
        before = (self.size, self.cut, self.exhausted, self.node_cap)
        try:
            return self.other(value, depth)
        except Exception:  # a Mapping whose items() raise midway...: forget what it counted
            self.size, self.cut, self.exhausted, self.node_cap = before
            return self.text(_fallback(value))

    def other(self, value: object, depth: int) -> Any:
        """Subclasses of the plain types and the types with a mapping; else the repr."""
        if isinstance(value, enum.Enum):
            return self.walk(value.value, depth + 1)
        if isinstance(value, str):
            return self.text(str.__str__(value))
        if isinstance(value, int):  # not bool: bool cannot be subclassed
            return self.walk(int.__int__(value), depth)
        if isinstance(value, float):
            return self.walk(float.__float__(value), depth)
        if isinstance(value, bytes | bytearray):
            return self.binary(value)
        if isinstance(value, tuple) and _is_namedtuple(value):
            pairs = zip(type(value)._fields, value, strict=False)  # type: ignore[attr-defined]
            return self.nested(value, depth, self.mapping, pairs)
        if isinstance(value, list | tuple):
            return self.nested(value, depth, self.sequence, value)
        if isinstance(value, Mapping):
            return self.nested(value, depth, self.mapping, value.items())
        if isinstance(value, set | frozenset):
            items = list(value) if self.cut else _sorted(value)  # order is moot when counting
            return self.nested(value, depth, self.sequence, items)
        if isinstance(value, datetime.date | datetime.time):  # datetime is a date
            return self.text(value.isoformat())
        if isinstance(value, complex | Decimal | Fraction | uuid.UUID | datetime.timedelta):
            return self.text(str(value))
        if isinstance(value, PurePath):
            return self.text(str(value))
        if value is Ellipsis:
            return self.text("Ellipsis")
        if callable(getattr(type(value), "model_dump", None)):  # pydantic v2, LangChain objects
            try:
                data = value.model_dump(mode="json")  # type: ignore[attr-defined]
            except Exception:
                data = value.model_dump()  # type: ignore[attr-defined]
            if data is value:
                return self.text(_fallback(value))
            return self.walk(data, depth + 1)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            pairs = (
                (f.name, getattr(value, f.name))
                for f in dataclasses.fields(value)
                if hasattr(value, f.name)
            )
            return self.nested(value, depth, self.mapping, pairs)
        return self.text(_fallback(value))  # never iterate the unknown: it may be endless

    def nested(self, value: object, depth: int, convert: Any, items: Any) -> Any:
        """`convert(items, depth)`, unless `value` is too deep or contains itself."""
        if depth >= MAX_DEPTH:
            return self.text(_fallback(value))
        key = id(value)
        if key in self.path:
            return self.text(f"<cycle: refers back to an enclosing {type(value).__name__}>")
        self.path.add(key)
        try:
            return convert(items, depth)
        finally:
            self.path.discard(key)

    def sequence(self, items: Iterable[Any], depth: int) -> list[Any] | None:
        out: list[Any] | None = None if self.cut else []
        self.size += 1  # [
        for index, item in enumerate(items):
            if self.exhausted:
                break
            building = self.room(out)
            if index:
                self.size += 2  # ", "
            converted = self.walk(item, depth + 1)
            if building:
                out.append(converted)  # type: ignore[union-attr]
        self.size += 1  # ]
        return out

    def mapping(self, pairs: Iterable[tuple[Any, Any]], depth: int) -> dict[str, Any] | None:
        out: dict[str, Any] | None = None if self.cut else {}
        self.size += 1  # {
        for index, (key, item) in enumerate(pairs):
            if self.exhausted:
                break
            building = self.room(out)
            if index:
                self.size += 2  # ", "
            name = self.text(_key_text(key))
            self.size += 2  # ": "
            converted = self.walk(item, depth + 1)
            if building:
                out[name or ""] = converted  # type: ignore[index]
        self.size += 1  # }
        return out

    def room(self, out: object) -> bool:
        """Whether the next item of the container being built into `out` still goes in it.

        Checked before the item's separator, so the copy's JSON text up to `limit` characters
        is all content: no closing bracket a reader could take for the end of the value."""
        if out is None or self.cut:
            return False
        if self.size >= self.limit:
            self.start_cut()
            return False
        return True

    def text(self, text: str) -> str | None:
        """`text` as far as it fits (its size counts the JSON quotes, not escapes)."""
        room = self.limit - self.size
        self.size += len(text) + 2
        if self.cut:
            return None
        if len(text) > room:
            self.start_cut()
            return _clean(text[: max(room, 0)])
        return _clean(text)

    def binary(self, data: bytes | bytearray) -> str | None:
        """UTF-8 text of `data`; decodes only the part that can fit (a char is <= 4 bytes)."""
        room = max(self.limit - self.size, 0)
        window = 4 * (room + 1)
        if self.cut:
            self.size += len(data) + 2
            return None
        if len(data) <= window:
            return self.text(data.decode("utf-8", "replace"))
        head = bytes(data[:window]).decode("utf-8", "replace")  # >= room + 1 characters
        self.size += round(len(data) * len(head) / window) + 2  # characters, estimated
        self.start_cut()
        return head[:room]


def _is_namedtuple(value: tuple[Any, ...]) -> bool:
    fields = getattr(type(value), "_fields", None)
    return isinstance(fields, tuple) and all(isinstance(f, str) for f in fields)


def _key_text(key: object) -> str:
    """A dict key as text: `str(key)`, guarded."""
    if isinstance(key, str):
        return str.__str__(key)
    if type(key) is int:
        return _int_text(key)
    try:
        text = str(key)
    except Exception:
        return _fallback(key)
    return text if type(text) is str else str.__str__(text)


def shorten(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters: runs of whitespace flattened, an ellipsis where
    cut (for previews, labels and error messages; prompts cut with `prompts.truncate`). Reads
    only the text's start, so a huge one costs no more than a short one."""
    head = text[: limit * 8]
    flat = " ".join(head.split())
    if len(flat) <= limit and len(head) == len(text):
        return flat
    return flat[: limit - 1] + "…"
