"""The tool-calling planner (`planner="tools"`): the reader of a plan streamed as tool calls, the
planner that binds the tools, the simulator's tool plans, and whole runs with the real
`ChatOpenAI` against the loopback simulators."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
from helpers import (
    SCENARIOS,
    Call,
    ScriptedChatModel,
    ToolCallingModel,
    first,
    planned,
    requests_of,
    round_tasks,
    scenario_id,
    stream_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import Field
from test_e2e import (
    SLOW_DECODE,
    HttpClient,
    assert_results,
    build,
    chat_model,
    invoke_run,
    run_streamed,
)

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.parser import parse_plan
from llmcompiler_graph.core.plan import Task, Turn, make_observation, make_task
from llmcompiler_graph.core.planner import Planner
from llmcompiler_graph.core.prompts import TOOLS_PLANNER_PROMPT
from llmcompiler_graph.core.tool_plan import ToolPlanReader
from llmcompiler_graph.core.toolbox import Toolbox
from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.testing import (
    ChatRequest,
    ChatResponse,
    OpenAISimulator,
    TavilySimulator,
)
from llmcompiler_graph.testing.scenarios import (
    SHOWCASE,
    Scenario,
    ScenarioBrain,
)

TOOLS = {"search": ["query"], "math": ["problem", "context"], "lookup": ["key", "default"]}

EXAMPLE = """Thought: I need both market caps.
1. search(query="Microsoft market cap")
2. search(query="Apple market cap")
3. math(problem="How much must $1 grow to exceed $2?", context=["$1", "$2"])
4. join()<END_OF_PLAN>
"""
EXAMPLE_CALLS: list[Call] = [
    ("search", '{"query": "Microsoft market cap"}'),
    ("search", '{"query": "Apple market cap"}'),
    ("math", '{"problem": "How much must $1 grow to exceed $2?", "context": ["$1", "$2"]}'),
    ("join", "{}"),
]


def read(chunks: Iterable[AIMessage], known_ids: Iterable[int] = ()) -> list[Task]:
    reader = ToolPlanReader(TOOLS, known_ids=known_ids)
    return [task for chunk in chunks for task in reader.feed(chunk)] + reader.close()


def call(name: str, **args: Any) -> Call:
    return name, json.dumps(args)


def whole(calls: Sequence[Call], content: str = "") -> list[AIMessageChunk]:
    """Each call's arguments in one piece."""
    return stream_of(content, calls, size=10**9)


# --- the reader --------------------------------------------------------------------------------


def test_a_tool_calling_plan_reads_as_the_same_text_plan() -> None:
    reader = ToolPlanReader(TOOLS)
    chunks = stream_of("I need both market caps.", EXAMPLE_CALLS)
    tasks = [task for chunk in chunks for task in reader.feed(chunk)] + reader.close()
    assert tasks == parse_plan(EXAMPLE, TOOLS)
    assert tasks[0]["thought"] == "I need both market caps."
    assert tasks[2]["dependencies"] == [1, 2]
    assert reader.joined and reader.done


def test_each_task_is_returned_at_the_chunk_where_its_arguments_close() -> None:
    chunks = stream_of("", EXAMPLE_CALLS, size=3)
    reader = ToolPlanReader(TOOLS)
    returned = {t["idx"]: n for n, chunk in enumerate(chunks) for t in reader.feed(chunk)}
    closing = [
        n
        for n, chunk in enumerate(chunks)
        if chunk.tool_call_chunks and chunk.tool_call_chunks[0]["args"].endswith("}")
    ]
    assert returned == {1: closing[0], 2: closing[1], 3: closing[2]}
    assert reader.joined, "join closed too"
    assert reader.close() == []


def test_braces_brackets_and_escapes_inside_strings_do_not_close_the_arguments() -> None:
    query = 'a } b ] { [ \\" \\\\" \\\\\\" "} $1'
    arguments = json.dumps({"query": query, "default": None}, ensure_ascii=False)
    chunks = stream_of("", [("lookup", '{"key": "k"}'), ("lookup", arguments)], size=1)
    reader = ToolPlanReader(TOOLS)
    returned = [(n, t) for n, chunk in enumerate(chunks) for t in reader.feed(chunk)]
    assert [n for n, _ in returned][-1] == len(chunks) - 1
    assert (
        returned[-1][1]["error"]
        == "unknown argument 'query' for lookup() (parameters: key, default)"
    )
    assert returned[-1][1]["args"] == {"query": query, "default": None}


def test_arguments_that_never_close_complete_at_the_next_call_or_the_end() -> None:
    chunks = stream_of("", [("search", '{"query": "a"'), ("search", '{"query": "b"')], size=2)
    reader = ToolPlanReader(TOOLS)
    returned = {t["idx"]: n for n, chunk in enumerate(chunks) for t in reader.feed(chunk)}
    header_of_second = next(
        n for n, c in enumerate(chunks) if c.tool_call_chunks and c.tool_call_chunks[0]["index"]
    )
    assert returned == {1: header_of_second}
    (last,) = reader.close()
    assert last["idx"] == 2
    assert last["error"].startswith("unparsable arguments: Expecting ',' delimiter in JSON")


