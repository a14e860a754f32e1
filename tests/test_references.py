"""Structured references: `$N.field`, `$N[0]`, `${N}.items[2].name` into typed observations.

Parsing keeps the path as written (dependencies are task ids); `resolve_args` walks it at dispatch;
a path that does not resolve is that task's error observation, never a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from helpers import Recorder, ScriptedChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.parser import PlanParser, parse_plan
from llmcompiler_graph.core.plan import (
    PathError,
    Task,
    is_whole_reference,
    make_observation,
    make_task,
    resolve_args,
    walk_path,
    whole_reference,
)
from llmcompiler_graph.core.toolbox import Toolbox

TOOLS = {"search": ["query"], "math": ["problem", "context"]}


class Product(BaseModel):
    name: str
    cost: int
    tags: list[str] = []


@dataclass
class Box:
    items: list[Any]
    label: str = "box"


class Thing:
    def __init__(self) -> None:
        self.size = 3
        self._secret = 1


# --- parsing -------------------------------------------------------------------------------------


def test_renumbering_rewrites_the_id_and_keeps_the_path() -> None:
    plan = '1. search("a")\n2. math("$1.price and ${1}[0]", [$1.items[2].name])'
    tasks = parse_plan(plan, TOOLS, known_ids=[1, 2, 3])
    assert tasks[1]["args"] == {"problem": "$4.price and ${4}[0]", "context": ["$4.items[2].name"]}
    assert tasks[1]["dependencies"] == [4]


def test_paths_parse_identically_under_any_chunking() -> None:
    plan = (
        '1. search("a")\n2. search($1.price)\n'
        "3. math(\"the price is $1.price, $1.50\", [$1[0], ${2}.items[-2].name, $1['k'], "
        '$2["a b"]])\njoin()'
    )
    whole = parse_plan(plan, TOOLS)
    assert [t["error"] for t in whole] == [None] * 3
    assert whole[2]["args"]["context"] == ["$1[0]", "${2}.items[-2].name", "$1['k']", '$2["a b"]']
    for size in (1, 2, 3, 5):
        parser = PlanParser(TOOLS)
        chunks = [plan[i : i + size] for i in range(0, len(plan), size)]
        assert [t for c in chunks for t in parser.feed(c)] + parser.close() == whole


def test_whole_reference_helpers() -> None:
    assert whole_reference(" ${3}.items[2].name ") == (3, ".items[2].name")
    assert whole_reference("$1") == (1, "")
    assert whole_reference("$1.price dollars") is None
    assert is_whole_reference("$1") == 1
    assert is_whole_reference("$1.price") is None  # not the whole observation


# --- resolution ----------------------------------------------------------------------------------


OBSERVATIONS: dict[int, Any] = {
    1: {"name": "lamp", "cost": 30, "tags": ["a", "b"], 0: "zero", "unit price": 2.5},
    2: [{"title": "first"}, {"title": "second"}, {"title": "third"}],
    3: Product(name="pen", cost=2, tags=["x"]),
    4: Box(items=[Product(name="cup", cost=5), {"k": [1, 2]}]),
    5: json.dumps({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
    6: "plain text",
    7: (10, 20),
    8: Thing(),
    9: None,
}


def resolve(value: Any, deps: tuple[int, ...] = tuple(OBSERVATIONS)) -> Any:
    task = make_task(99, "t", {"v": value}, deps)
    observations = {i: make_observation(i, "ok", v) for i, v in OBSERVATIONS.items()}
    return resolve_args(task, observations)["v"]


@pytest.mark.parametrize(
    ("ref", "value"),
    [
        ("$1.name", "lamp"),
        ('$1["unit price"]', 2.5),
        ("$1['cost']", 30),
        ("$1.tags[-1]", "b"),
        ("$1[0]", "zero"),
        ("$2[0].title", "first"),
        ("$2[-1]", {"title": "third"}),
        ("$3.cost", 2),
        ('$3["tags"][0]', "x"),
        ("$4.items[0]", Product(name="cup", cost=5)),
        ("$4.items[0].name", "cup"),
        ("$4.items[1].k", [1, 2]),
        ("${5}.items[2].name", "c"),
        ("$5.items", [{"name": "a"}, {"name": "b"}, {"name": "c"}]),
        ("$7[1]", 20),
        ("$8.size", 3),
        (" $3 ", Product(name="pen", cost=2, tags=["x"])),
    ],
)
def test_whole_value_receives_the_typed_value_at_the_path(ref: str, value: Any) -> None:
    got = resolve(ref)
    assert got == value
    assert type(got) is type(value)


def test_bare_and_nested_whole_values() -> None:
    assert resolve(["$1.cost", {"t": "${2}[1].title"}]) == [30, {"t": "second"}]


def test_inside_a_string_the_path_value_is_text() -> None:
    assert resolve("the price is $1.cost dollars") == "the price is 30 dollars"
    assert resolve("tags: $1.tags; first: ${2}[0]") == 'tags: ["a", "b"]; first: {"title": "first"}'
    assert resolve("$5.items[1].name and $3.name.") == "b and pen."
    assert resolve("costs $1. Then $6.") == f"costs {json.dumps(OBSERVATIONS[1])}. Then plain text."


def test_references_that_are_not_dependencies_stay_text() -> None:
    assert resolve("$1.cost and $2[0]", deps=(2,)) == '$1.cost and {"title": "first"}'
    assert resolve("$1.nope", deps=()) == "$1.nope"


def test_walk_path_parses_a_json_string_only_when_a_step_needs_it() -> None:
    assert walk_path('[1, {"a": "[2]"}]', "[1].a[0]", 1) == 2
    assert resolve("$5") == OBSERVATIONS[5]  # no path: the string itself


KEYS_1 = "(keys: 'name', 'cost', 'tags', 0, 'unit price')"


@pytest.mark.parametrize(
    ("ref", "error"),
    [
        (
            "$1.price",
            "reference $1.price: no key 'price' in $1 " + KEYS_1,
        ),
        (
            "$1[3]",
            "reference $1[3]: no key 3 in $1 " + KEYS_1,
        ),
        ("$1.tags[2]", "reference $1.tags[2]: index 2 out of range ($1.tags has 2 items)"),
        ("$2[5]", "reference $2[5]: index 5 out of range ($2 has 3 items)"),
        ("$2[-4]", "reference $2[-4]: index -4 out of range ($2 has 3 items)"),
        ("$2.title", "reference $2.title: $2 is a list, not an object with fields"),
        ("$2[0].name", "reference $2[0].name: no key 'name' in $2[0] (keys: 'title')"),
        ("$3.price", "reference $3.price: no field 'price' in $3 (fields: 'name', 'cost', 'tags')"),
        ("$3[0]", "reference $3[0]: $3 is a Product, not a list"),
        ("$4.item", "reference $4.item: no field 'item' in $4 (fields: 'items', 'label')"),
        ("${5}.items[3]", "reference ${5}.items[3]: index 3 out of range ($5.items has 3 items)"),
        ("$6.x", "reference $6.x: $6 is a str, not an object with fields"),
        ("$6[0]", "reference $6[0]: $6 is a str, not a list"),
        ("$1.cost.x", "reference $1.cost.x: $1.cost is an int, not an object with fields"),
        ("$8.colour", "reference $8.colour: no attribute 'colour' on $8 (a Thing)"),
        (
            "$8._secret",
            "reference $8._secret: $8 is a Thing: its private attribute '_secret' is not readable",
        ),
        ("$9.a", "reference $9.a: $9 is None, not an object with fields"),
        ("the $2[7] item", "reference $2[7]: index 7 out of range ($2 has 3 items)"),
    ],
)
def test_a_path_that_does_not_resolve_names_what_exists(ref: str, error: str) -> None:
    with pytest.raises(PathError) as info:
        resolve(ref)
    assert str(info.value) == error
    assert isinstance(info.value, ValueError)


def test_invalid_json_and_long_key_lists() -> None:
    with pytest.raises(PathError, match=r"^reference \$1.a: \$1 is a str that is not valid JSON"):
        walk_path('{"a": ', ".a", 1)
    with pytest.raises(PathError, match=r"\(keys: 'k0', .*'k19', \.\.\. \(25 in all\)\)$"):
        walk_path({f"k{i}": i for i in range(25)}, ".x", 1)
    with pytest.raises(PathError, match=r"no key 'x' in \$1 \(no keys\)$"):
        walk_path({}, ".x", 1)


# --- dispatch ------------------------------------------------------------------------------------


@tool
def product(name: str) -> dict[str, Any]:
    """A product's record."""
    return {"name": name, "price": 12, "sizes": ["S", "M"]}


