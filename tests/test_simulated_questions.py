"""The simulated model on questions nobody scripted: it plans them the way a real model would.

Each question runs through the real graph on `SimulatedWorld` (the real `ChatOpenAI` and
`tavily-python` clients against the loopback simulators, as `ask --simulate` does). The table
asserts the plan's *shape*, not its wording: the tools of each round, which task references
which (`$N`), the numbers as the question wrote them, and an answer labelled as simulated (for
arithmetic, the right number).

The shape notation: tasks in id order, `tool(1,2)` for a task that depends on tasks 1 and 2, and
` | ` between rounds (a replan).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.react import create_react_baseline
from llmcompiler_graph.testing import LatencyModel, SimulatedWorld, made_up
from llmcompiler_graph.testing.arithmetic import read_formula
from llmcompiler_graph.testing.scenarios import SHOWCASE, generic_scenario, merged_corpus
from llmcompiler_graph.testing.simulated_planner import ARITHMETIC_LABEL, DATA_LABEL
from llmcompiler_graph.testing.tavily_server import find

CORPUS = merged_corpus(SHOWCASE)
"""What the world's search serves besides made-up facts (`ask --simulate`'s world)."""


@dataclass(frozen=True)
class Shape:
    """A question and the plan a good model writes for it."""

    question: str
    plan: str
    """Tasks in id order, `tool(deps)`, rounds separated by ` | `."""
    args: tuple[str, ...] = ()
    """Text some task's arguments (as planned or as called) must contain."""
    answer: tuple[str, ...] = ()
    """Text the answer must contain."""
    before: tuple[str, ...] = ()
    """Earlier questions of the same thread."""

    @property
    def id(self) -> str:
        turns = [*self.before, self.question]
        return "|".join("-".join(re.findall(r"[a-z0-9.]+", t.lower())[:6]) for t in turns)