@pytest.mark.parametrize(
    ("text_call", "tool_call_"),
    [
        ('fly(to="the moon")', call("fly", to="the moon")),
        ('search(query="x", extra=True)', call("search", query="x", extra=True)),
        (
            'math(problem="$1 and $2", context=["$1"])',
            call("math", problem="$1 and $2", context=["$1"]),
        ),
        ('search(query="$2")', call("search", query="$2")),
        ('search(query="$3")', call("search", query="$3")),
        ('search(query="${0}")', call("search", query="${0}")),
        ('search(query="see ${5} later")', call("search", query="see ${5} later")),
        ('search(query="$1.price")', call("search", query="$1.price")),
        ('search(query=" ${1}[0].name ")', call("search", query=" ${1}[0].name ")),
        (
            "search(query=\"the $1.price and ${1}[0]['k']\")",
            call("search", query="the $1.price and ${1}[0]['k']"),
        ),
        ('search(query="costs $100")', call("search", query="costs $100")),
        (
            'lookup(key={"a": ["$1", {"b": "${1}.x"}]})',
            call("lookup", key={"a": ["$1", {"b": "${1}.x"}]}),
        ),
        ('search(query="$' + "9" * 5000 + '")', call("search", query="$" + "9" * 5000)),
        ('fly(query="$3")', call("fly", query="$3")),
    ],
    ids=[
        "unknown-tool",
        "unknown-argument",
        "references",
        "self",
        "forward",
        "missing",
        "embedded-forward",
        "path",
        "whole-with-spaces",
        "embedded-paths",
        "price",
        "nested",
        "too-long",
        "several-problems",
    ],
)
def test_checks_are_the_text_parsers(text_call: str, tool_call_: Call) -> None:
    """Same tasks, same errors: the checks are `PlanParser`'s, whatever the format."""
    text = f'1. search(query="a")\n2. {text_call}\n3. join()'
    expected = parse_plan(text, TOOLS)
    assert read(stream_of("", [call("search", query="a"), tool_call_, ("join", "{}")])) == expected


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ('{"query": }', "unparsable arguments: Expecting value in JSON (at character 10)"),
        (
            '{"query": "a"',
            "unparsable arguments: Expecting ',' delimiter in JSON (at character 13)",
        ),
        ('{"query": "a"}}', None),
        ('["a"]', "unparsable arguments: a JSON array, not an object"),
        ('"a"', "unparsable arguments: a JSON string, not an object"),
        ("42", "unparsable arguments: a JSON number, not an object"),
        ("null", "unparsable arguments: a JSON null, not an object"),
        ("[" * 10_000 + "]" * 10_000, "unparsable arguments: too deeply nested"),
        ('{"query": ' + "1" * 5000 + "}", "unparsable arguments: Exceeds the limit"),
        ("not json", "unparsable arguments: Expecting value in JSON (at character 0)"),
    ],
    ids=[
        "no-value",
        "unclosed",
        "extra-brace",
        "array",
        "string",
        "number",
        "null",
        "too-deep",
        "long-integer",
        "garbage",
    ],
)
def test_bad_json_arguments_are_the_tasks_error(arguments: str, error: str | None) -> None:
    (task,) = read(stream_of("", [("search", arguments)], size=5))
    assert task["idx"] == 1 and task["tool"] == "search"
    if error is None:
        assert task["error"] is None and task["args"] == {"query": "a"}
    else:
        assert task["error"] is not None and task["error"].startswith(error)
        assert task["args"] == {}


def test_blank_arguments_are_no_arguments() -> None:
    """A call without arguments (the tool's own validation reports a missing one at dispatch,
    as for a text plan's `search()`)."""
    (task,) = read(stream_of("", [("search", "")]))
    assert task == parse_plan("1. search()", TOOLS)[0]
    assert task["args"] == {} and task["error"] is None


def test_calls_after_join_are_ignored() -> None:
    reader = ToolPlanReader(TOOLS)
    calls = [call("search", query="a"), ("join", "{}"), call("fly"), ("search", "{broken")]
    tasks = [t for chunk in stream_of("", calls) for t in reader.feed(chunk)]
    assert [t["idx"] for t in tasks] == [1]
    assert reader.joined and reader.done
    assert reader.close() == []


def test_a_reply_without_tool_calls_is_an_empty_plan() -> None:
    reader = ToolPlanReader(TOOLS)
    tasks = [t for c in stream_of("The question needs no tool.", []) for t in reader.feed(c)]
    assert tasks + reader.close() == []
    assert reader.done and not reader.joined


def test_a_plan_without_join_ends_with_the_stream() -> None:
    reader = ToolPlanReader(TOOLS)
    tasks = [t for chunk in stream_of("", EXAMPLE_CALLS[:2]) for t in reader.feed(chunk)]
    assert [t["idx"] for t in tasks + reader.close()] == [1, 2]
    assert not reader.joined


def test_text_before_a_call_is_its_thought() -> None:
    chunks = [
        *stream_of("  First the\ncaps. ", [call("search", query="a")]),
        AIMessageChunk(content="Then the difference."),
        AIMessageChunk(content="", tool_call_chunks=[tool_call_chunk(name="math", index=1)]),
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(args='{"problem": "$1"}', index=1)]
        ),
        AIMessageChunk(
            content="",
            tool_call_chunks=[tool_call_chunk(name="search", args='{"query": "b"}', index=2)],
        ),
    ]
    tasks = read(chunks)
    assert [t["thought"] for t in tasks] == ["First the caps.", "Then the difference.", None]


