"""A safe arithmetic evaluator and the `calculate` tool built on it.

Expressions come from language models, so they are untrusted input: `safe_eval` walks the `ast`
of the expression itself (never `eval` / `exec`) and allows only numbers, arithmetic operators and
a fixed set of math functions.

Its cost is bounded for every input, because every value handed to Python is bounded:

- the input length (`MAX_EXPRESSION_CHARS`) and the number of AST nodes (`MAX_NODES`) are capped,
  so parsing, the nesting depth and the number of operations are small;
- every intermediate value, int or float, must fit in a float's range (|x| <= ~1.8e308, so ints
  have at most 1024 bits): a product, sum, quotient or remainder of two such values costs
  microseconds, and its result is checked before the next operation uses it;
- a power's size is checked *before* computing it (`size = exponent * log10|base|`), so huge
  exponents are refused or, for |base| <= 1, computed as floats or in ~1024 squarings;
- `factorial` takes at most `MAX_FACTORIAL`; `round`'s digits are clamped to +-`MAX_ROUND_DIGITS`
  (beyond that the result does not change for values in range); variadic functions (`min`,
  `max`) take at most `MAX_ARGUMENTS`; math functions get bounded floats or ints only;
- bit shifts and bitwise operators (`<<`, `>>`, `&`, `|`, `~`) are refused, with a message
  naming the operator.

So no expression can run for long or allocate a huge integer; every failure is a
`CalculationError`.

Tolerated model habits: `^` means power, `math.sqrt` / `math.pi` mean `sqrt` / `pi`, and
`1,234,567` (digit groups outside a call's argument list) means 1234567. Not supported: `%` as
"percent" (it is modulo), variables, units, comparisons.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import tool

Number = int | float

MAX_EXPRESSION_CHARS = 1_000
"""Longest expression accepted."""
MAX_NODES = 200
"""Most AST expression nodes (numbers, names, operations, calls) accepted."""
MAX_FACTORIAL = 170
"""170! is the largest factorial that fits in a float."""
MAX_ROUND_DIGITS = 400
"""`round(x, n)` clamps n to +-400: a float (or an int below ~1.8e308) rounded to more than 323
digits is unchanged, and to fewer than -309 digits is 0, so the clamp never changes a result, but
an unclamped `round(1, -10**9)` would compute 10**(10**9)."""
MAX_ARGUMENTS = 100
"""Most arguments of a variadic function (`min`, `max`)."""
_MAX_MAGNITUDE = sys.float_info.max
_MAX_LOG10 = math.log10(_MAX_MAGNITUDE)


class CalculationError(ValueError):
    """The expression is not allowed or cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class _Function:
    impl: Callable[..., Number]
    min_args: int
    max_args: int


def _factorial(n: Number) -> int:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, int) or not 0 <= n <= MAX_FACTORIAL:
        raise CalculationError(f"factorial() needs an integer from 0 to {MAX_FACTORIAL}, got {n!r}")
    return math.factorial(n)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if isinstance(ndigits, float) and ndigits.is_integer():
        ndigits = int(ndigits)
    if not isinstance(ndigits, int):
        raise CalculationError(f"round() needs an integer number of digits, got {ndigits!r}")
    # Beyond +-MAX_ROUND_DIGITS the result no longer changes (see there), but the cost does.
    return round(x, max(-MAX_ROUND_DIGITS, min(ndigits, MAX_ROUND_DIGITS)))


_FUNCTIONS: dict[str, _Function] = {
    "sqrt": _Function(math.sqrt, 1, 1),
    "log": _Function(math.log, 1, 2),
    "log10": _Function(math.log10, 1, 1),
    "log2": _Function(math.log2, 1, 1),
    "exp": _Function(math.exp, 1, 1),
    "sin": _Function(math.sin, 1, 1),
    "cos": _Function(math.cos, 1, 1),
    "tan": _Function(math.tan, 1, 1),
    "asin": _Function(math.asin, 1, 1),
    "acos": _Function(math.acos, 1, 1),
    "atan": _Function(math.atan, 1, 1),
    "abs": _Function(abs, 1, 1),
    "round": _Function(_round, 1, 2),
    "min": _Function(lambda *xs: min(xs), 1, MAX_ARGUMENTS),
    "max": _Function(lambda *xs: max(xs), 1, MAX_ARGUMENTS),
    "floor": _Function(math.floor, 1, 1),
    "ceil": _Function(math.ceil, 1, 1),
    "factorial": _Function(_factorial, 1, 1),
}
_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

ALLOWED_NAMES = (*_CONSTANTS, *_FUNCTIONS)
"""Every name an expression may use."""

_ALLOWED = (
    "numbers, + - * / // % ** (or ^), parentheses, the constants pi and e, and the functions "
    + ", ".join(_FUNCTIONS)
)

_BINARY_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}

