"""The documentation site (docs/, mkdocs.yml): its examples run, it builds strictly, and its
generated parts come from the code.

- Every page's ```python blocks run in order in one namespace (`test_readme.run_blocks`); a block
  that needs keys or a server starts with `# not run: <reason>` and is skipped, saying so.
- `mkdocs build --strict` passes (a broken link or anchor, a missing snippet, a page left out of
  the nav fail it), and the built settings page lists every field of `Context` (slow: ~10 s).
- The settings table is rendered from the fields' metadata, never copied by hand.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from test_readme import REPO, not_run_reason, python_blocks, run_blocks

from llmcompiler_graph.context import Context
from llmcompiler_graph.settings_reference import markdown_table

DOCS = REPO / "docs"
SNIPPETS = DOCS / "snippets"
PAGES = sorted(p for p in DOCS.rglob("*.md") if SNIPPETS not in p.parents)
WITH_EXAMPLES = [p for p in PAGES if python_blocks(p)]
COPIES = {"design-contracts.md": "a copy of shared/DESIGN.md, whose code blocks are sketches"}
"""Pages copied from elsewhere: their blocks are not this site's examples."""


def _id(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, marks=pytest.mark.skip(reason=COPIES[_id(p)])) if _id(p) in COPIES else p
        for p in WITH_EXAMPLES
    ],
    ids=_id,
)
def test_the_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples may write pictures
    for name in ("OPENAI_API_KEY", "TAVILY_API_KEY", "OPENAI_BASE_URL", "TAVILY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    ran = run_blocks(page)
    if ran.ran == 0:
        pytest.skip(f"{_id(page)}: no block runs offline ({'; '.join(ran.skipped)})")


def test_the_docs_have_examples_that_run() -> None:
    """Not everything is marked `not run`: the pages that teach the API run their examples."""
    runs = {
        _id(p) for p in WITH_EXAMPLES if any(not_run_reason(b) is None for b in python_blocks(p))
    }
    assert {"guide.md", "approval.md", "pictures.md", "testing.md", "deploying.md"} <= runs


def test_the_settings_page_is_generated_from_the_settings() -> None:
    assert "<!-- settings-table -->" in (DOCS / "settings.md").read_text(encoding="utf-8")
    table = markdown_table()
    for f in fields(Context):
        (row,) = [line for line in table.splitlines() if line.startswith(f"| `{f.name}`<br>")]
        assert f"<br>`{f.metadata['env']}` |" in row, f.name


def test_the_snippets_are_the_commands_own_output() -> None:
    """The results tables the pages include are what the commands print (`make docs-results`)."""
    for name in ("bench-results.md", "scheduler-overhead.md"):
        first = (SNIPPETS / name).read_text(encoding="utf-8").splitlines()[0]
        assert re.fullmatch(r"<!-- .+ \(make docs-results\) -->", first), name
    bench = (SNIPPETS / "bench-results.md").read_text(encoding="utf-8")
    assert "| workload | approach | latency mean / p50 / p95 (s) |" in bench


def test_the_headless_notebook_command_is_documented_and_installed() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    assert any(r.startswith("nbconvert") for r in extras["dev"])
    assert any(r.startswith("mkdocs-material") for r in extras["docs"])
    assert any(r.startswith("mkdocs-material") for r in extras["dev"])
    assert "jupyter nbconvert --to notebook --execute" in (DOCS / "notebooks.md").read_text()


def test_no_history_notes_in_the_pages() -> None:
    """Measured figures, not before-and-after notes (the reliability page keeps those apart)."""
    for page in [REPO / "README.md", *PAGES]:
        text = page.read_text(encoding="utf-8").split("## Fixed along the way")[0]
        assert "(was " not in text, page.name


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    settings = (site / "settings" / "index.html").read_text(encoding="utf-8")
    for f in fields(Context):
        assert f"<code>{f.name}</code>" in settings, f.name
        assert f"<code>{f.metadata['env']}</code>" in settings, f.name
    assert "settings-table" not in settings
    guide = (site / "guide" / "index.html").read_text(encoding="utf-8")
    assert "create_llmcompiler" in guide and "create-llmcompiler-signature" not in guide