def test_a_replan_continues_the_ids_and_references_earlier_rounds() -> None:
    calls = [
        call("math", problem="$1 vs $2", context=["$1", "${2}.price"]),
        call("search", query="$3"),
        call("search", query="$5"),
        call("search", query="$4"),
    ]
    tasks = read(stream_of("", calls), known_ids=[1, 2])
    assert [t["idx"] for t in tasks] == [3, 4, 5, 6]
    assert tasks[0]["dependencies"] == [1, 2] and tasks[0]["error"] is None
    assert tasks[1]["error"] is None and tasks[1]["dependencies"] == [3]
    assert tasks[2]["error"] == "self reference: $5"
    assert tasks[3]["dependencies"] == [4]


def test_a_whole_message_from_a_model_that_does_not_stream() -> None:
    message = AIMessage(
        "Both caps.",
        tool_calls=[
            tool_call(name="search", args={"query": "a"}, id="1"),
            tool_call(name="math", args={"problem": "$1"}, id="2"),
            tool_call(name="join", args={}, id="3"),
        ],
        invalid_tool_calls=[invalid_tool_call(name="search", args="{oops", id="4", error="bad")],
    )
    tasks = read([message])
    assert planned(tasks) == [(1, "search", {"query": "a"}), (2, "math", {"problem": "$1"})]
    assert tasks[0]["thought"] == "Both caps." and tasks[1]["dependencies"] == [1]
    without_join = message.model_copy(update={"tool_calls": message.tool_calls[:1]})
    valid, invalid = read([without_join])
    assert valid == tasks[0]
    assert invalid["idx"] == 2 and invalid["error"] is not None
    assert invalid["error"].startswith("unparsable arguments: Expecting property name")


@pytest.mark.parametrize("index", [None, 0], ids=["no-index", "same-index"])
def test_calls_are_told_apart_by_their_id_when_the_index_does_not(index: int | None) -> None:
    """Providers that send no index, or every call whole at the same index."""
    pieces = [
        ("a", "search", '{"query":'),
        (None, None, ' "x"'),
        ("b", "search", ""),
        (None, None, '{"query": "y"}'),
        ("c", "search", '"z"'),
    ]
    chunks = [
        AIMessageChunk(
            content="", tool_call_chunks=[tool_call_chunk(id=i, name=n, args=a, index=index)]
        )
        for i, n, a in pieces
    ]
    tasks = read(chunks)
    assert planned(tasks) == [
        (1, "search", {}),
        (2, "search", {"query": "y"}),
        (3, "search", {}),
    ]
    assert (
        tasks[0]["error"]
        == "unparsable arguments: Expecting ',' delimiter in JSON (at character 13)"
    )
    assert tasks[2]["error"] == "unparsable arguments: a JSON string, not an object"


def chunk(
    name: str | None = None,
    args: str | None = None,
    id: str | None = None,
    index: int | None = None,
) -> AIMessageChunk:
    """A chunk of one piece of one tool call."""
    piece = tool_call_chunk(name=name, args=args, id=id, index=index)
    return AIMessageChunk(content="", tool_call_chunks=[piece])


THREE_CALLS = [
    call("search", query="a"),
    call("search", query="b"),
    call("math", problem="$1 vs $2", context=["$1", "$2"]),
    ("join", "{}"),
]


@pytest.mark.parametrize("size", [1, 4, 10**9], ids=["by-character", "in-pieces", "whole"])
def test_calls_without_index_or_id_are_told_apart_by_their_name(size: int) -> None:
    """Providers that send neither stream a call's name first, then its arguments: a piece with
    a name starts a call, one without continues it."""
    chunks = [
        piece
        for name, arguments in THREE_CALLS
        for piece in [
            chunk(name=name, args=""),
            *(chunk(args=arguments[i : i + size]) for i in range(0, len(arguments), size)),
        ]
    ]
    reader = ToolPlanReader(TOOLS)
    tasks = [t for c in chunks for t in reader.feed(c)]
    assert tasks == read(stream_of("", THREE_CALLS))
    assert len(tasks) == 3 and tasks[2]["dependencies"] == [1, 2]
    assert reader.joined, "join is a call of its own too"


def test_calls_sent_whole_without_index_or_id_are_each_a_task() -> None:
    """Each call whole in one piece (name and arguments), as a message's parsed `tool_calls`
    become chunks without index (`AIMessageChunk(tool_calls=...)`)."""
    chunks = [chunk(name=name, args=arguments) for name, arguments in THREE_CALLS]
    assert read(chunks) == read(stream_of("", THREE_CALLS))
    message = AIMessageChunk(
        content="",
        tool_calls=[tool_call(name=n, args=json.loads(a), id=None) for n, a in THREE_CALLS],
    )
    assert {c["index"] for c in message.tool_call_chunks} == {None}
    assert read([message]) == read(stream_of("", THREE_CALLS))


