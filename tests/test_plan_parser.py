"""Incremental plan parser: chunking, early emission, arguments, references, errors."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcompiler_graph.core.parser import PlanParser, aparse, parse_plan
from llmcompiler_graph.core.plan import Task, make_task

TOOLS = {"search": ["query"], "math": ["problem", "context"], "lookup": ["key", "default"]}

EXAMPLE = """Thought: I need both market caps.
1. search(query="Microsoft market cap")
2. search("Apple market cap")
3. math(problem="How much must $1 grow to exceed $2?", context=["$1", "$2"])
Thought: I can answer now.
4. join()<END_OF_PLAN>
"""


def feed_chunks(chunks: Iterable[str], known_ids: Iterable[int] = ()) -> list[Task]:
    parser = PlanParser(TOOLS, known_ids=known_ids)
    tasks = [task for chunk in chunks for task in parser.feed(chunk)]
    return tasks + parser.close()


def split_at(text: str, cuts: Iterable[int]) -> list[str]:
    bounds = [0, *sorted(set(cuts)), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def one(text: str, **kwargs: Any) -> Task:
    tasks = parse_plan(text, TOOLS, **kwargs)
    assert len(tasks) == 1, tasks
    return tasks[0]


task = make_task


# --- the plan language -------------------------------------------------------------------------


def test_design_example() -> None:
    parser = PlanParser(TOOLS)
    tasks = parser.feed(EXAMPLE) + parser.close()
    assert tasks == [
        task(1, "search", {"query": "Microsoft market cap"}, thought="I need both market caps."),
        task(2, "search", {"query": "Apple market cap"}),
        task(
            3,
            "math",
            {"problem": "How much must $1 grow to exceed $2?", "context": ["$1", "$2"]},
            [1, 2],
        ),
    ]
    assert parser.done and parser.joined
    assert parser.tasks == tasks


def test_task_keys_and_json_round_trip() -> None:
    tasks = parse_plan(EXAMPLE + "5. search(1)", TOOLS)
    for t in tasks:
        assert list(t) == ["idx", "tool", "args", "dependencies", "thought", "error"]
    assert json.loads(json.dumps(tasks)) == tasks


# --- incremental feeding -----------------------------------------------------------------------


def test_char_by_char_equals_whole_text() -> None:
    assert feed_chunks(EXAMPLE) == parse_plan(EXAMPLE, TOOLS)


def test_random_splits_equal_whole_text() -> None:
    rng = random.Random(7)
    text = EXAMPLE.replace("4. join()", 'Step 4: lookup(\n  "k",\n  [$3, "a)b"],\n)\n5. join()')
    expected = parse_plan(text, TOOLS)
    assert len(expected) == 4
    for _ in range(200):
        cuts = rng.sample(range(len(text)), rng.randint(0, 12))
        assert feed_chunks(split_at(text, cuts)) == expected


def test_task_is_emitted_at_its_closing_parenthesis_without_newline() -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed('1. search("a"') == []
    assert parser.feed(")") == [task(1, "search", {"query": "a"})]
    assert parser.close() == []


def test_char_by_char_emits_each_task_before_the_next_one_is_fed() -> None:
    text = '1. search("a (b)")\n2. math("x", [$1,\n  "y"])  \n3. search("c")'
    parser = PlanParser(TOOLS)
    emitted_at = {}
    for pos, ch in enumerate(text):
        for t in parser.feed(ch):
            emitted_at[t["idx"]] = pos
    closing = [text.index('b)")') + 3, text.index('"y"])') + 4, len(text) - 1]
    assert [emitted_at[i] for i in (1, 2, 3)] == closing


def test_multi_line_call_waits_for_balanced_brackets() -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed('3. math("x", context=[\n') == []
    assert parser.feed('    "$1",\n') == []
    assert parser.feed("    ${2},\n") == []
    [t] = parser.feed("])\n")
    assert t["args"] == {"problem": "x", "context": ["$1", "${2}"]}
    assert (
        t["error"]
        == "missing reference: $1 (there is no task 1); missing reference: $2 (there is no task 2)"
    )


def test_end_of_plan_split_across_chunks() -> None:
    text = '1. search("a")\n<END_OF_PLAN>\n2. search("ignored")\n'
    for cut in range(len(text)):
        parser = PlanParser(TOOLS)
        tasks = parser.feed(text[:cut]) + parser.feed(text[cut:])
        assert tasks == [task(1, "search", {"query": "a"})]
        assert parser.done and not parser.joined


async def test_aparse_yields_tasks_from_a_stream() -> None:
    async def chunks() -> AsyncIterator[str]:
        for i in range(0, len(EXAMPLE), 5):
            yield EXAMPLE[i : i + 5]

    tasks = [t async for t in aparse(chunks(), TOOLS)]
    assert tasks == parse_plan(EXAMPLE, TOOLS)


def test_a_thousand_tasks_char_by_char() -> None:
    text = "".join(f'{i}. search("q{i}, with ${{{i - 1}}}")\n' for i in range(2, 1002))
    parser = PlanParser(TOOLS, known_ids=[1])
    count = sum(len(parser.feed(ch)) for ch in text)
    assert count == 1000
    assert parser.tasks[-1]["dependencies"] == [1000]


# --- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ('search("a, b")', {"query": "a, b"}),
        ('search(query="f(x) = y, z")', {"query": "f(x) = y, z"}),
        ("search('say \"hi\", then )')", {"query": 'say "hi", then )'}),
        (r'search("it\'s \"quoted\" \\ ok")', {"query": 'it\'s "quoted" \\ ok'}),
        (r'search("line one\nline two")', {"query": "line one\nline two"}),
        ('search("joined \\\nline")', {"query": "joined line"}),
        ('search("""triple "quoted" (text)""")', {"query": 'triple "quoted" (text)'}),
        ("search('''a\nb''')", {"query": "a\nb"}),
        ('search("")', {"query": ""}),
        ('search("" "x")', {"query": "x"}),
        ('search("Zürich → 東京 ✓")', {"query": "Zürich → 東京 ✓"}),
        ("search(-3)", {"query": -3}),
        ("search(2.5e-3)", {"query": 0.0025}),
        ("search(True)", {"query": True}),
        ("search(None)", {"query": None}),
        ("math(False, [1, -2.5, None])", {"problem": False, "context": [1, -2.5, None]}),
        (
            "math((1, (2, 3)), {'a': [1, {'b': ()}]})",
            {"problem": [1, [2, 3]], "context": {"a": [1, {"b": []}]}},
        ),
        ('lookup(default="d", key="k")', {"default": "d", "key": "k"}),
        ('lookup("k")', {"key": "k"}),
        ("lookup()", {}),
        ('search ( "spaced" , )', {"query": "spaced"}),
    ],
)
def test_arguments(call: str, args: dict[str, Any]) -> None:
    assert one(f"1. {call}") == task(1, call.split("(")[0].strip(), args)


def test_tool_names_that_are_not_python_identifiers() -> None:
    tools = {"web-search": ["q"]}
    [t] = parse_plan('1. web-search("x")', tools)
    assert (t["tool"], t["args"], t["error"]) == ("web-search", {"q": "x"}, None)


@pytest.mark.parametrize(
    ("call", "args", "error"),
    [
        (
            'search("a", "b")',
            {"query": "a"},
            "too many positional arguments: search() takes 1, got 2",
        ),
        (
            'search(q="a")',
            {"q": "a"},
            "unknown argument 'q' for search() (parameters: query)",
        ),
        ('search("a", query="b")', {"query": "a"}, "argument 'query' given twice"),
        ("search(query=)", {}, "unparsable arguments: invalid syntax"),
        (
            'search("a" "b" query="c")',
            {},
            "unparsable arguments: invalid syntax. Perhaps you forgot a comma?",
        ),
        ("math(f(x))", {}, "unparsable arguments: not a literal value: f(x)"),
        ("math(1 + x)", {}, "unparsable arguments: not a literal value: 1 + x"),
        ("math(*xs)", {}, "unparsable arguments: not a literal value: *xs"),
        ("math(**kw)", {}, "unparsable arguments: not a literal value: **kw"),
        ("search({[1]: 2})", {}, "unparsable arguments: unhashable type: 'list'"),
        ("math(" + "-" * 5000 + "1)", {}, "unparsable arguments: too deeply nested"),
        (
            "search(" + "[" * 300 + "]" * 300 + ")",
            {},
            "unparsable arguments: too many nested parentheses",
        ),
        (
            "search([1, 2)",
            {},
            "unparsable arguments: closing parenthesis ')' does not match opening parenthesis '['",
        ),
    ],
)
def test_argument_errors(call: str, args: dict[str, Any], error: str) -> None:
    t = one(f"7. {call}")
    assert (t["idx"], t["tool"], t["args"], t["error"]) == (7, call.split("(")[0], args, error)


def test_unknown_tool_lists_the_known_ones_and_keeps_keyword_args() -> None:
    t = one('1. serch("x", q="y")')
    assert t["error"] == "unknown tool 'serch' (known tools: lookup, math, search)"
    assert (t["tool"], t["args"]) == ("serch", {"q": "y"})
    assert parse_plan("1. a()", {})[0]["error"] == "unknown tool 'a' (known tools: none)"


def test_unclosed_call_is_invalid_at_close() -> None:
    t = one('3. math("x", [$1')
    assert (t["idx"], t["args"], t["error"]) == (
        3,
        {},
        "unparsable arguments: '[' was never closed",
    )


def test_unterminated_string_ends_the_call_at_the_newline() -> None:
    tasks = parse_plan('1. search("a\n2. search("b")', TOOLS)
    assert (
        tasks[0]["error"]
        == "unparsable arguments: unterminated string literal (detected at line 1)"
    )
    assert tasks[1] == task(2, "search", {"query": "b"})


def test_a_new_task_line_ends_an_unclosed_call() -> None:
    tasks = parse_plan('1. math("x", [$1\n2. search("b")\n3. join()\n4. search("c")', TOOLS)
    assert [(t["idx"], t["error"]) for t in tasks] == [
        (1, "unparsable arguments: '[' was never closed"),
        (2, None),
    ]


def test_missing_closing_parenthesis_is_added_when_the_next_line_starts_a_task() -> None:
    text = '1. search("a"\n2. search("b")\n3. math("x", [\n  $1,\n  "y"]\n4. join()\n5. search("c"'
    expected = [
        task(1, "search", {"query": "a"}),
        task(2, "search", {"query": "b"}),
        task(3, "math", {"problem": "x", "context": ["$1", "y"]}, [1]),
    ]
    assert parse_plan(text, TOOLS) == expected
    assert feed_chunks(text) == expected
    parser = PlanParser(TOOLS)
    assert parser.feed('1. search("a"\n') == []
    assert parser.feed("2. search(") == expected[:1]  # decided at the next task's `(`
    assert parser.feed('"b")') == expected[1:2]
    # A bracket or a string still open is not guessed at, and a call cut off at the end stays open.
    assert (
        parse_plan('1. search("a"\n', TOOLS)[0]["error"]
        == "unparsable arguments: '(' was never closed"
    )


@pytest.mark.parametrize(
    ("text", "query", "deps"),
    [
        (
            "1. search(Austin Powers International Man of Mystery)",
            "Austin Powers International Man of Mystery",
            [],
        ),
        ("1. search(  Paris, France )", "Paris, France", []),
        ("1. search(Paris)", "Paris", []),
        ("1. search(Austin Powers (film) cast)", "Austin Powers (film) cast", []),
        ("1. search(Ronald Reagan's birthplace)\n2. join()", "Ronald Reagan's birthplace", []),
        ("1. search(Ronald Reagan's birthplace)", "Ronald Reagan's birthplace", []),
        ("1. search(population of $7 in 2020)", "population of $7 in 2020", [7]),
        ("1. search(${7} population)", "${7} population", [7]),
        ("1. search(what is 1 + 1 == 2)", "what is 1 + 1 == 2", []),
        ("1. search(Austin Powers\n2. join()", "Austin Powers", []),
    ],
)
def test_unquoted_text_is_the_argument_of_a_one_parameter_tool(
    text: str, query: str, deps: list[int]
) -> None:
    expected = [task(8, "search", {"query": query}, deps)]
    assert parse_plan(text, TOOLS, known_ids=[7]) == expected
    assert feed_chunks(text, known_ids=[7]) == expected


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("search(query=Austin Powers)", "invalid syntax. Perhaps you forgot a comma?"),
        ("search(Austin, limit=3)", "not a literal value: Austin"),
        ("math(Austin Powers)", "invalid syntax. Perhaps you forgot a comma?"),
        ("nope(Austin Powers)", "invalid syntax. Perhaps you forgot a comma?"),
        ('search("Austin" Powers)', "invalid syntax. Perhaps you forgot a comma?"),
        ("search([Austin Powers])", "invalid syntax. Perhaps you forgot a comma?"),
        ("search(Austin Powers", "'(' was never closed"),
    ],
)
def test_unquoted_text_is_not_guessed_for_other_bad_arguments(call: str, error: str) -> None:
    assert one(f"1. {call}")["error"].endswith(f"unparsable arguments: {error}")


# --- references --------------------------------------------------------------------------------


def refs(arg: str, known: Iterable[int] = (1, 2)) -> tuple[Any, list[int], str | None]:
    t = one(f"9. search({arg})", known_ids=known)
    return t["args"].get("query"), t["dependencies"], t["error"]


@pytest.mark.parametrize(
    ("arg", "query", "deps"),
    [
        ("$1", "$1", [1]),
        ("${2}", "${2}", [2]),
        ('"$1"', "$1", [1]),
        ('" ${1} "', " ${1} ", [1]),
        ('"${1}+${2}"', "${1}+${2}", [1, 2]),
        ('"$1 and $2 and $1"', "$1 and $2 and $1", [1, 2]),
        ('"costs $100"', "costs $100", []),
        ('"$10 is not task 1"', "$10 is not task 1", []),
        ('"price: $2.50"', "price: $2.50", [2]),
        ("[$1, ${2}, '$1']", ["$1", "${2}", "$1"], [1, 2]),
        ('{"a": [$2], "b": ($1,)}', {"a": ["$2"], "b": ["$1"]}, [1, 2]),
        ('"no refs, $ alone"', "no refs, $ alone", []),
        # paths into the observation: kept as written, dependencies are the ids
        ("$1.price", "$1.price", [1]),
        ("$2[0].title", "$2[0].title", [2]),
        ("${2}.items[2].name", "${2}.items[2].name", [2]),
        ('$1["unit price"]', '$1["unit price"]', [1]),
        ("$1['k'][-1]", "$1['k'][-1]", [1]),
        ('"$1.results[0]"', "$1.results[0]", [1]),
        ('" ${2}.a "', " ${2}.a ", [2]),
        ('"the price is $1.price dollars"', "the price is $1.price dollars", [1]),
        ('"costs $1."', "costs $1.", [1]),
        ('"$1.50 and $100.x"', "$1.50 and $100.x", [1]),
        ('"$7.x is text, ${2}[1] is not"', "$7.x is text, ${2}[1] is not", [2]),
        ("[$1.a, ${2}[0], '$2.b']", ["$1.a", "${2}[0]", "$2.b"], [1, 2]),
        ('{"k": $2["x y"].z}', {"k": '$2["x y"].z'}, [2]),
    ],
)
def test_references(arg: str, query: Any, deps: list[int]) -> None:
    assert refs(arg) == (query, deps, None)


def test_bare_dollar_number_in_text_is_a_reference_only_to_an_existing_task() -> None:
    assert refs('"$1 costs $100"', known=(1,)) == ("$1 costs $100", [1], None)
    tasks = parse_plan('100. search("a")\n101. search("$1 costs $100")', TOOLS, known_ids=[1])
    assert tasks[1]["dependencies"] == [1, 100]
    assert refs('"$3 is text"', known=(1, 2)) == ("$3 is text", [], None)
    assert refs('"costs $100.price"', known=(1,)) == ("costs $100.price", [], None)


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        ("$9", "self reference: $9"),
        ('"${9}"', "self reference: $9"),
        ("[$12]", "forward reference: $12 (only earlier tasks can be used)"),
        ('"see ${10}"', "forward reference: $10 (only earlier tasks can be used)"),
        ('"$5"', "missing reference: $5 (there is no task 5)"),
        ('"${3} and $1"', "missing reference: $3 (there is no task 3)"),
        ('"$5.x"', "missing reference: $5 (there is no task 5)"),
        ("${12}.x", "forward reference: $12 (only earlier tasks can be used)"),
        ("$9[0]", "self reference: $9"),
    ],
)
def test_reference_errors(arg: str, error: str) -> None:
    _, deps, got = refs(arg)
    assert got == error
    assert set(deps) <= {1, 2}


def test_references_to_tasks_of_this_plan_and_earlier_rounds() -> None:
    text = '3. search("$1")\n4. math("${3} minus $2", [$3])'
    tasks = parse_plan(text, TOOLS, known_ids=[1, 2])
    assert [t["dependencies"] for t in tasks] == [[1], [2, 3]]
    assert all(t["error"] is None for t in tasks)


def test_invalid_tasks_can_still_be_referenced() -> None:
    tasks = parse_plan("1. nope()\n2. search($1)", TOOLS)
    assert tasks[1] == task(2, "search", {"query": "$1"}, [1])


# --- ids -----------------------------------------------------------------------------------------


def test_duplicate_and_non_increasing_ids() -> None:
    text = '1. search("a")\n3. search("b")\n3. search("c")\n2. search("d")\n4. search("e")'
    tasks = parse_plan(text, TOOLS)
    assert [(t["idx"], t["error"]) for t in tasks] == [
        (1, None),
        (3, None),
        (3, "duplicate id 3"),
        (2, "non-increasing id 2 (must be greater than 3)"),
        (4, None),
    ]


def test_new_ids_must_follow_earlier_rounds() -> None:
    text = '4. search("a")\n2. search("b")\n3. search("c")\n5. search($3)'
    tasks = parse_plan(text, TOOLS, known_ids=[1, 3])
    assert [(t["idx"], t["dependencies"], t["error"]) for t in tasks] == [
        (4, [], None),
        (2, [], "non-increasing id 2 (must be greater than 4)"),
        (3, [], "duplicate id 3"),
        (5, [3], None),
    ]


def test_several_problems_are_all_reported() -> None:
    t = one("1. nope(x=$1, y=$2)")
    assert t["error"] == (
        "unknown tool 'nope' (known tools: lookup, math, search); self reference: $1; "
        "forward reference: $2 (only earlier tasks can be used)"
    )


def test_replan_that_restarts_its_numbering_is_renumbered() -> None:
    text = """Thought: again
