"""`llmcompiler-graph simulate`: the model and search simulators, for a server to run against.

Why: to smoke-test a deployment (`langhost serve -c langgraph.json`, a container) with no API
keys and nothing leaving the machine, the server's graph needs an OpenAI and a Tavily it can
reach. This command serves the loopback simulators `dev --simulate` uses (the same scenario
brain, latency model and search corpus; `simulators` builds them for both) on fixed ports until
Ctrl-C or SIGTERM, and prints the settings that point a server at them (`OPENAI_BASE_URL`, with
its `/v1`, `OPENAI_API_KEY=sim`, `TAVILY_BASE_URL`, `TAVILY_API_KEY`, `LLMCOMPILER_MODEL`);
`--env-file PATH` also writes them in dotenv format. Every request served is shown in one line,
read from the simulators' bounded logs, so a server running for days costs bounded memory.

They listen on 127.0.0.1 unless `--host` says otherwise; they check no key, so any other host
is served to whoever reaches it (a warning says so).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import ipaddress
import shlex
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmcompiler_graph.app.dev import Stopped, simulator_settings, stopped_by_signals
from llmcompiler_graph.app.preflight import UsageProblem
from llmcompiler_graph.testing import loopback

if TYPE_CHECKING:
    from llmcompiler_graph.testing.openai_server import ChatLogEntry, OpenAISimulator
    from llmcompiler_graph.testing.tavily_server import SearchLogEntry, TavilySimulator

POLL_SECONDS = 0.2
"""How often the simulators' logs are read for new requests to show."""
ENV_FILE_HEADER = "# SIMULATED settings, written by `llmcompiler-graph simulate` (no real keys)."
"""The first line of an `--env-file`: a file without it is never overwritten."""
WILDCARDS = ("0.0.0.0", "")


class CannotListen(Exception):
    """A simulator could not bind its port (`service`: "openai" or "tavily")."""

    def __init__(self, service: str, host: str, port: int, error: OSError) -> None:
        super().__init__(f"{service}: cannot listen on {host}:{port}: {error}")
        self.service, self.host, self.port, self.error = service, host, port, error


@dataclass(frozen=True)
class Simulators:
    """The running model (OpenAI-compatible) and search (Tavily-compatible) simulators."""

    llm: OpenAISimulator
    search: TavilySimulator

    def describe_latency(self) -> str:
        """Their latency, in words."""
        latency, jitter = self.llm.latency, self.search.jitter
        if latency.tokens_per_second == float("inf") and not jitter:
            return "no simulated latency: everything answers at once"
        lo, hi = jitter or (0.0, 0.0)
        return (
            f"the first token after {latency.ttft_base:g} s, then {latency.tokens_per_second:g} "
            f"tokens/s; each search {lo:g}-{hi:g} s"
        )


@contextlib.contextmanager
def simulators(
    *,
    host: str = loopback.HOST,
    openai_port: int = 0,
    tavily_port: int = 0,
    instant: bool = False,
) -> Iterator[Simulators]:
    """The showcase simulators `dev --simulate` and `simulate` serve, running in the block: the
    SHOWCASE scenarios (any other question gets a simulated plan), the demo's latency model and
    search delays (`instant`: none). Port 0 picks a free one; `CannotListen` if one is taken."""
    from llmcompiler_graph.app.demo import SEARCH_JITTER, SEARCH_SEED
    from llmcompiler_graph.testing.latency import LatencyModel
    from llmcompiler_graph.testing.openai_server import OpenAISimulator
    from llmcompiler_graph.testing.scenarios import SHOWCASE, ScenarioBrain, merged_corpus
    from llmcompiler_graph.testing.tavily_server import TavilySimulator

    latency = LatencyModel.instant() if instant else LatencyModel()
    llm = OpenAISimulator(ScenarioBrain(SHOWCASE), latency=latency, host=host, port=openai_port)
    jitter = None if instant else SEARCH_JITTER
    search = TavilySimulator(
        merged_corpus(SHOWCASE), jitter=jitter, seed=SEARCH_SEED, host=host, port=tavily_port
    )
    with contextlib.ExitStack() as running:
        for service, server, port in (
            ("openai", llm, openai_port),
            ("tavily", search, tavily_port),
        ):
            try:
                server.start()
            except OSError as exc:
                raise CannotListen(service, host, port, exc) from None
            running.callback(server.stop)
        yield Simulators(llm, search)


# what is shown


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or a name) is this machine's loopback only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except OSError:
        return False


def settings_for(sims: Simulators, host: str) -> dict[str, str]:
    """The variables that point a server at `sims` listening on `host` (a wildcard is named
    127.0.0.1)."""
    shown = "127.0.0.1" if host in WILDCARDS else host
    return simulator_settings(_on(sims.llm.base_url, shown), _on(sims.search.base_url, shown))


def _on(url: str, host: str) -> str:
    """`url` on `host`, same port and path."""
    parts = urlsplit(url)
    return parts._replace(netloc=f"{host}:{parts.port}").geturl()