RESENDS = {
    # a call finished, then the provider sends it again: (the chunks, once `b` was read)
    "same-index": [chunk(name="search", args="", index=0), chunk(args='{"query": "a"}', index=0)],
    "same-index-in-pieces": [chunk(args='{"query":', index=0), chunk(args=' "a"}', index=0)],
    "same-id": [chunk(name="search", args='{"query": "a"}', id="call_0")],
    "same-id-and-index": [chunk(name="search", args='{"query": "a"}', id="call_0", index=0)],
    "same-id-then-pieces": [chunk(name="search", id="call_0"), chunk(args='{"query": "a"}')],
    "whole-message-chunk": [
        AIMessageChunk(
            content="", tool_calls=[tool_call(name="search", args={"query": "a"}, id="call_0")]
        )
    ],
}


@pytest.mark.parametrize("resend", RESENDS.values(), ids=RESENDS.keys())
def test_a_finished_call_sent_again_is_not_a_second_task(
    resend: list[AIMessageChunk], caplog: pytest.LogCaptureFixture
) -> None:
    """Recognised by its id when it has one, else by its index: the tool runs once."""
    calls = [call("search", query="a"), call("search", query="b"), call("math", problem="$1")]
    chunks = stream_of("", calls)  # ids call_0, call_1, call_2 at indexes 0, 1, 2
    third = next(n for n, c in enumerate(chunks) if c.tool_call_chunks[0]["index"] == 2)
    with caplog.at_level("WARNING"):
        tasks = read([*chunks[:third], *resend, *chunks[third:], *resend])
    assert tasks == read(stream_of("", calls))
    assert caplog.records == [], "the same call again is nothing to report"


def test_the_same_chunk_twice_is_one_task(caplog: pytest.LogCaptureFixture) -> None:
    whole = chunk(name="search", args='{"query": "a"}', id="call_0", index=0)
    with caplog.at_level("WARNING"):
        tasks = read([whole, whole, chunk(name="search", args='{"query": "b"}', index=1), whole])
    assert planned(tasks) == [(1, "search", {"query": "a"}), (2, "search", {"query": "b"})]
    assert caplog.records == []


@pytest.mark.parametrize(
    "resend",
    [
        [chunk(name="search", args='{"query": "other"}', id="call_0")],
        [chunk(args='{"query": "other"}', index=0)],
        [chunk(name="lookup", args='{"query": "a"}', index=0)],
    ],
    ids=["other-arguments-same-id", "other-arguments-same-index", "other-tool-same-index"],
)
def test_a_call_sent_again_with_other_content_is_reported_not_run(
    resend: list[AIMessageChunk], caplog: pytest.LogCaptureFixture
) -> None:
    calls = [call("search", query="a"), call("search", query="b")]
    with caplog.at_level("WARNING", logger="llmcompiler_graph.core.tool_plan"):
        tasks = read([*stream_of("", calls), *resend])
    assert tasks == read(stream_of("", calls))
    (record,) = caplog.records
    assert "again with other content" in record.getMessage()
    assert "task 1" in record.getMessage()


def test_a_whole_message_with_a_call_twice_runs_it_once() -> None:
    twice = tool_call(name="search", args={"query": "a"}, id="call_0")
    message = AIMessage("", tool_calls=[twice, tool_call(name="math", args={}, id="1"), twice])
    assert [t["tool"] for t in read([message])] == ["search", "math"]


def test_huge_arguments_are_read_in_linear_time() -> None:
    query = ('a\\"b\\\\c{}[] $1 ' * 100_000)[:1_000_000]
    arguments = json.dumps({"query": query})
    started = time.perf_counter()
    (task,) = read(stream_of("", [("search", arguments)], size=1000))
    assert time.perf_counter() - started < 5
    assert task["args"] == {"query": query} and task["error"] is None


# --- property: any chunking gives the same tasks, each at the chunk where it closes -------------

ATOMS = [*'ab {}[]:,"\\/\n', "é", "\u2028", "😀", "$1", "${2}", "$1.price", "${1}[0].name", "$9"]
strings = st.lists(st.sampled_from(ATOMS), max_size=8).map("".join)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=6,
)
SHAPES = ("object", "object", "object", "unclosed", "array", "scalar", "blank", "garbage")


@st.composite
def arguments(draw: st.DrawFn, tool: str) -> tuple[str, bool]:
    """A call's arguments' JSON text, and whether its last character closes it."""
    shape = draw(st.sampled_from(SHAPES))
    params = [*TOOLS.get(tool, ["x"]), "extra"]
    args = {p: draw(values) for p in params if draw(st.booleans())}
    text = json.dumps(
        args,
        ensure_ascii=draw(st.booleans()),
        indent=draw(st.sampled_from([None, 0, 2])),
    )
    if shape == "unclosed":
        return text[:-1], False
    if shape == "array":
        return json.dumps(list(args.values())), True
    if shape == "scalar":
        return json.dumps(draw(st.none() | st.integers() | strings)), False
    if shape == "blank":
        return draw(st.sampled_from(["", " "])), False
    if shape == "garbage":
        return '{"query": ' + draw(st.sampled_from(["", "a", "1 2", ":", ",", "'x'"])) + "}", True
    return text, True


