"""`to_state`: the one boundary deciding what enters graph state (JSON-safe, size-capped)."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import doctest
import enum
import itertools
import json
import math
import re
import socket
import time
import types
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from pathlib import PurePosixPath
from typing import Any, TypedDict
from unittest.mock import MagicMock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict

from llmcompiler_graph.core import values
from llmcompiler_graph.core.values import (
    CUT_NOTE,
    MAX_DEPTH,
    MAX_STATE_CHARS,
    cut_marker,
    to_state,
)

SERDE = JsonPlusSerializer()
STRICT_SERDE = JsonPlusSerializer(allowed_msgpack_modules=None)  # LANGGRAPH_STRICT_MSGPACK
MARKER = re.compile(r"… \[cut: (over )?[\d,]+ more characters?(; .+)?\]")


def is_state_safe(value: object) -> bool:
    """Whether `value` is plain JSON data that every checkpointer and JSON client stores as is:
    `dict` with `str` keys, `list`, UTF-8-encodable `str`, `int` in the int64 range, finite
    `float`, `bool`, `None`, nested at most `MAX_DEPTH` levels (so never cyclic). Exact types:
    a tuple or an `int` subclass is not safe. The size is not checked.

    """
    return _safe(value, 0)


def _safe(value: object, depth: int) -> bool:
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return values.INT64_MIN <= value <= values.INT64_MAX  # type: ignore[operator]
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    if kind is str:
        return values._encodable(value)  # type: ignore[arg-type]
    if depth >= values.MAX_DEPTH:
        return False
    if kind is list:
        return all(_safe(item, depth + 1) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(
            type(k) is str and values._encodable(k) and _safe(v, depth + 1)
            for k, v in value.items()  # type: ignore[attr-defined]
        )
    return False


def round_trip(value: Any, serde: JsonPlusSerializer = SERDE) -> Any:
    """What a checkpointer gives back after storing `value`."""
    return serde.loads_typed(serde.dumps_typed(value))


def nested_lists(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


class Color(enum.Enum):
    RED = (255, 0, 0)


class Size(enum.IntEnum):
    LARGE = 3


class Mode(enum.StrEnum):
    FAST = "fast"


class Point(Mapping):
    """A read-only Mapping that is not a dict."""

    def __init__(self, **fields: Any) -> None:
        self._fields = fields

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


@dataclasses.dataclass
class Hit:
    title: str
    tags: tuple[str, ...]
    score: Fraction


@dataclasses.dataclass
class Pixel:
    x: int
    y: int


Pair = collections.namedtuple("Pair", "left right")


class Weather(BaseModel):
    city: str
    at: datetime.datetime
    readings: set[int]


class Opaque:
    """A custom object with the default repr."""


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")

    def __str__(self) -> str:
        raise RuntimeError("no str either")


class Holder(BaseModel):
    """A pydantic model `model_dump(mode="json")` cannot serialize."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: Opaque


class Tag(str):
    def __str__(self) -> str:
        return "overridden"


class Count(int):
    pass


class Ratio(float):
    pass


def test_module_doctests() -> None:
    assert doctest.testmod(values).failed == 0


def test_defaults_are_documented_constants() -> None:
    assert MAX_STATE_CHARS == 1_000_000
    assert MAX_DEPTH == 100
    assert values.INT64_MIN == -(2**63) and values.INT64_MAX == 2**63 - 1