SHAPES = [
    # arithmetic: one calculate task, the numbers as written
    Shape(
        "What is 17.5% of 2,340 plus the square root of 1764?",
        "calculate",
        ("17.5 / 100 * 2340 + sqrt(1764)",),
        ("is 451.5.",),
    ),
    Shape("what is 3 times 4", "calculate", ("3 * 4",), ("is 12.",)),
    Shape("(12+5)*3", "calculate", ("(12 + 5) * 3",), ("is 51.",)),
    Shape("What is 2 to the power of 10?", "calculate", ("2 ** 10",), ("1,024",)),
    Shape("Divide 1,000,000 by 8", "calculate", ("1000000 / 8",), ("125,000",)),
    Shape("What is the average of 3, 4.5 and 6?", "calculate", ("(3 + 4.5 + 6) / 3",), ("4.5.",)),
    Shape(
        "What is the sum of 1,200, 3,400 and 5,600?",
        "calculate",
        ("1200 + 3400 + 5600",),
        ("10,200",),
    ),
    Shape("What is 7 squared minus the cube root of 27?", "calculate", ("7 ** 2",), ("is 46.",)),
    Shape(
        "How much is 2.5 million divided by 4?", "calculate", ("2.5 * 1000000 / 4",), ("625,000",)
    ),
    Shape("What is 12% of 250?", "calculate", ("12 / 100 * 250",), ("is 30.",)),
    # arithmetic on facts: searches, then math reading them
    Shape("What is 10% of the population of Norway?", "search math(1)", ("population of Norway",)),
    Shape(
        "What is the population of Oslo plus the population of Bergen?",
        "search search math(1,2)",
        ("population of Oslo", "population of Bergen"),
    ),
    # comparisons: parallel searches, then math on both (or the joiner ranks three)
    Shape(
        "Which is taller, the Eiffel Tower or Big Ben?",
        "search search math(1,2)",
        ("Eiffel Tower height", "Big Ben height"),
        ("is taller", "a difference of"),
    ),
    Shape("Who is older: Barack Obama or Donald Trump?", "search search math(1,2)", (), ("older",)),
    Shape("Is the Nile longer than the Amazon?", "search search math(1,2)", ("Nile length",)),
    Shape(
        "How many times bigger is Russia than France?",
        "search search math(1,2)",
        ("Russia size",),
        ("times that of France",),
    ),
    Shape("Eiffel Tower vs Big Ben height", "search search math(1,2)", ("Big Ben height",)),
    Shape(
        "Compare the populations of Paris and Berlin",
        "search search math(1,2)",
        ("Paris population",),
    ),
    Shape(
        "What is the combined population of Paris and Berlin?",
        "search search math(1,2)",
        ("total population",),
        ("The total population of Paris and Berlin",),
    ),
    Shape("Which has more people, Oslo or Bergen?", "search search math(1,2)", (), ("people",)),
    Shape(
        "Which is the tallest: the Burj Khalifa, the Empire State Building or the Eiffel Tower?",
        "search search search",
        ("Empire State Building height",),
        ("is the tallest",),
    ),
    Shape(
        "What are the populations of Oslo, Bergen and Lima, and which is largest?",
        "search search search",
        ("population of Lima",),
        ("is the largest",),
    ),
    Shape("Python vs Java", "search search", ("Python", "Java")),
    # multi-hop: a search on the name the one before found
    Shape(
        "Who is the director of the film that won the Palme d'Or in 2019?",
        "search search(1)",
        ("film that won the Palme d'Or in 2019", "director of $1[0].title"),
    ),
    Shape(
        "What is the capital of the country where Ada Lovelace was born?",
        "search search(1)",
        ("capital of $1[0].title",),
    ),
    Shape(
        "Who directed the film that won Best Picture in 1998?",
        "search search(1)",
        ("director of $1[0].title",),
    ),
    Shape(
        "How old is the author of the book that inspired Blade Runner?",
        "search search(1) search(2)",
        ("author of $1[0].title", "age of $2[0].title"),
    ),
    Shape(
        "What is the population of the city where the Beatles formed?",
        "search search(1)",
        ("population of $1[0].title",),
    ),
    # plain lookups: one search per part
    Shape("How tall is the Eiffel Tower?", "search", ("Eiffel Tower height",)),
    Shape("Who founded Patagonia?", "search", ("founder of Patagonia",)),
    Shape("Which film won the Palme d'Or in 2019?", "search", ("film that won the Palme",)),
    Shape(
        "How tall are the Eiffel Tower and the Statue of Liberty?",
        "search search",
        ("Statue of Liberty height",),
    ),
    Shape(
        "population of lyon and population of porto",
        "search search",
        ("population of lyon", "population of porto"),
    ),
    # a search that finds nothing: the joiner replans, the second round finds it
    Shape(
        "What is the latest population of Oslo?",
        "search | search",
        ("latest population of Oslo", "population of Oslo"),
    ),
    Shape(
        "Which is bigger, the latest iPhone or the Pixel 8?",
        "search search | search math(2,3)",
        ("latest iPhone size", "iPhone size"),
    ),
    Shape(
        "Who is the CEO of the newest airline that flies to Oslo?",
        "search | search search(2)",
        ("CEO of $2[0].title",),
    ),
    # follow-ups on a thread: read against the earlier question
    Shape(
        "What about its population?",
        "search",
        ("population of Eiffel Tower",),
        before=("How tall is the Eiffel Tower?",),
    ),
    Shape(
        "And Bergen?",
        "search",
        ("population of Bergen",),
        before=("What is the population of Oslo?",),
    ),
    Shape(
        "And how much taller is it?",
        "search search math(1,2)",
        ("Eiffel Tower height", "Big Ben height"),
        ("is taller",),
        before=("Which is taller, the Eiffel Tower or Big Ben?",),
    ),
    Shape(
        "How much taller is it than Big Ben?",
        "search search math(1,2)",
        ("Eiffel Tower height", "Big Ben height"),
        before=("How tall is the Eiffel Tower?",),
    ),
    Shape(
        "What is it divided by 3?",
        "calculate",
        ("451.5 / 3",),
        ("150.5",),
        before=("What is 17.5% of 2,340 plus the square root of 1764?",),
    ),
]


@pytest.fixture(scope="module")
def world() -> Iterator[SimulatedWorld]:
    """`ask --simulate`'s world (the showcase scripts, made-up facts for everything else),
    without latency."""
    with SimulatedWorld(
        SHOWCASE, latency=LatencyModel.instant(), search_latency=(0.0, 0.0)
    ) as simulated:
        yield simulated


def _graph(world: SimulatedWorld, **options: Any) -> CompiledStateGraph:
    return create_llmcompiler(world.model, world.tools, checkpointer=InMemorySaver(), **options)


@dataclass
class Turn:
    """One question's run: the answer, the thread's state and the custom events."""

    answer: str
    state: dict[str, Any]
    events: list[dict[str, Any]]

    @property
    def shape(self) -> str:
        """The plan in the table's notation, from the planned tasks, round by round."""
        rounds: dict[int, list[str]] = {}
        for event in self.events:
            if event["event"] == "task_planned":
                deps = ",".join(str(d) for d in event["dependencies"])
                call = f"{event['tool']}({deps})" if deps else event["tool"]
                rounds.setdefault(event["round"], []).append(call)
        return " | ".join(" ".join(calls) for _, calls in sorted(rounds.items()))

    def args(self) -> str:
        """Every task's arguments, as planned and as called (references resolved)."""
        kinds = ("task_planned", "task_started")
        return " ".join(repr(e["args"]) for e in self.events if e["event"] in kinds)

    @property
    def observations(self) -> dict[int, dict[str, Any]]:
        return {o["idx"]: o for o in self.state["observations"]}


