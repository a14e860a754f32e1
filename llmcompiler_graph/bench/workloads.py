"""The benchmark's workloads: seeded generators of `Scenario`s shaped like the paper's benchmarks.

Each example is one question with what a well-behaved model writes for it (the plan of every
round, the joiner's answer, the math expressions) and the search corpus its queries hit. The
question texts follow the paper's datasets; the facts are approximately right, served from
`.example` pages of realistic length (three results of 300-600 characters per search).

- `hotpotqa` (HotpotQA comparison questions): two independent searches, then the answer.
- `movie` (BIG-bench movie recommendation, in the paper's format): eight independent searches
  (four movies and four options), then the answer.
- `parallelqa` (the paper's ParallelQA): 2-5 searches; one `math` call per search adjusts its
  number, a last `math` call combines them (two dependency levels), then the answer.
- `replan`: a first plan (two searches) whose result is insufficient, the joiner asks for a
  new plan (a refined search and a `math` call), then the answer.

Every generator takes a `random.Random` and draws distinct questions, so a seed fixes the set.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from llmcompiler_graph.testing.scenarios import Round, Scenario, merged_corpus
from llmcompiler_graph.tools.calculator import safe_eval

Result = dict[str, Any]


@dataclass(frozen=True)
class Workload:
    """A named family of questions."""

    name: str
    summary: str
    """One line for reports: the shape of its plans."""
    draw: Callable[[random.Random], Scenario]
    """One random example (may repeat an earlier one; `generate` keeps distinct questions)."""


def generate(workload: Workload, n: int, seed: int) -> list[Scenario]:
    """`n` distinct examples of `workload`; the same seed gives the same examples."""
    rng = random.Random(f"{seed}:{workload.name}")
    examples: dict[str, Scenario] = {}
    for _ in range(100 * n):
        if len(examples) == n:
            break
        scenario = workload.draw(rng)
        examples.setdefault(scenario.question, scenario)
    if len(examples) < n:
        raise ValueError(f"{workload.name} has fewer than {n} distinct examples")
    return list(examples.values())


def check(scenarios: Iterable[Scenario]) -> None:
    """Refuse a set of scenarios that one simulator could not tell apart.

    The search simulator answers a query with every corpus entry whose keyword occurs in it, and
    the script finds a math problem by substring. So every query must hit exactly its own entry
    (scenarios sharing a query must share its pages), and no math problem may hide inside
    another one that has a different expression.
    """
    scenarios = list(scenarios)
    corpus = merged_corpus(scenarios)
    for scenario in scenarios:
        for keyword, pages in scenario.corpus.items():
            if corpus[keyword] != pages:
                raise ValueError(f"two scenarios give different pages for {keyword!r}")
        for task in scenario.tasks:
            if task["tool"] == "search":
                query = task["args"]["query"].lower()
                hits = [keyword for keyword in corpus if keyword in query]
                if hits != [query]:
                    raise ValueError(f"search {query!r} hits {hits}, not just its own page")
    expressions = {p: e for s in scenarios for p, e in s.math.items()}
    for problem, expression in expressions.items():
        for other, other_expression in expressions.items():
            if problem != other and problem in other and expression != other_expression:
                raise ValueError(f"math problem {problem!r} is ambiguous")


# -- search pages -------------------------------------------------------------------------------

_FILLER = (
    "{s} is covered at length in reference works, documentaries and the press.",
    "Figures quoted for {s} vary slightly between sources, depending on the date and the method.",
    "Several guides list {s} among the most searched topics in its category.",
    "The article on {s} is maintained by volunteer editors and cites its primary sources.",
    "Critics and historians still discuss the significance of {s} and its lasting influence.",
    "This overview of {s} summarizes its history, the key facts and related topics.",
    "Visitors and readers often ask about {s}; the answers below come from the sources listed.",
    "More detail on {s} can be found in the further reading section and the linked articles.",
    "Encyclopedias, travel guides and textbooks all have entries on {s}.",
    "The sources agree on the main facts about {s}, summarized at the top of this page.",
)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _pages(subject: str, lead: str, detail: str) -> list[Result]:
    """Three search results about `subject`: the lead paragraph, a fact sheet and an overview.

    The filler is drawn from the text itself, so the same query gets the same pages in every
    example that asks it.
    """
    filler = [f.format(s=subject) for f in random.Random(lead).sample(_FILLER, 8)]
    slug = _slug(subject)
    return [
        {
            "title": f"{subject} - Wikipedia",
            "url": f"https://en.wikipedia.example/wiki/{slug}",
            "content": " ".join([lead, detail, *filler[:3]]),
        },
        {
            "title": f"{subject}: facts and figures",
            "url": f"https://www.britannica.example/{slug.lower()}",
            "content": " ".join([detail, *filler[3:6]]),
        },
        {
            "title": f"{subject} - overview",
            "url": f"https://www.encyclopedia.example/{slug.lower()}",
            "content": " ".join(filler[6:]),
        },
    ]


def _search_lines(queries: Sequence[str], first: int = 1) -> list[str]:
    return [f'{i}. search("{q}")' for i, q in enumerate(queries, first)]


def _plan(lines: Sequence[str]) -> str:
    """A plan as the planner writes it, actions only, as its prompt asks; `join()` takes the
    next number (a replan reuses it)."""
    join = int(lines[-1].split(".")[0]) + 1
    return "\n".join([*lines, f"{join}. join()<END_OF_PLAN>"])


def _number(value: float) -> str:
    """A number as a model writes it into an expression: at most two decimals, no separators."""
    return f"{round(value, 2):g}"


# -- hotpotqa -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Writer:
    name: str
    born: date
    nationality: str
    occupation: str
    known_for: str


# fmt: off
_WRITERS = (
    _Writer("Arthur Conan Doyle", date(1859, 5, 22), "British", "writer and physician",
            "the Sherlock Holmes stories"),
    _Writer("Virginia Woolf", date(1882, 1, 25), "British", "novelist and essayist",
            "Mrs Dalloway and To the Lighthouse"),
    _Writer("Ernest Hemingway", date(1899, 7, 21), "American", "novelist and journalist",
            "The Old Man and the Sea"),
    _Writer("Jane Austen", date(1775, 12, 16), "British", "novelist", "Pride and Prejudice"),
    _Writer("Charles Dickens", date(1812, 2, 7), "British", "novelist",
            "Great Expectations and Oliver Twist"),
    _Writer("Mark Twain", date(1835, 11, 30), "American", "writer and humorist",
            "Adventures of Huckleberry Finn"),
    _Writer("Leo Tolstoy", date(1828, 9, 9), "Russian", "novelist", "War and Peace"),
    _Writer("George Orwell", date(1903, 6, 25), "British", "novelist and essayist",
            "Nineteen Eighty-Four"),
    _Writer("Agatha Christie", date(1890, 9, 15), "British", "crime novelist",
            "the Hercule Poirot novels"),
    _Writer("James Joyce", date(1882, 2, 2), "Irish", "novelist", "Ulysses"),
    _Writer("F. Scott Fitzgerald", date(1896, 9, 24), "American", "novelist", "The Great Gatsby"),
    _Writer("Fyodor Dostoevsky", date(1821, 11, 11), "Russian", "novelist",
            "Crime and Punishment"),
    _Writer("Herman Melville", date(1819, 8, 1), "American", "novelist", "Moby-Dick"),
)
# fmt: on

_FILMS = (  # title, year, director
    ("Casablanca", 1942, "Michael Curtiz"),
    ("Vertigo", 1958, "Alfred Hitchcock"),
    ("Psycho", 1960, "Alfred Hitchcock"),
    ("Chinatown", 1974, "Roman Polanski"),
    ("Jaws", 1975, "Steven Spielberg"),
    ("Rocky", 1976, "John G. Avildsen"),
    ("Alien", 1979, "Ridley Scott"),
    ("Amadeus", 1984, "Milos Forman"),
    ("Goodfellas", 1990, "Martin Scorsese"),
    ("Titanic", 1997, "James Cameron"),
    ("Gladiator", 2000, "Ridley Scott"),
)

_MAGAZINES = (  # name, year founded, city
    ("The Economist", 1843, "London"),
    ("Scientific American", 1845, "New York City"),
    ("Harper's Magazine", 1850, "New York City"),
    ("National Geographic", 1888, "Washington, D.C."),
    ("Vogue", 1892, "New York City"),
    ("Forbes", 1917, "New York City"),
    ("Time", 1923, "New York City"),
    ("The New Yorker", 1925, "New York City"),
    ("Rolling Stone", 1967, "San Francisco"),
    ("Wired", 1993, "San Francisco"),
)


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _draw_hotpotqa(rng: random.Random) -> Scenario:
    kind = rng.choice(["born", "nationality", "film", "magazine"])
    corpus: dict[str, list[Result]] = {}
    if kind in ("born", "nationality"):
        a, b = rng.sample(_WRITERS, 2)
        facts = {
            w.name: (
                f"{w.name} (born {_day(w.born)}) was a {w.nationality} {w.occupation}, best "
                f"known for {w.known_for}.",
                f"{w.name} was born on {_day(w.born)} and was of {w.nationality} nationality.",
            )
            for w in (a, b)
        }
        aspect = "date of birth" if kind == "born" else "nationality"
        queries = [f"{w.name} {aspect}" for w in (a, b)]
        if kind == "born":
            first, second = sorted((a, b), key=lambda w: w.born)
            question = f"Who was born first, {a.name} or {b.name}?"
            answer = (
                f"{first.name} was born first, on {_day(first.born)}; {second.name} was born "
                f"on {_day(second.born)}."
            )
        else:
            same = a.nationality == b.nationality
            question = f"Were {a.name} and {b.name} of the same nationality?"
            answer = (
                f"{'Yes' if same else 'No'}: {a.name} was {a.nationality} and {b.name} was "
                f"{b.nationality}."
            )
        for query, w in zip(queries, (a, b), strict=True):
            corpus[query.lower()] = _pages(w.name, *facts[w.name])
    else:
        pool = _FILMS if kind == "film" else _MAGAZINES
        a, b = rng.sample(pool, 2)
        first, second = sorted((a, b), key=lambda item: item[1])
        if kind == "film":
            queries = [f"{name} film release date" for name, _, _ in (a, b)]
            question = f"Which film was released first, {a[0]} or {b[0]}?"
            answer = (
                f"{first[0]} was released first, in {first[1]}; {second[0]} came out in "
                f"{second[1]}."
            )
            for query, (name, year, director) in zip(queries, (a, b), strict=True):
                lead = f"{name} is a {year} American film directed by {director}."
                detail = f"{name} premiered in {year} and was a critical and commercial success."
                corpus[query.lower()] = _pages(f"{name} (film)", lead, detail)
        else:
            queries = [f"{name} magazine founding year" for name, _, _ in (a, b)]
            question = f"Which magazine was started first, {a[0]} or {b[0]}?"
            answer = (
                f"{first[0]} was started first, in {first[1]}, while {second[0]} was founded "
                f"in {second[1]}."
            )
            for query, (name, year, city) in zip(queries, (a, b), strict=True):
                lead = f"{name} is a magazine founded in {city} in {year}."
                detail = f"The first issue of {name} was published in {year}."
                corpus[query.lower()] = _pages(f"{name} (magazine)", lead, detail)
    plan = _plan(_search_lines(queries))
    return Scenario(question, (Round(plan),), answer, corpus)


# -- movie --------------------------------------------------------------------------------------

_HITS = (  # popular American films of 1989-1997: title, year, genre
    ("Batman", 1989, "superhero"),
    ("Pretty Woman", 1990, "romantic comedy"),
    ("Dances with Wolves", 1990, "epic Western"),
    ("Home Alone", 1990, "family comedy"),
    ("Ghost", 1990, "romantic fantasy thriller"),
    ("The Silence of the Lambs", 1991, "psychological thriller"),
    ("Terminator 2: Judgment Day", 1991, "science fiction action"),
    ("Aladdin", 1992, "animated musical fantasy"),
    ("The Fugitive", 1993, "action thriller"),
    ("Jurassic Park", 1993, "science fiction adventure"),
    ("Schindler's List", 1993, "historical drama"),
    ("Groundhog Day", 1993, "fantasy comedy"),
    ("Mrs. Doubtfire", 1993, "family comedy"),
    ("The Mask", 1994, "fantasy comedy"),
    ("The Lion King", 1994, "animated musical drama"),
    ("Forrest Gump", 1994, "comedy-drama"),
    ("Pulp Fiction", 1994, "crime"),
    ("Speed", 1994, "action thriller"),
    ("True Lies", 1994, "action comedy"),
    ("Dumb and Dumber", 1994, "buddy comedy"),
    ("Braveheart", 1995, "historical epic"),
    ("Toy Story", 1995, "animated comedy"),
    ("Apollo 13", 1995, "docudrama"),
    ("The Usual Suspects", 1995, "neo-noir mystery"),
    ("Independence Day", 1996, "science fiction action"),
    ("Twister", 1996, "disaster"),
    ("Men in Black", 1997, "science fiction action comedy"),
)

_OLDER = (  # title, year, genre: options nobody who liked the hits would be recommended
    ("Nosferatu", 1922, "German silent horror"),
    ("Metropolis", 1927, "German expressionist science fiction"),
    ("The Front Page", 1931, "newspaper comedy"),
    ("The Bank Dick", 1940, "slapstick comedy"),
    ("Penny Serenade", 1941, "melodrama"),
    ("Christmas in Connecticut", 1945, "romantic comedy"),
    ("Bicycle Thieves", 1948, "Italian neorealist drama"),
    ("A Letter to Three Wives", 1949, "drama"),
    ("Too Late for Tears", 1949, "film noir"),
    ("Rashomon", 1950, "Japanese period drama"),
    ("Quo Vadis", 1951, "historical epic"),
    ("Tokyo Story", 1953, "Japanese family drama"),
    ("Marty", 1955, "romantic drama"),
    ("The Seventh Seal", 1957, "Swedish historical fantasy"),
    ("Stroszek", 1977, "German tragicomedy"),
    ("The Element of Crime", 1984, "Danish neo-noir"),
)


def _movie_pages(title: str, year: int, genre: str, hit: bool) -> list[Result]:
    lead = f"{title} is a {year} {genre} film."
    detail = (
        f"{title} was one of the most popular American films of {year} and a box-office hit."
        if hit
        else f"{title} ({year}) is remembered mainly by film historians and festival audiences."
    )
    return _pages(f"{title} ({year} film)", lead, detail)


def _draw_movie(rng: random.Random) -> Scenario:
    *liked, pick = rng.sample(_HITS, 5)
    options = [pick, *rng.sample(_OLDER, 3)]
    rng.shuffle(options)
    question = (
        f"Find a movie similar to {', '.join(t for t, _, _ in liked)}\n"
        "Options:\n" + "\n".join(t for t, _, _ in options)
    )
    movies = [*liked, *options]
    queries = [f"{title} movie" for title, _, _ in movies]
    corpus = {
        q.lower(): _movie_pages(*movie, movie in _HITS)
        for q, movie in zip(queries, movies, strict=True)
    }
    answer = (
        f"{pick[0]}. Like {', '.join(t for t, _, _ in liked[:-1])} and {liked[-1][0]}, it is a "
        f"popular American film of the late 1980s or 1990s; the other options are much older "
        f"or niche films."
    )
    plan = _plan(_search_lines(queries))
    return Scenario(question, (Round(plan),), answer, corpus)


# -- parallelqa ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measure:
    """A numeric property of a family of entities, as search pages state it."""

    attribute: str  # "height"
    unit: str  # "metres"
    plural: str  # "mountains"
    sentence: str  # "{name} ... {value} ..." with the figure in it
    values: dict[str, float]


# fmt: off
_MEASURES = (
    _Measure(
        "height",
        "metres",
        "mountains",
        "{name} is a mountain whose summit stands {value} metres above sea level.",
        {
            "Mount Everest": 8849, "K2": 8611, "Kangchenjunga": 8586, "Lhotse": 8516,
            "Aconcagua": 6961, "Denali": 6190, "Mount Kilimanjaro": 5895, "Mount Elbrus": 5642,
            "Mont Blanc": 4806, "Matterhorn": 4478, "Mount Fuji": 3776,
        },
    ),
    _Measure(
        "length",
        "kilometres",
        "rivers",
        "The {name} is a river with a total length of about {value} kilometres.",
        {
            "Nile River": 6650, "Amazon River": 6400, "Yangtze River": 6300,
            "Yenisei River": 5539, "Yellow River": 5464, "Mekong River": 4909,
            "Congo River": 4700, "Mississippi River": 3766, "Volga River": 3531,
            "Danube River": 2850, "Rhine River": 1233,
        },
    ),
    _Measure(
        "population",
        "millions",
        "countries",
        "{name} has a population of about {value} million people (2023 estimate).",
        {
            "Japan": 124.5, "Germany": 84.5, "Vietnam": 98.9, "Thailand": 71.8, "France": 68.2,
            "Italy": 58.9, "South Korea": 51.7, "Spain": 48.4, "Canada": 40.1, "Australia": 26.6,
        },
    ),
    _Measure(
        "height",
        "metres",
        "towers",
        "{name} is a landmark tower with a height of {value} metres.",
        {
            "Burj Khalifa": 828, "Tokyo Skytree": 634, "Shanghai Tower": 632, "CN Tower": 553,
            "One World Trade Center": 541, "Ostankino Tower": 540, "Taipei 101": 508,
            "Empire State Building": 443, "Eiffel Tower": 330,
        },
    ),
)
# fmt: on

_PERCENTS = (5, 10, 15, 20, 25, 30, 40, 50)


def _combine(kind: str, values: list[float]) -> str:
    """The level-2 expression over the adjusted values."""
    shown = [_number(v) for v in values]
    if kind == "ratio":
        return f"{shown[0]} / {shown[1]}"
    if kind == "difference":
        return f"abs({shown[0]} - {shown[1]})"
    if kind == "total":
        return " + ".join(shown)
    if kind == "average":
        return f"({' + '.join(shown)}) / {len(shown)}"
    return f"max({', '.join(shown)}) - min({', '.join(shown)})"  # spread


def _draw_parallelqa(rng: random.Random) -> Scenario:
    measure = rng.choice(_MEASURES)
    k = rng.randint(2, 5)
    names = rng.sample(sorted(measure.values), k)
    changes = [rng.choice(_PERCENTS) * rng.choice((1, -1)) for _ in names]
    kinds = ["ratio", "difference", "total"] if k == 2 else ["total", "average", "spread"]
    kind = rng.choice(kinds)
    attr, unit = measure.attribute, measure.unit

    def adjusted(name: str, change: int) -> str:
        way = "increased" if change > 0 else "decreased"
        return f"the {attr} of {name} {way} by {abs(change)}%"

    clauses = [adjusted(n, c) for n, c in zip(names, changes, strict=True)]
    tagged = [f"{n} ({c:+d}%)" for n, c in zip(names, changes, strict=True)]
    listed = ", ".join(tagged[:-1]) + f" and {tagged[-1]}"
    question = (
        "If "
        + ", ".join(clauses[:-1])
        + f" and {clauses[-1]}, "
        + {
            "ratio": f"what would be the ratio of the {attr} of {names[0]} to that of {names[1]}?",
            "difference": f"what would be the difference between the two in {unit}?",
            "total": f"what would be their combined {attr} in {unit}?",
            "average": f"what would be the average {attr} of these {k} {measure.plural} in {unit}?",
            "spread": f"what would be the difference between the largest and the smallest {attr} "
            f"in {unit}?",
        }[kind]
    )
    final_problem = {
        "ratio": f"What is the ratio of the adjusted {attr} of {tagged[0]} to that of {tagged[1]}?",
        "difference": f"What is the difference between the adjusted {attr}s of {listed}, in "
        f"{unit}?",
        "total": f"What is the sum of the adjusted {attr}s of {listed}, in {unit}?",
        "average": f"What is the average of the adjusted {attr}s of {listed}, in {unit}?",
        "spread": f"What is the difference between the largest and the smallest adjusted {attr} "
        f"among {listed}, in {unit}?",
    }[kind]

    queries = [f"{name} {attr}" for name in names]
    corpus: dict[str, list[Result]] = {}
    math: dict[str, str] = {}
    lines = _search_lines(queries)
    new_values = []
    for i, (name, change, query) in enumerate(zip(names, changes, queries, strict=True), 1):
        value = measure.values[name]
        fact = measure.sentence.format(name=name, value=f"{value:,}")
        detail = f"Its {attr} is usually given as {value:,} {unit}."
        corpus[query.lower()] = _pages(name, fact, detail)
        problem = f"What is {adjusted(name, change)}?"
        math[problem] = f"{_number(value)} * {_number(1 + change / 100)}"
        new_values.append(safe_eval(math[problem]))
        lines.append(f'{k + i}. math(problem="{problem}", context=["${i}"])')
    math[final_problem] = _combine(kind, new_values)
    result = safe_eval(math[final_problem])
    refs = ", ".join(f'"${k + i}"' for i in range(1, k + 1))
    lines.append(f'{2 * k + 1}. math(problem="{final_problem}", context=[{refs}])')
    each = "; ".join(f"{n} {v:,.2f}" for n, v in zip(names, new_values, strict=True))
    total = f"{result:,.2f}" if kind == "ratio" else f"{result:,.2f} {unit}"
    answer = f"About {total}. After the changes: {each}."
    plan = _plan(lines)
    return Scenario(question, (Round(plan),), answer, corpus, math)


# -- replan -------------------------------------------------------------------------------------

_TALL = (  # name, what it is, height in feet, whether a plain search states the height
    ("Burj Khalifa", "skyscraper", 2717, True),
    ("Shanghai Tower", "skyscraper", 2073, True),
    ("CN Tower", "communications tower", 1815, True),
    ("Taipei 101", "skyscraper", 1667, True),
    ("Willis Tower", "skyscraper", 1451, True),
    ("Eiffel Tower", "wrought-iron lattice tower", 1083, True),
    ("Tokyo Skytree", "broadcasting tower", 2080, False),
    ("One World Trade Center", "skyscraper", 1776, False),
    ("Petronas Towers", "pair of skyscrapers", 1483, False),
    ("Gateway Arch", "monument", 630, False),
    ("Space Needle", "observation tower", 605, False),
    ("Washington Monument", "obelisk", 555, False),
)


def _height_pages(name: str, kind: str, feet: int, stated: bool) -> list[Result]:
    if stated:
        return _pages(
            name,
            f"The {name} is a {kind} with a height of {feet:,} feet.",
            f"Its official height is {feet:,} feet.",
        )
    return _pages(
        name,
        f"The {name} is a {kind} and one of the best-known landmarks of its city.",
        f"The {name} attracts millions of visitors every year.",
    )


def _draw_replan(rng: random.Random) -> Scenario:
    found = rng.choice([t for t in _TALL if t[3]])
    missing = rng.choice([t for t in _TALL if not t[3]])
    a, b = rng.sample([found, missing], 2)
    question = f"Which is taller, the {a[0]} or the {b[0]}, and by how many feet?"
    first = [f"How tall is the {a[0]}", f"How tall is the {b[0]}"]
    refined = f"{missing[0]} official height in feet"
    corpus = {
        first[0].lower(): _height_pages(*a),
        first[1].lower(): _height_pages(*b),
        refined.lower(): _pages(
            f"{missing[0]} (height)",
            f"The official height of the {missing[0]} is {missing[2]:,} feet.",
            f"Measured to its highest point, the {missing[0]} rises {missing[2]:,} feet.",
        ),
    }
    problem = f"How many feet taller is the taller of the {a[0]} and the {b[0]}?"
    known = 1 if a is found else 2
    rounds = (
        Round(
            _plan(_search_lines(first)),
            replan=f"The results for the {missing[0]} do not state its height. Search for its "
            f"official height in feet, then compute the difference with the {found[0]}.",
        ),
        Round(
            _plan(
                [
                    f'3. search("{refined}")',
                    f'4. math(problem="{problem}", context=["${known}", "$3"])',
                ]
            )
        ),
    )
    taller, shorter = sorted([found, missing], key=lambda t: -t[2])
    answer = (
        f"The {taller[0]} is taller, by {taller[2] - shorter[2]:,} feet ({taller[2]:,} feet "
        f"against {shorter[2]:,} feet for the {shorter[0]})."
    )
    expression = f"abs({found[2]} - {missing[2]})"
    return Scenario(question, rounds, answer, corpus, {problem: expression})


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("hotpotqa", "2 independent searches, then the answer", _draw_hotpotqa),
        Workload("movie", "8 independent searches, then the answer", _draw_movie),
        Workload(
            "parallelqa",
            "2-5 searches -> one math each -> one math over them, then the answer",
            _draw_parallelqa,
        ),
        Workload("replan", "2 searches, replan, 1 search + 1 math, then the answer", _draw_replan),
    )
}
"""Every workload by name, in report order."""