MAPPINGS: list[tuple[str, Any, Any]] = [
    # plain JSON data stays as is
    ("none", None, None),
    ("bool", True, True),
    ("int64 max", 2**63 - 1, 2**63 - 1),
    ("int64 min", -(2**63), -(2**63)),
    ("float", 1.5, 1.5),
    ("str", "café ✓", "café ✓"),
    ("list", [1, "a", None], [1, "a", None]),
    ("dict", {"a": {"b": [1.0]}}, {"a": {"b": [1.0]}}),
    # ints outside int64: exact decimal text
    ("int 2**64", 2**64, "18446744073709551616"),
    ("int below int64", -(2**63) - 1, "-9223372036854775809"),
    ("int of 4300 digits", 10**4299, "1" + "0" * 4299),
    ("int beyond 4300 digits", 10**5000, "≈1e+5000 (an integer of about 5,001 digits)"),
    ("negative huge int", -3 * 10**5000, "≈-3e+5000 (an integer of about 5,001 digits)"),
    # non-finite floats: their Python repr
    ("nan", math.nan, "nan"),
    ("inf", math.inf, "inf"),
    ("-inf", -math.inf, "-inf"),
    # sets: sorted lists, by repr when unorderable
    ("set", {3, 1, 2}, [1, 2, 3]),
    ("frozenset", frozenset({"b", "a"}), ["a", "b"]),
    ("unorderable set", {1, "a"}, ["a", 1]),  # repr "'a'" sorts before "1"
    ("empty set", set(), []),
    # tuples and namedtuples
    ("tuple", (1, (2, 3)), [1, [2, 3]]),
    ("namedtuple", Pair(1, (2,)), {"left": 1, "right": [2]}),
    # bytes: UTF-8 text, undecodable bytes as U+FFFD
    ("bytes", b"caf\xc3\xa9", "café"),
    ("binary bytes", b"\xff\x00a", "\ufffd\x00a"),
    ("bytearray", bytearray(b"hi"), "hi"),
    # values with a canonical text
    ("complex", 1 + 2j, "(1+2j)"),
    ("ellipsis", ..., "Ellipsis"),
    ("decimal", Decimal("1.10"), "1.10"),
    ("decimal nan", Decimal("NaN"), "NaN"),
    ("fraction", Fraction(1, 3), "1/3"),
    (
        "datetime",
        datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC),
        "2024-05-06T07:08:09+00:00",
    ),
    ("date", datetime.date(2024, 5, 6), "2024-05-06"),
    ("time", datetime.time(7, 8), "07:08:00"),
    ("timedelta", datetime.timedelta(days=1, seconds=5), "1 day, 0:00:05"),
    ("uuid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("path", PurePosixPath("/data/x.csv"), "/data/x.csv"),
    # enums: their value, converted
    ("enum", Color.RED, [255, 0, 0]),
    ("int enum", Size.LARGE, 3),
    ("str enum", Mode.FAST, "fast"),
    # structured objects
    (
        "dataclass",
        Hit("Paris", ("city", "FR"), Fraction(2, 3)),
        {"title": "Paris", "tags": ["city", "FR"], "score": "2/3"},
    ),
    (
        "pydantic",
        Weather(city="Oslo", at=datetime.datetime(2024, 1, 2), readings={5, 4}),
        {"city": "Oslo", "at": "2024-01-02T00:00:00", "readings": [4, 5]},
    ),
    ("document", Document(page_content="p", metadata={"k": (1,)}), None),  # checked below
    # mappings: str(key) keys; a later key wins a clash
    ("mapping", Point(x=1, y=(2,)), {"x": 1, "y": [2]}),
    ("mappingproxy", types.MappingProxyType({1: "a"}), {"1": "a"}),
    ("ordered dict", collections.OrderedDict(b=1, a=2), {"b": 1, "a": 2}),
    (
        "non-str keys",
        {1: "i", None: "n", (1, 2): "t", 2.5: "f", False: "b", 2**64: "big"},
        {
            "1": "i",
            "None": "n",
            "(1, 2)": "t",
            "2.5": "f",
            "False": "b",
            "18446744073709551616": "big",
        },
    ),
    ("key clash", {1: "int", "1": "str"}, {"1": "str"}),
    # subclasses of the plain types become the plain types (whatever their __str__ says)
    ("str subclass", Tag("t"), "t"),
    ("int subclass", Count(2**64), "18446744073709551616"),
    ("float subclass", Ratio(0.5), 0.5),
    # text that UTF-8 (hence msgpack) cannot encode
    ("lone surrogate", "a\ud800b", "a\ufffdb"),
    ("surrogate pair", "\ud83d\ude00", "😀"),
    ("surrogate key", {"\udcff": 1}, {"\ufffd": 1}),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [m[1:] for m in MAPPINGS], ids=[m[0] for m in MAPPINGS]
)
def test_mapping(raw: Any, expected: Any) -> None:
    mapped = to_state(raw)
    if expected is None and raw is not None:  # the Document: its pydantic dump
        expected = {"id": None, "metadata": {"k": [1]}, "page_content": "p", "type": "Document"}
    assert mapped == expected
    assert json.dumps(mapped) == json.dumps(expected)  # same types too: 1 vs 1.0 vs True
    assert is_state_safe(mapped)


