"""Answer scoring as in the paper's evaluation (`compare_answer` in the authors' repository).

A label that is a number accepts answers within 10% of it; any other label needs an exact match
after normalisation (lower case, no punctuation, no articles, single spaces; SQuAD's rule).
One leniency over the original: a numeric answer may carry text around its number ("about
3,323.4 km") as long as it holds exactly one number; the original needs the bare number.
"""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize(text: str) -> str:
    """Lower case, drop punctuation and articles, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def _as_number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", ""))
    except ValueError:
        pass
    numbers = _NUMBER.findall(text)
    return float(numbers[0].replace(",", "")) if len(numbers) == 1 else None


def score(answer: str | None, label: str) -> bool:
    """Whether `answer` counts as `label`.

    >>> score("About 5,931.8 metres.", "5931.80"), score("The Mariana Trench", "Mariana trench")
    (True, True)
    """
    if answer is None:
        return False
    try:
        expected = float(label)
    except ValueError:
        return normalize(answer) == normalize(label)
    value = _as_number(answer)
    return value is not None and abs(value - expected) < 0.1 * abs(expected)