def _ask(graph: CompiledStateGraph, question: str, config: RunnableConfig) -> Turn:
    events = list(graph.stream({"messages": [("user", question)]}, config, stream_mode="custom"))
    state = graph.get_state(config).values
    return Turn(state["messages"][-1].content, state, events)


def _thread() -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_an_unscripted_question_gets_the_plan_a_real_model_writes(
    world: SimulatedWorld, shape: Shape
) -> None:
    graph, config = _graph(world), _thread()
    for earlier in shape.before:
        _ask(graph, earlier, config)

    turn = _ask(graph, shape.question, config)

    assert turn.shape == shape.plan
    assert turn.state["round"] == shape.plan.count("|") + 1
    args = turn.args()
    for text in shape.args:
        assert text in args, (text, args)
    for text in shape.answer:
        assert text in turn.answer, (text, turn.answer)
    expected = generic_scenario(shape.question, shape.before, CORPUS)
    assert turn.answer == expected.answer, "the answer is the one the planner predicted"
    searched = "search" in shape.plan
    assert turn.answer.endswith(DATA_LABEL if searched else ARITHMETIC_LABEL)
    assert all(o["status"] == "ok" for o in turn.observations.values()), turn.observations


def test_arithmetic_keeps_every_number_and_computes_them_exactly(world: SimulatedWorld) -> None:
    """The issue's own example: no search, one calculate with 2,340 and 17.5% intact."""
    searches = world.search.logged
    turn = _ask(_graph(world), "What is 17.5% of 2,340 plus the square root of 1764?", _thread())

    assert world.search.logged == searches, "arithmetic needs no search"
    (task,) = turn.state["tasks"]
    assert task["tool"] == "calculate"
    assert task["args"] == {"expression": "17.5 / 100 * 2340 + sqrt(1764)"}
    assert turn.observations[1]["value"] == pytest.approx(451.5)
    assert turn.answer.startswith("17.5% of 2,340 plus the square root of 1764 is 451.5.")


def test_a_comparison_feeds_both_searches_to_math(world: SimulatedWorld) -> None:
    """`$1` and `$2` reach the math tool, whose result is the difference of the two figures the
    searches found; the answer states the winner and that difference."""
    turn = _ask(_graph(world), "Which is taller, the Eiffel Tower or Big Ben?", _thread())

    observations = turn.observations
    figures = []
    for idx in (1, 2):
        content = observations[idx]["value"][0]["content"]
        assert "(simulated result)" in content  # made-up facts say so
        figures.append(float(re.search(r"is ([\d,]+) metres", content)[1].replace(",", "")))
    assert observations[3]["value"] == pytest.approx(figures[0] - figures[1])
    winner = "Eiffel Tower" if figures[0] > figures[1] else "Big Ben"
    assert f"{winner} is taller" in turn.answer
    assert f"a difference of {abs(figures[0] - figures[1]):,.0f} metres" in turn.answer


def test_a_multi_hop_search_is_called_with_the_name_found_first(world: SimulatedWorld) -> None:
    question = "Who is the director of the film that won the Palme d'Or in 2019?"
    turn = _ask(_graph(world), question, _thread())

    film = made_up.results("film that won the Palme d'Or in 2019")[0]["title"]
    started = {e["idx"]: e for e in turn.events if e["event"] == "task_started"}
    assert started[2]["args"] == {"query": f"director of {film}"}
    director = made_up.results(f"director of {film}")[0]["title"]
    assert turn.answer.startswith(f"The director of {film} is {director}")


def test_an_empty_search_makes_the_joiner_replan(world: SimulatedWorld) -> None:
    """Round 1's search finds nothing (the simulated index has no news); the joiner asks for
    a new plan, which searches again without "latest" and finds the figure."""
    turn = _ask(_graph(world), "What is the latest population of Oslo?", _thread())

    assert turn.state["round"] == 2
    observations = turn.observations
    assert observations[1]["value"] == []
    assert observations[2]["value"][0]["content"].startswith("population of Oslo: ")
    decisions = [e for e in turn.events if e["event"] == "joiner_decision"]
    assert len(decisions) == 2


