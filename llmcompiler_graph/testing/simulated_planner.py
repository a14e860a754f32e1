"""The simulated model's plans for questions no scenario scripts: `improvise`.

A rule-based reading of the question decides the plan a good model would write, for the tools
`search`, `math` and `calculate`:

- arithmetic ("What is 17.5% of 2,340 plus the square root of 1764?") is one `calculate` task
  with the numbers as written (`17.5 / 100 * 2340 + sqrt(1764)`); arithmetic on facts ("10% of
  the population of Norway") searches the facts, then a `math` task reads them (`context`);
- a comparison ("Which is taller, A or B?", "Is A older than B?", "A vs B height", "the combined
  population of A and B") searches each side in parallel, then a `math` task takes both
  results (`$1`, `$2`); three or more sides are ranked by the joiner;
- a multi-hop question ("the director of the film that won X") searches the inner thing first,
  then searches on the name it found (`director of $1[0].title`);
- any other question gets one search per part ("How tall are A and B?": two searches);
- a search for news ("the latest ...") finds nothing in the simulated index, so the joiner asks
  for a new plan, which searches without the fresh word;
- a follow-up in a thread ("What about its population?", "And how much taller is it?") is read
  against the conversation's earlier questions.

The answers are what those searches find: the planner predicts them with the search
simulator's own lookup (`tavily_server.find`: the corpus, else the facts `made_up` makes up), so
its answer quotes what the search returns. Everything is a function of the conversation's text:
the same question in the same conversation gets the same plan and answer. Answers built on
searched facts end with "(Simulated answer and data.)".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmcompiler_graph.testing.arithmetic import Formula, read_formula
from llmcompiler_graph.testing.made_up import (
    ATTRIBUTES,
    FRESH,
    KINDS,
    ROLES,
    asks_for_name,
    without_fresh,
)
from llmcompiler_graph.testing.scenarios import Round, Scenario
from llmcompiler_graph.tools.calculator import CalculationError, safe_eval

Search = Callable[[str], list[dict[str, Any]]]
"""What a query finds: the search simulator's lookup (`tavily_server.find` on its corpus)."""

MAX_GENERIC_SEARCHES = 4
"""A question the scenarios do not know gets at most this many searches in one plan."""

MEMORY = 3
"""How many earlier questions of a conversation a follow-up is read against."""

DATA_LABEL = " (Simulated answer and data.)"
ARITHMETIC_LABEL = " (Simulated answer; the arithmetic is exact.)"