def test_plain_types_come_out_as_exact_types() -> None:
    assert type(to_state(Tag("t"))) is str
    assert type(to_state(Count(5))) is int
    assert type(to_state(Ratio(0.5))) is float
    assert type(to_state(Size.LARGE)) is int
    assert type(to_state(Mode.FAST)) is str


def test_langchain_message_is_its_pydantic_dump() -> None:
    message = AIMessage("hi", tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "c1"}])
    mapped = to_state(message)
    assert mapped == message.model_dump(mode="json")
    assert mapped["type"] == "ai" and mapped["tool_calls"][0]["args"] == {"q": "x"}
    assert is_state_safe(mapped)


def test_pydantic_model_json_mode_cannot_dump_falls_back_to_python_mode() -> None:
    mapped = to_state(Holder(thing=Opaque()))
    assert list(mapped) == ["thing"]
    assert re.fullmatch(r"<test_values\.Opaque object at 0x[0-9a-f]+>", mapped["thing"])


def test_unknown_objects_become_their_repr() -> None:
    with socket.socket() as sock:
        mapped = to_state(sock)
        assert mapped == repr(sock)
    assert mapped.startswith("<socket.socket fd=")
    assert re.fullmatch(r"<test_values\.Opaque object at 0x[0-9a-f]+>", to_state(Opaque()))
    assert to_state(range(3)) == "range(0, 3)"
    assert to_state(print) == "<built-in function print>"
    assert to_state(Opaque) == "<class 'test_values.Opaque'>"
    assert to_state(MagicMock(name="tool")).startswith("<MagicMock name='tool' id=")


def test_broken_repr_and_str_fall_back_to_the_type_name() -> None:
    assert to_state(BrokenRepr()) == "<BrokenRepr object>"
    assert to_state([BrokenRepr()]) == ["<BrokenRepr object>"]
    assert to_state({BrokenRepr(): 1}) == {"<BrokenRepr object>": 1}
    assert to_state({BrokenRepr(), BrokenRepr()}) == ["<BrokenRepr object>"] * 2


class Flaky(Mapping):
    """A Mapping that fails halfway through its items."""

    def __getitem__(self, key: str) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        yield "a"
        raise OSError("connection reset")

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return "Flaky(a=1, ...)"


def test_a_container_failing_midway_becomes_its_repr() -> None:
    assert to_state({"data": Flaky(), "n": 1}) == {"data": "Flaky(a=1, ...)", "n": 1}
    # what it counted before failing does not count: '["Flaky(a=1, ...)"]' is 19 characters
    assert to_state([Flaky()], max_chars=10, note="") == '["Flaky(a=… [cut: 9 more characters]'


def test_unknown_iterables_are_never_iterated() -> None:
    numbers = (n for n in range(3))
    assert to_state(numbers).startswith("<generator object")
    assert next(numbers) == 0  # not consumed
    start = time.perf_counter()
    assert to_state(itertools.count()) == "count(0)"  # endless: would hang if iterated
    assert to_state(iter([1, 2])).startswith("<list_iterator object at")
    assert time.perf_counter() - start < 1


def test_fallback_repr_of_a_big_container_is_bounded() -> None:
    mapped = to_state(collections.deque(range(10**6)))
    assert mapped == "deque([" + ", ".join(map(str, range(20))) + ", ...])"


def test_cycles_become_a_marker() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert to_state(loop) == [1, "<cycle: refers back to an enclosing list>"]
    me: dict[str, Any] = {"name": "me"}
    me["self"] = me
    assert to_state(me) == {"name": "me", "self": "<cycle: refers back to an enclosing dict>"}
    outer: dict[str, Any] = {"inner": [{}]}
    outer["inner"][0]["back"] = outer
    assert to_state(outer) == {"inner": [{"back": "<cycle: refers back to an enclosing dict>"}]}


