"""`llmcompiler-graph simulate`: the simulators on fixed ports, for a server to run against.

The end-to-end tests run the command as a user would (a subprocess, its own session, free
loopback ports), read the settings it prints, and point the real `ChatOpenAI` and graph at them:
`create_llmcompiler` in this process, and the ready-made graph in a process configured by those
settings alone, as a server is. Then SIGTERM (or Ctrl-C) stops it: exit code 0, ports closed.
The others run the command in this process where it ends at once (a refused port or file), and
check the parts (the request lines, bounded memory, the loopback check).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
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
from dotenv import dotenv_values
from servers import free_port, server_env, stop_process

from llmcompiler_graph.app import cli, simulate
from llmcompiler_graph.core.roles import ROLE_HEADER
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator, scenarios
from llmcompiler_graph.testing.scenarios import SHOWCASE, generic_scenario, merged_corpus

QUESTION = "What is the population of Lisbon times two?"
"""Not a showcase question: the simulated planner improvises its plan."""
SETTINGS = {
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "TAVILY_BASE_URL",
    "TAVILY_API_KEY",
    "LLMCOMPILER_MODEL",
}
STARTUP_TIMEOUT = 60.0
READY = "Serving until Ctrl-C or SIGTERM"


class Simulate:
    """`llmcompiler-graph simulate ARGS` running in a process group of its own."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.out, self.err = tmp_path / "simulate.out", tmp_path / "simulate.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llmcompiler_graph.app.cli", "simulate", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=tmp_path,
                env=server_env(),
                start_new_session=True,
            )

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while READY not in self.stdout():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"simulate is not serving (exit code {self.process.poll()}):\n"
                    f"{self.stdout()}\n{self.err.read_text(errors='replace')}"
                )
            time.sleep(0.1)

    def exports(self) -> list[str]:
        return [line for line in self.stdout().splitlines() if line.startswith("export ")]

    def settings(self) -> dict[str, str]:
        """The printed `export NAME=value` lines, read as a shell would."""
        pairs = (shlex.split(line.removeprefix("export "))[0] for line in self.exports())
        return dict(pair.split("=", 1) for pair in pairs)

    def wait_for_lines(self, start: str, count: int, timeout: float = 10.0) -> list[str]:
        """The request lines (`HH:MM:SS start...`), once there are at least `count`."""
        shape = re.compile(r"\d\d:\d\d:\d\d " + re.escape(start))
        deadline = time.monotonic() + timeout
        while True:
            lines = [line for line in self.stdout().splitlines() if shape.match(line)]
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Any]:
    """Start simulate with the given arguments; whatever is left is stopped at the end."""
    running: list[Simulate] = []

    def start(*args: str) -> Simulate:
        running.append(Simulate(tmp_path, *args))
        running[-1].wait_until_ready()
        return running[-1]

    yield start
    for sim in running:
        if sim.process.poll() is None:
            stop_process(sim.process)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _graph_answer(settings: dict[str, str]) -> str:
    """`QUESTION` answered by the real graph on the real clients, built from `settings`: the
    package's `ChatOpenAI` (it names each call's role, planner or joiner, in a header; a bare
    one would be taken for a ReAct agent) and the Tavily client."""
    from langchain_openai import ChatOpenAI

    from llmcompiler_graph import create_llmcompiler
    from llmcompiler_graph.models import load_chat_model
    from llmcompiler_graph.tools import calculate, create_math_tool, create_search_tool

    with httpx.Client(trust_env=False) as http:
        model = load_chat_model(
            settings["LLMCOMPILER_MODEL"],
            base_url=settings["OPENAI_BASE_URL"],
            api_key=settings["OPENAI_API_KEY"],
            http_client=http,
        )
        assert isinstance(model, ChatOpenAI)
        search = create_search_tool(
            api_key=settings["TAVILY_API_KEY"], base_url=settings["TAVILY_BASE_URL"]
        )
        graph = create_llmcompiler(model, [search, create_math_tool(model), calculate])
        result = graph.invoke({"messages": [("user", QUESTION)]})
    return result["messages"][-1].content


SERVER_LIKE = """
import json
from llmcompiler_graph.graph import graph  # the ready-made graph langgraph.json serves

result = graph.invoke({"messages": [("user", %r)]})
print(json.dumps(result["messages"][-1].content))
"""