def export_lines(settings: Mapping[str, str]) -> list[str]:
    """`export NAME=value`: for a shell, and for a `.env` (python-dotenv reads `export`)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in settings.items()]


def dotenv_text(settings: Mapping[str, str]) -> str:
    """The `--env-file` text: `NAME=value` lines (docker's `--env-file` knows no `export`)."""
    return "".join(f"{line}\n" for line in [ENV_FILE_HEADER, *map("=".join, settings.items())])


def check_env_file(path: Path) -> None:
    """Refuse to overwrite a file `simulate` did not write (it may hold real keys)."""
    with contextlib.suppress(FileNotFoundError):
        with path.open(encoding="utf-8", errors="replace") as file:
            first = file.readline().rstrip("\n")
        if first != ENV_FILE_HEADER:
            raise UsageProblem(
                f"Error: {path} exists and simulate did not write it (it may hold real keys): "
                "it is left as it is; name another file with --env-file."
            )
        return
    if path.is_dir():
        raise UsageProblem(f"Error: --env-file {path} is a directory: name a file.")


class Traffic:
    """The requests served since it last looked, one short line each, oldest first; read from
    the simulators' logs, which keep only the latest requests (any it missed are counted)."""

    def __init__(self, sims: Simulators) -> None:
        self.sims = sims
        self.seen = [sims.llm.logged, sims.search.logged]

    def lines(self) -> list[str]:
        chats, missed_chats = self._since(self.sims.llm, 0)
        searches, missed_searches = self._since(self.sims.search, 1)
        found = [(e.received_at, _chat_line(e)) for e in chats]
        found += [(e.received_at, _search_line(e)) for e in searches]
        lines = [line for _, line in sorted(found, key=lambda pair: pair[0])]
        missed = missed_chats + missed_searches
        return [f"({missed} more requests, not shown)", *lines] if missed else lines

    def _since(self, server: loopback.LoopbackServer[Any], which: int) -> tuple[list[Any], int]:
        """The entries logged since the last look, and how many of those the log dropped."""
        seen = self.seen[which]
        fresh = server.requests_since(seen)
        if server.keep is None or len(fresh) < server.keep:  # nothing it had not shown dropped
            self.seen[which] = seen + len(fresh)
            return fresh, 0
        now = server.logged  # the log is full: the oldest it had not shown may be gone
        self.seen[which] = now
        return fresh, max(now - seen - len(fresh), 0)


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp))


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chat_line(entry: ChatLogEntry) -> str:
    request = entry.request
    streamed = ", streamed" if request.stream else ""
    return (
        f"{_clock(entry.received_at)} model  {request.role or 'chat'} ({request.model}{streamed})"
    )


def _search_line(entry: SearchLogEntry) -> str:
    return f"{_clock(entry.received_at)} search {_short(entry.query)!r}"


# the command


def simulate_command(args: argparse.Namespace) -> int:
    """`llmcompiler-graph simulate [--host H] [--openai-port N] [--tavily-port N] [--instant]
    [--env-file PATH]`: serve until Ctrl-C or SIGTERM, then exit 0 with the ports closed."""
    for flag, port in (("--openai-port", args.openai_port), ("--tavily-port", args.tavily_port)):
        if not 0 <= port <= 65535:
            raise UsageProblem(f"Error: {flag} takes a port from 0 to 65535, got {port}.")
    if args.openai_port and args.openai_port == args.tavily_port:
        raise UsageProblem("Error: --openai-port and --tavily-port must differ.")
    if args.env_file is not None:
        check_env_file(args.env_file)
    # From the start: a SIGTERM while starting or stopping stops as cleanly, with exit code 0.
    with stopped_by_signals(), contextlib.suppress(KeyboardInterrupt, Stopped):
        try:
            with simulators(
                host=args.host,
                openai_port=args.openai_port,
                tavily_port=args.tavily_port,
                instant=args.instant,
            ) as sims:
                _serve(sims, args)
        except CannotListen as exc:
            raise UsageProblem(_cannot_listen(exc)) from None
    print("Stopped: the simulators are down and their ports closed.", flush=True)
    return 0


def _cannot_listen(exc: CannotListen) -> str:
    flag = f"--{exc.service}-port"
    if exc.error.errno == errno.EADDRINUSE:
        return f"Error: port {exc.port} on {exc.host} is in use: pass another one with {flag} N."
    reason = exc.error.strerror or str(exc.error)
    return f"Error: cannot listen on {exc.host}:{exc.port} ({reason}): check --host and {flag}."


def _serve(sims: Simulators, args: argparse.Namespace) -> None:
    settings = settings_for(sims, args.host)
    if args.env_file is not None:
        args.env_file.write_text(dotenv_text(settings), encoding="utf-8")
    for line in _banner(sims, settings, args):
        print(line, flush=True)
    if not is_loopback(args.host):
        print(
            f"Warning: listening on {args.host}, not only on loopback: anyone who can reach "
            f"ports {sims.llm.port} and {sims.search.port} can use the simulators (they check "
            "no key).",
            file=sys.stderr,
            flush=True,
        )
    traffic = Traffic(sims)
    try:
        while True:
            for line in traffic.lines():
                print(line, flush=True)
            time.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, Stopped):
        print("Stopping the simulators…", flush=True)


def _banner(sims: Simulators, settings: Mapping[str, str], args: argparse.Namespace) -> list[str]:
    lines = [
        "SIMULATED model and search: answers are made up, no keys needed, nothing leaves this "
        "machine.",
        f"  OpenAI-compatible model:  {settings['OPENAI_BASE_URL']}",
        f"  Tavily-compatible search: {settings['TAVILY_BASE_URL']}",
        "  The demo's questions get their scripted answers, any other question a simulated "
        f"plan (a search per part of it); {sims.describe_latency()}.",
        "",
        "Point a server at them with these SIMULATED settings (OPENAI_BASE_URL needs its /v1). "
        "Paste them into a shell or a .env file:",
        *export_lines(settings),
    ]
    if args.env_file is not None:
        lines.append(
            f"Wrote them to {args.env_file} (without `export`: for langhost serve, "
            "docker --env-file)."
        )
    if args.host in WILDCARDS:
        lines.append(
            "From a container or another machine, use this machine's address instead of "
            "127.0.0.1 (from docker: host.docker.internal)."
        )
    lines += ["", "Serving until Ctrl-C or SIGTERM; one line per request:"]
    return lines
