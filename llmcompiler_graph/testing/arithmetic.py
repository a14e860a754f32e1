"""Arithmetic written in words, read as a calculator expression: the simulated model's maths.

`read_formula("What is 17.5% of 2,340 plus the square root of 1764?")` gives the expression
`17.5 / 100 * 2340 + sqrt(1764)`: every number as written (thousands separators dropped,
decimals kept), percentages as fractions, operators and functions from their words. An operand
may also be a fact to look up ("10% of the population of Norway"), which becomes a `{0}`
placeholder for the figure a search will find. Anything else in the text (a word that is neither
arithmetic nor part of such a fact) means the text is not arithmetic, and the reader says None
rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmcompiler_graph.testing.made_up import ATTRIBUTES

_FRAME = re.compile(
    r"^(?:(?:and|so|ok|okay|then),?\s+)?(?:please\s+)?"
    r"(?:what(?:'s| is| are| was)|how much is|how much are|calculate|compute|evaluate|"
    r"work out|solve|find)\s+",
    re.IGNORECASE,
)
_END = re.compile(r"[\s=?.!]+$")
_IMPERATIVE = re.compile(
    r"^(?P<verb>add|subtract|multiply|divide)\s+(?P<a>.+?)\s+(?:to|from|by|and)\s+(?P<b>.+)$",
    re.IGNORECASE,
)
_IMPERATIVES = {"add": "({a}) + ({b})", "subtract": "({b}) - ({a})"}
_IMPERATIVES |= {"multiply": "({a}) * ({b})", "divide": "({a}) / ({b})"}

_COUNTING = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_COUNTING.split())}
_NUMBER_WORDS |= {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "hundred": "100"}
_SCALES = {
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "trillion": "1000000000000",
}

_FACT = re.compile(
    rf"^(?:the )?(?P<fact>(?:{'|'.join(sorted(ATTRIBUTES, key=len, reverse=True))})s? of .+)$",
    re.IGNORECASE,
)
"""A fact operand: "the population of Norway" (searched as "population of Norway")."""


@dataclass(frozen=True)
class Token:
    kind: str
    """num, op, pct, func, agg, post, scale, lpar, rpar, sep, word."""
    value: str
    strong: bool = True
    """False for an operator word that is often not arithmetic ("over")."""


_LEXICON: list[tuple[str, str, str | None]] = [
    # (pattern, kind, value: None for the text matched), tried in this order
    (r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+", "num", None),
    (r"raised to the power of|to the power of|raised to|\*\*|\^", "op", "**"),
    (r"multiplied by|times|[*×]", "op", "*"),
    (r"divided by|[/÷]", "op", "/"),
    (r"over", "weak op", "/"),
    (r"plus|\+", "op", "+"),
    (r"minus|[-−]", "op", "-"),
    (r"modulo|mod", "op", "%"),
    (r"%|percent|per cent", "pct", "%"),
    (r"(?:the )?square root of|sqrt of|sqrt|√", "func", "sqrt"),
    (r"(?:the )?cube root of", "func", "cbrt"),
    (r"(?:the )?(?:log|logarithm) base 10 of|log10 of|log10", "func", "log10"),
    (r"(?:the )?(?:natural )?(?:log|logarithm) of|ln of|ln", "func", "log"),
    (r"(?:the )?absolute value of", "func", "abs"),
    (r"(?:the )?factorial of", "func", "factorial"),
    (r"(?:the )?(?:sine|sin) of", "func", "sin"),
    (r"(?:the )?(?:cosine|cos) of", "func", "cos"),
    (r"(?:the )?(?:tangent|tan) of", "func", "tan"),
    (r"half of|half", "func", "half"),
    (r"twice|double", "func", "double"),
    (r"(?:the )?sum of", "agg", "sum"),
    (r"(?:the )?product of", "agg", "product"),
    (r"(?:the )?(?:average|mean) of", "agg", "average"),
    (r"(?:the )?difference between", "agg", "difference"),
    (r"squared", "post", "squared"),
    (r"cubed", "post", "cubed"),
    (r"factorial|!", "post", "factorial"),
    (r"thousand|million|billion|trillion", "scale", None),
    (r"\(", "lpar", "("),
    (r"\)", "rpar", ")"),
    (r",|and", "sep", ","),
    (r"[^\W\d_][\w'’.-]*", "word", None),
]
_PATTERNS = [
    # a match ending in a letter or digit must end a word: "times" is not "timestamp"
    (re.compile(rf"(?:{pattern})(?:(?<!\w)|(?![\w']))", re.IGNORECASE), kind, value)
    for pattern, kind, value in _LEXICON
]


def tokens(text: str) -> list[Token] | None:
    """The tokens of `text`, or None if some character is not arithmetic (nor a word)."""
    found: list[Token] = []
    position = 0
    while position < len(text):
        if text[position].isspace() or (
            text[position] in "$€£" and text[position + 1 : position + 2].isdigit()
        ):  # a currency sign is no part of the number
            position += 1
            continue
        for pattern, kind, value in _PATTERNS:
            if match := pattern.match(text, position):
                text_matched = match[0].lower() if kind == "scale" else match[0]
                token = Token(kind.removeprefix("weak "), value or text_matched, kind != "weak op")
                break
        else:
            return None
        previous = found[-1] if found else None
        after_operand = previous is not None and previous.kind in ("num", "rpar", "pct", "post")
        rest = text[match.end() :].lstrip()
        if token.kind == "word" and token.value.lower() in _NUMBER_WORDS:
            token = Token("num", _NUMBER_WORDS[token.value.lower()])
        elif token.kind == "word" and token.value.lower() == "x" and after_operand:
            token = Token("op", "*")  # "3 x 4"
        elif token.kind == "word" and token.value.lower() == "of" and previous == Token("pct", "%"):
            token = Token("op", "*")  # "17.5% of 2,340"
        elif token.kind == "pct" and match[0] == "%" and after_operand and rest[:1].isdigit():
            token = Token("op", "%")  # "17 % 5" is modulo
        found.append(token)
        position = match.end()
    return found


@dataclass(frozen=True)
class _Num:
    text: str


@dataclass(frozen=True)
class _Fact:
    index: int


@dataclass(frozen=True)
class _Bin:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Neg:
    operand: _Node


@dataclass(frozen=True)
class _Call:
    function: str
    operand: _Node


_Node = _Num | _Fact | _Bin | _Neg | _Call
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "neg": 3, "**": 4}
_ATOM = 5


class _NotArithmetic(ValueError):
    """The text is not arithmetic the reader understands."""


class _Parser:
    """Recursive descent over the tokens: sums of products of powers of (postfixed) atoms."""

    def __init__(self, found: list[Token]) -> None:
        self.tokens = found
        self.at = 0
        self.facts: list[str] = []
        self.weak = False

    def peek(self, *kinds: str) -> Token | None:
        token = self.tokens[self.at] if self.at < len(self.tokens) else None
        return token if token is not None and token.kind in kinds else None

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def whole(self) -> _Node:
        node = self.sum()
        if self.at != len(self.tokens):
            raise _NotArithmetic(f"unexpected {self.tokens[self.at].value!r}")
        return node

    def sum(self) -> _Node:
        node = self.product()
        while (token := self.peek("op")) and token.value in ("+", "-"):
            self.take()
            node = _Bin(token.value, node, self.product())
        return node

    def product(self) -> _Node:
        node = self.unary()
        while (token := self.peek("op")) and token.value in ("*", "/", "%"):
            self.take()
            self.weak |= not token.strong
            node = _Bin(token.value, node, self.unary())
        return node

    def unary(self) -> _Node:
        if (token := self.peek("op")) and token.value == "-":
            self.take()
            return _Neg(self.unary())
        if token := self.peek("func"):
            self.take()
            operand = self.unary()
            if token.value == "half":
                return _Bin("/", operand, _Num("2"))
            if token.value == "double":
                return _Bin("*", _Num("2"), operand)
            return _Call(token.value, operand)
        return self.power()

    def power(self) -> _Node:
        base = self.postfix()
        if (token := self.peek("op")) and token.value == "**":
            self.take()
            return _Bin("**", base, self.unary())
        return base

    def postfix(self) -> _Node:
        node = self.atom()
        while token := self.peek("pct", "post", "scale"):
            self.take()
            if token.kind == "pct":
                node = _Bin("/", node, _Num("100"))
            elif token.kind == "scale":
                node = _Bin("*", node, _Num(_SCALES[token.value]))
            elif token.value == "factorial":
                node = _Call("factorial", node)
            else:
                node = _Bin("**", node, _Num("2" if token.value == "squared" else "3"))
        return node

    def atom(self) -> _Node:
        if self.at >= len(self.tokens):
            raise _NotArithmetic("the expression ends too early")
        token = self.take()
        if token.kind == "num":
            return _Num(token.value.replace(",", ""))
        if token.kind == "lpar":
            node = self.sum()
            if not self.peek("rpar"):
                raise _NotArithmetic("a parenthesis is not closed")
            self.take()
            return node
        if token.kind == "agg":
            return self.aggregate(token.value)
        if token.kind == "word":
            return self.fact(token)
        raise _NotArithmetic(f"unexpected {token.value!r}")

    def aggregate(self, kind: str) -> _Node:
        """`sum of 1, 2 and 3`, `product of ...`, `average of ...`, `difference between a and b`."""
        items = [self.sum()]
        while self.peek("sep"):
            self.take()
            items.append(self.sum())
        if len(items) < 2 or (kind == "difference" and len(items) != 2):
            raise _NotArithmetic(f"a {kind} needs more than one number")
        node = items[0]
        for item in items[1:]:
            node = _Bin({"product": "*", "difference": "-"}.get(kind, "+"), node, item)
        return _Bin("/", node, _Num(str(len(items)))) if kind == "average" else node

    def fact(self, first: Token) -> _Node:
        """A run of words naming a figure to look up ("the population of Norway")."""
        words = [first.value]
        while self.peek("word"):
            words.append(self.take().value)
        found = _FACT.match(" ".join(words))
        if found is None:
            raise _NotArithmetic(f"{' '.join(words)!r} is not arithmetic")
        self.facts.append(found["fact"])
        return _Fact(len(self.facts) - 1)


def _precedence(node: _Node) -> int:
    match node:
        case _Bin(op=op):
            return _PRECEDENCE[op]
        case _Neg():
            return _PRECEDENCE["neg"]
    return _ATOM


def _render(node: _Node) -> str:
    """The node as a calculator expression, parenthesized only where needed."""
    match node:
        case _Num(text=text):
            return text
        case _Fact(index=index):
            return "{" + str(index) + "}"
        case _Neg(operand=operand):
            inner = _render(operand)
            return f"-({inner})" if _precedence(operand) < _PRECEDENCE["neg"] else f"-{inner}"
        case _Call(function="cbrt", operand=operand):
            return f"{_wrap(operand, _PRECEDENCE['**'] + 1)} ** (1/3)"
        case _Call(function=function, operand=operand):
            return f"{function}({_render(operand)})"
        case _Bin(op=op, left=left, right=right):
            level = _PRECEDENCE[op]
            # `**` groups to the right; the others to the left, so a right operand of the same
            # level needs parentheses, and a power's base must be an atom.
            left_text = _wrap(left, level + 1 if op == "**" else level)
            right_text = _wrap(right, level if op == "**" else level + 1)
            return f"{left_text} {op} {right_text}"
    raise TypeError(node)


def _wrap(node: _Node, level: int) -> str:
    text = _render(node)
    return f"({text})" if _precedence(node) < level else text


def _counts_as_arithmetic(node: _Node) -> bool:
    return not isinstance(node, _Num | _Fact)


def _has_number(node: _Node) -> bool:
    match node:
        case _Num():
            return True
        case _Bin(left=left, right=right):
            return _has_number(left) or _has_number(right)
        case _Neg(operand=operand) | _Call(operand=operand):
            return _has_number(operand)
    return False


@dataclass(frozen=True)
class Formula:
    """Arithmetic read from a question."""

    text: str
    """The arithmetic as the question words it ("17.5% of 2,340 plus ...")."""
    expression: str
    """For the calculator; `{0}`, `{1}`... stand for the figures of `facts`."""
    facts: tuple[str, ...] = ()
    """Figures to look up first, as search queries ("population of Norway")."""

    def filled(self, figures: Sequence[str]) -> str:
        """The expression with the facts' figures in it."""
        return self.expression.format(*figures)


def read_formula(question: str) -> Formula | None:
    """The arithmetic `question` asks for, or None if it asks something else."""
    text = _END.sub("", _FRAME.sub("", question.strip(), count=1))
    imperative = _IMPERATIVE.match(text)
    spoken = (
        _IMPERATIVES[imperative["verb"].lower()].format(**imperative.groupdict())
        if imperative
        else text
    )
    found = tokens(spoken)
    if not found:
        return None
    parser = _Parser(found)
    try:
        node = parser.whole()
    except _NotArithmetic:
        return None
    if not _counts_as_arithmetic(node):
        return None
    if not _has_number(node) and (parser.weak or len(parser.facts) < 2):
        return None  # "the game over the weekend" is no division
    return Formula(text, _render(node), tuple(parser.facts))