@st.composite
def tool_streams(draw: st.DrawFn) -> tuple[list[AIMessageChunk], list[Call], list[int], int]:
    """A randomly chunked stream of text and tool calls: its chunks, its calls, the chunk at
    which each task must be returned (len(chunks): at `close`), and the known ids."""
    content = draw(strings)
    names = st.sampled_from([*sorted(TOOLS), "fly", "join"])
    calls: list[Call] = []
    closes: list[bool] = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(names)
        text, closing = draw(arguments(name))
        calls.append((name, text))
        closes.append(closing)
    pieces: list[tuple[int | None, Any]] = []  # (call index or None for content, piece)
    cuts = draw(st.lists(st.integers(1, max(len(content) - 1, 1)), max_size=3))
    for piece in _split(content, cuts):
        pieces.append((None, piece))
    last_piece: list[int] = []
    header_piece: list[int] = []
    for index, (name, text) in enumerate(calls):
        cuts = draw(st.lists(st.integers(1, max(len(text) - 1, 1)), max_size=6))
        parts = _split(text, cuts)
        with_header = draw(st.booleans()) and parts
        header_piece.append(len(pieces))
        first = parts.pop(0) if with_header else ""
        pieces.append((index, tool_call_chunk(name=name, args=first, id=f"c{index}", index=index)))
        pieces += [(index, tool_call_chunk(args=p, index=index)) for p in parts]
        last_piece.append(len(pieces) - 1)
    bounds = sorted(set(draw(st.lists(st.integers(1, max(len(pieces) - 1, 1)), max_size=12))))
    groups = [pieces[a:b] for a, b in zip([0, *bounds], [*bounds, len(pieces)], strict=True)]
    groups = [g for g in groups if g]
    chunks = [
        AIMessageChunk(
            content="".join(p for i, p in group if i is None),
            tool_call_chunks=[p for i, p in group if i is not None],
        )
        for group in groups
    ]
    chunk_of = {}
    for n, group in enumerate(groups):
        for _ in group:
            chunk_of[len(chunk_of)] = n
    expected = []
    for index, (name, text) in enumerate(calls):
        if name == "join":
            break
        if closes[index] and text.strip():
            expected.append(chunk_of[last_piece[index]])
        elif index + 1 < len(calls):
            expected.append(chunk_of[header_piece[index + 1]])
        else:
            expected.append(len(chunks))
    return chunks, calls, expected, draw(st.integers(0, 2))


def _split(text: str, cuts: Iterable[int]) -> list[str]:
    bounds = sorted({c for c in cuts if 0 < c < len(text)})
    return [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True) if b > a]


def check_chunking(stream: tuple[list[AIMessageChunk], list[Call], list[int], int]) -> None:
    """The tasks of a chunked stream are those of the same calls read whole (and char by char),
    each returned at the chunk where its call closes."""
    chunks, calls, expected_at, known = stream
    known_ids = range(1, known + 1)
    reader = ToolPlanReader(TOOLS, known_ids=known_ids)
    returned = [(n, t) for n, c in enumerate(chunks) for t in reader.feed(c)]
    returned += [(len(chunks), t) for t in reader.close()]
    tasks = [t for _, t in returned]
    content = "".join(c.text for c in chunks)
    assert tasks == read(whole(calls, content), known_ids)
    assert tasks == read(stream_of(content, calls, size=1), known_ids)
    assert [n for n, _ in returned] == expected_at
    assert [t["idx"] for t in tasks] == list(range(known + 1, known + 1 + len(expected_at)))


@settings(max_examples=40, deadline=None)
@given(tool_streams())
def test_any_chunking_gives_the_same_tasks_each_where_its_call_closes(
    stream: tuple[list[AIMessageChunk], list[Call], list[int], int],
) -> None:
    check_chunking(stream)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_streams())
def test_any_chunking_gives_the_same_tasks_many_examples(
    stream: tuple[list[AIMessageChunk], list[Call], list[int], int],
) -> None:
    check_chunking(stream)


# --- the planner -------------------------------------------------------------------------------


def search(query: str) -> str:
    """Search the web."""
    return query


def math(problem: str, context: list[str] | None = None) -> str:
    """Solve a math problem."""
    return problem


def lookup(key: str, default: str | None = None) -> str:
    """Look a key up."""
    return key


TOOLBOX = Toolbox([search, math, lookup])
QUESTION = HumanMessage("Which company is bigger, Microsoft or Apple?")