@pytest.mark.parametrize("planner", ["text", "tools"])
@pytest.mark.parametrize(
    ("joiner", "joiner_plans"),
    [("lean", False), ("lean", True), ("structured", False), ("text", False)],
)
@pytest.mark.parametrize(
    ("question", "plan"),
    [
        ("What is 17.5% of 2,340 plus the square root of 1764?", "calculate"),
        ("Which is taller, the Eiffel Tower or Big Ben?", "search search math(1,2)"),
        ("Who is the CEO of the newest airline that flies to Oslo?", "search | search search(2)"),
    ],
)
def test_every_planner_and_joiner_protocol_gets_the_same_plan(
    world: SimulatedWorld,
    planner: str,
    joiner: str,
    joiner_plans: bool,
    question: str,
    plan: str,
) -> None:
    graph = _graph(world, planner=planner, joiner=joiner, joiner_plans=joiner_plans)

    turn = _ask(graph, question, _thread())

    assert turn.shape == plan
    assert turn.answer == generic_scenario(question, (), CORPUS).answer


def test_react_follows_the_same_plan_and_copies_the_name_found(world: SimulatedWorld) -> None:
    """A ReAct agent on the same simulated model calls the same tools, one turn at a time, and
    copies the film's name into its second search as LLMCompiler's `$1[0].title` does."""
    question = "Who directed the film that won Best Picture in 1998?"
    react = create_react_baseline(world.model, world.tools)

    searches = world.search.logged
    result = react.invoke({"messages": [("user", question)]})

    film = made_up.results("film that won Best Picture in 1998")[0]["title"]
    queries = [entry.query for entry in world.search.requests_since(searches)]
    assert queries == ["film that won Best Picture in 1998", f"director of {film}"]
    assert result["messages"][-1].content == generic_scenario(question, (), CORPUS).answer


def test_a_plan_is_a_function_of_the_conversation() -> None:
    """Same question, same conversation: same plan and answer; another conversation before
    it changes what a follow-up means."""
    follow_up = "What about its population?"
    first = generic_scenario(follow_up, ["How tall is the Eiffel Tower?"])
    again = generic_scenario(follow_up, ["How tall is the Eiffel Tower?"])
    other = generic_scenario(follow_up, ["How tall is Big Ben?"])

    assert first == again
    assert [t["args"] for t in first.tasks] == [{"query": "population of Eiffel Tower"}]
    assert [t["args"] for t in other.tasks] == [{"query": "population of Big Ben"}]


@pytest.mark.parametrize(
    ("question", "expression"),
    [
        ("What is 17.5% of 2,340 plus the square root of 1764?", "17.5 / 100 * 2340 + sqrt(1764)"),
        ("What's 1,234.5 minus 0.5?", "1234.5 - 0.5"),
        ("Subtract 5 from 20", "20 - 5"),
        ("What is 12 divided by 3 million?", "12 / (3 * 1000000)"),
        ("What is 2 ** -1?", "2 ** (-1)"),
        ("17 % 5", "17 % 5"),
        ("3 x 4", "3 * 4"),
        ("What is five times six?", "5 * 6"),
        ("What is half of 10?", "10 / 2"),
        ("What is 5 factorial divided by 3?", "factorial(5) / 3"),
        ("What is the difference between 10 and 4.5?", "10 - 4.5"),
        ("What is 10% of the population of Norway?", "10 / 100 * {0}"),
    ],
)
def test_arithmetic_in_words_reads_as_an_expression(question: str, expression: str) -> None:
    formula = read_formula(question)
    assert formula is not None and formula.expression == expression


@pytest.mark.parametrize(
    "question",
    [
        "How tall is the Eiffel Tower?",
        "Who won the game over the weekend?",
        "population of lyon and population of porto",
        "What is 2024?",
        "Python vs Java",
        "Find alpha K9, beta K9, gamma K9 and slowly delta K9",
    ],
)
def test_a_question_that_is_not_arithmetic_is_left_alone(question: str) -> None:
    assert read_formula(question) is None


def test_made_up_facts_are_marked_and_depend_on_the_query_only() -> None:
    """A figure, a name for a dependent search, or nothing for news; the same every time."""
    figure = made_up.results("Eiffel Tower height")
    assert figure == made_up.results("Eiffel Tower height")
    assert re.match(
        r"Eiffel Tower height: the most cited figure is [\d,]+ metres\.", figure[0]["content"]
    )
    name = made_up.results("director of The Silver Harbor")
    assert name[0]["content"].startswith(f"director of The Silver Harbor: {name[0]['title']}.")
    for result in (*figure, *name):
        assert "(simulated result)" in result["content"]
    assert made_up.results("latest population of Oslo") == []
    assert find(CORPUS, "Tokyo population")[0]["url"] == "https://population.example/tokyo"
