"""The README's Python examples run as written: a newcomer copies them first.

`run_blocks` is shared with `tests/test_docs.py`, which runs the docs' examples the same way:
the ```python blocks of one page run in order in one namespace, as a reader would paste them
into one session. Top-level `await` works, as in a notebook. A block that cannot run offline
starts with a comment saying why, `# not run: <reason>`, and is skipped explicitly; a marker
without a reason fails.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

_BLOCK = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    flags=re.DOTALL | re.MULTILINE,
)
NOT_RUN = re.compile(r"#\s*not run\b:?\s*(?P<reason>.*)")


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, dedented, in order."""
    return [
        textwrap.dedent(m.group("body")) for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))
    ]


def not_run_reason(block: str) -> str | None:
    """Why a block is not run (its first line's `# not run: ...`), or None when it runs."""
    first = block.lstrip().partition("\n")[0]
    m = NOT_RUN.fullmatch(first.strip())
    return None if m is None else m.group("reason").strip()


@dataclass
class Ran:
    """What running a page's blocks did."""

    namespace: dict[str, Any] = field(default_factory=dict)
    ran: int = 0
    skipped: list[str] = field(default_factory=list)


def run_blocks(path: Path) -> Ran:
    """Run the page's blocks in order, in one namespace; a block's error names the page and
    the block."""
    result = Ran(namespace={"__name__": "__main__"})
    for number, block in enumerate(python_blocks(path), start=1):
        reason = not_run_reason(block)
        if reason is not None:
            assert reason, f"{path.name} block {number}: say why it is not run"
            result.skipped.append(f"block {number}: {reason}")
            continue
        code = compile(
            block, f"{path.name}, block {number}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        outcome = eval(code, result.namespace)  # exec, but returns the coroutine of an `await`
        if code.co_flags & inspect.CO_COROUTINE:
            asyncio.run(outcome)
        result.ran += 1
    return result


def test_the_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ran = run_blocks(README)
    assert ran.ran >= 2, "the offline example and the subgraph example"
    namespace = ran.namespace
    assert namespace["result"]["messages"][-1].content == "Rome"
    # the subgraph example streamed the tool calls, the results and the answer through the parent
    assert "research" in namespace["app"].get_graph().nodes


def test_the_readme_subgraph_example_streams_with_subgraphs_true() -> None:
    (block,) = [b for b in python_blocks(README) if "add_node(" in b and "app.stream(" in b]
    assert "subgraphs=True" in block


def test_every_readme_block_not_run_says_why() -> None:
    reasons = [not_run_reason(b) for b in python_blocks(README)]
    assert all(r for r in reasons if r is not None)
    assert sum(r is None for r in reasons) >= 2


def test_the_readme_says_how_long_the_two_commands_take() -> None:
    text = README.read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    for command in ("make demo", "make test"):
        assert command in quickstart
    assert "minutes" in quickstart and "SIMULATED" in quickstart


def test_the_readme_is_short_and_its_links_resolve() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    links = re.findall(r"\]\(((?!https?://|#)[^)\s]+)\)", text)
    assert links, "the README points into docs/"
    missing = [link for link in links if not (REPO / link.split("#")[0]).exists()]
    assert missing == []