def _alternatives(words: Sequence[str]) -> str:
    """A regex alternation of `words`, longest first (so "net worth" wins over "net")."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_ADJECTIVES = {
    "tall": "height",
    "high": "height",
    "old": "age",
    "big": "size",
    "large": "size",
    "small": "size",
    "long": "length",
    "heavy": "weight",
    "deep": "depth",
    "wide": "width",
    "fast": "speed",
    "far": "distance",
    "expensive": "price",
    "hot": "temperature",
    "cold": "temperature",
    "populous": "population",
    "rich": "net worth",
}
"""`How <adjective> is X?` asks for this attribute."""

_VERBS = {
    "directed": "director",
    "wrote": "author",
    "founded": "founder",
    "painted": "painter",
    "composed": "composer",
    "invented": "inventor",
    "designed": "designer",
    "discovered": "discoverer",
    "created": "creator",
    "produced": "producer",
    "built": "architect",
    "owns": "owner",
    "leads": "leader",
}
"""`Who <verb> X?` asks for the `<role> of X`."""

_COMPARATIVES: dict[str, tuple[str | None, int]] = {
    "taller": ("height", 1),
    "shorter": ("height", -1),
    "higher": ("height", 1),
    "lower": ("height", -1),
    "older": ("age", 1),
    "younger": ("age", -1),
    "newer": ("age", -1),
    "bigger": ("size", 1),
    "larger": ("size", 1),
    "smaller": ("size", -1),
    "longer": ("length", 1),
    "heavier": ("weight", 1),
    "lighter": ("weight", -1),
    "faster": ("speed", 1),
    "slower": ("speed", -1),
    "deeper": ("depth", 1),
    "shallower": ("depth", -1),
    "wider": ("width", 1),
    "narrower": ("width", -1),
    "richer": ("net worth", 1),
    "wealthier": ("net worth", 1),
    "poorer": ("net worth", -1),
    "cheaper": ("price", -1),
    "pricier": ("price", 1),
    "hotter": ("temperature", 1),
    "warmer": ("temperature", 1),
    "colder": ("temperature", -1),
    "farther": ("distance", 1),
    "closer": ("distance", -1),
    "more populous": ("population", 1),
    "less populous": ("population", -1),
    "more expensive": ("price", 1),
    "less expensive": ("price", -1),
    "more people": ("population", 1),
    "fewer people": ("population", -1),
    "more inhabitants": ("population", 1),
    "fewer inhabitants": ("population", -1),
    "better": (None, 1),
    "worse": (None, -1),
}
"""Comparative -> (the attribute it compares, +1 if the larger figure wins, else -1)."""

_NOUN_COMPARATIVES = {"more people", "fewer people", "more inhabitants", "fewer inhabitants"}
"""Comparatives that go with "has" ("Oslo has more people"), not "is"."""


_MOST = {"more": "most", "less": "least", "fewer": "fewest"}


def _superlative(comparative: str) -> str:
    """taller -> tallest, more populous -> most populous, better -> best."""
    head, _, tail = comparative.partition(" ")
    if tail:
        return f"{_MOST[head]} {tail}"
    return {"better": "best", "worse": "worst"}.get(comparative, comparative[:-2] + "est")


_SUPERLATIVES = {_superlative(c): c for c in _COMPARATIVES}

_ATTR = _alternatives(list(ATTRIBUTES))
_OF_WHAT = _alternatives([*ATTRIBUTES, *ROLES])
_CMP = _alternatives([*_COMPARATIVES, *_SUPERLATIVES])
_SUP = _alternatives(list(_SUPERLATIVES))
_I = re.IGNORECASE

_WHICH = re.compile(
    rf"^(?:which|who|what)(?: [a-z]+)? (?:is|are|was|were|has|have|had) (?:the )?"
    rf"(?P<cmp>{_CMP})(?: (?P<attr>{_ATTR})s?)?(?: one)?\s*(?:[,:]|\bbetween\b|\bamong\b)\s*"
    rf"(?P<rest>.+)$",
    _I,
)
_BY_HOW_MUCH = re.compile(r",?\s*and by how much$", _I)
_IS_THAN = re.compile(
    rf"^(?:is|are|was|were|does|do|did) (?P<a>.+?) (?:(?:have|has) )?(?P<cmp>{_CMP}) than "
    rf"(?P<b>.+)$",
    _I,
)
_HOW_MUCH = re.compile(
    rf"^how (?P<how>much|many times|many \w+) (?P<cmp>{_CMP}) (?:is|are|was|were) (?P<a>.+?) "
    rf"than (?P<b>.+)$",
    _I,
)
_VERSUS = re.compile(
    r"^(?:compare )?(?P<a>.+?)\s+(?:vs\.?|versus|compared (?:to|with))\s+(?P<b>.+)$", _I
)
_ATTR_LAST = re.compile(rf"^(?P<rest>.+?)\s+(?:by |in |on )?(?P<attr>{_ATTR})s?$", _I)
_ATTR_FIRST = re.compile(rf"^(?:the )?(?P<attr>{_ATTR})s?(?: of|:)\s+(?P<rest>.+)$", _I)
_COMPARE = re.compile(
    rf"^compare (?:the )?(?:(?P<attr>{_ATTR})s? of )?(?P<rest>.+?)"
    rf"(?: (?:by|in|on) (?P<attr2>{_ATTR})s?)?$",
    _I,
)
_TOTAL = re.compile(
    rf"^(?:what(?:'s| is| are| was)? )?(?:the )?(?P<kind>combined|total|average|mean) "
    rf"(?P<attr>{_ATTR})s? of (?P<rest>.+)$",
    _I,
)
_DIFFERENCE = re.compile(
    rf"^(?:what(?:'s| is| was)? )?(?:the )?difference (?:in (?P<attr>{_ATTR})s? between|"
    rf"between the (?P<attr2>{_ATTR})s? of) (?P<rest>.+)$",
    _I,
)
_LIST = re.compile(r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", _I)

_WHO_IS = re.compile(r"^(?:who|what|which)(?:'s| is| was| are| were) (?P<phrase>.+)$", _I)
_WHO_DID = re.compile(rf"^who (?P<verb>{_alternatives(list(_VERBS))}) (?P<phrase>.+)$", _I)
_HOW = re.compile(
    rf"^how (?P<adj>{_alternatives(list(_ADJECTIVES))}) (?:is|are|was|were) (?P<phrase>.+)$", _I
)
_OF = re.compile(rf"^(?:the )?(?P<of>{_OF_WHAT})(?P<plural>s)? of (?P<rest>.+)$", _I)
_RELATIVE = re.compile(
    r"^(?:the |a |an )?(?:[a-z][\w-]* )?[a-z][\w-]* (?:that|which|who|whom|whose|where) .+$", _I
)
_HOW_MANY_PEOPLE = re.compile(
    r"^how many (?:people|inhabitants|residents) (?:live|lives|are there|are) in (?P<e>.+)$", _I
)
_WHICH_KIND = re.compile(
    rf"^(?:which|what) (?P<kind>{_alternatives(list(KINDS))}) "
    r"(?P<rest>(?!(?:is|are|was|were|has|have|had)\b).+)$",
    _I,
)
_FRAMES = re.compile(
    r"^(?:(?:please|so|also|then|ok|okay),?\s+)*(?:find|search for|search|look up|"
    r"tell me about|tell me|show me|give me|describe|explain|what is|what's|what are|what was|"
    r"what were|who is|who's|who was|who are|where is|where's)\s+",
    _I,
)
_SUPERLATIVE_CLAUSE = re.compile(
    rf"^(?:and )?(?:which|who|what)(?: one)? (?:is|are|was|has) (?:the )?(?P<sup>{_SUP})$", _I
)

_CONTINUATION = re.compile(r"^(?:and|so|also|then|ok|okay)\b[,\s]*", _I)
_WHAT_ABOUT = re.compile(r"^(?:and |so )?(?:what|how) about\s+(?P<x>.+)$", _I)
_POSSESSIVE = re.compile(rf"\b(?P<pronoun>its|their|his|her) (?P<of>{_OF_WHAT})(?P<s>s)?\b", _I)
_PRONOUN = re.compile(r"\b(?P<pronoun>it|they|them|he|him|she|this one|that one)\b", _I)
_JUST_ATTRIBUTE = re.compile(rf"^(?:the )?(?P<of>{_OF_WHAT})s?$", _I)
_QUESTION_WORD = re.compile(
    r"\b(?:is|are|was|were|what|who|how|which|when|where|why|does|do|did)\b", _I
)
_HOW_MUCH_MORE = re.compile(
    rf"^how (?:much|many times|many \w+) (?:{_CMP}) (?:is|are|was|were) .+$", _I
)

_MADE_UP_FIGURE = re.compile(
    r"the most cited figure is (?P<number>\d[\d,]*(?:\.\d+)?)(?: (?P<unit>[^.(]+?))?\."
)
_ANY_FIGURE = re.compile(
    r"\$?(?P<number>\d[\d,]*(?:\.\d+)?)(?: (?P<unit>thousand|million|billion|trillion))?"
)


# -- the plan's steps -----------------------------------------------------------------------


@dataclass(eq=False)
class _Search:
    """A search; with `source`, its query is `query` followed by the name `source` found
    (`$N[0].title` in the plan)."""

    query: str
    source: _Search | None = None


@dataclass(eq=False)
class _Math:
    """A math task on the figures its context searches find; `formula` says how to combine
    them (`{0} - {1}`), as the model will when the math tool asks."""

    problem: str
    context: list[_Search]
    formula: str


@dataclass(eq=False)
class _Calculate:
    expression: str


_Step = _Search | _Math | _Calculate


def _needs(step: _Step) -> list[_Step]:
    """The steps whose results this one uses."""
    if isinstance(step, _Search):
        return [step.source] if step.source else []
    return list(step.context) if isinstance(step, _Math) else []


# -- what the searches find -----------------------------------------------------------------


def _number(value: float) -> str:
    """A figure as an answer writes it: 1,234.5 (float noise rounded away)."""
    value = round(value, 10)
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _plain(value: float) -> str:
    """A figure as an expression needs it: 1234.5."""
    return str(int(value)) if float(value).is_integer() else repr(value)


class _Facts:
    """What each search of a plan finds, predicted with the search simulator's own lookup."""

    def __init__(self, search: Search) -> None:
        self._search = search
        self._found: dict[str, list[dict[str, Any]]] = {}

    def found(self, query: str) -> list[dict[str, Any]]:
        if query not in self._found:
            self._found[query] = self._search(query)
        return self._found[query]

    def retried(self, search: _Search) -> bool:
        """Whether the search finds nothing and is run again without its fresh words."""
        return (
            search.source is None
            and not self.found(search.query)
            and bool(without_fresh(search.query))
            and without_fresh(search.query) != search.query
        )

    def query(self, search: _Search) -> str:
        """The query that finally finds the search's results."""
        if self.retried(search):
            return without_fresh(search.query)
        if search.source is None:
            return search.query
        return f"{search.query} {self.name(search.source)}"

    def results(self, search: _Search) -> list[dict[str, Any]]:
        return self.found(self.query(search))

    def name(self, search: _Search) -> str:
        """The name the search found: its top result's title."""
        results = self.results(search)
        return str(results[0]["title"]) if results else self.query(search)

    def sentence(self, search: _Search) -> str:
        """The first sentence of the top result, as an answer quotes it."""
        results = self.results(search)
        if not results:
            return f"Nothing was found for {self.query(search)!r}."
        return str(results[0]["content"]).split(". ")[0].rstrip(".") + "."

    def figure(self, search: _Search) -> tuple[float, str, str] | None:
        """(value, as written with its unit, the unit) of the top result's figure, or None."""
        results = self.results(search)
        content = str(results[0]["content"]) if results else ""
        found = _MADE_UP_FIGURE.search(content) or _ANY_FIGURE.search(content)
        if found is None:
            return None
        unit = found["unit"] or ""
        written = f"{found['number']} {unit}".strip()
        return float(found["number"].replace(",", "")), written, unit

    def value(self, search: _Search) -> str:
        """What the search answers: a name, or a figure with its unit."""
        if asks_for_name(self.query(search)):
            return self.name(search)
        figure = self.figure(search)
        return figure[1] if figure else self.sentence(search)

    def number(self, search: _Search) -> str:
        """The figure the search found, as the math model writes it into an expression."""
        figure = self.figure(search)
        if figure is None:
            raise LookupError(f"no figure for {self.query(search)!r}")
        return _plain(figure[0])


