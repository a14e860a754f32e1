"""Scripted questions the simulated model answers in every role: planner, joiner, math, ReAct.

A `Scenario` holds what a good model would write for one question: the plan of each round (the
last one finishes, the others end in a replan), the final answer, the search corpus its queries
hit and the expressions its math problems translate to. `ScenarioBrain` is a script for
`OpenAISimulator` that answers each request from the scenario, by the role of the call (the
`X-LLMCompiler-Role` header models from `load_chat_model` send; never the prompt's wording):

- the LLMCompiler planner gets the plan of the current round: its text, or for the
  tool-calling planner (protocol `tools`) the same tasks as tool calls, one per task, then `join`;
- the joiner gets its decision in the protocol the call names (`X-LLMCompiler-Protocol`): lean
  `Answer: ...` / `Replan: ...` (with `lean+plans`, a replan is a few words, then the next
  round's plan), structured, or the text `Thought:` / `Action: Finish(...)` / `Action: Replan(...)`;
- the math tool gets the scenario's expression for its problem;
- any other request with tools is a ReAct agent: it gets the same tool calls as the plans, one per
  turn (or, when the request allows parallel tool calls, every ready call at once), then the
  answer. Like a function-calling model, it is offered a later round's calls only once the
  earlier round's results are in the conversation (that is what the replan decided after seeing
  them), and its `math` calls quote the sentence with the figure from the results they use rather
  than pasting whole observations (hundreds of decoded tokens LLMCompiler's `$1` never costs).

So LLMCompiler and ReAct can be compared on exactly the same questions, tools and model.

A question no scenario scripts gets one improvised by `simulated_planner` (`generic_scenario`):
the plan a real model would write for it (calculate for arithmetic, parallel searches then math
for a comparison, a dependent search for a multi-hop question, a replan when a search finds
nothing, a follow-up read against the conversation), answered from what the search simulator
finds, and labelled as simulated.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal

from llmcompiler_graph.core.parser import parse_plan
from llmcompiler_graph.core.plan import (
    JOIN,
    REFERENCE,
    PathError,
    Task,
    as_text,
    is_whole_reference,
    walk_path,
)
from llmcompiler_graph.testing.script import ChatRequest, ChatResponse, ToolCall, message_text
from llmcompiler_graph.testing.tavily_server import Corpus, find

Role = Literal["planner", "joiner", "math", "react"]

QUOTE_CHARS = 200
"""Context items longer than this are observations a ReAct turn quotes from, not copies."""

_FACT = re.compile(r'[A-Z][^"\n]*?\d[^"\n]*?[.!?](?=\s|"|$)')
"""The first sentence with a figure in it: what a model quotes from search results."""

_RESULTS = ("The plan and its results", "The previous plan and its results")
"""How the package's own user messages (the joiner's and the replanning planner's) begin."""

_SIGNATURES = {"search": ["query"], "math": ["problem", "context"], "calculate": ["expression"]}
_TASK_LINE = re.compile(r"^\s*(\d+)\.\s+(?!join\()", re.MULTILINE)
"""A numbered tool call (join lines excluded), in a plan or in the results shown to a model."""


@dataclass(frozen=True)
class Round:
    """One plan and what the joiner says after it (`replan` feedback, or None to finish)."""

    plan: str
    replan: str | None = None