# Operators Python has but the calculator refuses, named in the error message.
_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.LShift: "<< (a bit shift)",
    ast.RShift: ">> (a bit shift)",
    ast.BitAnd: "& (bitwise and)",
    ast.BitOr: "| (bitwise or)",
    ast.BitXor: "bitwise xor",  # unreachable from text: `^` is read as power
    ast.MatMult: "@ (matrix product)",
    ast.Invert: "~ (bitwise not)",
    ast.Not: "not",
}

# A number written with thousands separators (`1,234,567`), or the start of a call / a parenthesis.
_SEPARATOR_TOKENS = re.compile(
    r"(?P<number>(?<![\w.])\d{1,3}(?:,\d{3})+(?!\d|,\d))"
    r"|(?P<call>[A-Za-z_]\w*\s*\()"
    r"|(?P<open>\()"
    r"|(?P<close>\))"
)


def _drop_thousands_separators(text: str) -> str:
    """`1,234,567` -> `1234567`, except inside a call's arguments, where commas separate them.

    `max(1,234)` stays two arguments; outside calls a comma between numbers has no other valid
    meaning (a tuple is refused anyway), so `(1,234)` is 1234.
    """
    parts: list[str] = []
    last = 0
    in_call: list[bool] = []  # one entry per open parenthesis: does it start a call?
    for m in _SEPARATOR_TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "number":
            if not any(in_call):
                parts += [text[last : m.start()], m.group().replace(",", "")]
                last = m.end()
        elif kind in ("call", "open"):
            in_call.append(kind == "call")
        elif in_call:
            in_call.pop()
    parts.append(text[last:])
    return "".join(parts)


def _checked(value: Any) -> Number:
    """Refuse results no later step should have to handle: complex, infinite, or too large."""
    if isinstance(value, complex):
        raise CalculationError("the result is a complex number (e.g. a root of a negative)")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculationError("the result is too large (or not a number)")
    if isinstance(value, int) and abs(value) > _MAX_MAGNITUDE:
        raise CalculationError("the result is too large: results must stay below about 1.8e308")
    return value


def _refused_operator(op: ast.AST) -> CalculationError:
    name = type(op).__name__
    shown = _REFUSED_OPERATORS.get(type(op))
    what = f"{name}: {shown} is not supported" if shown else name
    return CalculationError(f"unsupported operator {what}; {_ALLOWED} are allowed")


def _power(base: Number, exponent: Number) -> Number:
    """`base ** exponent`, refused before computing when the result would be out of range.

    Both are within float range, so `size` is finite or +-inf, never NaN. What is computed is
    cheap: an int power whose result has at most ~1024 bits, a float power, or (|base| == 1) an
    int power with an exponent of at most 1024 bits, i.e. ~1024 squarings of 1.
    """
    if base != 0 and exponent != 0:
        size = exponent * math.log10(abs(base))  # log10 of the result's magnitude
        if size > _MAX_LOG10:
            shown_base = f"({base!r})" if base < 0 else repr(base)
            shown_size = f"{size:.0f}" if size < 1e6 else f"{size:.3g}"
            raise CalculationError(
                f"{shown_base} ** {exponent!r} is too large (about 10**{shown_size}): "
                "results must stay below about 1.8e308"
            )
    return base**exponent


def _divide(a: Number, b: Number) -> Number:
    """True division that keeps exact integer quotients as ints (`6 / 3` is 2, `7 / 2` is 3.5)."""
    if isinstance(a, int) and isinstance(b, int) and b != 0 and a % b == 0:
        return a // b
    return a / b


def _eval(node: ast.AST) -> Number:
    """The value of `node`, checked to be a finite real number within range."""
    return _checked(_eval_node(node))


def _eval_node(node: ast.AST) -> Any:
    match node:
        case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
            return value
        case ast.Constant(value=str()):
            raise CalculationError(f"strings are not allowed: {_ALLOWED} are allowed")
        case ast.Constant(value=value):
            raise CalculationError(f"unsupported value {value!r}: {_ALLOWED} are allowed")
        case ast.Name(id=name) | ast.Attribute(value=ast.Name(id="math"), attr=name):
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            if name in _FUNCTIONS:
                raise CalculationError(f"{name} is a function: call it, e.g. {name}(2)")
            raise CalculationError(
                f"unsupported name {name!r}: allowed names are {', '.join(ALLOWED_NAMES)}"
            )
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return -_eval(operand)
        case ast.UnaryOp(op=ast.UAdd(), operand=operand):
            return _eval(operand)
        case ast.BinOp(left=left, op=op, right=right):
            a, b = _eval(left), _eval(right)
            if isinstance(op, ast.Pow):
                return _power(a, b)
            if isinstance(op, ast.Div):
                return _divide(a, b)
            if type(op) in _BINARY_OPERATORS:
                return _BINARY_OPERATORS[type(op)](a, b)
            raise _refused_operator(op)
        case ast.UnaryOp(op=op):
            raise _refused_operator(op)
        case ast.Call(func=ast.Name(id=name) | ast.Attribute(value=ast.Name(id="math"), attr=name)):
            return _call(name, node.args, node.keywords)
        case ast.Call():
            raise CalculationError(f"only these functions can be called: {', '.join(_FUNCTIONS)}")
        case ast.Attribute():
            raise CalculationError(f"attribute access is not allowed: {_ALLOWED} are allowed")
        case _:
            raise CalculationError(
                f"unsupported syntax {type(node).__name__}: {_ALLOWED} are allowed"
            )