# -- drafts: a plan, and the answer to what it finds ----------------------------------------


@dataclass(frozen=True)
class Topic:
    """What a turn was about, for the follow-up questions after it."""

    entities: tuple[str, ...] = ()
    """Its subjects; a follow-up's "it" is the first (a comparison's winner)."""
    attribute: str | None = None


@dataclass
class _Draft:
    """The steps of a plan, the planner's thought, and the answer once the plan has run."""

    steps: list[_Step]
    thought: str
    answer: str
    topic: Topic


def _bare(text: str) -> str:
    """An entity as a search query names it: no leading article, no trailing punctuation."""
    text = " ".join(text.strip().rstrip("?!.").split())
    return re.sub(r"^(?:the|a|an)\s+", "", text, flags=_I)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _together(names: Sequence[str]) -> str:
    """A, B and C."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _split(text: str) -> list[str]:
    """The items of a list: "A, B and C", "A or B"."""
    return [item.strip() for item in _LIST.split(text) if item.strip()]


def _draft(question: str, facts: _Facts) -> _Draft:
    """The plan for one question (already read against the conversation)."""
    text = _CONTINUATION.sub("", " ".join(question.strip().rstrip("?!. ").split()), count=1)
    formula = read_formula(text)
    if formula is not None:
        return _arithmetic(formula, facts)
    return _comparison_of(text, facts) or _multi_hop(text, facts) or _lookups(text, facts)


def _quoting(searches: list[_Search], thought: str, facts: _Facts, topic: Topic) -> _Draft:
    """Independent searches, and an answer quoting the first sentence each one finds."""
    answer = " ".join(facts.sentence(search) for search in searches)
    return _Draft(list(searches), thought, answer, topic)


def _arithmetic(formula: Formula, facts: _Facts) -> _Draft:
    """Plain arithmetic: one `calculate`. On facts: their searches, then `math` on them."""
    if not formula.facts:
        try:
            value = safe_eval(formula.expression)
        except CalculationError as exc:
            answer, topic = f"{_capital(formula.text)} cannot be computed: {exc}.", Topic()
        else:
            answer, topic = (
                f"{_capital(formula.text)} is {_number(value)}.",
                Topic((_plain(value),)),
            )
        thought = "This is arithmetic: the calculator computes it exactly."
        return _Draft([_Calculate(formula.expression)], thought, answer, topic)
    searches = [_Search(fact) for fact in formula.facts]
    topic = Topic(formula.facts)
    if any(facts.figure(search) is None for search in searches):
        return _quoting(searches, "Each figure is an independent lookup.", facts, topic)
    try:
        value = safe_eval(formula.filled([facts.number(search) for search in searches]))
    except CalculationError:  # e.g. a division by a figure of 0: nothing to compute
        return _quoting(searches, "Each figure is an independent lookup.", facts, topic)
    quoted = " ".join(facts.sentence(search) for search in searches).rstrip(".")
    return _Draft(
        [*searches, _Math(f"What is {formula.text}?", searches, formula.expression)],
        "The figures are independent lookups; then math computes on them.",
        f"{_capital(formula.text)} is {_number(value)} ({quoted}).",
        topic,
    )


def _comparison_of(text: str, facts: _Facts) -> _Draft | None:
    """A comparison in any of its wordings, or None."""
    if found := _WHICH.match(text):
        sides = _split(_BY_HOW_MUCH.sub("", found["rest"]))
        word = found["cmp"].lower()
        attribute, sign = _COMPARATIVES[_SUPERLATIVES.get(word, word)]
        mode = "rank" if word in _SUPERLATIVES or len(sides) > 2 else "difference"
        named = found["attr"]  # "the larger market cap": that attribute, not the adjective's
        return _comparison(sides, named or attribute, sign, word, mode, facts, named=bool(named))
    for pattern in (_IS_THAN, _HOW_MUCH):
        if found := pattern.match(text):
            word = found["cmp"].lower()
            attribute, sign = _COMPARATIVES[_SUPERLATIVES.get(word, word)]
            if pattern is _IS_THAN:
                mode = "yes or no"
            else:
                mode = "ratio" if found["how"].lower() == "many times" else "difference"
            return _comparison([found["a"], found["b"]], attribute, sign, word, mode, facts)
    if found := _TOTAL.match(text):
        mode = "sum" if found["kind"].lower() in ("combined", "total") else "average"
        return _comparison(_split(found["rest"]), found["attr"], 1, None, mode, facts)
    if found := _DIFFERENCE.match(text):
        attribute = found["attr"] or found["attr2"]
        return _comparison(_split(found["rest"]), attribute, 1, None, "difference", facts)
    if found := _VERSUS.match(text):
        a, b, attribute = found["a"], found["b"], None
        if last := _ATTR_LAST.match(b):
            b, attribute = last["rest"], last["attr"]
        elif first := _ATTR_FIRST.match(a):
            a, attribute = first["rest"], first["attr"]
        return _comparison([a, b], attribute, 1, None, "difference", facts)
    if (found := _COMPARE.match(text)) and len(sides := _split(found["rest"])) > 1:
        attribute = found["attr"] or found["attr2"]
        return _comparison(sides, attribute, 1, None, "difference", facts)
    return None


def _comparison(
    sides: Sequence[str],
    attribute: str | None,
    sign: int,
    word: str | None,
    mode: str,
    facts: _Facts,
    searches: Sequence[_Search] | None = None,
    *,
    named: bool = False,
) -> _Draft | None:
    """Parallel searches, one per side; then `math` on two sides (mode `difference`, `yes or
    no`, `ratio`) or all of them (`sum`, `average`), or the joiner ranks them (`rank`, and any
    comparison of more than two). `word` is the comparative or superlative asked, if any;
    `named`: the question names the attribute too ("the larger market cap"). `sign` is +1 if
    the larger figure wins. Without an attribute or a figure for every side, the joiner quotes
    what each search found."""
    names = [" ".join(side.split()) for side in sides][:MAX_GENERIC_SEARCHES]
    if len(names) < 2:
        return None
    attribute = attribute.lower() if attribute else None
    bare = [_bare(name) for name in names]
    if searches is None:
        searches = [_Search(f"{b} {attribute}" if attribute else b) for b in bare]
    searches = list(searches)
    figures = [facts.figure(search) for search in searches]
    if attribute is None or None in figures:
        return _quoting(searches, "Each side is an independent lookup.", facts, Topic(tuple(bare)))
    values = [figure[0] for figure in figures if figure]
    written = [figure[1] for figure in figures if figure]
    unit = next((f" {figure[2]}" for figure in figures if figure and figure[2]), "")
    order = sorted(range(len(names)), key=lambda i: values[i] * sign, reverse=True)
    topic = Topic(tuple(bare[i] for i in order), attribute)
    lookups = f"The {attribute} of each is an independent lookup; "
    if mode in ("difference", "yes or no", "ratio") and len(names) > 2:
        mode = "rank"
    if mode == "rank":
        claim = _claim(word, attribute, sign, rank=True, named=named)
        others = _together([f"{names[i]} ({written[i]})" for i in order[1:]])
        answer = f"{_capital(names[order[0]])} {claim}: {written[order[0]]}, ahead of {others}."
        return _Draft(searches, lookups + "the joiner ranks them.", answer, topic)
    step = _math_step(mode, attribute, bare, searches)
    try:
        result = safe_eval(step.formula.format(*(facts.number(search) for search in searches)))
    except CalculationError:  # e.g. a ratio to a figure of 0: the joiner compares instead
        return _quoting(searches, "Each side is an independent lookup.", facts, topic)
    if mode in ("sum", "average"):
        parts = "; ".join(f"{b}: {w}" for b, w in zip(bare, written, strict=True))
        answer = (
            f"The {'total' if mode == 'sum' else 'average'} {attribute} of {_together(bare)} "
            f"is {_number(result)}{unit} ({parts})."
        )
    elif mode == "ratio":
        answer = (
            f"The {attribute} of {bare[0]} is {_number(round(result, 2))} times that of {bare[1]}: "
            f"{written[0]} against {written[1]}."
        )
    elif values[0] == values[1]:
        answer = f"{names[0]} and {names[1]} have the same {attribute}: {written[0]}."
        answer = _capital(f"No, {answer}" if mode == "yes or no" else answer)
    else:
        won, lost = order[0], order[-1]
        claim = _claim(word, attribute, sign, rank=False, named=named)
        answer = (
            f"{names[won]} {claim}: {written[won]} against {written[lost]} for {names[lost]}, "
            f"a difference of {_number(abs(result))}{unit}."
        )
        answer = f"{'Yes' if won == 0 else 'No'}, {answer}" if mode == "yes or no" else answer
        answer = _capital(answer)
    return _Draft([*searches, step], lookups + "then math compares them.", answer, topic)


def _claim(word: str | None, attribute: str, sign: int, *, rank: bool, named: bool) -> str:
    """What the winner of a comparison is or has: "is taller", "is the tallest", "has more
    people", "has the larger market cap"; without a comparative "has the larger height"."""
    base = _SUPERLATIVES.get(word, word) if word else ("larger" if sign > 0 else "smaller")
    shown = _superlative(base) if rank else base
    if named or word is None:
        return f"has the {shown} {attribute}"
    if base in _NOUN_COMPARATIVES:
        return f"has the {shown}" if rank else f"has {shown}"
    return f"is the {shown}" if rank else f"is {shown}"


