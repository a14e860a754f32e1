"""The paper's `math` tool: a model writes an expression for a word problem, `safe_eval` runs it.

Splitting the work this way keeps the arithmetic exact (models are poor calculators) while letting
the planner hand over raw observations, such as search results, as `context` for the model to read
numbers from. The model never executes anything: its output is only parsed by `safe_eval`.
"""

from __future__ import annotations

import re
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, patch_config
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, field_validator

from llmcompiler_graph.core._sync import in_thread, run_sync
from llmcompiler_graph.core.llm import DEFAULT_RETRIES, DEFAULT_TIMEOUT, LLMCall
from llmcompiler_graph.core.plan import as_text
from llmcompiler_graph.core.prompts import quote, truncate
from llmcompiler_graph.core.roles import MATH
from llmcompiler_graph.tools.calculator import CalculationError, safe_eval

MATH_DESCRIPTION = """\
Solves ONE math problem and returns a number. `problem` is a simple expression ("1 + 3") or a \
word problem ("how many apples are there if there are 3 apples and 2 apples").
 - One problem per call: math("1 + 3, 2 + 4") does not work; call math("1 + 3") and math("2 + 4").
 - Use as few math calls as possible: instead of math("what is 10% of $1") and then \
math("$1 + $2"), call math("what is 110% of $1").
 - `context` (optional) is a list of outputs of earlier tasks. math sees earlier outputs ONLY \
through `context`, so pass them there when the problem needs them.
 - Never put a search output in `problem`: after 1. search("Barack Obama"), math("age of $1") is \
wrong; use math("age of Barack Obama", context=["$1"]).
 - Name the units you want: "what is X in millions?" rather than "what is X?"."""

SYSTEM_PROMPT = """\
Translate a math problem into ONE expression that a calculator can evaluate, like Python's \
numexpr. The calculator's result must answer the problem.

The calculator understands only: numbers, + - * / // % (modulo) ** (power; ^ also works), \
parentheses, the constants pi and e, and the functions sqrt, log(x) (natural), log(x, base), \
log10, log2, exp, sin, cos, tan, asin, acos, atan (radians), abs, round(x, digits), min, max, \
floor, ceil, factorial.
It knows no variables, units or words: put the numbers themselves into the expression. Write \
plain numbers (no thousands separators, currency signs or units) and percentages as fractions \
(12% is 0.12). Convert units yourself so the result has the unit the problem asks for.

Answer with the expression in a text block:
```text
single-line expression that solves the problem
```

Examples:

Question: What is 37593 * 67?
```text
37593 * 67
```

Question: What is the fifth root of 37593?
```text
37593 ** (1/5)
```

Question: How many times bigger is Apple's market cap than Microsoft's, in billions?
Context:
[1] Apple is worth about $3.2 trillion.
[2] Microsoft's market capitalization: 2,950 billion USD.
```text
3200 / 2950
```"""

CONTEXT_INTRO = (
    "Context from earlier tasks. Find the numbers the question needs here; they are not defined "
    "in the calculator, so write them into the expression:"
)