@tool
def echo(value: Any) -> Any:
    """Return the value received."""
    return value


def plan_tasks(plan: str, unit_tools: Toolbox) -> list[Task]:
    tasks = parse_plan(plan, unit_tools.signatures)
    assert [t["error"] for t in tasks] == [None] * len(tasks)
    return tasks


async def test_scheduler_passes_path_values_and_a_bad_path_is_an_error_observation() -> None:
    toolbox = Toolbox([product, echo])
    plan = """1. product("lamp")
2. echo($1.price)
3. echo("size $1.sizes[1], price $1.price")
4. echo($1.sizes[5])
5. echo("$4 again")
6. echo(value=$1.colour)
7. echo(${1}["name"])
join()"""
    observations = await TaskFetchingUnit(toolbox).arun(plan_tasks(plan, toolbox))
    status = {i: o["status"] for i, o in observations.items()}
    assert status == {1: "ok", 2: "ok", 3: "ok", 4: "error", 5: "skipped", 6: "error", 7: "ok"}
    assert observations[2]["value"] == 12
    assert observations[3]["value"] == "size M, price 12"
    assert observations[4]["error"] == (
        "PathError: reference $1.sizes[5]: index 5 out of range ($1.sizes has 2 items)"
    )
    assert observations[5]["error"] == "skipped: dependency 4 failed"
    assert observations[6]["error"] == (
        "PathError: reference $1.colour: no key 'colour' in $1 (keys: 'name', 'price', 'sizes')"
    )
    assert observations[7]["value"] == "lamp"


def test_graph_passes_a_field_of_a_dict_observation() -> None:
    received: list[Any] = []

    @tool
    def double(x: int) -> int:
        """Twice x."""
        received.append(x)
        return 2 * x

    plan = '1. product(name="lamp")\n2. double(x=$1.price)\n3. double(x=$1.weight)\njoin()'

    def script(role: str, messages: list[BaseMessage]) -> str:
        return plan if role == "planner" else "Thought: ok\nAction: Finish(done)"

    recorder = Recorder()
    graph = create_llmcompiler(ScriptedChatModel(script=script), [product, double], joiner="text")
    out = graph.invoke({"messages": [HumanMessage("Price twice?")]}, {"callbacks": [recorder]})
    assert out["messages"][-1].content == "done"
    assert received == [12]  # typed: the int at the path (the graph may keep tool output as
    # JSON text, which the path step parses), not its text
    results = recorder.of("joiner")[0][-1].text
    assert "double(x='$1.price')\nObservation: \"24\"" in results
    assert "no key 'weight' in $1 (keys: 'name', 'price', 'sizes')" in results