def test_shared_references_are_not_cycles() -> None:
    shared = [1, 2]
    assert to_state([shared, shared, {"a": shared}]) == [[1, 2], [1, 2], {"a": [1, 2]}]


def test_exponential_sharing_is_bounded_by_the_cap() -> None:
    """2**100 leaves when expanded: the cap, not the value, bounds the work."""
    value: Any = [0]
    for _ in range(100):
        value = [value, value]
    start = time.perf_counter()
    mapped = to_state(value, max_chars=1_000)
    assert time.perf_counter() - start < 2
    assert isinstance(mapped, str) and mapped.startswith("[[[[")
    assert re.fullmatch(MARKER, mapped[1_000:]) and "over " in mapped


def test_depth_is_bounded() -> None:
    assert to_state(nested_lists(MAX_DEPTH)) == nested_lists(MAX_DEPTH)
    # the 101st level becomes its repr
    assert to_state(nested_lists(MAX_DEPTH + 1)) == nested_lists(MAX_DEPTH, leaf="[1]")
    assert to_state(nested_lists(MAX_DEPTH + 5)) == nested_lists(MAX_DEPTH, leaf="[[[[...]]]]")
    deep = to_state(nested_lists(100_000))
    assert is_state_safe(deep) and round_trip(deep) == deep


def test_a_json_value_exactly_at_the_cap_is_kept_whole() -> None:
    assert to_state("abc", max_chars=3) == "abc"
    assert to_state("abcd", max_chars=3, note="") == "abc… [cut: 1 more character]"
    assert to_state([1, 2], max_chars=6) == [1, 2]  # "[1, 2]"
    assert to_state([1, 2], max_chars=5, note="") == "[1, 2… [cut: 1 more character]"
    assert to_state({"a": 1}, max_chars=8) == {"a": 1}  # '{"a": 1}'
    assert to_state(None, max_chars=0, note="") == "… [cut: 4 more characters]"


def test_the_cap_counts_json_escapes() -> None:
    quotes = ['"' * 10]  # 14 characters estimated, 24 as JSON text
    assert to_state(quotes, max_chars=24) == quotes
    assert len(json.dumps(quotes)) == 24
    expected = json.dumps(quotes)[:20] + "… [cut: 4 more characters]"
    assert to_state(quotes, max_chars=20, note="") == expected
    assert expected.startswith(r'["\"\"')


def test_a_cut_container_is_its_json_text_prefix_without_closing_brackets() -> None:
    mapped = to_state({"rows": list(range(1000)), "done": True}, max_chars=30, note="")
    assert mapped == '{"rows": [0, 1, 2, 3, 4, 5, 6,… [cut: 4,884 more characters]'
    assert len(json.dumps({"rows": list(range(1000)), "done": True})) == 30 + 4_884


def test_a_cut_string_inside_a_container() -> None:
    value = {"page": "x" * 5_000, "n": 1}
    mapped = to_state(value, max_chars=100, note="")
    assert len(json.dumps(value)) == 100 + 4_920
    assert mapped == '{"page": "' + "x" * 90 + "… [cut: 4,920 more characters]"


def test_cut_marker_says_over_when_counting_stopped_early() -> None:
    mapped = to_state(list(range(10**6)), max_chars=10, note="")
    assert mapped.startswith("[0, 1, 2, ")
    assert re.fullmatch(r"… \[cut: over [\d,]+ more characters\]", mapped[10:])


def test_negative_cap_is_an_error() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        to_state("x", max_chars=-1)


def test_50_mb_string_is_cut_fast() -> None:
    big = "x" * 50 * 2**20
    start = time.perf_counter()
    mapped = to_state(big)
    elapsed = time.perf_counter() - start
    marker = cut_marker(len(big) - MAX_STATE_CHARS)
    assert marker == "… [cut: 51,428,800 more characters; " + CUT_NOTE + "]"
    assert mapped == "x" * MAX_STATE_CHARS + marker
    assert elapsed < 1, f"{elapsed:.3f} s"


