"""`ask --thread` when things go wrong: two asks on one thread at once, a killed ask, a run
paused for approval, and a store that cannot be used.

The CLI runs for real against the loopback simulators (`--simulate`), in subprocesses where
processes matter (two at once, SIGKILL, what a process prints on its way out) and through
`cli.main` elsewhere; threads are kept in real SQLite files and a real PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AnyMessage

from llmcompiler_graph.app import cli
from llmcompiler_graph.app.threads import (
    history,
    hold_thread,
    open_threads,
    store,
    thread_config,
)

pytestmark = pytest.mark.slow  # runs the CLI on the simulators with their latency model

CLI = [sys.executable, "-m", "llmcompiler_graph.app.cli"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from servers import Postgres

    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the threads are kept: a SQLite file, or a new database of a real PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "threads.sqlite")
    return request.getfixturevalue("postgres").create_database(f"t{os.urandom(4).hex()}")


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "LLMCOMPILER_DB"}


def ask(*args: str) -> subprocess.Popen[str]:
    """`llmcompiler-graph ask --simulate ...` in a process of its own."""
    return subprocess.Popen(
        [*CLI, "ask", "--simulate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def conversation(db: str, name: str) -> list[tuple[str, str]]:
    """Thread `name`'s questions and answers, in order (its tool calls and results left out)."""

    async def read() -> list[AnyMessage]:
        async with open_threads(store(db), read_only=True) as saver:
            return await history(saver, name)

    return [
        (m.type, m.text)
        for m in asyncio.run(read())
        if m.type == "human" or (m.type == "ai" and m.text and not m.tool_calls)
    ]


def assert_answered(got: list[tuple[str, str]], *questions: str) -> None:
    """`got` (a `conversation`) is `questions` in this order, each followed by its answer (the
    simulator's answer starts with the question, or its first part)."""
    assert got[0::2] == [("human", q) for q in questions], got
    assert [(kind, text.split(":")[0]) for kind, text in got[1::2]] == [
        ("ai", q.split(" and ")[0]) for q in questions
    ], got


def test_two_asks_on_one_thread_at_once_take_turns(db: str) -> None:
    """Started together, the second ask waits for the first (saying so, with its pid) and
    both turns land, in order, each answered: three times over on one thread."""
    landed: list[str] = []
    for round in range(3):
        questions = [f"population of town{round}a", f"population of town{round}b"]
        runs = [ask("--json", "--thread", "work", "--db", db, q) for q in questions]
        outcomes = [run.communicate(timeout=120) for run in runs]
        for run, (_, err) in zip(runs, outcomes, strict=True):
            assert run.returncode == 0, err
            assert "Traceback" not in err
        waited = [i for i, (_, err) in enumerate(outcomes) if "is busy with another ask" in err]
        assert len(waited) == 1, [err for _, err in outcomes]  # they did overlap
        second = waited[0]
        first = 1 - second
        err = " ".join(outcomes[second][1].split())
        assert "thread 'work' is busy with another ask (" in err and "waiting for it" in err
        assert f"pid {runs[first].pid}" in err
        for (out, _), question in zip(outcomes, questions, strict=True):
            assert json.loads(out)["answer"].startswith(f"{question}:")
        landed += [questions[first], questions[second]]

    assert_answered(conversation(db, "work"), *landed)


