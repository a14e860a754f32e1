"""The simulated search's made-up facts: what it finds for a query no corpus page matches.

Every result is made from the query's text alone (same query, same results) and says
"(simulated result)". There are three kinds, so that a simulated planner can plan the way a real
model does with real search results:

- a query for a named thing ("film that won the Palme d'Or in 2019", "director of Silver
  Harbor") finds a made-up name, as the top result's title, which a dependent search takes
  with `$1[0].title`;
- a query with a "fresh" word ("latest", "newest", "current", "most recent") finds nothing,
  since the simulated index holds no news: that is how a simulated plan comes to need a replan;
- any other query finds a figure ("population of lyon: the most cited figure is 1,234,567
  people."), in the unit of the attribute it asks for, for math to compute on.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

Result = dict[str, Any]


def _words(text: str) -> list[str]:
    """Words written as one string: a vocabulary reads better that way than as a list."""
    return text.split()


ATTRIBUTES: dict[str, tuple[str, int, int]] = {
    "population": ("people", 50_000, 40_000_000),
    "height": ("metres", 10, 900),
    "elevation": ("metres", 100, 8_800),
    "length": ("kilometres", 5, 7_000),
    "width": ("metres", 5, 3_000),
    "depth": ("metres", 5, 11_000),
    "area": ("square kilometres", 100, 2_000_000),
    "size": ("square kilometres", 100, 2_000_000),
    "weight": ("kilograms", 1, 6_000),
    "age": ("years", 10, 120),
    "speed": ("km/h", 10, 1_000),
    "distance": ("kilometres", 1, 20_000),
    "price": ("US dollars", 5, 5_000),
    "cost": ("US dollars", 5, 5_000),
    "temperature": ("degrees Celsius", 1, 45),
    "net worth": ("billion US dollars", 1, 250),
    "market cap": ("billion US dollars", 10, 3_500),
    "revenue": ("billion US dollars", 1, 600),
    "gdp": ("billion US dollars", 10, 25_000),
}
"""Attribute -> (unit, lowest, highest): the numeric facts, and the range their figures take."""

ROLES: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "director author writer founder ceo president mayor composer inventor architect "
            "painter singer designer producer coach captain king queen leader owner creator "
            "discoverer chancellor governor manager chairman star"
        ),
        "person",
    ),
    "prime minister": "person",
    "capital": "city",
    "birthplace": "city",
    "headquarters": "city",
    "largest city": "city",
}
"""Attributes whose value is a name ("director of X"), and the kind of name."""

KINDS: dict[str, str] = {
    **dict.fromkeys(
        _words(
            "person man woman actor actress scientist player artist musician politician "
            "athlete people"
        ),
        "person",
    ),
    **dict.fromkeys(_words("city town village port capital"), "city"),
    **dict.fromkeys(_words("country nation state kingdom republic"), "country"),
    **dict.fromkeys(
        _words("film movie book novel song album play show series game painting opera poem"),
        "work",
    ),
    **dict.fromkeys(
        _words("company team band university club firm startup brand group school"),
        "org",
    ),
    **{role: kind for role, kind in ROLES.items() if " " not in role},
}
"""The kind of name a relative-clause query asks for, by its head noun ("film that ...")."""

FRESH = re.compile(r"\b(?:latest|newest|most recent|current)\b\s*", re.IGNORECASE)
"""Words asking for news, which the simulated index never has."""

_RELATIVE = re.compile(
    r"^(?:the |a |an )?(?:[a-z][\w-]* )?(?P<kind>[a-z][\w-]*) "
    r"(?:that|which|who|whom|whose|where)\b",
    re.IGNORECASE,
)
_ROLE = re.compile(
    rf"^(?:the )?(?P<role>{'|'.join(sorted(ROLES, key=len, reverse=True))}) of\b", re.IGNORECASE
)
_ATTRIBUTE = re.compile(
    rf"\b(?P<attribute>{'|'.join(sorted(ATTRIBUTES, key=len, reverse=True))})s?\b", re.IGNORECASE
)

_FIRST = _words("Mara Tomas Ines Kofi Lena Rafael Yuki Amara Henrik Sofia Dev Noor")
_LAST = _words("Okafor Lindqvist Moreau Takeda Alvarez Novak Brennan Haddad Castell Iversen")
_ADJECTIVES = _words("Silver Quiet Northern Paper Last Hidden Golden Distant Broken Winter")
_NOUNS = _words("Harbor Orchard Lantern Meridian Tide Garden Signal Horizon Archive Compass")
_ROOTS = _words("Vel Kor Ash Mar Tor Lun Bres Ost Cal Dun")
_ENDINGS = {
    "city": _words("haven ford burg mouth port stad"),
    "country": _words("doria avia mark land esia onia"),
    "org": _words("Group Labs Works Collective Partners"),
}


def attribute_in(text: str) -> str | None:
    """The first numeric attribute `text` names ("heights" counts as "height"), or None."""
    found = _ATTRIBUTE.search(text)
    return found["attribute"].lower() if found else None


def without_fresh(query: str) -> str:
    """The query without its fresh words: what to search once the fresh query found nothing."""
    return " ".join(FRESH.sub("", query).split())


def results(query: str) -> list[Result]:
    """What the simulated search finds for `query` when no corpus page matches (see above)."""
    if FRESH.search(query):
        return []
    digest = hashlib.sha256(query.encode()).hexdigest()
    subject = query.strip() or "this topic"
    kind = _kind_of_name(subject)
    if kind is not None:
        name = _name(kind, int(digest[:12], 16))
        return _pages(
            subject,
            digest,
            name,
            f"{subject}: {name}",
            f"Recent reporting on {subject} names {name}",
            about=name,
        )
    attribute = attribute_in(subject)
    if attribute is None:
        figure, unit = f"{int(digest[:6], 16) % 9000 + 1000:,}", ""
    else:
        unit_name, low, high = ATTRIBUTES[attribute]
        figure, unit = f"{low + int(digest[:8], 16) % (high - low + 1):,}", f" {unit_name}"
    return _pages(
        subject,
        digest,
        f"{subject} - Overview",
        f"{subject}: the most cited figure is {figure}{unit}",
        f"Recent reporting on {subject} confirms the figure of {figure}{unit}",
        about=subject,
    )


def asks_for_name(query: str) -> bool:
    """Whether `query` finds a name (the top result's title) rather than a figure."""
    return _kind_of_name(query) is not None


def _kind_of_name(query: str) -> str | None:
    """The kind of name a query asks for (person, city, work...), or None for a figure."""
    if role := _ROLE.match(query):
        return ROLES[role["role"].lower()]
    if relative := _RELATIVE.match(query):
        return KINDS.get(relative["kind"].lower(), "place")
    return None


def _name(kind: str, seed: int) -> str:
    """A made-up name of that kind, picked by `seed`."""

    def pick(options: list[str], place: int) -> str:
        return options[seed // 100**place % len(options)]

    if kind == "person":
        return f"{pick(_FIRST, 0)} {pick(_LAST, 1)}"
    if kind == "work":
        return f"The {pick(_ADJECTIVES, 0)} {pick(_NOUNS, 1)}"
    if kind == "org":
        return f"{pick(_ADJECTIVES, 0)} {pick(_NOUNS, 1)} {pick(_ENDINGS['org'], 2)}"
    endings = _ENDINGS["country" if kind == "country" else "city"]
    return f"{pick(_ROOTS, 0)}{pick(endings, 1)}"


def _pages(
    subject: str, digest: str, title: str, fact: str, news: str, *, about: str
) -> list[Result]:
    """The two results of every made-up search: an overview stating the fact, then news."""
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-") or "query"
    return [
        {
            "title": title,
            "url": f"https://encyclopedia.example/{slug}",
            "content": f"{fact}. This overview summarizes what is known about {about} "
            "(simulated result).",
        },
        {
            "title": f"Latest on {about}",
            "url": f"https://news.example/{slug}-{digest[:8]}",
            "content": f"{news} (simulated result).",
        },
    ]
