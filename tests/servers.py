"""Servers the tests start: real PostgreSQL, Redis and the LangGraph API server on Postgres
(`langhost serve`), and what every server test needs (a free port, an environment that keeps the
server on loopback, the config without its `.env`, stopping a process group).

Everything listens on 127.0.0.1 only, lives in temporary directories, and is stopped by whoever
started it (the PID held is the server's own: no shell in between; each in its own process group).

- `Postgres`: Debian's `postgresql` binaries (`initdb`, `postgres`), one throwaway cluster; as root,
  it runs as the `postgres` user (PostgreSQL refuses root). `create_database` gives each
  deployment, and each test, a database of its own: all servers on one database share one run queue.
- `Redis`: Debian's `redis-server`, no persistence; each deployment gets its own db index.
- `server_venv()`: a separate virtualenv with `deploy/requirements-server.txt` (langhost and
  langgraph-runtime-pg, which pin an older `langgraph-api` than `langgraph dev` uses) and this
  package; built once, rebuilt when the requirements or pyproject.toml change.
- `ApiServer`: `langhost serve -c langgraph.json --workers N` (N uvicorn worker processes, each
  taking `--n-jobs-per-worker` runs at a time from the shared queue), after the database was
  prepared once (`deploy/migrate.py`: the runtime's migration, then the checkpointer's and the
  store's tables; several workers doing it at once on a fresh database race, and the server
  exits).

Without the binaries (or without a package index to build the server's environment) the tests
are skipped saying what to install; under CI (`CI` set) they fail instead, since `.ci/run`
installs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
DEPLOY_CONFIG = REPO / "deploy" / "langgraph.json"
"""The server's config: the graph with the runtime's mends, `/ready`, the auth handler."""
REQUIREMENTS = REPO / "deploy" / "requirements-server.txt"
SERVER_VENV = Path(os.environ.get("LLMCOMPILER_SERVER_VENV") or REPO / ".venv-server")
"""The server's virtualenv (gitignored); `.ci/run` puts it in its temporary directory."""

STARTUP_TIMEOUT = 120.0
INSTALL_HINT = "apt-get install postgresql redis-server"

INITDB = ("--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
POSTGRES = (
    *("-c", "listen_addresses=127.0.0.1", "-c", "max_connections=500"),
    *("-c", "shared_buffers=128MB", "-c", "fsync=off", "-c", "synchronous_commit=off"),
    *("-c", "full_page_writes=off"),
)
"""Loopback only; room for several workers' pools; a test cluster (not crash-safe on power loss)."""
REDIS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--databases", "64")
REDIS += ("--daemonize", "no", "--maxclients", "2000")

SCRUBBED = ("LANGSMITH_", "LANGCHAIN_", "LANGGRAPH_", "OPENAI_", "TAVILY_", "LLMCOMPILER_")
"""Environment prefixes the server does not inherit: no real keys, endpoints or settings."""
_SERVER_ONLY = ("DATABASE_URI", "REDIS_URI", "N_JOBS_PER_WORKER", "BG_JOB_", "LG_", "PG_POOL")


def unavailable(reason: str) -> NoReturn:
    """Skip (a developer's machine without the binaries), or fail under CI, which has them."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: see .ci/run)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate: Any, timeout: float, what: str, alive: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {alive.returncode}")
        with contextlib.suppress(OSError, httpx.HTTPError):
            if predicate():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready within {timeout:g} s")


def start_logged(command: list[Any], log: Path, **popen: Any) -> subprocess.Popen[bytes]:
    """`command` in a process group of its own (so `stop_process` stops all it starts), no
    stdin, its output into `log`; `popen`: more `Popen` arguments (cwd, env, user...)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )


def stop_process(process: subprocess.Popen[bytes], first: int = signal.SIGTERM) -> None:
    """Signal the process group we started (`first`, then SIGKILL if it lingers); reap it."""
    for sig, grace in ((first, 20.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
            return


# -- PostgreSQL ------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest Debian `postgresql-NN` server binaries, else `initdb` on PATH."""

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.parent.name))

    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=version)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth; fsync off: a test cluster)."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None or not (bindir / "initdb").exists():
            unavailable(f"PostgreSQL server binaries not found ({INSTALL_HINT})")
        self.bin = bindir
        self.user: str | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no `postgres` user to run PostgreSQL")
            self.user = "postgres"
        self.root = Path()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def _as_owner(self) -> dict[str, Any]:
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}

    def start(self) -> Postgres:
        # Not under pytest's tmp dirs: those are private to the test's user (mode 0700).
        self.root = Path(tempfile.mkdtemp(prefix="llmcompiler-pg-"))
        data, sockets = self.root / "data", self.root / "sockets"
        sockets.mkdir()
        if self.user:
            owner = pwd.getpwnam(self.user)
            for path in (self.root, sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            [
                self.bin / "initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                *INITDB,
            ],
            check=True,
            capture_output=True,
            **self._as_owner(),
        )
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self._serve()
        return self

    def _serve(self) -> None:
        data, sockets = self.root / "data", self.root / "sockets"
        self.process = start_logged(
            [self.bin / "postgres", "-D", data, "-p", str(self.port), "-k", sockets, *POSTGRES],
            self.log,
            **self._as_owner(),
        )
        try:
            _wait(self._ready, 60, "postgres", self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}\n{self.log.read_text(errors='replace')}") from None

    def outage(self, seconds: float, during: Callable[[], Any] = lambda: None) -> None:
        """Stop PostgreSQL (fast shutdown: its clients' connections are cut), call `during`,
        wait out `seconds` in all, start it again on its port and data."""
        assert self.process is not None
        stop_process(self.process, signal.SIGINT)
        _down_for(seconds, during)
        self._serve()

    def _ready(self) -> bool:
        check = [self.bin / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(check, check=False).returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [self.bin / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database]
        done = subprocess.run(
            [*command, "-c", sql], check=True, capture_output=True, text=True, timeout=60
        )
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """A new, empty database; its URI."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def uri(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGINT)  # SIGINT: postgres's fast shutdown
            self.process = None
        if self.root != Path():
            shutil.rmtree(self.root, ignore_errors=True)


# -- Redis -----------------------------------------------------------------------------------


class Redis:
    """A redis-server on 127.0.0.1 without persistence; `uri(db)` per deployment."""

    def __init__(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            unavailable(f"redis-server not found ({INSTALL_HINT})")
        self.executable = executable
        self.root = Path()
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._next_db = 0

    def start(self) -> Redis:
        self.root = Path(tempfile.mkdtemp(prefix="llmcompiler-redis-"))
        self.port = self.port or free_port()  # a restart keeps the port its clients know
        self.log = self.root / "redis.log"
        self.process = start_logged(
            [self.executable, "--port", str(self.port), "--dir", str(self.root), *REDIS], self.log
        )
        try:
            _wait(self._ready, 30, "redis-server", self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}\n{self.log.read_text(errors='replace')}") from None
        return self

    def _ready(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def new_db(self) -> str:
        """The URI of a db index nobody else uses."""
        self._next_db += 1
        return f"redis://127.0.0.1:{self.port}/{self._next_db}"

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self.root != Path():
            shutil.rmtree(self.root, ignore_errors=True)

    def outage(self, seconds: float, during: Callable[[], Any] = lambda: None) -> None:
        """Stop Redis (its data is lost: no persistence), call `during`, wait out `seconds` in
        all, start it again on its port."""
        self.stop()
        _down_for(seconds, during)
        self.start()


def _down_for(seconds: float, during: Callable[[], Any]) -> None:
    began = time.monotonic()
    during()
    time.sleep(max(0.0, seconds - (time.monotonic() - began)))


# -- the server's virtualenv -----------------------------------------------------------------


def server_venv() -> Path:
    """`SERVER_VENV` with the pinned server and this package (editable); built when missing or
    when deploy/requirements-server.txt or pyproject.toml changed since."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + (REPO / "pyproject.toml").read_bytes())
    stamp, wanted = SERVER_VENV / ".installed", digest.hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return SERVER_VENV
    python = SERVER_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", SERVER_VENV], check=True, timeout=300)
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(
            [*pip, "-r", REQUIREMENTS, "-e", f"{REPO}[postgres]"],
            check=True,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        subprocess.run([python, "-m", "pip", "check"], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        unavailable(
            f"could not build the server's virtualenv {SERVER_VENV} "
            f"(pip install -r {REQUIREMENTS.relative_to(REPO)}): "
            f"{(error.stderr or error.stdout or '')[-2000:]}"
        )
    stamp.write_text(wanted)
    return SERVER_VENV


# -- the LangGraph API server ----------------------------------------------------------------


def config_file(scratch: Path, config: Path = REPO / "langgraph.json") -> Path:
    """`config` itself; on a checkout with a `.env` (real keys, perhaps real endpoints), a copy
    without its `env` entry, so the server stays on loopback."""
    if not (REPO / ".env").exists():
        return config
    data = json.loads(config.read_text())
    data.pop("env", None)
    copy = scratch / config.name
    copy.write_text(json.dumps(data))
    return copy


def server_env(**extra: str) -> dict[str, str]:
    """This environment less real keys, endpoints and server settings; no telemetry, no version
    check against the package index; plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(SCRUBBED) and not k.startswith(_SERVER_ONLY)
    }
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


_REPORTED = re.compile(r"API: (?:\x1b\[\d+m)?https?://[^:/\s]+:(\d+)")


@dataclass
class ApiServer:
    """`langhost serve` on a database and a Redis db of its own, with `workers` processes."""

    venv: Path
    scratch: Path
    database_uri: str
    redis_uri: str
    env: dict[str, str]
    workers: int = 1
    jobs_per_worker: int = 1
    config: Path = REPO / "langgraph.json"
    """The `langgraph.json` served (its graphs and auth named by module, as the server runs in
    the repository with this package installed)."""
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    startup_seconds: list[float] = field(default_factory=list)

    @property
    def log(self) -> Path:
        return self.scratch / f"server-{self.starts}.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def migrate(self) -> None:
        """The schema migration and the checkpointer's and store's tables, once, before any
        worker starts (`deploy/migrate.py`): workers starting together on a fresh database
        race on them and the server exits."""
        done = subprocess.run(
            [self.venv / "bin" / "python", REPO / "deploy" / "migrate.py"],
            env={**self.env, "DATABASE_URI": self.database_uri},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> ApiServer:
        assert self.process is None, "already running"
        self.starts += 1
        port = free_port()
        command = [
            str(self.venv / "bin" / "langhost"),
            "serve",
            "-c",
            str(config_file(self.scratch, self.config)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--n-jobs-per-worker",
            str(self.jobs_per_worker),
        ]
        env = {
            **self.env,
            "DATABASE_URI": self.database_uri,
            "REDIS_URI": self.redis_uri,
            "LG_RUNTIME_PG_AUTO_MIGRATE": "false",  # migrated once, by `migrate`
        }
        began = time.monotonic()
        self.process = start_logged(command, self.log, cwd=REPO, env=env)
        try:
            reported = self._reported_port()
            if reported != port:  # a busy port is silently replaced: use the one it says
                port = reported
            self.url = f"http://127.0.0.1:{port}"
            _wait(self._ready, STARTUP_TIMEOUT, "langhost serve", self.process)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}\n{self.output()}") from None
        self.startup_seconds.append(time.monotonic() - began)
        return self

    def _reported_port(self) -> int:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        assert self.process is not None
        while time.monotonic() < deadline:
            found = _REPORTED.search(self.output())
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(f"langhost serve exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("langhost serve did not report its address")

    def _ready(self) -> bool:
        if len(self.worker_pids()) < (self.workers if self.workers > 1 else 0):
            return False
        return httpx.get(f"{self.url}/ok", timeout=2.0).status_code == 200

    def worker_pids(self) -> list[int]:
        """The worker processes (uvicorn's spawned children; none with one worker, which
        serves in the main process)."""
        if self.process is None:
            return []
        return [
            pid
            for pid in _children(self.process.pid)
            if b"spawn_main" in _read(f"/proc/{pid}/cmdline")
        ]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _children(parent: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _read(str(stat)).rsplit(b")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            pids.append(int(stat.parent.name))
    return sorted(pids)


def connected_to(port: int, pids: list[int]) -> set[int]:
    """Which of `pids` hold an established TCP connection to 127.0.0.1:`port`."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).decode().splitlines()[1:]:
            cols = line.split()
            remote, state, inode = cols[2], cols[3], cols[9]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    owners = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(OSError):
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        owners.add(pid)
                        break
    return owners


@contextlib.contextmanager
def services() -> Iterator[tuple[Postgres, Redis]]:
    """PostgreSQL and Redis, started, and stopped afterwards."""
    postgres = Postgres()
    redis = Redis()
    try:
        postgres.start()
        redis.start()
        yield postgres, redis
    finally:
        redis.stop()
        postgres.stop()
