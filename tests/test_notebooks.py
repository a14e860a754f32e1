"""The notebooks under notebooks/: stored clean, and each runs top to bottom in a kernel.

Every notebook decides its mode in its first code cell: the real model (and Tavily) when the keys
are set, else the simulators, saying so with a "SIMULATED" banner; `LLMCOMPILER_NOTEBOOK_SIMULATE=1`
forces the simulators. Its last code cell checks the simulated run's behaviour and stops what the
notebook started, in `finally`.

- `test_notebook_is_stored_clean` (fast): no outputs or execution counts committed (clean diffs),
  a markdown cell first, the mode decision first and the clean-up in `finally` last.
- `test_notebook_runs_simulated` (slow): executes the notebook with nbclient with
  `LLMCOMPILER_NOTEBOOK_SIMULATE=1` in the kernel's environment, next to keys and service URLs
  that lead nowhere (so keys in CI's environment cannot switch it to real mode); no error
  output, the banner, and the notebook's own checks passed (and an image where one is drawn).
- `test_notebook_runs_with_keys` (slow): the with-keys branch, with stand-in keys and
  `OPENAI_BASE_URL` / `TAVILY_BASE_URL` pointing at loopback simulators in this process, so the
  code the real model runs is executed too (no real service is called).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {
    "quickstart.ipynb",
    "streaming_and_pictures.ipynb",
    "subgraph.ipynb",
    "custom_tools_and_servers.ipynb",
    "plan_approval.ipynb",
}
PICTURES = {"streaming_and_pictures.ipynb"}
"""Notebooks that must show at least one image inline."""
USES_SEARCH = EXPECTED - {"custom_tools_and_servers.ipynb"}
CELL_TIMEOUT = 120
UNREACHABLE = "http://127.0.0.1:9/v1"
"""The discard port: nothing answers there."""
MODE_VARIABLES = (
    "LLMCOMPILER_NOTEBOOK_SIMULATE",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",  # langchain-openai reads it before OPENAI_BASE_URL
    "TAVILY_API_KEY",
    "TAVILY_BASE_URL",
)


def ids(path: Path) -> str:
    return path.stem


def test_the_notebooks_are_there() -> None:
    assert {path.name for path in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_stored_clean(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells and notebook.cells[0].cell_type == "markdown", (
        f"{path.name} should start with a markdown cell saying what it shows"
    )
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    dirty = [
        number
        for number, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} have stored outputs or execution counts; clear them "
        "(e.g. jupyter nbconvert --clear-output --inplace) before committing"
    )
    first, last = code[0].source, code[-1].source
    assert "LLMCOMPILER_NOTEBOOK_SIMULATE" in first and "SIMULATED" in first, (
        f"{path.name}: the first code cell should decide the mode and print the SIMULATED banner"
    )
    assert "finally:" in last and "cleanup.close()" in last, (
        f"{path.name}: the last code cell should stop what the notebook started, in `finally`"
    )


def kernel_env(**overrides: str) -> dict[str, str]:
    """This process's environment without the variables that choose a notebook's mode, plus
    `overrides`; loopback is never sent through a proxy."""
    env = {name: value for name, value in os.environ.items() if name not in MODE_VARIABLES}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), "127.0.0.1", "localhost"]))
    return {**env, "NO_PROXY": no_proxy, "no_proxy": no_proxy, **overrides}


def execute(path: Path, env: dict[str, str], cwd: Path) -> list[Any]:
    """Run the notebook top to bottom in a fresh kernel; its outputs. A cell that raises fails
    the test with that cell's traceback."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3")
    client.execute(cwd=str(cwd), env=env)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, "\n".join(f"{out.ename}: {out.evalue}" for out in errors)
    tracebacks = [text for text in stream_text(outputs, "stderr") if "Traceback" in text]
    assert not tracebacks, tracebacks
    return outputs


def stream_text(outputs: list[Any], name: str = "stdout") -> list[str]:
    return [out.text for out in outputs if out.output_type == "stream" and out.name == name]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_simulated(path: Path, tmp_path: Path) -> None:
    env = kernel_env(
        LLMCOMPILER_NOTEBOOK_SIMULATE="1",
        # Keys as CI may have them, and servers that are not there: the switch must win.
        OPENAI_API_KEY="sk-must-not-be-used",
        OPENAI_BASE_URL=UNREACHABLE,
        TAVILY_API_KEY="tvly-must-not-be-used",
        TAVILY_BASE_URL=UNREACHABLE,
    )
    outputs = execute(path, env, tmp_path)
    printed = "".join(stream_text(outputs))
    assert "SIMULATED model" in printed and "answers are made up" in printed
    assert "(LLMCOMPILER_NOTEBOOK_SIMULATE=1)" in printed
    assert "Checks passed." in printed  # the notebook's own checks of the simulated run
    if path.name in PICTURES:
        assert any("image/png" in out.get("data", {}) for out in outputs)


@pytest.fixture(scope="module")
def stand_ins() -> Any:
    """Loopback OpenAI and Tavily servers for the with-keys branch: the SHOWCASE script for the
    package's calls and ReAct turns; a plain ChatOpenAI's calls (no role header, no tools) get an
    answer without a plan."""
    from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
    from llmcompiler_graph.testing.scenarios import SHOWCASE, ScenarioBrain, merged_corpus

    brain = ScenarioBrain(SHOWCASE)

    def script(request: Any) -> Any:
        if request.role is None and not request.tools:
            return "Answer: (an answer from the stand-in server)"
        return brain(request)

    fast = LatencyModel(ttft_base=0.02, tokens_per_second=2000)
    with (
        OpenAISimulator(script, latency=fast) as llm,
        TavilySimulator(merged_corpus(SHOWCASE), latency=0.05) as search,
    ):
        yield llm, search


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs_with_keys(path: Path, tmp_path: Path, stand_ins: Any) -> None:
    llm, search = stand_ins
    llm_before, search_before = llm.logged, search.logged
    env = kernel_env(
        OPENAI_API_KEY="sk-stand-in",
        OPENAI_BASE_URL=llm.base_url,
        TAVILY_API_KEY="tvly-stand-in",
        TAVILY_BASE_URL=search.base_url,
    )
    outputs = execute(path, env, tmp_path)
    printed = "".join(stream_text(outputs))
    assert "Real model" in printed and "SIMULATED" not in printed
    assert llm.logged > llm_before  # the model calls went to OPENAI_BASE_URL
    if path.name in USES_SEARCH:
        assert search.logged > search_before  # and the searches to TAVILY_BASE_URL
