"""`llmcompiler-graph dev`: the graph in LangGraph Studio, with `--simulate` offline and keyless.

`langgraph dev` (from this environment: `python -m langgraph_cli dev`) runs in its own process
group, from the directory of the `langgraph.json` it serves (`--config`, else `./langgraph.json`,
else the one of the checkout the package is installed from), with the arguments this command does
not know passed on. This process supervises it: Ctrl-C or SIGTERM stops the whole group (SIGTERM,
then SIGKILL after a grace period) and the simulators.

With `--simulate`, the loopback OpenAI and Tavily simulators run in this process (the showcase
scenarios, any other question answered by a generic plan: one search per part of the question;
the demo's latency model, so Studio shows tasks starting while the plan streams), and the server
gets an environment pointing at them: `OPENAI_BASE_URL`, `OPENAI_API_KEY=sim`, `TAVILY_BASE_URL`,
`TAVILY_API_KEY`, `LLMCOMPILER_MODEL=openai:gpt-4o-mini`. Real keys, endpoints and tracing
settings are not passed on, and the config's `env` file is left out (a copy of the config
without it is served), since `langgraph dev` would let that file override the simulators.

Without `--simulate` the server gets the user's environment, after the same checks as `ask`:
the settings (`Context`, env and `.env` included) must be valid and the model's key and
Tavily's must be set.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

import llmcompiler_graph
from llmcompiler_graph.app.preflight import UsageProblem
from llmcompiler_graph.testing.latency import SIMULATED_MODEL

if TYPE_CHECKING:
    from llmcompiler_graph.app.simulate import Simulators

STUDIO_URL = "https://smith.langchain.com/studio/?baseUrl={api}"
STARTUP_TIMEOUT = 120.0
"""Seconds `langgraph dev` may take to answer `/ok` before the banner says it is late."""
STOP_GRACE = 10.0
"""Seconds the server's process group has to exit after SIGTERM, before SIGKILL."""

SIMULATED_SPEC = f"openai:{SIMULATED_MODEL}"
"""`LLMCOMPILER_MODEL` of a simulated server."""
SIMULATED_KEYS = {"OPENAI_API_KEY": "sim", "TAVILY_API_KEY": "tvly-sim"}
NOT_PASSED_ON = ("OPENAI_", "TAVILY_", "LANGSMITH_", "LANGCHAIN_", "AZURE_OPENAI_")
"""Environment prefixes a simulated server does not inherit: no real keys, endpoints or
tracing (the variables are set again, pointing at the simulators or switched off)."""
OFFLINE = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
}
"""A simulated server sends nothing off the machine: no traces, analytics or version check."""


@dataclass
class Launch:
    """How `langgraph dev` is started: its command line, directory and environment."""

    command: list[str]
    cwd: Path
    env: dict[str, str]
    api: str
    config: Path

    @property
    def studio(self) -> str:
        return STUDIO_URL.format(api=self.api)