1. search("a")
2. search("$1 vs $3")
3. math("${2} + $2", [$1, $3])
3. search("x")
5. search($7)
join()"""
    expected = [
        task(4, "search", {"query": "a"}, thought="again"),
        task(5, "search", {"query": "$4 vs $3"}, [3, 4]),  # $3: not in this plan (yet)
        task(6, "math", {"problem": "${5} + $5", "context": ["$4", "$3"]}, [3, 4, 5]),
        task(6, "search", {"query": "x"}, error="duplicate id 6"),
        task(
            8,
            "search",
            {"query": "$10"},
            error="forward reference: $10 (only earlier tasks can be used)",
        ),
    ]
    assert parse_plan(text, TOOLS, known_ids=[1, 2, 3]) == expected
    assert feed_chunks(text, known_ids=[1, 2, 3]) == expected
    # Starting at the last known id is a restart too; later ids keep the same offset.
    tasks = parse_plan('3. search("a")\n4. search($3)\n9. search($2)', TOOLS, known_ids=[1, 2, 3])
    assert [(t["idx"], t["args"], t["dependencies"]) for t in tasks] == [
        (4, {"query": "a"}, []),
        (5, {"query": "$4"}, [4]),
        (10, {"query": "$2"}, [2]),
    ]


def test_plan_numbered_from_zero_is_renumbered_from_one() -> None:
    text = '0. search("a")\n1. search("$0 b")\n2. math($1, [$0, "${1}"])\n3. join()'
    expected = [
        task(1, "search", {"query": "a"}),
        task(2, "search", {"query": "$1 b"}, [1]),
        task(3, "math", {"problem": "$2", "context": ["$1", "${2}"]}, [1, 2]),
    ]
    assert parse_plan(text, TOOLS) == expected
    assert feed_chunks(text) == expected
    assert [t["idx"] for t in parse_plan('0. search("a")', TOOLS, known_ids=[1, 2])] == [3]


def test_overlong_ids_are_errors_and_parsing_continues() -> None:
    long_id = "9" * 5000
    text = f'{long_id}. search("a")\n2. search("b")\n{long_id}. search("c")\n4. search($2)'
    tasks = parse_plan(text, TOOLS)
    too_long = "task id too long: 9999999999... (5000 digits)"
    assert [(t["idx"], t["args"], t["dependencies"], t["error"]) for t in tasks] == [
        (1, {"query": "a"}, [], too_long),
        (2, {"query": "b"}, [], None),
        (3, {"query": "c"}, [], too_long),
        (4, {"query": "$2"}, [2], None),
    ]
    assert feed_chunks(text) == tasks
    parser = PlanParser(TOOLS)
    tasks = parser.feed(f'1. search("a")\n{long_id}. join()\n3. search("b")')
    assert [t["idx"] for t in tasks] == [1]
    assert parser.done and parser.joined


def test_overlong_references_are_errors_and_parsing_continues() -> None:
    digits = "1" * 5000
    text = (
        f'1. search("a")\n2. search(${digits})\n3. search("${{{digits}}}")\n'
        f'4. search("costs ${digits}")\n5. math($1, [$2, "$3"])'
    )
    tasks = parse_plan(text, TOOLS)
    too_long = "reference too long: $1111111111... (5000 digits)"
    assert [(t["idx"], t["dependencies"], t["error"]) for t in tasks] == [
        (1, [], None),
        (2, [], too_long),
        (3, [], too_long),
        (4, [], too_long),
        (5, [1, 2, 3], None),
    ]
    assert feed_chunks(text) == tasks


def test_overlong_integer_argument_is_an_argument_error() -> None:
    t = one("1. math(0x" + "f" * 4000 + ")")
    assert t["error"] == "unparsable arguments: integer too large (more than 4300 digits)"
    assert json.loads(json.dumps(t)) == t


# --- tolerance of real model output --------------------------------------------------------------


def test_markdown_fences_blank_lines_indentation_and_chatter() -> None:
    text = """Here is my plan (two searches):