def _math_step(mode: str, attribute: str, names: list[str], searches: list[_Search]) -> _Math:
    """The math task of a comparison: its problem in words, and how its figures combine."""
    slots = " + ".join(f"{{{i}}}" for i in range(len(names)))
    if mode == "sum":
        return _Math(f"What is the total {attribute} of {_together(names)}?", searches, slots)
    if mode == "average":
        problem = f"What is the average {attribute} of {_together(names)}?"
        return _Math(problem, searches, f"({slots}) / {len(names)}")
    a, b = names[:2]
    if mode == "ratio":
        problem = f"How many times the {attribute} of {b} is the {attribute} of {a}?"
        return _Math(problem, searches, "{0} / {1}")
    problem = f"What is the {attribute} of {a} minus the {attribute} of {b}?"
    return _Math(problem, searches, "{0} - {1}")


def _chain(phrase: str) -> list[_Search] | None:
    """The searches that find the thing `phrase` names through another one ("the director of
    the film that won X": the film first, then its director), or None."""
    phrase = _bare(phrase)
    if (found := _OF.match(phrase)) and (inner := _chain(found["rest"])):
        return [*inner, _Search(f"{found['of']}{found['plural'] or ''} of", source=inner[-1])]
    if _RELATIVE.match(phrase) and asks_for_name(phrase):
        return [_Search(phrase)]
    return None