def test_50_mb_bytes_are_cut_fast() -> None:
    big = b"y" * 50 * 2**20
    start = time.perf_counter()
    mapped = to_state(big)
    elapsed = time.perf_counter() - start
    assert mapped == "y" * MAX_STATE_CHARS + cut_marker(len(big) - MAX_STATE_CHARS)
    assert elapsed < 1, f"{elapsed:.3f} s"


def test_a_huge_container_costs_about_the_cap_not_its_size() -> None:
    big = {str(i): [i, str(i)] for i in range(300_000)}
    start = time.perf_counter()
    mapped = to_state(big)
    elapsed = time.perf_counter() - start
    assert mapped.startswith('{"0": [0, "0"], "1": [1, "1"]')
    assert mapped[:MAX_STATE_CHARS] == json.dumps(big)[:MAX_STATE_CHARS]
    assert re.fullmatch(MARKER, mapped[MAX_STATE_CHARS:])
    assert elapsed < 3, f"{elapsed:.3f} s"


# --- the crash being fixed: LangGraph's checkpoint serializer ---------------------------------

CRASHERS: list[tuple[str, Any]] = [
    ("int 2**64", 2**64),
    ("int below int64", -(2**63) - 1),
    ("complex", 1 + 2j),
    ("ellipsis", ...),
    ("fraction", Fraction(1, 3)),
    ("custom object", Opaque()),
    ("list nested 300 deep", nested_lists(300)),
    ("int inside a dict", {"population": 10**20}),
]


@pytest.mark.parametrize("raw", [c[1] for c in CRASHERS], ids=[c[0] for c in CRASHERS])
def test_raw_values_crash_the_serializer_and_mapped_ones_round_trip(raw: Any) -> None:
    with pytest.raises(TypeError):
        SERDE.dumps_typed(raw)
    mapped = to_state(raw)
    assert round_trip(mapped) == mapped
    assert round_trip(mapped, STRICT_SERDE) == mapped


def test_raw_socket_crashes_the_serializer() -> None:
    with socket.socket() as sock:
        with pytest.raises(TypeError, match="socket"):
            SERDE.dumps_typed({"conn": sock})
        mapped = to_state({"conn": sock})
    assert round_trip(mapped) == mapped


def test_raw_values_that_serialize_do_not_come_back_as_they_were() -> None:
    """Tuples come back as lists, nan is not equal to itself, and a strict checkpointer returns
    a dataclass as a bare dict and an enum as its value: mapped values come back identical."""
    raw = {"t": (1, 2), "nan": math.nan, "pixel": Pixel(1, 2), "c": Color.RED}
    assert round_trip(raw) != raw
    strict = round_trip(raw, STRICT_SERDE)
    assert strict["pixel"] == {"x": 1, "y": 2} and strict["c"] == [255, 0, 0]
    mapped = to_state(raw)
    assert round_trip(mapped) == mapped
    assert round_trip(mapped, STRICT_SERDE) == mapped


@pytest.mark.parametrize("raw", [m[1] for m in MAPPINGS], ids=[m[0] for m in MAPPINGS])
def test_every_mapped_value_round_trips(raw: Any) -> None:
    mapped = to_state(raw)
    assert round_trip(mapped) == mapped
    assert round_trip(mapped, STRICT_SERDE) == mapped


class _State(TypedDict):
    value: Any


def _graph(produce: Any, checkpointer: Any) -> Any:
    builder = StateGraph(_State)
    builder.add_node("tool", lambda state: {"value": produce()})
    builder.add_edge(START, "tool")
    builder.add_edge("tool", END)
    return builder.compile(checkpointer=checkpointer)


def _observation() -> dict[str, Any]:
    """A tool output with every kind of value that used to crash a checkpointed run."""
    return {
        "big": 2**64,
        "z": 1 + 2j,
        "frac": Fraction(1, 3),
        "ellipsis": ...,
        "obj": BrokenRepr(),
        "tags": {"b", "a"},
        "raw": b"ok",
        "when": datetime.date(2024, 1, 2),
        "page": "x" * 5_000,
    }