```python
   1. search("a")

  Thought: next
2) search("b")
```
Let me know if you need more (or less).
"""
    assert parse_plan(text, TOOLS) == [
        task(1, "search", {"query": "a"}),
        task(2, "search", {"query": "b"}, thought="next"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "Thought: look it up",
        "thought: look it up",
        "THOUGHT:look it up",
        "**Thought:** look it up",
        "**Thought**: look it up",
        "Thought - look it up",
        "  Thoughts: look it up  ",
    ],
)
def test_thought_variants(line: str) -> None:
    assert one(f'{line}\n1. search("a")')["thought"] == "look it up"


def test_thoughts_attach_to_the_next_task_only() -> None:
    text = 'Thought: one\nThought: two (both)\n1. search("a")\n2. search("b")\nThought: bye\njoin()'
    assert [t["thought"] for t in parse_plan(text, TOOLS)] == ["one two (both)", None]


@pytest.mark.parametrize("header", ["1. ", "1.", "1) ", "1: ", "Step 1: ", "step 1. ", "  1 . "])
def test_id_styles(header: str) -> None:
    assert one(f'{header}search("a")') == task(1, "search", {"query": "a"})


def test_numbered_prose_is_not_a_task() -> None:
    assert parse_plan("1. First, search (the web).\n2: done\nfoo(1)\n", TOOLS) == []


@pytest.mark.parametrize(
    "join_line",
    ["3. join()", "join()", "3. join()<END_OF_PLAN>", 'join("done")', "  3) join( )  "],
)
def test_join_ends_the_plan_and_later_tasks_are_ignored(join_line: str) -> None:
    text = f'1. search("a")\n2. search("b")\nThought: enough\n{join_line}\n4. search("c")\n'
    parser = PlanParser(TOOLS)
    tasks = parser.feed(text)
    assert [t["idx"] for t in tasks] == [1, 2]
    assert parser.done and parser.joined
    assert parser.feed('5. search("d")') == []
    assert parser.close() == []


def test_plan_without_join_is_joined_implicitly_at_close() -> None:
    parser = PlanParser(TOOLS)
    assert len(parser.feed('1. search("a")\n')) == 1
    assert not parser.done
    assert parser.close() == []
    assert parser.done and not parser.joined


def test_end_of_plan_without_join_ends_the_plan() -> None:
    parser = PlanParser(TOOLS)
    parser.feed('1. search("a") <END_OF_PLAN> 2. search("b")\n3. search("c")')
    assert parser.done and not parser.joined
    assert [t["idx"] for t in parser.tasks] == [1]


@pytest.mark.parametrize("text", ["", "\n\n", "join()", "4. join()<END_OF_PLAN>", "<END_OF_PLAN>"])
def test_plans_without_tasks(text: str) -> None:
    parser = PlanParser(TOOLS)
    assert parser.feed(text) + parser.close() == []
    assert parser.joined == ("join" in text)


def test_garbage_text_gives_no_tasks() -> None:
    text = "I cannot help with that. )]}\"' $1 ${2} ((( \n```\n\0\t\\ 12 (x) <END_OF"
    assert feed_chunks(text) == parse_plan(text, TOOLS) == []


# --- cost: linear in the input, however it is chunked -------------------------------------------
# Complexity guards, not benchmarks: quadratic scanning takes tens of seconds on these inputs.


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def test_thought_with_a_long_run_of_spaces_is_linear() -> None:
    text = "Thought: a" + " " * 200_000 + 'b  \n1. search("x")'
    tasks, seconds = timed(lambda: parse_plan(text, TOOLS))
    assert tasks == [task(1, "search", {"query": "x"}, thought="a" + " " * 200_000 + "b")]
    assert seconds < 2


def test_continued_call_line_with_many_parentheses_is_linear() -> None:
    text = '1. search("a",\n' + " " * 200_000 + "(" * 2_000 + "\n"
    [t], seconds = timed(lambda: parse_plan(text, TOOLS))
    assert t["error"] == "unparsable arguments: too many nested parentheses"
    assert seconds < 2


@pytest.mark.parametrize(
    "text",
    [
        "x" * 1_000_000 + "\n",
        "Thought: " + "x" * 1_000_000 + '\n1. search("a")',
        '1. search("' + "x" * 1_000_000 + '")',
        "1. search(" + "x " * 500_000 + ")",
    ],
    ids=["prose", "thought", "string", "unquoted"],
)
def test_a_long_line_fed_in_small_chunks_is_linear(text: str) -> None:
    whole = parse_plan(text, TOOLS)
    chunks = [text[i : i + 4] for i in range(0, len(text), 4)]
    tasks, seconds = timed(lambda: feed_chunks(chunks))
    assert tasks == whole
    assert seconds < 2


# --- properties ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A whole-value reference as the planner may write it."""

    idx: int
    form: str
    path: str = ""
    """A path into the observation (`.a`, `[0]`, `['k']`), written right after the id."""

    def source(self) -> str:
        return f'"{self.value()}"' if "quoted" in self.form else self.value()

    def value(self) -> str:
        return ("${N}" if "braced" in self.form else "$N").replace("N", str(self.idx)) + self.path