def _multi_hop(text: str, facts: _Facts) -> _Draft | None:
    """ "Who is the director of the film that won X?" and the like: each search looks up the
    name the one before it found (`$N[0].title`)."""
    hops: list[_Search] | None = None
    if found := _WHO_DID.match(text):
        if inner := _chain(found["phrase"]):
            hops = [*inner, _Search(f"{_VERBS[found['verb'].lower()]} of", source=inner[-1])]
    elif found := _HOW.match(text):
        if inner := _chain(found["phrase"]):
            attribute = _ADJECTIVES[found["adj"].lower()]
            hops = [*inner, _Search(f"{attribute} of", source=inner[-1])]
    elif (found := _WHO_IS.match(text)) and (chain := _chain(found["phrase"])) and len(chain) > 1:
        hops = chain
    if not hops:
        return None

    def said(search: _Search) -> str:
        subject = f"{search.query} {facts.name(search.source)}" if search.source else search.query
        return f"the {subject} is {facts.value(search)}"

    last = hops[-1]
    earlier = "; ".join(said(search) for search in hops[:-1])
    if asks_for_name(facts.query(last)) or last.source is None:
        topic = Topic((facts.name(last),))
    else:
        topic = Topic((facts.name(last.source),), last.query.removesuffix(" of").lower())
    return _Draft(
        hops,
        "Each search needs the name the one before it finds.",
        f"{_capital(said(last))} ({earlier}).",
        topic,
    )