def _ready_made_graph_answer(settings: dict[str, str], cwd: Path) -> str:
    """`QUESTION` answered by the ready-made graph in a process configured by `settings` alone
    (no keys or endpoints of its own), as a LangGraph server is."""
    done = subprocess.run(
        [sys.executable, "-c", SERVER_LIKE % QUESTION],
        env=server_env(**settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_printed_settings_serve_any_question_then_sigterm_stops_it(
    started: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the clients in this process
    openai_port, tavily_port = free_port(), free_port()
    env_file = tmp_path / "simulated.env"
    sim = started(
        "--openai-port",
        str(openai_port),
        "--tavily-port",
        str(tavily_port),
        "--instant",
        "--env-file",
        str(env_file),
    )
    out = sim.stdout()
    assert "SIMULATED" in out and "/v1" in out

    settings = sim.settings()
    assert settings == {
        "OPENAI_BASE_URL": f"http://127.0.0.1:{openai_port}/v1",
        "OPENAI_API_KEY": "sim",
        "TAVILY_BASE_URL": f"http://127.0.0.1:{tavily_port}",
        "TAVILY_API_KEY": "tvly-sim",
        "LLMCOMPILER_MODEL": "openai:gpt-4o-mini",
    }
    written = env_file.read_text().splitlines()
    assert [line for line in written if not line.startswith("#")] == [
        line.removeprefix("export ") for line in sim.exports()
    ]
    assert dotenv_values(env_file) == settings
    assert not sim.wait_for_lines("", 1, timeout=0), "no request line before any request"

    expected = generic_scenario(QUESTION, (), merged_corpus(SHOWCASE))
    assert "Lisbon" in expected.answer and "Simulated" in expected.answer
    searches = [task["args"] for task in expected.tasks if task["tool"] == "search"]
    assert searches, "the improvised plan searches"

    assert _graph_answer(settings) == expected.answer
    assert _ready_made_graph_answer(settings, tmp_path) == expected.answer

    searched = sim.wait_for_lines("search ", 2 * len(searches))
    assert len(searched) == 2 * len(searches), sim.stdout()
    assert all("Lisbon" in line for line in searched)
    assert len(sim.wait_for_lines("model  planner (gpt-4o-mini", 2)) == 2
    assert len(sim.wait_for_lines("model  joiner (gpt-4o-mini", 2)) == 2

    asked = time.monotonic()
    sim.process.send_signal(signal.SIGTERM)
    assert sim.process.wait(timeout=15) == 0, sim.stdout() + sim.err.read_text()
    assert time.monotonic() - asked < 5, "SIGTERM stops it promptly"
    assert "Stopped: the simulators are down" in sim.stdout()
    assert not _port_open(openai_port) and not _port_open(tavily_port)
    with OpenAISimulator(port=openai_port), TavilySimulator(port=tavily_port):
        pass  # the ports can be served again at once
    assert "Traceback" not in sim.err.read_text()


@pytest.mark.slow
def test_ctrl_c_stops_it_with_exit_code_0(started: Any) -> None:
    openai_port, tavily_port = free_port(), free_port()
    sim = started("--openai-port", str(openai_port), "--tavily-port", str(tavily_port))
    assert "each search 0.5-1.2 s" in sim.stdout(), "the demo's latency, unless --instant"

    sim.process.send_signal(signal.SIGINT)

    assert sim.process.wait(timeout=15) == 0, sim.err.read_text()
    assert not _port_open(openai_port) and not _port_open(tavily_port)


@pytest.fixture
def served_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A `simulate` run in this process stops (as on Ctrl-C) at its first look for requests,
    instead of serving for ever."""

    def interrupted(self: simulate.Traffic) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate.Traffic, "lines", interrupted)


@pytest.mark.parametrize("flag", ["--openai-port", "--tavily-port"])
def test_a_busy_port_is_refused_in_one_line_naming_the_flag(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], served_briefly: None
) -> None:
    env_file = tmp_path / "simulated.env"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = {"--openai-port": str(free_port()), "--tavily-port": str(free_port())}
        ports[flag] = str(taken)
        argv = ["simulate", *(x for pair in ports.items() for x in pair)]

        code = cli.main([*argv, "--env-file", str(env_file)])

    assert code != 0
    out, err = capsys.readouterr()
    assert err.strip().count("\n") == 0, err
    assert f"port {taken} on 127.0.0.1 is in use" in err and f"{flag} N" in err
    assert "Traceback" not in err and "export" not in out
    assert not env_file.exists(), "nothing is written for a server that did not start"
    other = next(port for name, port in ports.items() if name != flag)
    assert not _port_open(int(other)), "the simulator that had started is stopped"


def test_a_file_simulate_did_not_write_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], served_briefly: None
) -> None:
    real = tmp_path / ".env"
    real.write_text("OPENAI_API_KEY=sk-real\n")

    argv = ["simulate", "--openai-port", "0", "--tavily-port", "0"]
    code = cli.main([*argv, "--env-file", str(real)])

    assert code != 0
    assert real.read_text() == "OPENAI_API_KEY=sk-real\n"
    assert "simulate did not write it" in capsys.readouterr().err


def test_a_run_writes_its_env_file_warns_off_loopback_and_stops_cleanly(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    served_briefly: None,
) -> None:
    """The host is taken for a non-loopback one (the test listens on loopback only)."""
    env_file = tmp_path / "simulated.env"
    env_file.write_text(simulate.ENV_FILE_HEADER + "\nOPENAI_BASE_URL=http://old/v1\n")
    monkeypatch.setattr(simulate, "is_loopback", lambda host: False)

    argv = ["simulate", "--openai-port", "0", "--tavily-port", "0", "--instant"]
    assert cli.main([*argv, "--env-file", str(env_file)]) == 0

    out, err = capsys.readouterr()
    printed = [line.removeprefix("export ") for line in out.splitlines() if "export " in line]
    assert env_file.read_text().splitlines()[1:] == printed, "the file simulate wrote is renewed"
    assert "http://old" not in env_file.read_text()
    assert "Warning: listening on 127.0.0.1, not only on loopback: anyone who can reach" in err
    assert out.rstrip().endswith("Stopped: the simulators are down and their ports closed.")


def test_only_loopback_counts_as_loopback() -> None:
    assert simulate.is_loopback("127.0.0.1") and simulate.is_loopback("localhost")
    assert not simulate.is_loopback("0.0.0.0")
    assert not simulate.is_loopback("192.0.2.1")
    assert not simulate.is_loopback("no-such-host.invalid")


def test_a_wildcard_host_is_named_as_loopback_in_the_settings() -> None:
    with simulate.simulators(instant=True) as sims:
        for host, shown in (("0.0.0.0", "127.0.0.1"), ("127.0.0.1", "127.0.0.1")):
            settings = simulate.settings_for(sims, host)
            assert settings["OPENAI_BASE_URL"] == f"http://{shown}:{sims.llm.port}/v1"
            assert settings["TAVILY_BASE_URL"] == f"http://{shown}:{sims.search.port}"


def test_one_line_per_request_and_a_count_of_those_the_log_dropped() -> None:
    with (
        OpenAISimulator(latency=LatencyModel.instant(), keep=2) as llm,
        TavilySimulator(keep=2) as search,
        httpx.Client(trust_env=False, headers={"Authorization": "Bearer sim"}) as http,
    ):
        traffic = simulate.Traffic(simulate.Simulators(llm, search))
        assert traffic.lines() == []
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        http.post(f"{llm.base_url}/chat/completions", json=body, headers={ROLE_HEADER: "joiner"})
        http.post(f"{search.base_url}/search", json={"query": "Lisbon   population"})
        lines = traffic.lines()
        assert [line.split(" ", 1)[1] for line in lines] == [
            "model  joiner (gpt-4o-mini)",
            "search 'Lisbon population'",
        ]
        assert traffic.lines() == [], "each request is shown once"

        for n in range(5):
            http.post(f"{search.base_url}/search", json={"query": f"query {n}"})
        lines = traffic.lines()
        assert lines[0] == "(3 more requests, not shown)"
        assert [line.split(" ", 1)[1] for line in lines[1:]] == [
            "search 'query 3'",
            "search 'query 4'",
        ]


def test_the_simulators_forget_the_oldest_improvised_questions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A simulator serving without end keeps a bounded log and a bounded set of improvised
    conversations; a forgotten question is improvised again, the same."""
    monkeypatch.setattr(scenarios, "IMPROVISED_KEPT", 3)
    with (
        simulate.simulators(instant=True) as sims,
        httpx.Client(trust_env=False, headers={"Authorization": "Bearer sim"}) as http,
    ):
        assert sims.llm.keep is not None and sims.search.keep is not None

        def plan(question: str) -> str:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": question}]}
            answer = http.post(
                f"{sims.llm.base_url}/chat/completions", json=body, headers={ROLE_HEADER: "planner"}
            )
            answer.raise_for_status()
            return answer.json()["choices"][0]["message"]["content"]

        first = plan("How tall is the tower of city 0?")
        for n in range(1, 6):
            plan(f"How tall is the tower of city {n}?")
        brain = sims.llm.script
        assert len(brain.improvised) == 3  # type: ignore[attr-defined]
        assert plan("How tall is the tower of city 0?") == first


def test_help_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.suppress(SystemExit):
        cli.main(["simulate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "smoke-tested with no API keys" in text
    assert "--env-file PATH" in text and "default: 8765" in text and "default: 8766" in text


def test_the_parser_takes_the_documented_defaults() -> None:
    args = cli.build_parser().parse_args(["simulate"])
    assert isinstance(args, argparse.Namespace)
    assert (args.host, args.openai_port, args.tavily_port) == ("127.0.0.1", 8765, 8766)
    assert not args.instant and args.env_file is None