_TEXT_FENCE = re.compile(r"```[ \t]*text[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_ANY_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_EXPRESSION_LINE = re.compile(r"^[ \t]*expression[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)


class MathInput(BaseModel):
    """Arguments of the `math` tool."""

    problem: str = Field(description="The math problem, as an expression or in words.")
    context: list[Any] | None = Field(
        default=None,
        description="Outputs of earlier tasks (e.g. search results) to read numbers from.",
    )

    @field_validator("context", mode="before")
    @classmethod
    def _one_item_is_a_list(cls, value: Any) -> Any:
        """Planners sometimes write `context="$1"`; treat a single item as a one-item list."""
        if value is None or isinstance(value, list | tuple):
            return value
        return [value]


def build_messages(
    problem: str, context: list[Any] | None, *, max_item_chars: int
) -> list[BaseMessage]:
    """The prompt for one problem: the question on one line, each context item (tool output)
    on one line, cut to `max_item_chars` (text as a JSON string, `prompts.quote`; other values
    as their JSON), so no item can pass for a `Question:` line or another item."""
    parts = [f"Question: {_one_line(truncate(problem, max_item_chars))}"]
    if context:
        items = (f"[{i}] {_item(item, max_item_chars)}" for i, item in enumerate(context, 1))
        parts.append("\n".join([CONTEXT_INTRO, *items]))
    return [SystemMessage(SYSTEM_PROMPT), HumanMessage("\n\n".join(parts))]


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _item(item: Any, limit: int) -> str:
    if isinstance(item, str):
        return quote(item, limit)
    return _one_line(truncate(as_text(item), limit))


def extract_expression(reply: str) -> str:
    """The expression in a model reply: the last ```text block, else the last ``` block, else the
    last `Expression:` line, else the last non-empty line. Multi-line blocks are joined."""
    for pattern in (_TEXT_FENCE, _ANY_FENCE, _EXPRESSION_LINE):
        if found := pattern.findall(reply):
            candidate = found[-1]
            break
    else:
        lines = [line for line in reply.splitlines() if line.strip()]
        candidate = lines[-1] if lines else ""
    return " ".join(candidate.split()).strip("`").strip()


def _evaluate(reply: BaseMessage, problem: str) -> int | float:
    expression = extract_expression(reply.text)
    if not expression:
        raise CalculationError(f"the model wrote no expression for the problem {problem!r}")
    try:
        return safe_eval(expression)
    except CalculationError as exc:
        raise CalculationError(
            f"could not evaluate {expression!r}, the expression the model wrote for the problem "
            f"{problem!r}: {exc}"
        ) from exc


def _model_config(config: RunnableConfig, callbacks: Callbacks) -> RunnableConfig:
    """The config for the inner model call.

    StructuredTool injects the caller's config, whose callbacks belong to the caller's run;
    `callbacks` is the tool run's child manager, so patching it in nests the model call under
    the tool run in traces and streams.
    """
    inner = patch_config(config, callbacks=callbacks, run_name=MATH.run_name)
    # Its tokens are plumbing: `stream_mode="messages"` never shows them.
    inner["tags"] = [*inner.get("tags", []), *MATH.tags]
    return inner


def create_math_tool(
    model: BaseChatModel,
    *,
    max_context_chars: int = 4_000,
    llm_timeout: float | None = DEFAULT_TIMEOUT,
    llm_retries: int = DEFAULT_RETRIES,
) -> BaseTool:
    """The `math` tool, asking `model` for the expression.

    `max_context_chars` clips each context item (and the problem), so a huge observation cannot
    blow up the prompt. `llm_timeout` (seconds per try; 0 or None: no limit) and `llm_retries`
    (retries of a transient failure) bound the model call, see `llmcompiler_graph.core.llm`;
    when they are spent the tool raises `LLMCallError`, which the task gets as its error.
    """
    llm = LLMCall(MATH, model, timeout=llm_timeout, retries=llm_retries)

    async def amath(
        problem: str,
        context: list[Any] | None = None,
        *,
        config: RunnableConfig,
        callbacks: Callbacks = None,
        blocking: bool = False,
    ) -> int | float:
        messages = build_messages(problem, context, max_item_chars=max_context_chars)
        inner = _model_config(config, callbacks)
        reply = await llm.ainvoke(model, messages, inner, blocking=blocking)
        return await in_thread(_evaluate, reply, problem)  # CPU work stays off the event loop

    def math(
        problem: str,
        context: list[Any] | None = None,
        *,
        config: RunnableConfig,
        callbacks: Callbacks = None,
    ) -> int | float:
        """Sync `amath`: on a private loop, with the model's sync API."""
        return run_sync(amath(problem, context, config=config, callbacks=callbacks, blocking=True))

    return StructuredTool.from_function(
        func=math,
        coroutine=amath,
        name="math",
        description=MATH_DESCRIPTION,
        args_schema=MathInput,
    )