def _call(name: str, args: list[ast.expr], keywords: list[ast.keyword]) -> Number:
    if name not in _FUNCTIONS:
        raise CalculationError(
            f"unsupported function {name!r}: allowed functions are {', '.join(_FUNCTIONS)}"
        )
    spec = _FUNCTIONS[name]
    if keywords or any(isinstance(a, ast.Starred) for a in args):
        raise CalculationError(f"{name}() takes plain positional arguments only")
    if not spec.min_args <= len(args) <= spec.max_args:
        expected = (
            f"{spec.min_args} to {spec.max_args}"
            if spec.max_args - spec.min_args > 1
            else " or ".join(str(n) for n in range(spec.min_args, spec.max_args + 1))
        )
        raise CalculationError(f"{name}() takes {expected} argument(s), got {len(args)}")
    values = [_eval(a) for a in args]
    try:
        return spec.impl(*values)
    except CalculationError:
        raise
    except (ValueError, ZeroDivisionError) as exc:  # log(-1), asin(2), log(8, 1)
        shown = ", ".join(repr(v) for v in values)
        reason = "division by zero" if isinstance(exc, ZeroDivisionError) else exc
        raise CalculationError(f"{name}({shown}) is undefined ({reason})") from None


def safe_eval(expression: str) -> int | float:
    """Evaluate an arithmetic expression without `eval`, in bounded time.

    Returns an int when the result is exact and integral (`6 / 3` -> 2), else a float.
    Raises `CalculationError` saying what is wrong and what is allowed.
    """
    if not isinstance(expression, str):
        raise CalculationError(f"the expression must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculationError(
            f"the expression is too long ({len(expression)} chars, limit {MAX_EXPRESSION_CHARS})"
        )
    text = _drop_thousands_separators(expression.strip().replace("^", "**"))
    if not text:
        raise CalculationError("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculationError(f"invalid syntax ({exc.msg}): {_ALLOWED} are allowed") from None
    except ValueError:  # a NUL character, on Python versions that do not say SyntaxError
        raise CalculationError(
            f"invalid syntax (a null character): {_ALLOWED} are allowed"
        ) from None
    except (RecursionError, MemoryError):
        raise CalculationError(
            f"invalid syntax (nested too deeply): {_ALLOWED} are allowed"
        ) from None
    nodes = sum(isinstance(n, ast.expr) for n in ast.walk(tree))
    if nodes > MAX_NODES:
        raise CalculationError(
            f"the expression is too complex ({nodes} numbers, names and operations, "
            f"limit {MAX_NODES}): split it into smaller calculations"
        )
    try:
        result = _eval(tree.body)
    except ZeroDivisionError:
        raise CalculationError("division by zero") from None
    except OverflowError:
        raise CalculationError(
            "the result is too large: results must stay below about 1.8e308"
        ) from None
    except RecursionError:
        raise CalculationError("the expression is nested too deeply") from None
    except ArithmeticError as exc:  # a safety net: no other exception type leaves safe_eval
        raise CalculationError(f"the expression cannot be evaluated ({exc})") from None
    # Floats keep 12 significant digits: 3.12 - 2.95 reads 0.17, not 0.16999999999999993.
    return float(f"{result:.12g}") if isinstance(result, float) else result


CALCULATE_DESCRIPTION = """\
Evaluates one arithmetic expression and returns the number. Accepts numbers, + - * / // % ** \
(^ also means power), parentheses, the constants pi and e, and the functions sqrt, log(x) \
(natural), log(x, base), log10, log2, exp, sin, cos, tan, asin, acos, atan (radians), abs, \
round(x, digits), min, max, floor, ceil, factorial. Write plain numbers: no variables, units, \
words or % for percent (write 0.12 for 12%). Example: calculate("(3.5 + 2) * 10 ^ 3"). It cannot \
read numbers out of text: "$1 * 2" works only if task 1 returned a number, not search results."""


@tool("calculate", description=CALCULATE_DESCRIPTION)
def calculate(expression: str) -> int | float:
    """`safe_eval` as a tool, for plans whose numbers are already known."""
    return safe_eval(expression)
