"""Set-up on a fresh machine: the Makefile behind `make demo` and `make test`, and the settings
template an installed package ships (`llmcompiler-graph env-example`).

The Makefile is checked with `make -n` (what would run, nothing runs) against virtualenvs faked
in a temporary directory: a missing one is created and installed into, an installed one is used
as it is, and a stale one (pyproject.toml newer than its install stamp) is installed into again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from llmcompiler_graph.app import cli, preflight

REPO = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")
needs_make = pytest.mark.skipif(MAKE is None, reason="no make on this machine")

_MAKE_ENV = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHON", "VENV", "EXTRAS")
"""Not inherited by the make under test: a `make test` running this file passes its own
variables (`VENV=...`, `PYTEST_ARGS=...`) down through MAKEFLAGS and the environment."""


def make(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _MAKE_ENV and not k.endswith("_ARGS") and k != "MAKEFILES"
    }
    assert MAKE is not None
    return subprocess.run(
        [MAKE, "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def dry_run(*args: str) -> list[str]:
    """The commands `make -n ...` would run, one per line."""
    done = make("-n", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def fake_venv(root: Path, *, installed: bool) -> Path:
    """A virtualenv as make sees it: bin/python, and an install stamp newer (or older) than
    pyproject.toml."""
    venv = root / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    stamp = venv / ".installed"
    stamp.touch()
    pyproject = (REPO / "pyproject.toml").stat().st_mtime
    when = pyproject + 60 if installed else pyproject - 60
    os.utime(stamp, (when, when))
    return venv


def position(lines: list[str], text: str) -> int:
    """Index of the first line containing text."""
    found = [i for i, line in enumerate(lines) if text in line]
    assert found, f"{text!r} not in:\n" + "\n".join(lines)
    return found[0]


@needs_make
def test_make_test_from_nothing_creates_installs_lints_and_tests(tmp_path: Path) -> None:
    venv = tmp_path / "fresh"
    lines = dry_run("test", f"VENV={venv}")

    steps = [
        "sys.version_info < (3, 11)",
        f"python3 -m venv {venv}",
        f"{venv}/bin/python -m pip install --quiet --upgrade pip",
        f'{venv}/bin/python -m pip install --quiet -e ".[dev]"',
        f"touch {venv}/.installed",
        f"{venv}/bin/ruff check .",
        f"{venv}/bin/ruff format --check .",
        f"{venv}/bin/python -m pytest",
    ]
    order = [position(lines, step) for step in steps]
    assert order == sorted(order)


@needs_make
def test_make_test_on_an_installed_venv_only_lints_and_tests(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path, installed=True)

    lines = dry_run("test", f"VENV={venv}", """PYTEST_ARGS=-m "not slow" -q""")

    assert lines == [
        f"{venv}/bin/ruff check .",
        f"{venv}/bin/ruff format --check .",
        f'{venv}/bin/python -m pytest -m "not slow" -q',
    ]


@needs_make
def test_a_changed_pyproject_reinstalls_into_the_same_venv(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path, installed=False)

    lines = dry_run("demo", f"VENV={venv}")

    assert not any("-m venv" in line for line in lines)
    assert f'{venv}/bin/python -m pip install --quiet -e ".[dev]"' in lines
    assert lines[-1] == f"{venv}/bin/llmcompiler-graph demo"


@needs_make
def test_make_demo_runs_the_demo_after_the_set_up() -> None:
    lines = dry_run("demo", "VENV=.no-such-venv")

    assert position(lines, "python3 -m venv .no-such-venv") < position(lines, "pip install")
    assert lines[-1] == ".no-such-venv/bin/llmcompiler-graph demo"


@needs_make
@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("lint", "/bin/ruff check ."),
        ("bench", "/bin/llmcompiler-graph bench --examples 1"),
        ("dev", "/bin/llmcompiler-graph dev --no-browser"),
    ],
)
def test_every_target_runs_from_the_venv(tmp_path: Path, target: str, command: str) -> None:
    venv = fake_venv(tmp_path, installed=True)

    lines = dry_run(target, f"VENV={venv}", "BENCH_ARGS=--examples 1", "DEV_ARGS=--no-browser")

    assert f"{venv}{command}" in lines


@needs_make
def test_make_clean_removes_the_venv_and_caches() -> None:
    lines = dry_run("clean")

    assert any(
        line.startswith("rm -rf .venv ") and ".pytest_cache" in line and ".ruff_cache" in line
        for line in lines
    )


@needs_make
def test_make_help_is_the_default() -> None:
    done = make()
    assert done.returncode == 0
    for target in ("demo", "test", "lint", "bench", "dev", "clean"):
        assert f"make {target} " in done.stdout


@needs_make
@pytest.mark.parametrize(
    ("python", "says"),
    [("old-python", "'{python}' is Python 3.9.2."), ("no-such-python3", "is not found.")],
)
def test_an_unsupported_python_is_named_and_no_venv_is_left(
    tmp_path: Path, python: str, says: str
) -> None:
    stub = tmp_path / "old-python"
    stub.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "Python 3.9.2" && exit 0\nexit 1\n')
    stub.chmod(0o755)
    interpreter = str(stub) if python == "old-python" else python
    venv = tmp_path / "venv"

    done = make("demo", f"PYTHON={interpreter}", f"VENV={venv}")

    assert done.returncode != 0
    assert "needs Python >= 3.11" in done.stderr
    assert says.format(python=interpreter) in done.stderr
    assert "make demo PYTHON=python3.12" in done.stderr
    assert not venv.exists()


def test_ci_runs_the_same_test_command() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    assert "\nmake test " in script


# The settings template, from an installed package


def test_the_packaged_env_example_is_the_repositorys() -> None:
    packaged = REPO / "llmcompiler_graph" / "data" / "env.example"
    assert packaged.read_text() == (REPO / ".env.example").read_text(), (
        "copy .env.example to llmcompiler_graph/data/env.example"
    )
    assert cli.env_example() == packaged.read_text()


def test_installed_script_prints_the_env_example() -> None:
    script = shutil.which("llmcompiler-graph", path=str(Path(sys.executable).parent))
    assert script is not None, "reinstall the package: pip install -e ."

    done = subprocess.run(
        [script, "env-example"], capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout == (REPO / ".env.example").read_text()


def test_env_example_writes_a_new_file_and_never_overwrites(tmp_path: Path, capsys) -> None:
    target = tmp_path / ".env"

    assert cli.main(["env-example", "--write", str(target)]) == 0
    assert target.read_text() == cli.env_example()

    target.write_text("OPENAI_API_KEY=mine\n")
    assert cli.main(["env-example", "--write", str(target)]) == 2
    assert target.read_text() == "OPENAI_API_KEY=mine\n"
    assert "exists" in capsys.readouterr().err


def test_missing_keys_say_how_to_get_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    message = preflight.missing_keys_message(["OPENAI_API_KEY", "TAVILY_API_KEY"])
    assert "\n  llmcompiler-graph env-example --write .env\n" in message
    assert ".env.example" not in message