@dataclass(frozen=True)
class Embedded:
    """A braced reference inside a longer string."""

    before: str
    idx: int
    after: str

    def value(self) -> str:
        return f"{self.before}${{{self.idx}}}{self.after}"


texts = st.text(st.characters(exclude_characters="$", exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)


def render(value: Any, newline: bool) -> str:
    sep = ",\n  " if newline else ", "
    if isinstance(value, Ref):
        return value.source()
    if isinstance(value, Embedded):
        return repr(value.value())
    if isinstance(value, list):
        return "[" + sep.join(render(v, newline) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(render(v, newline) + ", " for v in value) + ")"
    if isinstance(value, dict):
        return "{" + sep.join(f"{k!r}: {render(v, newline)}" for k, v in value.items()) + "}"
    return repr(value)


def expected(value: Any) -> Any:
    if isinstance(value, Ref | Embedded):
        return value.value()
    if isinstance(value, list | tuple):
        return [expected(v) for v in value]
    if isinstance(value, dict):
        return {k: expected(v) for k, v in value.items()}
    return value


def referenced(value: Any) -> set[int]:
    if isinstance(value, Ref | Embedded):
        return {value.idx}
    if isinstance(value, list | tuple):
        return set().union(*map(referenced, value))
    if isinstance(value, dict):
        return set().union(*map(referenced, value.values()))
    return set()


def values(earlier: list[int]) -> st.SearchStrategy[Any]:
    leaves = scalars
    if earlier:
        ids = st.sampled_from(earlier)
        forms = st.sampled_from(["bare", "braced", "quoted", "quoted_braced"])
        paths = st.sampled_from(["", "", ".a", "[0]", ".b[-1]", "['k'].c"])
        leaves = leaves | st.builds(Ref, ids, forms, paths) | st.builds(Embedded, texts, ids, texts)
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.lists(inner, max_size=3).map(tuple)
            | st.dictionaries(texts, inner, max_size=3)
        ),
        max_leaves=6,
    )