class Stopped(Exception):
    """SIGTERM (or SIGHUP: the terminal closed) arrived: stop everything, like Ctrl-C."""


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Signals that stop the server like Ctrl-C (its own session does not get the terminal's)."""


# finding things


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path:
    """The `langgraph.json` to serve: `--config`, else `./langgraph.json`, else the checkout's
    the package is installed from (an editable install); a `UsageProblem` says how to name one."""
    if explicit is not None:
        if not explicit.is_file():
            raise UsageProblem(f"--config: there is no file {str(explicit)!r}.")
        return explicit.resolve()
    here = (cwd or Path.cwd()) / "langgraph.json"
    if here.is_file():
        return here.resolve()
    checkout = Path(llmcompiler_graph.__file__).resolve().parents[1] / "langgraph.json"
    if checkout.is_file():
        return checkout
    raise UsageProblem(
        "No langgraph.json here or in the llmcompiler-graph checkout (a package installed from a "
        "wheel has none). Run this from the checkout, or point at a config:\n"
        "  llmcompiler-graph dev --config path/to/langgraph.json\n"
        'A minimal one: {"dependencies": ["."], '
        '"graphs": {"llmcompiler": "llmcompiler_graph.graph:graph"}}'
    )


def read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageProblem(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not data.get("graphs"):
        raise UsageProblem(f"{path} is not a langgraph.json: it declares no graphs.")
    return data


def langgraph_cli() -> list[str]:
    """The command that runs `langgraph` from this environment."""
    missing = [m for m in ("langgraph_cli", "langgraph_api") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageProblem(
            "`langgraph dev` is not installed in this environment "
            f'({sys.executable}): pip install -U "langgraph-cli[inmem]" '
            '(or pip install -e ".[dev]" in the checkout).'
        )
    return [sys.executable, "-m", "langgraph_cli"]


def check_port(host: str, port: int) -> None:
    """Refuse a port another server already listens on (before anything starts)."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host if host not in ("0.0.0.0", "") else "127.0.0.1", port)) == 0:
            raise UsageProblem(
                f"Port {port} on {host} is in use (another `langgraph dev`?): "
                "pass another one with --port N."
            )


# the environments


def simulated_env(base: Mapping[str, str], openai_url: str, tavily_url: str) -> dict[str, str]:
    """`base` without real keys, endpoints or tracing, pointing at the simulators."""
    env = {k: v for k, v in base.items() if not k.upper().startswith(NOT_PASSED_ON)}
    env.pop("LLMCOMPILER_MODEL", None)
    loopback = "127.0.0.1,localhost"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = f"{env[name]},{loopback}" if env.get(name) else loopback
    return {
        **env,
        **OFFLINE,
        **simulator_settings(openai_url, tavily_url),
        "PYTHONUNBUFFERED": "1",
    }


def simulator_settings(openai_url: str, tavily_url: str) -> dict[str, str]:
    """The variables that point a server's graph at the simulators (`openai_url` ends in /v1)."""
    return {
        "OPENAI_BASE_URL": openai_url,
        "OPENAI_API_KEY": SIMULATED_KEYS["OPENAI_API_KEY"],
        "TAVILY_BASE_URL": tavily_url,
        "TAVILY_API_KEY": SIMULATED_KEYS["TAVILY_API_KEY"],
        "LLMCOMPILER_MODEL": SIMULATED_SPEC,
    }


def config_env_file(config: Path, data: Mapping[str, Any]) -> Path | None:
    """The `.env` file the config names (`"env": ".env"`), resolved like `langgraph dev` does
    (from the config's directory, where it runs)."""
    env = data.get("env")
    return config.parent / env if isinstance(env, str) else None


def config_env(config: Path, data: Mapping[str, Any]) -> dict[str, str]:
    """The variables `langgraph dev` will add from the config (its `env` file or mapping);
    they override the process environment there, so the checks read them the same way."""
    env = data.get("env")
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    path = config_env_file(config, data)
    if path is None or not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


# running


def plan_launch(
    args: argparse.Namespace, extra: list[str], config: Path, env: dict[str, str], cwd: Path
) -> Launch:
    command = [
        *langgraph_cli(),
        "dev",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--config",
        str(config),
        *(["--no-browser"] if args.no_browser else []),
        *extra,
    ]
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    return Launch(command, cwd, env, f"http://{shown}:{args.port}", config)


def supervise(launch: Launch, console: Console, banner: RenderableType) -> int:
    """Run `langgraph dev` until it exits, or until Ctrl-C / SIGTERM stops it (and its whole
    process group); print `banner` once it answers `/ok`. Returns the exit code."""
    process: subprocess.Popen[bytes] | None = None
    with stopped_by_signals():
        try:
            process = subprocess.Popen(
                launch.command,
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: stopped as a whole, never by a stray ^C
            )
            if _wait_until_up(launch.api, process):
                for part in banner.renderables if isinstance(banner, Group) else [banner]:
                    console.print(part, soft_wrap=isinstance(part, Text))  # URLs kept whole
            elif process.poll() is None:
                console.print(Text(f"langgraph dev has not answered {launch.api}/ok yet; waiting."))
            code = process.wait()
            if code:
                console.print(Text(f"langgraph dev exited with code {code}.", style="red"))
            return code
        except (KeyboardInterrupt, Stopped):
            console.print(Text("Stopping langgraph dev…"))
            return 0
        finally:
            if process is not None:
                stop_group(process)


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise `Stopped`, as Ctrl-C raises KeyboardInterrupt;
    the previous handlers are back after it."""
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise Stopped(signum)


def _wait_until_up(api: str, process: subprocess.Popen[bytes]) -> bool:
    """Whether the server answered `/ok` (False if it exited or took too long)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            opener.open(f"{api}/ok", timeout=2.0) as answer,
        ):
            if answer.status == 200:
                return True
        time.sleep(0.25)
    return False


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (the reloader and its worker): SIGTERM, then
    SIGKILL after `STOP_GRACE` seconds, or at once on a second Ctrl-C / SIGTERM."""
    group = process.pid  # start_new_session: the group's id is the leader's pid
    try:
        _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while _group_alive(group, process) and time.monotonic() < deadline:
            time.sleep(0.1)
    except (KeyboardInterrupt, Stopped):
        pass
    finally:
        if _group_alive(group, process):
            _signal_group(group, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5.0)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int, process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the leader if it exited, so it does not count as alive
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# the command


def dev_command(args: argparse.Namespace, extra: list[str], console: Console) -> int:
    """`llmcompiler-graph dev [--simulate] [--port N] [--no-browser] [langgraph dev args]`."""
    extra = extra[1:] if extra[:1] == ["--"] else extra
    config = find_config(args.config)
    data = read_config(config)
    check_port(args.host, args.port)
    if args.simulate:
        return _simulated(args, extra, config, data, console)
    return _real(args, extra, config, data, console)


def _real(
    args: argparse.Namespace,
    extra: list[str],
    config: Path,
    data: dict[str, Any],
    console: Console,
) -> int:
    from llmcompiler_graph.app.preflight import check_model, read_context, require_keys

    env = {**os.environ, **config_env(config, data)}  # as `langgraph dev` will see it
    with _patched_environ(env):
        context = read_context({}, command="dev")
        check_model(context.model)  # what the model is before whose key is missing
        require_keys(context.model, command="dev")
    launch = plan_launch(args, extra, config, dict(os.environ), config.parent)
    console.print(
        Text.assemble(
            ("langgraph dev ", "bold"),
            f"serving {config} with {context.model}; LangGraph Studio: {launch.studio}",
        ),
        soft_wrap=True,
    )
    banner = Text.assemble(
        ("Ready. ", "bold green"), f"LangGraph Studio: {launch.studio}  (Ctrl-C stops the server)"
    )
    return supervise(launch, console, banner)


def _simulated(
    args: argparse.Namespace,
    extra: list[str],
    config: Path,
    data: dict[str, Any],
    console: Console,
) -> int:
    from llmcompiler_graph.app.preflight import read_context
    from llmcompiler_graph.app.simulate import simulators

    with _patched_environ(simulated_env(os.environ, "http://127.0.0.1/v1", "http://127.0.0.1")):
        read_context({}, command="dev")  # the LLMCOMPILER_* settings passed on must be valid
    with (
        simulators() as sims,
        tempfile.TemporaryDirectory(prefix="llmcompiler-dev-") as scratch,
    ):
        env = simulated_env(os.environ, sims.llm.base_url, sims.search.base_url)
        served = Path(scratch) / "langgraph.json"
        served.write_text(json.dumps({k: v for k, v in data.items() if k != "env"}, indent=2))
        launch = plan_launch(args, extra, served, env, config.parent)
        console.print(
            Text(
                "Starting langgraph dev on a SIMULATED model and search (no keys, nothing leaves "
                f"this machine); serving {config}"
                + (f" without its env file ({data['env']})" if "env" in data else "")
                + "…",
                style="yellow",
            ),
            soft_wrap=True,
        )
        banner = simulated_banner(launch, sims)
        return supervise(launch, console, banner)


def simulated_banner(launch: Launch, sims: Simulators) -> Group:
    """What `dev --simulate` says once the server is up: what is made up, and where to look
    (the URLs outside the box, so that they copy whole)."""
    from llmcompiler_graph.app.demo import SHOWCASE_QUESTIONS

    text = Text.assemble(
        ("SIMULATED model and search: answers are made up.\n", "bold"),
        "The model (OpenAI-compatible) and the Tavily search are loopback stand-ins in this "
        f"process ({sims.llm.base_url}, {sims.search.base_url}): {sims.describe_latency()}. "
        "They know the demo's questions:\n",
        *(f"  - {question}\n" for question in SHOWCASE_QUESTIONS),
        "and answer any other with one simulated search per part of the question, labelled as "
        "simulated. Ctrl-C stops the server and the simulators.",
    )
    return Group(
        Panel(text, title="SIMULATED", border_style="yellow"),
        Text.assemble(("LangGraph Studio: ", "bold"), launch.studio),
        Text.assemble(("API: ", "bold"), launch.api),
    )


@contextlib.contextmanager
def _patched_environ(env: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` is `env` inside the block (the settings checks read the environment)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