@dataclass(frozen=True)
class Scenario:
    """One question and everything a well-behaved model says about it."""

    question: str
    rounds: tuple[Round, ...]
    answer: str
    corpus: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Search keyword -> results, for `TavilySimulator(corpus=...)`."""
    math: Mapping[str, str] = field(default_factory=dict)
    """Math problem -> the expression the model writes for it."""
    thought: str = "The observations answer the question."

    @property
    def tasks(self) -> list[Task]:
        """Every task of every round, in order (what a ReAct agent ends up calling too)."""
        tasks: list[Task] = []
        for round in self.rounds:
            tasks += parse_plan(round.plan, _SIGNATURES, known_ids=[t["idx"] for t in tasks])
        return tasks


def merged_corpus(scenarios: Iterable[Scenario]) -> dict[str, list[dict[str, Any]]]:
    """One search corpus for several scenarios."""
    corpus: dict[str, list[dict[str, Any]]] = {}
    for scenario in scenarios:
        corpus.update(scenario.corpus)
    return corpus


def generic_scenario(
    question: str, history: Sequence[str] = (), corpus: Corpus | None = None
) -> Scenario:
    """The scenario the simulated model improvises for a question no scenario scripts, asked
    after the `history` of earlier questions of its conversation: the plan a real model would
    write (calculate for arithmetic, parallel searches then math for a comparison, a dependent
    search for a multi-hop question, a replan when a search finds nothing...) and the answer to
    what its searches find in `corpus`, else in the made-up facts; see `simulated_planner`.
    Labelled as simulated."""
    from llmcompiler_graph.testing.simulated_planner import improvise  # it builds Scenarios

    return improvise(question, history, partial(find, corpus or {}))


IMPROVISED_KEPT = 1_000
"""How many improvised conversations a `ScenarioBrain` remembers (the latest)."""


class ScenarioBrain:
    """A simulator script that plays every role for a set of scenarios (see the module doc);
    a question none of them asks gets a `generic_scenario`, read against the questions before
    it in its conversation."""

    def __init__(self, scenarios: Iterable[Scenario]) -> None:
        self.scenarios = {s.question: s for s in scenarios}
        self.improvised: OrderedDict[tuple[str, ...], Scenario] = OrderedDict()
        """The latest `IMPROVISED_KEPT` generic scenarios made, by the questions of their
        conversation (a forgotten one is made again, the same, if asked again)."""

    def __call__(self, request: ChatRequest) -> ChatResponse | str:
        role = role_of(request)
        if role == "math":
            return self.math(request)
        scenario = self.scenario(request)
        if role == "planner":
            return self.plan(scenario, request)
        if role == "joiner":
            return self.join(scenario, request)
        return self.react(scenario, request)

    def scenario(self, request: ChatRequest) -> Scenario:
        """The scenario of the latest question in the conversation (earlier turns may differ);
        a question no scenario asks gets a generic one, which may build on the earlier
        questions ("What about its population?")."""
        users = [message_text(m).strip() for m in request.messages if m.get("role") == "user"]
        questions = [q for q in users if not q.startswith(_RESULTS)]
        if not questions or not questions[-1]:
            raise LookupError(f"no question in this conversation: {request.last_user_text[:200]!r}")
        asked = questions[-1]
        if asked in self.scenarios:
            return self.scenarios[asked]
        key = tuple(questions)
        if key not in self.improvised:
            corpus = merged_corpus(self.scenarios.values())
            self.improvised[key] = generic_scenario(asked, questions[:-1], corpus)
            while len(self.improvised) > IMPROVISED_KEPT:  # a simulator may serve for days
                self.improvised.popitem(last=False)
        return self.improvised[key]

    def plan(self, scenario: Scenario, request: ChatRequest) -> ChatResponse | str:
        """The plan of the round the request is at (rounds are told apart by their first id):
        its text, or its tool calls for a tool-calling planner."""
        shown = _ids(request.last_user_text) if "previous plan" in request.last_user_text else []
        done = max(shown, default=0)
        index = next(
            (k for k, r in enumerate(scenario.rounds) if min(_ids(r.plan), default=0) > done),
            len(scenario.rounds) - 1,
        )
        if request.protocol == "tools" or request.tools:
            return _tool_plan(scenario, index)
        return scenario.rounds[index].plan

    def join(self, scenario: Scenario, request: ChatRequest) -> ChatResponse | str:
        """Finish, or replan after a round that has replan feedback, in the protocol asked."""
        last_id = max(_ids(request.last_user_text), default=0)
        index = next(
            (k for k, r in enumerate(scenario.rounds) if max(_ids(r.plan), default=0) == last_id),
            None,
        )
        feedback = None if index is None else scenario.rounds[index].replan
        if "answer now" in request.last_user_text:
            feedback = None
        decision = {
            "thought": scenario.thought if feedback is None else "Something is missing.",
            "action": "finish" if feedback is None else "replan",
            "answer": scenario.answer if feedback is None else "",
            "feedback": feedback or "",
        }
        if request.wants_structure:
            return request.structured_reply(decision)
        if request.protocol in ("lean", "lean+plans"):
            if feedback is None:
                return f"Answer: {scenario.answer}"
            if request.protocol == "lean" or index is None or index + 1 >= len(scenario.rounds):
                return f"Replan: {feedback}"
            plan = scenario.rounds[index + 1].plan
            first, _, rest = plan.partition("\n")
            if first.startswith("Thought:"):  # it says in a few words what is missing
                return f"Replan: {first.removeprefix('Thought:').strip()}\n{rest}"
            return f"Replan: {feedback.split('. ')[0].rstrip('.')}\n{plan}"
        action = f"Finish({scenario.answer})" if feedback is None else f"Replan({feedback})"
        return f"Thought: {decision['thought']}\nAction: {action}"

    def math(self, request: ChatRequest) -> str:
        text = request.last_user_text
        for scenario in [*self.scenarios.values(), *self.improvised.values()]:
            for problem, expression in scenario.math.items():
                if problem in text:
                    return f"```text\n{expression}\n```"
        raise LookupError(f"no scenario has this math problem: {text[:200]!r}")

    def react(self, scenario: Scenario, request: ChatRequest) -> ChatResponse:
        """The next ReAct turn: the next tool call(s) of the scenario's tasks, then the answer."""
        results = _tool_results(request.messages)
        tasks = [
            t for t in _rounds_reached(scenario, len(results)).tasks if t["idx"] not in results
        ]
        ready = [t for t in tasks if all(d in results for d in t["dependencies"])]
        if not ready:
            return ChatResponse(content=scenario.answer)
        if request.body.get("parallel_tool_calls") is False:
            ready = ready[:1]
        calls = [
            ToolCall(t["tool"], _quoting(_fill(t["args"], results)), f"call_task_{t['idx']}")
            for t in ready
        ]
        names = ", ".join(t["tool"] for t in ready)
        return ChatResponse(content=f"I need to call {names} next.", tool_calls=calls)