@dataclass(frozen=True)
class _Part:
    """One lookup of a question: its query, its subject and the form of query it used."""

    query: str
    entity: str
    attribute: str | None = None
    form: str | None = None
    """The query with `{}` for the subject, for a later bare part ("..., Delhi") to reuse."""


def _part(text: str, before: _Part | None) -> _Part:
    """The search for one part of a question."""
    if found := _HOW.match(text):
        attribute, entity = _ADJECTIVES[found["adj"].lower()], _bare(found["phrase"])
        return _Part(f"{entity} {attribute}", entity, attribute, "{} " + attribute)
    if found := _HOW_MANY_PEOPLE.match(text):
        entity = _bare(found["e"])
        return _Part(f"population of {entity}", entity, "population", "population of {}")
    if found := _WHO_DID.match(text):
        role, entity = _VERBS[found["verb"].lower()], _bare(found["phrase"])
        return _Part(f"{role} of {entity}", entity, None, role + " of {}")
    if found := _WHICH_KIND.match(text):
        query = f"{found['kind']} that {_bare(found['rest'])}"
        return _Part(query, query)
    framed = _FRAMES.sub("", text, count=1)
    rest = _bare(framed)
    if found := _OF.match(rest):
        of, entity = found["of"], _bare(found["rest"])
        attribute = of.lower() if of.lower() in ATTRIBUTES else None
        return _Part(f"{of} of {entity}", entity, attribute, of + " of {}")
    if framed == text and before is not None and before.form is not None:
        return _Part(before.form.format(rest), rest, before.attribute, before.form)
    return _Part(rest or "the question", rest)