def events() -> tuple[EventSink, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    return EventSink(sent.append, graph="g", round=1), sent


def new_turn() -> Turn:
    return Turn(QUESTION)


async def test_planner_binds_the_tools_and_join_and_marks_its_protocol() -> None:
    model = ToolCallingModel(content="I need both market caps.", calls=EXAMPLE_CALLS)
    planner = Planner(model, TOOLBOX, format="tools")
    sink, sent = events()
    published: list[Task] = []

    tasks = await planner.aplan(new_turn(), [QUESTION], published.append, sink)

    assert model.bound == ["search", "math", "lookup", "join"]
    assert model.roles == [("planner", "tools")]
    assert tasks == published == parse_plan(EXAMPLE, TOOLS)
    (prompt,) = model.prompts
    assert prompt[0].text.startswith(TOOLS_PLANNER_PROMPT.split("\n")[0])
    assert '$3 = math({"problem": "What is the sum of the two populations?"' in prompt[0].text
    assert [e["event"] for e in sent] == ["plan_started", "plan_finished"]
    assert (sent[-1]["tasks"], sent[-1]["joined"]) == (3, True)


async def test_the_text_planner_marks_its_protocol_too() -> None:
    model = ToolCallingModel(content=EXAMPLE)
    planner = Planner(model, TOOLBOX)
    tasks = await planner.aplan(new_turn(), [QUESTION], lambda task: None, events()[0])
    assert tasks == parse_plan(EXAMPLE, TOOLS)
    assert model.roles == [("planner", "text")] and model.bound == []


def test_a_model_that_cannot_bind_tools_is_refused_clearly() -> None:
    model = ScriptedChatModel(script=lambda role, messages: "")
    with pytest.raises(ValueError, match=r"cannot: use planner='text'"):
        Planner(model, TOOLBOX, format="tools")
    with pytest.raises(ValueError, match=r"use planner='text'"):
        create_llmcompiler(model, [search], planner="tools")


async def test_each_task_is_published_as_its_call_closes_before_the_stream_ends() -> None:
    model = ToolCallingModel(calls=EXAMPLE_CALLS, size=3)
    planner = Planner(model, TOOLBOX, format="tools")
    at: dict[int, int] = {}

    await planner.aplan(
        new_turn(), [QUESTION], lambda t: at.setdefault(t["idx"], len(model.sent)), events()[0]
    )

    closing = [
        n + 1
        for n, chunk in enumerate(model.sent)
        if chunk.tool_call_chunks and chunk.tool_call_chunks[0]["args"].endswith("}")
    ]
    assert at == {1: closing[0], 2: closing[1], 3: closing[2]}
    assert max(at.values()) < len(model.sent)


class ChunkedModel(ToolCallingModel):
    """Streams the chunks given, as they are: a provider's own way to send tool calls."""

    chunks: list[AIMessageChunk] = Field(default_factory=list)

    def _chunks(self, messages: list[BaseMessage]) -> Iterator[ChatGenerationChunk]:
        self.prompts.append(messages)
        for chunk in self.chunks:
            self.sent.append(chunk)
            yield ChatGenerationChunk(message=chunk)


async def test_the_planner_publishes_each_call_of_a_stream_without_index_once() -> None:
    """Calls named by an id in their first piece only, no index; the first sent again whole."""
    pieces = [
        piece
        for n, (name, arguments) in enumerate(THREE_CALLS)
        for piece in [
            chunk(name=name, args="", id=f"call_{n}"),
            *(chunk(args=arguments[i : i + 3]) for i in range(0, len(arguments), 3)),
        ]
    ]
    again = chunk(name="search", args='{"query": "a"}', id="call_0")
    join = next(n for n, c in enumerate(pieces) if c.tool_call_chunks[0]["name"] == "join")
    model = ChunkedModel(chunks=[*pieces[:join], again, *pieces[join:]])
    published: list[Task] = []

    tasks = await Planner(model, TOOLBOX, format="tools").aplan(
        new_turn(), [QUESTION], published.append, events()[0]
    )

    assert published == tasks == read(stream_of("", THREE_CALLS))
    assert len(tasks) == 3


def test_sync_plan_is_the_same() -> None:
    model = ToolCallingModel(content="I need both market caps.", calls=EXAMPLE_CALLS)
    planner = Planner(model, TOOLBOX, format="tools")
    published: list[Task] = []
    tasks = planner.plan(new_turn(), [QUESTION], published.append, events()[0])
    assert tasks == published == parse_plan(EXAMPLE, TOOLS)


async def test_max_tasks_cuts_the_plan() -> None:
    model = ToolCallingModel(calls=[call("search", query=str(n)) for n in range(5)])
    planner = Planner(model, TOOLBOX, format="tools", max_tasks=2)
    tasks = await planner.aplan(new_turn(), [QUESTION], lambda task: None, events()[0])
    assert [t["idx"] for t in tasks] == [1, 2, 3]
    assert tasks[2]["error"] is not None and "max_tasks=2" in tasks[2]["error"]


async def test_stop_ends_the_plan_where_it_is() -> None:
    model = ToolCallingModel(calls=EXAMPLE_CALLS)
    planner = Planner(model, TOOLBOX, format="tools")
    published: list[Task] = []
    tasks = await planner.aplan(
        new_turn(), [QUESTION], published.append, events()[0], stop=lambda: bool(published)
    )
    assert [t["idx"] for t in tasks] == [1]


async def test_a_stream_that_breaks_after_a_task_keeps_the_published_tasks() -> None:
    chunks = stream_of("", EXAMPLE_CALLS)
    second = next(
        n
        for n, c in enumerate(chunks)
        if c.tool_call_chunks and c.tool_call_chunks[0]["index"] == 1
    )
    model = ToolCallingModel(calls=EXAMPLE_CALLS, fail_after=second)
    planner = Planner(model, TOOLBOX, format="tools")
    sink, sent = events()
    tasks = await planner.aplan(new_turn(), [QUESTION], lambda task: None, sink)
    assert planned(tasks) == planned(parse_plan(EXAMPLE, TOOLS)[:1])
    assert (sent[-1]["tasks"], sent[-1]["joined"]) == (1, False)

    model = ToolCallingModel(calls=EXAMPLE_CALLS, fail_after=second + 2)
    tasks = await Planner(model, TOOLBOX, format="tools").aplan(
        new_turn(), [QUESTION], lambda task: None, events()[0]
    )
    assert [t["idx"] for t in tasks] == [1, 2]
    assert tasks[1]["error"] is not None and tasks[1]["error"].startswith("unparsable arguments")


async def test_a_stream_that_breaks_before_any_task_fails_and_is_not_retried() -> None:
    model = ToolCallingModel(calls=EXAMPLE_CALLS, fail_after=2)
    planner = Planner(model, TOOLBOX, format="tools")
    with pytest.raises(ConnectionError):
        await planner.aplan(new_turn(), [QUESTION], lambda task: None, events()[0])
    assert len(model.prompts) == 1


def test_the_replan_prompt_gives_the_first_id_of_the_new_plan() -> None:
    tasks = [make_task(1, "search", {"query": "a"}), make_task(2, "search", {"query": "b"})]
    observations = {t["idx"]: make_observation(t["idx"], "ok", "found") for t in tasks}
    turn = Turn(QUESTION, round=1, tasks=tasks, observations=observations, feedback="More.")
    tools = Planner(ToolCallingModel(), TOOLBOX, format="tools").prompt(turn, [QUESTION])[-1].text
    text = Planner(ToolCallingModel(), TOOLBOX).prompt(turn, [QUESTION])[-1].text
    assert tools.startswith("The previous plan and its results:\n1. search(query='a')")
    assert "its first call is $3, the next $4, and so on." in tools
    assert "continues the ids at 3." in text
    assert tools.endswith(
        "The results above stay available as $1, $2; reference them instead of repeating work."
    )
    assert text.split("Feedback: More.\n")[0] == tools.split("Feedback: More.\n")[0]


# --- the simulator -----------------------------------------------------------------------------


def request(role: str, protocol: str | None, text: str, **body: Any) -> ChatRequest:
    messages = [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]
    return ChatRequest.from_body(
        {"messages": messages, **body}, time.time(), role=role, protocol=protocol
    )


REPLAN = next(s for s in SHOWCASE if len(s.rounds) > 1)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=scenario_id)
def test_the_simulator_writes_each_round_as_tool_calls(scenario: Scenario) -> None:
    brain = ScenarioBrain(SCENARIOS)
    for index, tasks in enumerate(round_tasks(scenario)):
        shown = "".join(
            f"{t['idx']}. {t['tool']}()\n" for r in round_tasks(scenario)[:index] for t in r
        )
        text = (
            f"{scenario.question}" if not index else f"The previous plan and its results:\n{shown}"
        )
        messages = [{"role": "user", "content": scenario.question}] if index else []
        reply = brain(
            ChatRequest.from_body(
                {"messages": [*messages, {"role": "user", "content": text}]},
                time.time(),
                role="planner",
                protocol="tools",
            )
        )
        assert isinstance(reply, ChatResponse)
        assert reply.tool_calls[-1].name == "join"
        assert [(c.name, c.arguments) for c in reply.tool_calls[:-1]] == [
            (t["tool"], t["args"]) for t in tasks
        ]
        assert reply.content == " ".join(t["thought"] for t in tasks if t["thought"])