def role_of(request: ChatRequest) -> Role:
    """Which part of which agent sent a request: the package's role of the call (its
    `X-LLMCompiler-Role` header, see `llmcompiler_graph.core.roles`), else a ReAct turn."""
    return request.role or "react"  # type: ignore[return-value]


def _rounds_reached(scenario: Scenario, answered: int) -> Scenario:
    """The scenario cut after the first round whose calls are not all answered yet."""
    for end in range(1, len(scenario.rounds)):
        head = replace(scenario, rounds=scenario.rounds[:end])
        if answered < len(head.tasks):
            return head
    return scenario


def _tool_plan(scenario: Scenario, index: int) -> ChatResponse:
    """Round `index` as the tool-calling planner writes it: the round's thoughts as the text,
    then one call per task in order (arguments as planned, `"$N"` as written), then `join`."""
    earlier = replace(scenario, rounds=scenario.rounds[:index]).tasks
    text = scenario.rounds[index].plan
    tasks = parse_plan(text, _SIGNATURES, known_ids=[t["idx"] for t in earlier])
    thoughts = " ".join(t["thought"] for t in tasks if t["thought"])
    calls = [ToolCall(t["tool"], t["args"], f"call_plan_{t['idx']}") for t in tasks]
    return ChatResponse(content=thoughts, tool_calls=[*calls, ToolCall(JOIN, {})])


def _quoting(arguments: dict[str, Any]) -> dict[str, Any]:
    """A `context` list as a model writes it: long observations reduced to the quoted fact."""
    context = arguments.get("context")
    if not isinstance(context, list):
        return arguments
    return {**arguments, "context": [_quote(c) if isinstance(c, str) else c for c in context]}


def _quote(text: str) -> str:
    if len(text) <= QUOTE_CHARS:
        return text
    found = _FACT.search(text)
    return found.group(0) if found else text[:QUOTE_CHARS]


def _ids(text: str) -> list[int]:
    return [int(m) for m in _TASK_LINE.findall(text)]


def _tool_results(messages: list[dict[str, Any]]) -> dict[int, Any]:
    """Task id -> tool result text, from the tool messages of a ReAct conversation."""
    results: dict[int, Any] = {}
    for message in messages:
        call_id = str(message.get("tool_call_id", ""))
        if message.get("role") == "tool" and call_id.startswith("call_task_"):
            results[int(call_id.removeprefix("call_task_"))] = message_text(message)
    return results


def _fill(value: Any, results: Mapping[int, Any]) -> Any:
    """Replace references with what the ReAct agent has seen (it copies text into its calls)."""
    if isinstance(value, str):
        idx = is_whole_reference(value)
        if idx is not None and idx in results:
            return as_text(results[idx])
        return REFERENCE.sub(lambda m: _copied(m, results), value)
    if isinstance(value, list):
        return [_fill(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, results) for k, v in value.items()}
    return value


def _copied(reference: re.Match[str], results: Mapping[int, Any]) -> str:
    """The text a reference inside a string stands for; with a path (`$1[0].title`), the part
    of the result it names."""
    idx = int(reference.group(1) or reference.group(2))
    if idx not in results:
        return reference.group(0)
    try:
        return as_text(walk_path(results[idx], reference.group(3), idx))
    except PathError:
        return reference.group(0)


def _page(title: str, url: str, content: str) -> list[dict[str, Any]]:
    return [{"title": title, "url": url, "content": content}]