def test_a_killed_ask_is_finished_by_resume_and_never_passed_over(tmp_path: Path, capsys) -> None:
    """SIGKILL while the searches run: the thread keeps the turn unfinished and holds no lock;
    a new question is refused with the command that finishes the turn; `--resume` answers the
    killed question; then the new question goes through."""
    db = str(tmp_path / "threads.sqlite")
    killed = "population of lyon and population of porto"
    run = ask("--thread", "trip", "--db", db, killed)
    assert run.stdout is not None
    for line in run.stdout:  # the plain view, line by line
        if "search     running" in line:
            break
    else:
        pytest.fail(f"no search ever ran: {run.communicate()}")
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)

    trip = ["ask", "--simulate", "--thread", "trip", "--db", db]
    assert conversation(db, "trip") == [("human", killed)]
    assert cli.main([*trip, "population of rome"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"thread 'trip' has an unfinished turn: the run for '{killed}' stopped before" in err
    assert f"llmcompiler-graph ask --thread trip --resume --simulate --db {db}" in err
    assert "--abandon" in err and "Traceback" not in err
    assert conversation(db, "trip") == [("human", killed)], "the refused question is not kept"

    assert cli.main([*trip, "--json", "--resume"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["question"] == killed and result["resumed"] is True
    assert result["answer"].startswith("population of lyon:") and "porto" in result["answer"]
    assert "busy" not in err and "Question (resumed)" in err  # the kill left no lock

    assert cli.main([*trip, "population of rome"]) == 0
    assert_answered(conversation(db, "trip"), killed, "population of rome")

    assert cli.main([*trip, "--resume"]) == 2
    assert "nothing to resume: thread 'trip' has no unfinished turn" in capsys.readouterr().err
    assert cli.main(["ask", "--simulate", "--thread", "nope", "--db", db, "--resume"]) == 2
    assert f"there is no thread 'nope' in {db}: nothing to resume" in " ".join(
        capsys.readouterr().err.split()
    )


def test_a_failed_run_says_how_to_finish_its_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A run that fails midway (the planner times out) leaves its turn unfinished and says,
    after the error, which command finishes it; that command does."""
    db = str(tmp_path / "threads.sqlite")
    monkeypatch.setenv("LLMCOMPILER_LLM_TIMEOUT", "0.01")
    monkeypatch.setenv("LLMCOMPILER_LLM_RETRIES", "0")
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "population of oslo"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("Error: LLMCallError: planner call")
    assert lines[-1] == (
        "The turn stays unfinished in thread 't'; to finish it: "
        f"llmcompiler-graph ask --thread t --resume --simulate --db {db}"
    )

    monkeypatch.delenv("LLMCOMPILER_LLM_TIMEOUT")
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "--resume"]) == 0
    assert_answered(conversation(db, "t"), "population of oslo")


def test_a_turn_killed_before_its_first_step_is_resumed_with_its_own_question(
    tmp_path: Path, capsys
) -> None:
    """Killed right after its input was saved, a turn's question is not in the messages yet:
    the refusal and the resume still name and answer that question, not the one before."""
    db = str(tmp_path / "threads.sqlite")
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "population of oslo"]) == 0

    async def save_input_only() -> None:  # the checkpoint such a kill leaves
        from llmcompiler_graph.graph import graph

        async with open_threads(Path(db)) as saver:
            kept = graph.copy({"checkpointer": saver})
            update = {"messages": [("user", "population of bern")]}
            await kept.aupdate_state(thread_config("t"), update, as_node="__input__")

    asyncio.run(save_input_only())
    capsys.readouterr()
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "population of rome"]) == 2
    assert "the run for 'population of bern' stopped" in capsys.readouterr().err
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "--resume"]) == 0
    assert_answered(conversation(db, "t"), "population of oslo", "population of bern")


def test_a_run_paused_for_approval_is_said_and_never_resumed_blindly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """With plan approval on, the run stops before any search: `ask` says what it waits for
    (exit 1, not an answer); `--resume` and a new question refuse to pass the request by;
    `--abandon` gives the turn up, says so, and asks the new question."""
    db = str(tmp_path / "threads.sqlite")
    paused = "population of lyon and population of porto"
    monkeypatch.setenv("LLMCOMPILER_APPROVE_PLAN", "true")
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, paused]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "The run paused before its answer: thread 't' waits for approval of 2 tasks: " in err
    assert "search(query='population of lyon'); search(query='population of porto')" in err
    monkeypatch.delenv("LLMCOMPILER_APPROVE_PLAN")

    for argv in (["--resume"], ["population of rome"]):
        assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, *argv]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"thread 't' is paused: its run for '{paused}' waits for approval of 2" in err
        assert "Command(resume=...)" in err and "--abandon" in err
    assert conversation(db, "t") == [("human", paused)]

    rome = "population of rome"
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", db, "--abandon", rome]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"Gave up the unfinished turn of thread 't' ('{paused}')" in err
    got = conversation(db, "t")
    assert got[0] == ("human", paused)
    assert_answered(got[1:], rome)


def test_a_busy_thread_is_waited_for_at_most_wait_seconds(db: str, capsys) -> None:
    """While another process holds the thread, `--wait 0` refuses at once and `--wait 0.5`
    gives up after saying it waits; both name the holder; neither touches the thread."""
    holder = f"pid {os.getpid()}"
    seen: list[str] = []

    async def hold_then(argv: list[str]) -> int:
        async with hold_thread(store(db), "t", wait=0, on_wait=seen.append):
            return await asyncio.to_thread(cli.main, argv)

    base = ["ask", "--simulate", "--thread", "t", "--db", db]
    assert asyncio.run(hold_then([*base, "--wait", "0", "population of rome"])) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("Error: thread 't' is busy with another ask (") and holder in err
    assert "waiting" not in err and "--wait SECONDS" in err

    assert asyncio.run(hold_then([*base, "--wait", "0.5", "population of rome"])) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "thread 't' is busy with another ask (" in err and "waiting for it to finish" in err
    assert "is still busy with another ask (" in err and "after 0.5 s" in err
    assert seen == []  # the holder itself never waited
    assert cli.main(["threads", "--db", db]) == 0
    assert "No threads" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--resume"], "--resume is about a conversation's thread: add --thread NAME"),
        (["--wait", "3", "q"], "--wait is about a conversation's thread"),
        (["--abandon", "q"], "--abandon is about a conversation's thread"),
        (["--thread", "t", "--resume", "q"], "--resume takes no question"),
        (["--thread", "t", "--resume", "--abandon"], "choose one"),
        (["--thread", "t", "--wait", "-1", "q"], "--wait takes seconds >= 0, got -1"),
        (["--thread", "t"], "the question is empty"),
    ],
)
def test_thread_flags_that_mean_nothing_are_refused(
    argv: list[str], said: str, tmp_path: Path, capsys
) -> None:
    db = tmp_path / "threads.sqlite"
    assert cli.main(["ask", "--simulate", "--db", str(db), *argv]) == 2
    assert said in " ".join(capsys.readouterr().err.split())
    assert not db.exists()


def unix_socket(path: Path) -> Path:
    """A socket file: SQLite cannot open it, so aiosqlite's connect itself fails."""
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
    return path


def test_store_errors_name_the_store_and_the_option(tmp_path: Path) -> None:
    """Each store that cannot be used: exit 2, one line naming it (a URL without its password)
    and where it came from (--db, LLMCOMPILER_DB), no traceback; and never aiosqlite's stray
    'Event loop is closed' from a failed connect (it used to follow half the time)."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "text.sqlite").write_text("not a database, just text\n")
    (tmp_path / "plain-file").write_text("")
    sock = unix_socket(tmp_path / "socket.sqlite")
    url = "postgresql://me:secret@127.0.0.1:1/threads"
    cases = [
        (tmp_path / "folder", "it is a directory, not a SQLite file"),
        (tmp_path / "text.sqlite", "file is not a database"),
        (tmp_path / "plain-file" / "sub" / "t.sqlite", "Not a directory"),
        *[(sock, "it is not a regular file")] * 5,
        (url, "Connection refused"),
    ]
    runs = [  # one thread each: on one thread, they would take turns
        ask("--thread", f"t{i}", "--db", str(where), "population of rome")
        for i, (where, _) in enumerate(cases)
    ]
    env = {**environment(), "LLMCOMPILER_DB": str(tmp_path / "folder")}
    from_env = subprocess.Popen(
        [*CLI, "threads", "t"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    for run, (where, why) in zip(runs, cases, strict=True):
        _, err = run.communicate(timeout=120)
        shown = str(where).replace(":secret@", ":***@")
        assert run.returncode == 2, err
        assert err.startswith(f"Error: the threads store {shown} cannot be used: "), err
        assert why in err and "(given by --db; choose another with --db PATH|URL or " in err
        assert "LLMCOMPILER_DB" in err and "secret" not in err
        assert "Traceback" not in err and "Event loop is closed" not in err, err
        assert len(err.strip().splitlines()) == 1
    _, err = from_env.communicate(timeout=120)
    assert from_env.returncode == 2
    assert f"{tmp_path / 'folder'} is a directory, not a threads store" in err
    assert not (tmp_path / "folder.locks").exists(), "no lock beside a store that is not one"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_read_only_folder_is_named(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    db = folder / "threads.sqlite"
    assert cli.main(["ask", "--simulate", "--thread", "t", "--db", str(db), "q"]) == 2
    err = capsys.readouterr().err
    assert f"Error: the threads store {db} cannot be used: Permission denied" in err