def test_the_simulator_joiner_answers_in_the_protocol_asked() -> None:
    brain = ScenarioBrain(SHOWCASE)
    after_first = f"{REPLAN.question}"
    first_round = "The plan and its results:\n1. search(query='x')\nObservation: \"y\""
    second_round = first_round + "\n5. math(problem='z')\nObservation: \"49\""

    def join(protocol: str | None, text: str, **body: Any) -> Any:
        messages = [{"role": "user", "content": after_first}, {"role": "user", "content": text}]
        return brain(
            ChatRequest.from_body(
                {"messages": messages, **body}, time.time(), role="joiner", protocol=protocol
            )
        )

    feedback = REPLAN.rounds[0].replan
    assert join("lean", first_round) == f"Replan: {feedback}"
    thought, plan = REPLAN.rounds[1].plan.split("\n", 1)  # the few words, then the plan
    replan = f"Replan: {thought.removeprefix('Thought:').strip()}\n{plan}"
    assert join("lean+plans", first_round) == replan
    assert (
        join("lean", second_round) == join("lean+plans", second_round) == f"Answer: {REPLAN.answer}"
    )
    assert (
        join(
            "lean+plans",
            first_round + "\n\nThere is no budget for another plan: answer now with what you have.",
        )
        == f"Answer: {REPLAN.answer}"
    )
    assert (
        join("text", first_round)
        == join(None, first_round)
        == f"Thought: Something is missing.\nAction: Replan({feedback})"
    )
    assert join(None, second_round).endswith(f"Action: Finish({REPLAN.answer})")
    structured = join(
        "structured",
        first_round,
        tools=[{"type": "function", "function": {"name": "JoinerDecision", "parameters": {}}}],
        tool_choice={"type": "function", "function": {"name": "JoinerDecision"}},
    )
    assert isinstance(structured, ChatResponse)
    assert structured.tool_calls[0].arguments["action"] == "replan"


# --- with the real ChatOpenAI and the simulators -------------------------------------------------


class ChunkCounter(BaseCallbackHandler):
    """Counts the model's streamed chunks as they arrive."""

    run_inline = True

    def __init__(self) -> None:
        self.chunks = 0

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.chunks += 1


