"""`llmcompiler-graph dev`: `langgraph dev` in one command, `--simulate` offline and keyless.

The end-to-end test runs the installed script as a user would (a subprocess, its own session),
drives the server it starts with `langgraph-sdk`, then stops it with SIGTERM and checks that the
port is closed and that no process it started is left. The others check the parts (config
discovery, the simulated environment, the usage errors) without starting a server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from servers import SCRUBBED, free_port, server_env, start_logged

import llmcompiler_graph
from llmcompiler_graph.app import cli, dev
from llmcompiler_graph.app.cli import UsageProblem
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import (
    SHOWCASE,
    ScenarioBrain,
    generic_scenario,
    merged_corpus,
)

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 120.0
RUN_TIMEOUT = 60.0
QUESTION = "How tall are the Eiffel Tower and the Statue of Liberty?"
"""Not a showcase question: the generic simulated plan answers it."""


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _children() -> dict[int, int]:
    """pid -> parent pid of every process (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _descendants(pid: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _kill(pids: set[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _env() -> dict[str, str]:
    """No real keys, endpoints or settings; nothing off the machine."""
    return server_env()


@pytest.fixture
def scratch_config(tmp_path: Path) -> Path:
    """The repository's langgraph.json, copied where the server may write its state and watch
    for changes (not the checkout, which may change while the test runs)."""
    config = tmp_path / "langgraph.json"
    shutil.copy(REPO / "langgraph.json", config)
    return config


@pytest.mark.slow
def test_dev_simulate_serves_any_question_then_stops_everything(
    scratch_config: Path, tmp_path: Path
) -> None:
    assert QUESTION not in {scenario.question for scenario in SHOWCASE}
    script = shutil.which("llmcompiler-graph", path=str(Path(sys.executable).parent))
    assert script is not None, "reinstall the package: pip install -e ."
    port = free_port()
    log = tmp_path / "dev.log"
    command = [script, "dev", "--simulate", "--port", str(port), "--no-browser"]
    command += ["--config", str(scratch_config)]
    process = start_logged(command, log, cwd=tmp_path, env=_env())
    started: set[int] = set()
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_banner(url, process, log)
        started = _descendants(process.pid)
        assert started, "langgraph dev runs as a child process"
        text = " ".join(log.read_text(errors="replace").split())
        assert "SIMULATED model and search: answers are made up." in text
        assert f"https://smith.langchain.com/studio/?baseUrl={url}" in text

        parts, values = _ask(url, QUESTION)

        errors = [data for event, data in parts if event == "error"]
        assert not errors, errors
        expected = generic_scenario(QUESTION)
        assert values["messages"][-1]["content"] == expected.answer
        assert "Simulated" in expected.answer
        custom = [data for event, data in parts if event == "custom"]
        lifecycle = {}
        for e in custom:
            if "idx" in e:
                lifecycle.setdefault(e["idx"], []).append(e["event"])
        assert lifecycle == {
            idx: ["task_planned", "task_started", "task_finished"]
            for idx in range(1, len(expected.tasks) + 1)
        }
        kinds = [e["event"] for e in custom]
        assert kinds[0] == "plan_started" and kinds[-1] == "joiner_decision"
        plan_done = next(e["time"] for e in custom if e["event"] == "plan_finished")
        first_start = min(e["started_at"] for e in custom if e["event"] == "task_started")
        assert first_start < plan_done, "the latency model lets a task start mid-plan"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
        assert not _port_open(port), "the server's port is closed"
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = sorted(pid for pid in started if _alive(pid))
        assert not left, f"processes left behind: {left}"
        assert "Stopping langgraph dev" in log.read_text(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        _kill({pid for pid in started if _alive(pid)})


@pytest.mark.slow
def test_dev_serves_with_the_users_environment_and_stops_on_ctrl_c(
    scratch_config: Path, tmp_path: Path
) -> None:
    """Without --simulate the server reads the user's environment (here: keys and endpoints of
    simulators this test runs, standing in for a real provider); Ctrl-C stops it."""
    script = shutil.which("llmcompiler-graph", path=str(Path(sys.executable).parent))
    assert script is not None
    question = SHOWCASE[1]
    with (
        OpenAISimulator(ScenarioBrain(SHOWCASE), latency=LatencyModel.instant()) as llm,
        TavilySimulator(merged_corpus(SHOWCASE)) as tavily,
    ):
        port = free_port()
        env = _env() | {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": llm.base_url,
            "TAVILY_API_KEY": "tvly-test",
            "TAVILY_BASE_URL": tavily.base_url,
        }
        log = tmp_path / "dev.log"
        command = [script, "dev", "--port", str(port), "--no-browser", "--no-reload"]
        process = start_logged(
            [*command, "--config", str(scratch_config)], log, cwd=tmp_path, env=env
        )
        started: set[int] = set()
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for_banner(url, process, log, banner="Ready. LangGraph Studio:")
            started = _descendants(process.pid)
            text = log.read_text(errors="replace")
            assert "SIMULATED" not in text and "with openai:gpt-4o-mini" in text

            _, values = _ask(url, question.question)

            assert values["messages"][-1]["content"] == question.answer
            assert llm.requests and tavily.requests, "the server used the user's endpoints"
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
            assert not _port_open(port)
            deadline = time.monotonic() + 5
            while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in started if _alive(pid)]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            _kill({pid for pid in started if _alive(pid)})


def _wait_for_banner(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    banner: str = "answers are made up",
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dev exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            up = httpx.get(f"{url}/ok", timeout=2.0, trust_env=False).status_code == 200
            if up and banner in " ".join(log.read_text(errors="replace").split()):
                return
        time.sleep(0.25)
    pytest.fail(f"no server at {url} in {STARTUP_TIMEOUT:g} s:\n{log.read_text(errors='replace')}")


def _ask(url: str, question: str) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    from langgraph_sdk import get_sync_client

    with get_sync_client(url=url, api_key=None, timeout=RUN_TIMEOUT) as client:
        thread_id = client.threads.create()["thread_id"]
        parts = [
            (part.event, part.data)
            for part in client.runs.stream(
                thread_id,
                "llmcompiler",
                input={"messages": [{"role": "user", "content": question}]},
                stream_mode=["custom", "updates", "messages"],
            )
        ]
        return parts, client.threads.get_state(thread_id)["values"]


# the parts


def test_config_is_the_named_one_else_here_else_the_checkouts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = Path(llmcompiler_graph.__file__).resolve().parents[1] / "langgraph.json"
    assert dev.find_config(None, cwd=tmp_path) == checkout
    here = tmp_path / "langgraph.json"
    here.write_text("{}")
    assert dev.find_config(None, cwd=tmp_path) == here
    named = tmp_path / "other.json"
    named.write_text("{}")
    assert dev.find_config(named, cwd=tmp_path) == named
    with pytest.raises(UsageProblem, match="--config: there is no file"):
        dev.find_config(tmp_path / "missing.json")

    monkeypatch.setattr(llmcompiler_graph, "__file__", str(tmp_path / "site" / "x" / "i.py"))
    with pytest.raises(UsageProblem) as refused:
        dev.find_config(None, cwd=tmp_path / "site")
    assert "llmcompiler-graph dev --config path/to/langgraph.json" in str(refused.value)
    assert '"llmcompiler_graph.graph:graph"' in str(refused.value)


def test_simulated_env_points_at_the_simulators_and_keeps_nothing_real() -> None:
    real = {
        "OPENAI_API_KEY": "sk-real",
        "OPENAI_BASE_URL": "https://api.openai.com/v1",
        "TAVILY_API_KEY": "tvly-real",
        "LANGSMITH_API_KEY": "ls-real",
        "LANGSMITH_TRACING": "true",
        "LLMCOMPILER_MODEL": "anthropic:claude-sonnet-4-5",
        "LLMCOMPILER_MAX_REPLANS": "1",
        "NO_PROXY": "corp.example",
        "PATH": "/usr/bin",
    }

    env = dev.simulated_env(real, "http://127.0.0.1:1/v1", "http://127.0.0.1:2")

    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:1/v1"
    assert env["TAVILY_BASE_URL"] == "http://127.0.0.1:2"
    assert env["OPENAI_API_KEY"] == "sim" and env["TAVILY_API_KEY"] == "tvly-sim"
    assert env["LLMCOMPILER_MODEL"] == "openai:gpt-4o-mini"
    assert "LANGSMITH_API_KEY" not in env and env["LANGSMITH_TRACING"] == "false"
    assert env["LLMCOMPILER_MAX_REPLANS"] == "1" and env["PATH"] == "/usr/bin"
    assert env["NO_PROXY"] == "corp.example,127.0.0.1,localhost"
    assert not any("real" in value for value in env.values())


def test_the_server_command_passes_other_arguments_on(tmp_path: Path) -> None:
    args = argparse.Namespace(host="127.0.0.1", port=3000, no_browser=True)
    launch = dev.plan_launch(args, ["--no-reload", "--tunnel"], tmp_path / "lg.json", {}, tmp_path)
    assert launch.command[:4] == [sys.executable, "-m", "langgraph_cli", "dev"]
    assert launch.command[4:] == [
        "--host",
        "127.0.0.1",
        "--port",
        "3000",
        "--config",
        str(tmp_path / "lg.json"),
        "--no-browser",
        "--no-reload",
        "--tunnel",
    ]
    assert launch.studio == "https://smith.langchain.com/studio/?baseUrl=http://127.0.0.1:3000"
    args = cli.build_parser().parse_known_args(["dev", "--simulate", "--tunnel", "--port", "5"])
    assert args[0].simulate and args[0].port == 5 and args[1] == ["--tunnel"]


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in list(os.environ):
        if key.upper().startswith(SCRUBBED):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield


def test_dev_without_keys_says_how_to_run_it_simulated(
    no_keys: None, scratch_config: Path, capsys
) -> None:
    """The config's .env is read like langgraph dev reads it; nothing starts without keys."""
    (scratch_config.parent / ".env").write_text("OPENAI_API_KEY=sk-from-dotenv\n")
    port = str(free_port())

    assert cli.main(["dev", "--port", port, "--config", str(scratch_config)]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert "Missing TAVILY_API_KEY: `langgraph dev` serves the graph with" in err
    assert "OPENAI_API_KEY" not in err.split("Set them")[0]  # found in the config's .env
    assert "llmcompiler-graph dev --simulate" in err
    assert "OPENAI_API_KEY" not in os.environ, "the check leaves the environment as it was"


def test_dev_refuses_bad_settings_and_a_busy_port(
    no_keys: None, scratch_config: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "-1")
    port = str(free_port())
    assert cli.main(["dev", "--simulate", "--port", port, "--config", str(scratch_config)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Error: max_replans must be an integer >= 0, got -1 (env LLMCOMPILER_MAX_REPLANS)" in err
    assert "llmcompiler-graph dev --help" in err

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = str(busy.getsockname()[1])
        refused = cli.main(["dev", "--simulate", "--port", taken, "--config", str(scratch_config)])
    assert refused == 2
    assert f"Port {taken} on 127.0.0.1 is in use" in capsys.readouterr().err


def test_config_env_is_read_from_the_configs_directory(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"g": "m:g"}, "env": ".env"}))
    (tmp_path / ".env").write_text("A=1\nB=two\n")
    assert dev.config_env(config, dev.read_config(config)) == {"A": "1", "B": "two"}
    assert dev.config_env(config, {"env": {"C": 3}}) == {"C": "3"}
    assert dev.config_env(config, {}) == {}
    config.write_text("{}")
    with pytest.raises(UsageProblem, match="declares no graphs"):
        dev.read_config(config)
