"""JSON text parsed in slices: a parse that a thread can run without holding up the event loop.

`json.loads` is one C call that holds the GIL for the whole text (about 0.7 s for 45 MB), so
running it on a thread stalls the loop just the same. `loads_in_slices` gives the same result
through many short calls: it walks the outer containers itself and hands each element to the C
decoder (`JSONDecoder.raw_decode`), so the GIL changes hands between elements (every 5 ms, the
interpreter's switch interval) and the loop stalls for about one element at most. It walks into
the first `SPREAD` elements of a container, `DEPTH` levels deep, and decodes the others whole:
wide containers (records) cost one C call per element, narrow ones (an object around a list)
are opened up, and the Python work stays bounded whatever the shape. An element past those
bounds that is itself huge still parses in one call.
"""

from __future__ import annotations

import json
import re
from typing import Any

SPREAD = 16
"""A container's first elements walked into (the rest are decoded whole)."""
DEPTH = 4
"""Container levels walked into."""

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_WHITESPACE = (" ", "\t", "\n", "\r")


def loads_in_slices(text: str) -> Any:
    """`json.loads(text)`, in short C calls (see the module docstring); raises
    `json.JSONDecodeError` as it would."""
    value, end = _value(text, _skip(text, 0), 0)
    if _skip(text, end) != len(text):
        raise json.JSONDecodeError("Extra data", text, _skip(text, end))
    return value


def _skip(text: str, at: int) -> int:
    if text[at : at + 1] not in _WHITESPACE:
        return at
    match = _SPACE.match(text, at)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _value(text: str, at: int, depth: int) -> tuple[Any, int]:
    """The value starting at `at` and where it ends: walked into when it is a container within
    `DEPTH`, else decoded in one call."""
    opening = text[at : at + 1]
    if depth < DEPTH and opening == "[":
        return _array(text, at, depth)
    if depth < DEPTH and opening == "{":
        return _object(text, at, depth)
    return _DECODER.raw_decode(text, at)


def _array(text: str, at: int, depth: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    at = _skip(text, at + 1)
    if text[at : at + 1] == "]":
        return items, at + 1
    while True:
        if len(items) < SPREAD:
            item, at = _value(text, at, depth + 1)
        else:
            item, at = _DECODER.raw_decode(text, at)
        items.append(item)
        at, closed = _after(text, _skip(text, at), "]")
        if closed:
            return items, at
        at = _skip(text, at)


def _object(text: str, at: int, depth: int) -> tuple[dict[str, Any], int]:
    members: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text[at : at + 1] == "}":
        return members, at + 1
    count = 0
    while True:
        if text[at : at + 1] != '"':
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, at
            )
        key, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if text[at : at + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = _skip(text, at + 1)
        if count < SPREAD:
            value, at = _value(text, at, depth + 1)
        else:
            value, at = _DECODER.raw_decode(text, at)
        members[key] = value
        count += 1
        at, closed = _after(text, _skip(text, at), "}")
        if closed:
            return members, at
        at = _skip(text, at)


def _after(text: str, at: int, closing: str) -> tuple[int, bool]:
    """The position past a `,` or past the `closing` bracket, and whether it was the bracket
    (the container ended); anything else is an error."""
    found = text[at : at + 1]
    if found in (",", closing):
        return at + 1, found == closing
    raise json.JSONDecodeError(f"Expecting ',' delimiter or {closing!r}", text, at)