def _lookups(text: str, facts: _Facts) -> _Draft:
    """One search per part of the question, in parallel ("..., and which is largest?" ranks
    them)."""
    parts: list[_Part] = []
    superlative = None
    for piece in _split(text):
        if found := _SUPERLATIVE_CLAUSE.match(piece):
            superlative = found["sup"].lower()
        else:
            parts.append(_part(piece, parts[-1] if parts else None))
    parts = list({part.query: part for part in parts}.values())[:MAX_GENERIC_SEARCHES]
    parts = parts or [_Part(text or "the question", text)]
    searches = [_Search(part.query) for part in parts]
    attribute = parts[0].attribute
    if superlative and attribute and len(parts) > 1:
        sign = _COMPARATIVES[_SUPERLATIVES[superlative]][1]
        entities = [part.entity for part in parts]
        ranked = _comparison(entities, attribute, sign, superlative, "rank", facts, searches)
        if ranked is not None:
            return ranked
    thought = (
        "Each part of the question is an independent lookup."
        if len(searches) > 1
        else "One search answers this."
    )
    topic = Topic(tuple(part.entity for part in parts), attribute)
    return _quoting(searches, thought, facts, topic)


# -- follow-ups -----------------------------------------------------------------------------


def _resolve(question: str, topic: Topic | None) -> str | None:
    """The follow-up `question` as a question of its own, read against the topic of the turn
    before ("What about its population?" -> "What is the population of Eiffel Tower?"); None
    when it does not need the conversation."""
    if topic is None or not topic.entities:
        return None
    text = " ".join(question.strip().rstrip("?!. ").split())
    continuation = _CONTINUATION.match(text)
    rest = text[continuation.end() :] if continuation else text
    about = _WHAT_ABOUT.match(text)
    target = about["x"] if about else rest
    subject, everyone = topic.entities[0], _together(topic.entities)
    if about or continuation:
        if only := _JUST_ATTRIBUTE.match(target):
            return f"What is the {only['of']} of {subject}?"
        bare = not _POSSESSIVE.search(target) and not _PRONOUN.search(target)
        if bare and (about or (len(target.split()) <= 4 and not _QUESTION_WORD.search(target))):
            if topic.attribute:
                return f"What is the {topic.attribute} of {target}?"
            return f"Tell me about {target}"
    if about:
        rest = f"What is {target}"
    if not (_POSSESSIVE.search(rest) or _PRONOUN.search(rest)):
        return None

    def owner(found: re.Match[str]) -> str:
        plural = found["pronoun"].lower() == "their"
        return f"the {found['of']}{found['s'] or ''} of {everyone if plural else subject}"

    def named(found: re.Match[str]) -> str:
        return everyone if found["pronoun"].lower() in ("they", "them") else subject

    resolved = _PRONOUN.sub(named, _POSSESSIVE.sub(owner, rest))
    if _HOW_MUCH_MORE.match(resolved) and " than " not in resolved and len(topic.entities) > 1:
        resolved += f" than {topic.entities[1]}"
    return f"{_capital(resolved)}?"