@pytest.mark.parametrize("scenario", SHOWCASE, ids=scenario_id)
async def test_chatopenai_streams_the_plan_as_tool_calls(
    llm: OpenAISimulator, http_client: HttpClient, scenario: Scenario
) -> None:
    """Every round of the scenario, planned through the real ChatOpenAI: the scenario's tasks
    (the thought is the first task's), each published in order before the stream's last chunk."""
    model = load_chat_model(
        "openai:gpt-4o-mini", base_url=llm.base_url, api_key="x", http_async_client=http_client
    )
    planner = Planner(model, TOOLBOX, format="tools")
    turn = Turn(HumanMessage(scenario.question))
    for index, expected in enumerate(round_tasks(scenario)):
        counter = ChunkCounter()
        published: list[tuple[int, Task]] = []
        tasks = await planner.aplan(
            turn,
            [turn.question],
            lambda task, counter=counter, published=published: published.append(
                (counter.chunks, task)
            ),
            events()[0],
            {"callbacks": [counter]},
        )
        assert [{**t, "thought": None} for t in tasks] == [{**t, "thought": None} for t in expected]
        thoughts = " ".join(t["thought"] for t in expected if t["thought"]) or None
        assert tasks[0]["thought"] == thoughts
        assert [t for _, t in published] == tasks
        assert all(0 < seen < counter.chunks for seen, _ in published), (published, counter.chunks)
        observations = {t["idx"]: make_observation(t["idx"], "ok", "found") for t in tasks}
        turn = Turn(
            turn.question,
            round=index + 1,
            tasks=turn.tasks + tasks,
            observations={**turn.observations, **observations},
            feedback=scenario.rounds[index].replan or "",
        )
    planners = requests_of(llm, "planner")
    assert len(planners) == len(scenario.rounds)
    assert all(e.request.protocol == "tools" for e in planners)
    assert planners[0].request.tool_names == ["search", "math", "lookup", "join"]
    if len(planners) > 1:
        assert "its first call is $2" in planners[1].request.last_user_text


@pytest.mark.parametrize("scenario", SHOWCASE, ids=scenario_id)
@pytest.mark.parametrize("mode", ["async", "sync"])
@pytest.mark.parametrize("joiner", ["default", "structured"])
async def test_the_graph_answers_with_the_tool_calling_planner(
    llm: OpenAISimulator,
    tavily: TavilySimulator,
    http_client: HttpClient,
    scenario: Scenario,
    mode: str,
    joiner: str,
) -> None:
    """`create_llmcompiler(..., planner="tools")` answers every showcase question, the replan
    one included, with `ainvoke` and sync `invoke`: the scenario's tasks, all ok."""
    settings = {} if joiner == "default" else {"joiner": joiner}
    graph = build(chat_model(llm, http_client), tavily, planner="tools", **settings)

    run = await invoke_run(graph, scenario.question, mode)  # type: ignore[arg-type]

    assert run.answer == scenario.answer
    assert run.state["round"] == len(scenario.rounds)
    assert planned(run.state["tasks"]) == planned(scenario.tasks)
    assert_results(run, scenario)
    planners = requests_of(llm, "planner")
    # the lean joiner writes each replan's plan itself (joiner_plans, the default)
    assert len(planners) == (1 if joiner == "default" else len(scenario.rounds))
    assert {e.request.protocol for e in planners} == {"tools"}


@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_the_graph_streams_the_same_events(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient, mode: str
) -> None:
    graph = build(chat_model(llm, http_client), tavily, planner="tools")

    run = await run_streamed(graph, REPLAN.question, mode)  # type: ignore[arg-type]

    assert run.answer == REPLAN.answer
    assert_results(run, REPLAN)
    planned_events = [e for e in run.events if e["event"] == "task_planned"]
    assert planned(planned_events) == planned(REPLAN.tasks)
    finished = [e for e in run.events if e["event"] == "plan_finished"]
    assert [(e["round"], e["tasks"], e["joined"]) for e in finished] == [
        (n + 1, len(tasks), True) for n, tasks in enumerate(round_tasks(REPLAN))
    ]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["async", "sync"])
async def test_the_first_task_starts_while_the_tool_calls_still_stream(
    llm: OpenAISimulator, tavily: TavilySimulator, http_client: HttpClient, mode: str
) -> None:
    """With real SSE pacing, task 1 runs (and reaches Tavily) while the planner still streams
    the later calls: dispatch at each call's closing brace, not at the message's end."""
    llm.latency = SLOW_DECODE
    scenario = next(s for s in SHOWCASE if s.math)
    graph = build(chat_model(llm, http_client), tavily, planner="tools")

    run = await run_streamed(graph, scenario.question, mode)  # type: ignore[arg-type]

    assert run.answer == scenario.answer
    planner = requests_of(llm, "planner")[0]
    assert planner.first_chunk_at is not None and planner.last_chunk_at is not None
    assert planner.last_chunk_at - planner.first_chunk_at > 0.5, "the plan should stream slowly"
    started = first(run.events, "task_started", idx=1)["time"]
    assert planner.first_chunk_at < started < planner.last_chunk_at
    assert tavily.requests[0].received_at < planner.last_chunk_at
    second = first(run.events, "task_started", idx=2)["time"]
    assert second < planner.last_chunk_at