EXPECTED_IN_STATE = {
    "big": "18446744073709551616",
    "z": "(1+2j)",
    "frac": "1/3",
    "ellipsis": "Ellipsis",
    "obj": "<BrokenRepr object>",
    "tags": ["a", "b"],
    "raw": "ok",
    "when": "2024-01-02",
    "page": "x" * 5_000,
}


def test_end_to_end_with_in_memory_saver() -> None:
    config = {"configurable": {"thread_id": "raw"}}
    with pytest.raises(TypeError, match=r"not msgpack serializable|64-bit"):
        _graph(_observation, InMemorySaver()).invoke({"value": None}, config)

    saver = InMemorySaver()
    graph = _graph(lambda: to_state(_observation()), saver)
    config = {"configurable": {"thread_id": "mapped"}}
    assert graph.invoke({"value": None}, config) == {"value": EXPECTED_IN_STATE}
    # read back from the stored (serialized) checkpoint, not from memory
    assert graph.get_state(config).values == {"value": EXPECTED_IN_STATE}
    stored = saver.get_tuple(config)
    assert stored is not None
    assert stored.checkpoint["channel_values"]["value"] == EXPECTED_IN_STATE


def test_end_to_end_with_sqlite_saver(tmp_path: Any) -> None:
    sqlite = pytest.importorskip(
        "langgraph.checkpoint.sqlite",
        reason="the langgraph-checkpoint-sqlite package is not installed",
    )
    with sqlite.SqliteSaver.from_conn_string(str(tmp_path / "state.db")) as saver:
        raw = {"configurable": {"thread_id": "raw"}}
        with pytest.raises(TypeError, match=r"not msgpack serializable|64-bit"):
            _graph(_observation, saver).invoke({"value": None}, raw)
        graph = _graph(lambda: to_state(_observation()), saver)
        config = {"configurable": {"thread_id": "mapped"}}
        assert graph.invoke({"value": None}, config) == {"value": EXPECTED_IN_STATE}
        assert graph.get_state(config).values == {"value": EXPECTED_IN_STATE}


# --- any nested value -----------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2),
    st.integers(min_value=2**64, max_value=10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lu"])),  # surrogates, controls
    st.binary(),
    st.frozensets(st.integers()),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.tuples(inner, inner),
        st.sets(st.integers(), max_size=6),
        st.dictionaries(st.one_of(st.text(), st.integers(), st.none()), inner, max_size=6),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, cap=st.one_of(st.integers(0, 300), st.just(MAX_STATE_CHARS)))
def test_any_value_becomes_json_safe_and_capped(value: Any, cap: int) -> None:
    mapped = to_state(value, max_chars=cap)
    assert is_state_safe(mapped)
    json.dumps(mapped, allow_nan=False)
    assert round_trip(mapped) == mapped
    if isinstance(mapped, str):
        ending = [m for m in MARKER.finditer(mapped) if m.end() == len(mapped)]
        if ending and len(mapped) > cap:
            assert ending[0].start() <= cap, "more than max_chars before the marker"
        else:
            assert len(mapped) <= cap
            assert to_state(mapped, max_chars=cap) == mapped
    else:
        assert len(json.dumps(mapped, ensure_ascii=False)) <= cap
        assert to_state(mapped, max_chars=cap) == mapped  # idempotent on what it lets in


def test_is_state_safe_rejects_everything_outside_plain_json() -> None:
    unsafe = [
        (1,),
        {1: 2},
        {"a": {1, 2}},
        2**63,
        math.nan,
        b"x",
        "\ud800",
        Count(1),
        Tag("t"),
        nested_lists(MAX_DEPTH + 1),
        Opaque(),
    ]
    assert [is_state_safe(v) for v in unsafe] == [False] * len(unsafe)
    loop: list[Any] = []
    loop.append(loop)
    assert not is_state_safe(loop)
    assert is_state_safe({"a": [1, -(2**63), 2.5, None, False, "ü"]})
    assert is_state_safe(nested_lists(MAX_DEPTH))