def _topic_of(history: Sequence[str], facts: _Facts) -> Topic | None:
    """What the conversation was about before its latest question."""
    topic = None
    for earlier in history[-MEMORY:]:
        topic = _draft(_resolve(earlier, topic) or earlier, facts).topic
    return topic


# -- rounds ---------------------------------------------------------------------------------


def _layout(draft: _Draft, facts: _Facts) -> tuple[Round, ...]:
    """The draft as plan rounds. A search that finds nothing ends the first round with a
    replan; the second searches again without the fresh word, then runs what needed it."""
    ids: dict[_Step, int] = {}
    retried = [s for s in draft.steps if isinstance(s, _Search) and facts.retried(s)]
    blocked: list[_Step] = []
    for step in draft.steps:
        if any(need in retried or need in blocked for need in _needs(step)):
            blocked.append(step)
    first = [step for step in draft.steps if step not in blocked]
    plan = _plan(draft.thought, first, ids, facts, retry=False)
    if not retried:
        return (Round(plan),)
    words = sorted({w.strip().lower() for s in retried for w in FRESH.findall(s.query)})
    quoted = " or ".join(repr(w) for w in words)
    feedback = " ".join(
        f"The search for {s.query!r} found nothing: search again without {quoted}." for s in retried
    )
    thought = f"The search found nothing; search again without {quoted}."
    return (
        Round(plan, replan=feedback),
        Round(_plan(thought, [*retried, *blocked], ids, facts, retry=True)),
    )


def _plan(
    thought: str, steps: list[_Step], ids: dict[_Step, int], facts: _Facts, *, retry: bool
) -> str:
    """One round's plan text; ids continue after those in `ids`, which it updates."""
    lines = [f"Thought: {thought}"]
    for step in steps:
        idx = max(ids.values(), default=0) + 1
        lines.append(f"{idx}. {_call(step, ids, facts, retry=retry)}")
        ids[step] = idx
    lines.append(f"{max(ids.values(), default=0) + 1}. join()<END_OF_PLAN>")
    return "\n".join(lines)


def _call(step: _Step, ids: dict[_Step, int], facts: _Facts, *, retry: bool) -> str:
    """A step as a plan line's call, its references to the ids of the steps it needs."""
    if isinstance(step, _Calculate):
        return f"calculate(expression={step.expression!r})"
    if isinstance(step, _Math):
        context = [f"${ids[search]}" for search in step.context]
        return f"math(problem={step.problem!r}, context={context!r})"
    if step.source is not None:
        query = f"{step.query} ${ids[step.source]}[0].title"
    else:
        query = facts.query(step) if retry else step.query
    return f"search(query={query!r})"


def improvise(question: str, history: Sequence[str], search: Search) -> Scenario:
    """A scenario for any question: the plan a good model writes after the `history` of earlier
    questions, and the answer to what its searches find (predicted with `search`)."""
    facts = _Facts(search)
    resolved = _resolve(question, _topic_of(history, facts))
    draft = _draft(resolved or question, facts)
    if resolved:
        draft.thought = f"From the conversation, this asks: {resolved} {draft.thought}"
    expressions = {
        step.problem: step.formula.format(*(facts.number(s) for s in step.context))
        for step in draft.steps
        if isinstance(step, _Math)
    }
    searched = any(isinstance(step, _Search) for step in draft.steps)
    answer = draft.answer + (DATA_LABEL if searched else ARITHMETIC_LABEL)
    return Scenario(question, _layout(draft, facts), answer, math=expressions)