thoughts = st.text(st.sampled_from("abc xyz,.?()'\"$1"), min_size=1, max_size=20).filter(
    lambda s: s.strip()
)
noise = st.sampled_from(["", "   ", "```", "```python", "Plan (draft):", "Note: 1. or 2.", "- x"])
headers = st.sampled_from(["{}. ", "{}.", "{}) ", "{}: ", "Step {}: ", "  {}. "])


@st.composite
def plans(draw: st.DrawFn) -> tuple[str, list[Task], int]:
    """A plan text with its expected tasks and the number of known ids from earlier rounds."""
    known = draw(st.integers(0, 2))
    earlier, lines, tasks = list(range(1, known + 1)), [], []
    idx = known
    pending: list[str] = []
    for _ in range(draw(st.integers(0, 5))):
        for thought in draw(st.lists(thoughts, max_size=2)):
            lines.append(f"Thought: {thought}")
            pending.append(thought.strip())
        lines += draw(st.lists(noise, max_size=2))
        idx += draw(st.integers(1, 2))
        tool = draw(st.sampled_from(sorted(TOOLS)))
        params = TOOLS[tool]
        args = {p: draw(values(earlier)) for p in params if draw(st.booleans())}
        n_positional = draw(st.integers(0, len(args)))
        names = list(args)
        if names[:n_positional] != list(params[:n_positional]):
            n_positional = 0
        newline = draw(st.booleans())
        parts = [render(args[n], newline) for n in names[:n_positional]]
        parts += [f"{n}={render(args[n], newline)}" for n in names[n_positional:]]
        header = draw(headers).format(idx)
        lines.append(f"{header}{tool}({', '.join(parts)})")
        deps = sorted(set().union(set(), *map(referenced, args.values())))
        thought = " ".join(pending) or None
        pending = []
        tasks.append(task(idx, tool, {n: expected(v) for n, v in args.items()}, deps, thought))
        earlier.append(idx)
    ending = draw(
        st.sampled_from(["join()<END_OF_PLAN>", f"{idx + 1}. join()", "<END_OF_PLAN>", ""])
    )
    if ending:
        lines += [ending, draw(st.sampled_from(["", '99. search("after the plan")']))]
    return "\n".join(lines), tasks, known


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans(), st.data())
def test_generated_plans_parse_identically_under_any_chunking(
    plan: tuple[str, list[Task], int], data: st.DataObject
) -> None:
    text, tasks, known = plan
    known_ids = range(1, known + 1)
    assert parse_plan(text, TOOLS, known_ids=known_ids) == tasks
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=20))
    assert feed_chunks(split_at(text, cuts), known_ids) == tasks
    assert feed_chunks(text, known_ids) == tasks


plan_alphabet = st.sampled_from(
    [*"0123456789. ()[]{}\"'\\$,=\n:#", "join", "search", "Thought: ", "<END_OF_PLAN>", '"""']
)


@settings(max_examples=500, deadline=None)
@given(st.lists(plan_alphabet | st.characters(), max_size=60).map("".join), st.data())
def test_any_text_is_safe_and_chunking_invariant(text: str, data: st.DataObject) -> None:
    whole = parse_plan(text, TOOLS, known_ids=[1])
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=10))
    assert feed_chunks(split_at(text, cuts), [1]) == whole
    seen = {1}
    for t in whole:
        assert list(t) == ["idx", "tool", "args", "dependencies", "thought", "error"]
        assert t["dependencies"] == sorted(set(t["dependencies"]))
        assert set(t["dependencies"]) <= seen
        seen.add(t["idx"])