SHOWCASE: tuple[Scenario, ...] = (
    Scenario(
        question="What are the populations of Tokyo, Delhi and Shanghai, and which is largest?",
        rounds=(
            Round(
                "Thought: The three lookups are independent.\n"
                '1. search(query="Tokyo metropolitan area population")\n'
                '2. search(query="Delhi metropolitan area population")\n'
                '3. search(query="Shanghai metropolitan area population")\n'
                "4. join()<END_OF_PLAN>"
            ),
        ),
        answer="Tokyo is the largest with about 37.1 million people, ahead of Delhi (about "
        "33.8 million) and Shanghai (about 29.9 million). (Simulated data.)",
        corpus={
            "tokyo": _page(
                "Tokyo - population",
                "https://population.example/tokyo",
                "The Tokyo metropolitan area has about 37.1 million inhabitants.",
            ),
            "delhi": _page(
                "Delhi - population",
                "https://population.example/delhi",
                "The Delhi metropolitan area has about 33.8 million inhabitants.",
            ),
            "shanghai": _page(
                "Shanghai - population",
                "https://population.example/shanghai",
                "The Shanghai metropolitan area has about 29.9 million inhabitants.",
            ),
        },
    ),
    Scenario(
        question="Which company has the larger market cap, Microsoft or Apple, and by how much?",
        rounds=(
            Round(
                "Thought: Both market caps first, independently; then the difference.\n"
                '1. search(query="Microsoft market cap")\n'
                '2. search(query="Apple market cap")\n'
                '3. math(problem="How many trillion dollars larger is the first market cap than '
                'the second?", context=["$1", "$2"])\n'
                "4. join()<END_OF_PLAN>"
            ),
        ),
        answer="Microsoft, by about $0.17 trillion ($3.12 trillion against Apple's $2.95 "
        "trillion). (Simulated data.)",
        corpus={
            "microsoft market cap": _page(
                "Microsoft (MSFT) - Market capitalization",
                "https://companiesmarketcap.example/microsoft/marketcap/",
                "Microsoft has a market cap of $3.12 trillion (simulated snapshot).",
            ),
            "apple market cap": _page(
                "Apple (AAPL) - Market capitalization",
                "https://companiesmarketcap.example/apple/marketcap/",
                "Apple has a market cap of $2.95 trillion (simulated snapshot).",
            ),
        },
        math={"How many trillion dollars larger is the first market cap": "3.12 - 2.95"},
    ),
    Scenario(
        question="Who directed the highest-grossing film of 2019, and how old were they then?",
        rounds=(
            Round(
                '1. search(query="highest-grossing film of 2019")\n2. join()<END_OF_PLAN>',
                replan="Avengers: Endgame was directed by Anthony and Joe Russo: find when each "
                "was born and compute their ages in 2019.",
            ),
            Round(
                "Thought: The two birth dates are independent; each age needs its own.\n"
                '2. search(query="Anthony Russo date of birth")\n'
                '3. search(query="Joe Russo date of birth")\n'
                '4. math(problem="How old was Anthony Russo when the film came out?", '
                'context=["$1", "$2"])\n'
                '5. math(problem="How old was Joe Russo when the film came out?", '
                'context=["$1", "$3"])\n'
                "6. join()<END_OF_PLAN>"
            ),
        ),
        answer="Avengers: Endgame, the highest-grossing film of 2019, was directed by Anthony "
        "and Joe Russo, who were 49 and 48 when it came out. (Simulated data.)",
        corpus={
            "highest-grossing film of 2019": _page(
                "2019 in film - Highest-grossing films",
                "https://films.example/2019",
                "Avengers: Endgame (2019), directed by Anthony and Joe Russo, was the "
                "highest-grossing film of 2019 with $2.8 billion worldwide.",
            ),
            "anthony russo": _page(
                "Anthony Russo",
                "https://people.example/anthony-russo",
                "Anthony Russo (born February 3, 1970, in Cleveland, Ohio) is a film director.",
            ),
            "joe russo": _page(
                "Joe Russo",
                "https://people.example/joe-russo",
                "Joe Russo (born July 18, 1971, in Cleveland, Ohio) is a film director.",
            ),
        },
        math={
            "How old was Anthony Russo when the film came out?": "2019 - 1970",
            "How old was Joe Russo when the film came out?": "2019 - 1971",
        },
    ),
)
"""The offline demo's questions: independent searches; searches feeding math; a replan whose
second plan runs in parallel and builds on the first."""

EIFFEL = Scenario(
    question="How tall is the Eiffel Tower in feet?",
    rounds=(
        Round(
            '1. search(query="Eiffel Tower height")\n2. join()<END_OF_PLAN>',
            replan="The height is given in metres only: convert 330 metres to feet.",
        ),
        Round(
            "Thought: Convert the height found by task 1.\n"
            '2. math(problem="Convert the Eiffel Tower height from metres to feet", '
            'context=["$1"])\n'
            "3. join()<END_OF_PLAN>"
        ),
    ),
    answer="The Eiffel Tower is about 1,083 feet tall (330 metres). (Simulated data.)",
    corpus={
        "eiffel tower": _page(
            "Eiffel Tower",
            "https://monuments.example/eiffel-tower",
            "The Eiffel Tower in Paris is 330 metres tall.",
        ),
    },
    math={"Convert the Eiffel Tower height from metres to feet": "330 * 3.28084"},
)
"""A replan on a purely sequential question (search, then convert): ReAct's best case."""
