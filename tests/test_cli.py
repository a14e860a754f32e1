"""The `llmcompiler-graph` command and the live task view.

`ask --simulate` and `demo` run the real ChatOpenAI and tavily-python clients against the loopback
simulators, in-process through `cli.main`; one test runs the installed script to prove the entry
point. The live view is checked on a synthetic event sequence, rendered by a recording console.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import llmcompiler_graph.bench
from llmcompiler_graph.app import cli, demo
from llmcompiler_graph.app.view import LiveView, RunBoard, head_start, readable
from llmcompiler_graph.core.events import SAMPLE_CHARS, preview
from llmcompiler_graph.core.values import sample
from llmcompiler_graph.testing.scenarios import SHOWCASE

pytestmark = pytest.mark.slow  # runs the CLI on the simulators with their latency model

KEYS = ("OPENAI_API_KEY", "TAVILY_API_KEY", "OPENAI_BASE_URL", "LLMCOMPILER_MODEL")
MARKET_CAPS = SHOWCASE[1]  # two parallel searches feeding math


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No API keys in the environment, and no .env file to find them in."""
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)


def test_ask_without_keys_names_them_and_exits_2(no_keys: None, capsys) -> None:
    assert cli.main(["ask", "What is the capital of France?"]) == 2

    out, err = capsys.readouterr()
    assert "OPENAI_API_KEY" in err and "TAVILY_API_KEY" in err
    assert "export OPENAI_API_KEY=" in err and ".env" in err
    assert "llmcompiler-graph demo" in err and "ask --simulate" in err
    assert "Traceback" not in out + err


def test_installed_script_runs(no_keys: None) -> None:
    script = shutil.which("llmcompiler-graph", path=str(Path(sys.executable).parent))
    assert script is not None, "reinstall the package: pip install -e ."

    done = subprocess.run(
        [script, "ask", "What is the capital of France?"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "TAVILY_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_simulate_shows_tasks_answer_and_cost(capsys) -> None:
    assert cli.main(["ask", "--simulate", MARKET_CAPS.question]) == 0

    out, err = capsys.readouterr()
    assert "SIMULATED" in out
    assert MARKET_CAPS.answer in " ".join(out.split())  # the console wraps long lines
    for line in ("#1   search     done", "#2   search     done", "#3   math       done"):
        assert line in out
    assert "3 tasks in 1 round: 3 done" in out
    assert " s · 3 LLM calls · " in out  # planner, math, joiner
    assert "\x1b[" not in out  # plain lines when not on a terminal
    assert err == "" and "no script" not in out  # a scripted question: nothing to suggest


def test_ask_simulate_json(capsys) -> None:
    assert cli.main(["ask", "--simulate", "--json", MARKET_CAPS.question]) == 0

    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["answer"] == MARKET_CAPS.answer
    assert result["simulated"] is True
    assert result["latency"] > 0
    assert result["llm_calls"] == 3
    assert result["tokens"]["total"] == result["tokens"]["input"] + result["tokens"]["output"] > 0
    assert [(t["idx"], t["tool"], t["status"]) for t in result["tasks"]] == [
        (1, "search", "ok"),  # the events' word (`task_finished.status`), not the view's "done"
        (2, "search", "ok"),
        (3, "math", "ok"),
    ]
    math = result["tasks"][2]
    assert math["dependencies"] == [1, 2]
    assert math["start"] >= max(t["start"] + t["duration"] for t in result["tasks"][:2]) - 0.01
    assert "SIMULATED" in err and "#1" in err  # the view goes to stderr


def test_ask_simulate_honours_every_setting(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the environment reach the simulated run, not only the flags' ones: a task
    timeout shorter than any simulated search fails every search."""
    monkeypatch.setenv("LLMCOMPILER_TASK_TIMEOUT", "0.01")
    monkeypatch.setenv("LLMCOMPILER_MAX_REPLANS", "0")
    monkeypatch.setenv("LLMCOMPILER_TOOL_MESSAGES", "false")
    assert cli.main(["ask", "--simulate", "--json", MARKET_CAPS.question]) == 0

    result = json.loads(capsys.readouterr().out)
    searches = [t for t in result["tasks"] if t["tool"] == "search"]
    assert searches and all(t["status"] == "error" for t in searches), searches


def test_ask_simulate_answers_any_question_with_a_labelled_simulated_plan(capsys) -> None:
    """A question the scripts do not know: one search per part, in parallel, and an answer
    quoting the simulated results, labelled as simulated (lower case, no question mark too)."""
    question = "population of lyon and population of porto"
    assert cli.main(["ask", "--simulate", "--json", question]) == 0

    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["simulated"] is True and "SIMULATED" in err
    assert [(t["tool"], t["args"]) for t in result["tasks"]] == [
        ("search", {"query": "population of lyon"}),
        ("search", {"query": "population of porto"}),
    ]
    assert result["answer"].startswith("population of lyon: the most cited figure is")
    assert "population of porto" in result["answer"] and "Simulated" in result["answer"]
    note = err[err.index("Simulated: ") :]  # after the answer: the scripted questions to try
    assert "no script" in note and "showcase" in note
    for scenario in SHOWCASE:
        assert f'llmcompiler-graph ask --simulate "{scenario.question}"' in note
    assert "dependent tasks and a replan" in note


@pytest.mark.parametrize("simulate", [["--simulate"], []])
def test_ask_refuses_an_empty_question(no_keys: None, simulate: list[str], capsys) -> None:
    """A usage message, not the graph's Python example; before the keys are looked for."""
    assert cli.main(["ask", *simulate, "  "]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("Error: the question is empty:")
    assert f'llmcompiler-graph ask{" --simulate" if simulate else ""} "' in err
    assert "messages" not in err and "Traceback" not in err


@pytest.mark.parametrize("simulate", [["--simulate"], []])
def test_ask_refuses_a_bad_setting_as_a_usage_error(
    no_keys: None, simulate: list[str], capsys
) -> None:
    """`Context` refuses the value; the CLI says so with the flag, exit 2, before keys."""
    assert cli.main(["ask", *simulate, "--max-replans", "-1", "Which is older?"]) == 2

    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("Error: --max-replans must be an integer >= 0, got -1.")
    assert "LLMCOMPILER_MAX_REPLANS" not in err and "Traceback" not in err


def test_ask_refuses_a_bad_env_setting_naming_the_variable(
    no_keys: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("LLMCOMPILER_MAX_TASKS", "0")
    assert cli.main(["ask", "--simulate", "Which is older?"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Error: max_tasks must be an integer >= 1, got 0 (env LLMCOMPILER_MAX_TASKS)" in err

    monkeypatch.setenv("LLMCOMPILER_MAX_TASKS", "lots")
    assert cli.main(["ask", "--simulate", "Which is older?"]) == 2
    assert "LLMCOMPILER_MAX_TASKS='lots' is not an integer" in capsys.readouterr().err


def test_ask_with_another_provider_names_its_package_then_its_key(
    no_keys: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A provider package that is not installed is a usage error with the pip command, said
    before the keys (a key would not make the model load); once it is installed, a provider
    without a KEY_HELP entry still gets the missing-key message."""
    if importlib.util.find_spec("langchain_xai") is not None:
        pytest.skip("langchain-xai is installed")
    assert cli.main(["ask", "--model", "xai:grok-2", "Which is older?"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Error: the model 'xai:grok-2' (provider 'xai') needs" in err
    assert "pip install" in err and "langchain-xai" in err and "XAI_API_KEY" not in err

    langchain = types.ModuleType("langchain")
    langchain.chat_models = types.ModuleType("langchain.chat_models")  # type: ignore[attr-defined]
    langchain.chat_models.init_chat_model = print  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain", langchain)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", langchain.chat_models)
    monkeypatch.setitem(sys.modules, "langchain_xai", types.ModuleType("langchain_xai"))
    assert cli.main(["ask", "--model", "xai:grok-2", "Which is older?"]) == 2
    assert "export XAI_API_KEY=" in capsys.readouterr().err


def test_demo_compares_with_react(capsys) -> None:
    assert cli.main(["demo", "--fast", "--question", "2"]) == 0

    out = capsys.readouterr().out
    assert out.count("SIMULATED") >= 2  # at the top and under the results
    assert "Question 2/3" in out and MARKET_CAPS.question in out
    assert out.index(demo.WATCH[:40]) < out.index("Question 2/3")  # said before it starts
    assert "The first task started " in out and " the plan was finished (task at +" in out
    assert '{"title"' not in out and "Microsoft (MSFT) - Market capitalization: " in out
    assert "LLMCompiler          0." in out
    assert "ReAct (sequential)   0." in out
    assert "Speedup " in out and "x" in out.split("Speedup", 1)[1].splitlines()[0]


def test_bench_forwards_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(llmcompiler_graph.bench, "main", seen.append, raising=False)

    assert cli.main(["bench", "scheduler", "--help", "-n", "3"]) == 0
    assert seen == [["scheduler", "--help", "-n", "3"]]


# the live view


def event(kind: str, round: int, at: float, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "graph": "llmcompiler", "round": round, "time": 1000.0 + at, **fields}


def task(idx: int, tool: str, args: dict[str, Any], deps: list[int]) -> dict[str, Any]:
    return {"idx": idx, "tool": tool, "args": args, "dependencies": deps}


def planned(round: int, at: float, t: dict[str, Any], error: str | None = None) -> dict:
    return event("task_planned", round, at, **t, thought=None, error=error)


def started(round: int, at: float, t: dict[str, Any]) -> dict:
    return event("task_started", round, at, **t, dispatched_at=1000 + at, started_at=1000 + at)


def finished(
    round: int, at: float, t: dict[str, Any], status: str, ran_for: float | None = None, **out: Any
) -> dict:
    began = None if ran_for is None else 1000 + at - ran_for
    return event(
        "task_finished",
        round,
        at,
        **t,
        status=status,
        preview=out.get("preview"),
        value=out.get("value", out.get("preview")),
        error=out.get("error"),
        dispatched_at=began,
        started_at=began,
        finished_at=1000 + at,
        duration=ran_for,
    )


SEARCH = task(1, "search", {"query": "Eiffel Tower height"}, [])
MATH = task(2, "math", {"problem": "metres to feet", "context": ["$1"]}, [1])
BAD = task(3, "telepathy", {}, [])
RETRY = task(4, "search", {"query": "Eiffel Tower height in metres"}, [])
DUPLICATE = task(4, "calculate", {"expression": "1 + 1"}, [])
CONVERT = task(5, "calculate", {"expression": "$4 * 3.28084"}, [4])

EVENTS = [
    event("plan_started", 1, 0.0),
    planned(1, 0.3, SEARCH),
    started(1, 0.3, SEARCH),
    planned(1, 0.4, MATH),
    planned(1, 0.5, BAD, error="unknown tool 'telepathy'"),
    finished(1, 0.5, BAD, "error", error="unknown tool 'telepathy'"),
    event("plan_finished", 1, 0.6, tasks=3, joined=True),
    finished(1, 1.3, SEARCH, "error", ran_for=1.0, error="TimeoutError: search timed out"),
    finished(1, 1.3, MATH, "skipped", error="skipped: task 1 failed"),
    event("joiner_decision", 1, 2.0, decision="replan", thought="t", answer=None, feedback="Retry"),
    event("plan_started", 2, 2.0),
    planned(2, 2.3, RETRY),
    started(2, 2.3, RETRY),
    planned(2, 2.4, DUPLICATE, error="duplicate id 4"),
    finished(2, 2.4, DUPLICATE, "error", error="duplicate id 4"),
    planned(2, 2.5, CONVERT),
    event("plan_finished", 2, 2.6, tasks=3, joined=False),
    finished(2, 3.0, RETRY, "ok", ran_for=0.7, preview="The tower is 330 metres tall."),
    started(2, 3.0, CONVERT),
    finished(2, 3.1, CONVERT, "ok", ran_for=0.1, preview="1082.6772"),
    event(
        "joiner_decision", 2, 4.0, decision="finish", thought="t", answer="1,083 ft", feedback=None
    ),
]

FINAL_STATES = [
    (1, "search", "error"),
    (2, "math", "skipped"),
    (3, "telepathy", "error"),
    (4, "search", "done"),
    (4, "calculate", "error"),
    (5, "calculate", "done"),
]


def test_live_view_folds_events_into_final_states_and_renders_them() -> None:
    console = Console(record=True, width=160, file=io.StringIO())

    with LiveView(console) as view:
        for e in EVENTS:
            view.handle(e)
    console.print(view)  # the table, as a terminal's Live would draw it
    text = console.export_text()

    assert [(r.idx, r.tool, r.state) for r in view.board.tasks] == FINAL_STATES
    rows = [line.split() for line in text.splitlines()]
    for idx, tool, state in FINAL_STATES:  # table rows: idx, round, tool, args..., state, ...
        assert any(r[:1] == [str(idx)] and tool in r and state in r for r in rows), (idx, tool)
    assert "+2.30s" in text and "0.70s" in text and "1082.6772" in text  # start, duration, preview
    assert "TimeoutError: search timed out" in text and "duplicate id 4" in text
    assert "joiner: replan: Retry" in text and "implicit join" in text
    assert "6 tasks in 2 rounds: 2 done, 3 error, 1 skipped; answered at +4.00s" in text
    assert "\x1b[" not in console.file.getvalue()  # not a terminal: plain lines, no escape codes


def test_live_view_on_a_terminal_draws_in_place() -> None:
    console = Console(record=True, width=160, file=io.StringIO(), force_terminal=True)

    with LiveView(console) as view:
        assert view.interactive
        for e in EVENTS:
            view.handle(e)

    final = console.export_text()
    assert "round 2" in final and "plan 2: 3 tasks, implicit join" in final
    assert "6 tasks in 2 rounds" in final
    assert "#4   search" not in final  # no plain lines on a terminal


def test_a_finished_tasks_line_says_when_it_finished_and_how_long_it_ran() -> None:
    """Each plain line's time is when its event happened: the start on a task's 'running' line,
    the end and the duration on its last one (the start again there read as its end)."""
    console = Console(record=True, width=160, file=io.StringIO())
    with LiveView(console) as view:
        for e in EVENTS:
            view.handle(e)
    lines = [line.rstrip() for line in console.export_text().splitlines()]

    assert [line for line in lines if line.startswith("  #4   search")] == [
        "  #4   search     planned  query='Eiffel Tower height in metres'",
        "  #4   search     running    +2.30s",
        "  #4   search     done       +3.00s in 0.70s  The tower is 330 metres tall.",
    ]
    rejected = [line for line in lines if line.startswith("  #3   telepathy")][-1]
    assert rejected == "  #3   telepathy  error      +0.50s           unknown tool 'telepathy'"


def test_json_tasks_say_their_status_in_the_events_words() -> None:
    """`ask --json` and the events agree: `ok`, `error`, `skipped`, and before a task's end
    `planned` or `running`."""
    board = RunBoard()
    for e in EVENTS:
        board.handle(e)
    assert [r["status"] for r in board.records()] == [
        "error",
        "skipped",
        "error",
        "ok",
        "error",
        "ok",
    ]
    assert all("state" not in r for r in board.records())
    midway = RunBoard()
    for e in EVENTS[:4]:  # the search started, the math planned
        midway.handle(e)
    assert [r["status"] for r in midway.records()] == ["running", "planned"]


RESULTS = [
    {
        "title": "Eiffel Tower - Wikipedia",
        "url": "https://w.example/et",
        "content": "The Eiffel Tower is 330 metres tall. Built 1889.",
    },
    {"title": "Statue of Liberty", "content": "Dedicated in 1886."},
]


def test_results_read_as_lines_not_json() -> None:
    """Search results: `title: first sentence`, one per line; a value cut to its event's size
    is read as far as it goes; dicts and lists on one line without JSON's quotes; text as is."""
    assert readable(sample(RESULTS, SAMPLE_CHARS)) == [
        "Eiffel Tower - Wikipedia: The Eiffel Tower is 330 metres tall.",
        "Statue of Liberty: Dedicated in 1886.",
    ]
    lines = readable(sample(RESULTS * 30, SAMPLE_CHARS))
    assert lines[0] == "Eiffel Tower - Wikipedia: The Eiffel Tower is 330 metres tall."
    assert lines[-1] == "…" and len(lines) <= 21
    assert all('"' not in line for line in lines)
    assert readable(
        sample({"price": 3.12, "currency": "USD", "history": [1, {"a": None}]}, 800)
    ) == ["price: 3.12, currency: USD, history: [1, {a: null}]"]
    assert readable(sample(list(range(100)), SAMPLE_CHARS))[0].endswith("…")
    assert readable(1082.6772) == ["1082.6772"]
    assert readable("The tower is\n330 metres tall.") == ["The tower is 330 metres tall."]
    assert readable("[not json") == ["[not json"]
    assert readable(None) == [] and readable("") == []


def test_live_view_shows_search_results_readably() -> None:
    console = Console(record=True, width=200, file=io.StringIO())
    search = task(1, "search", {"query": "Eiffel Tower height"}, [])
    with LiveView(console) as view:
        for e in (
            event("plan_started", 1, 0.0),
            planned(1, 0.1, search),
            started(1, 0.1, search),
            finished(
                1,
                0.9,
                search,
                "ok",
                ran_for=0.8,
                preview=preview(RESULTS),
                value=sample(RESULTS, 800),
            ),
        ):
            view.handle(e)
    plain = console.export_text()
    console.print(view)
    table = console.export_text()

    assert '{"title"' not in plain + table
    first, second = (line for line in plain.splitlines() if "Wikipedia" in line or "Dedic" in line)
    assert first.endswith("0.80s  Eiffel Tower - Wikipedia: The Eiffel Tower is 330 metres tall.")
    assert second.strip() == "Statue of Liberty: Dedicated in 1886."
    assert second.index("Statue") == first.index("Eiffel Tower -")  # aligned under the first
    assert "Eiffel Tower - Wikipedia: The Eiffel Tower is 330 metres tall." in table
    assert "Statue of Liberty: Dedicated in 1886." in table


def test_head_start_compares_the_first_task_with_the_end_of_the_plan() -> None:
    assert head_start(EVENTS) == (
        "The first task started 0.30 s before the plan was finished "
        "(task at +0.30s, plan done at +0.60s): it ran while the planner was still writing."
    )
    late = [e for e in EVENTS if e["round"] == 2]
    assert head_start(late, round=2) == (
        "The first task started 0.30 s before the plan was finished "
        "(task at +0.30s, plan done at +0.60s): it ran while the planner was still writing."
    )
    after = [
        event("plan_started", 1, 0.0),
        event("plan_finished", 1, 0.5, tasks=1, joined=True),
        started(1, 0.7, SEARCH),
    ]
    assert head_start(after) == (
        "The first task started 0.20 s after the plan was finished "
        "(task at +0.70s, plan done at +0.50s)."
    )
    assert head_start(EVENTS[:1]) is None


def test_help_loads_neither_the_model_clients_nor_the_graph() -> None:
    """`--help` answers without importing langchain_openai, the graph or the simulators."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llmcompiler_graph.app.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "usage: llmcompiler-graph" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert imported.isdisjoint(
        {"langchain_openai", "llmcompiler_graph.graph", "llmcompiler_graph.testing", "langgraph"}
    )


def test_public_surface_resolves_lazily() -> None:
    import llmcompiler_graph

    assert all(getattr(llmcompiler_graph, name) for name in llmcompiler_graph.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = llmcompiler_graph.nope


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where `ask --thread` keeps threads: a SQLite file, or a real PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "threads.sqlite")
        return
    from servers import Postgres

    postgres = Postgres().start()
    try:
        yield postgres.create_database("threads")
    finally:
        postgres.stop()


def test_a_thread_continues_across_invocations_and_is_listed(db: str, capsys) -> None:
    """Two `ask --thread` runs in one store make one conversation; `threads` lists it and
    `threads NAME` shows it; a second thread stays apart."""
    first, second = SHOWCASE[1].question, SHOWCASE[2].question
    assert cli.main(["ask", "--simulate", "--json", "--thread", "work", "--db", db, first]) == 0
    assert cli.main(["ask", "--simulate", "--json", "--thread", "work", "--db", db, second]) == 0
    assert cli.main(["ask", "--simulate", "--json", "--thread", "other", "--db", db, first]) == 0
    capsys.readouterr()

    assert cli.main(["threads", "--db", db]) == 0
    listed = " ".join(capsys.readouterr().out.split())
    assert "work (2 questions)" in listed and "other (1 question)" in listed
    assert listed.index("other") < listed.index("work"), "most recent first"

    assert cli.main(["threads", "work", "--db", db]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    for text in (first, SHOWCASE[1].answer, second, SHOWCASE[2].answer):
        assert " ".join(text.split()) in shown
    assert shown.index(first) < shown.index(second)
    assert "calls: search(" in shown and "search -> " in shown  # the work, between them

    assert cli.main(["threads", "nope", "--db", db]) == 2


def test_a_postgres_store_without_its_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres.aio", None)
    url = "postgresql://me:secret@127.0.0.1:1/threads"
    assert cli.main(["threads", "--db", url]) != 0
    said = capsys.readouterr().err
    assert 'pip install "llmcompiler-graph[postgres]"' in " ".join(said.split())


def test_a_stores_password_is_never_shown() -> None:
    from llmcompiler_graph.app.threads import shown, store

    assert shown(store("postgresql://me:secret@db:5432/t")) == "postgresql://me:***@db:5432/t"
    assert isinstance(store("/tmp/t.sqlite"), Path)


def test_threads_default_to_the_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmcompiler_graph.app.threads import default_db

    monkeypatch.delenv("LLMCOMPILER_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/data/home")
    assert str(default_db()) == "/data/home/llmcompiler-graph/threads.sqlite"
    monkeypatch.setenv("LLMCOMPILER_DB", "/elsewhere/t.sqlite")
    assert str(default_db()) == "/elsewhere/t.sqlite"


def test_threads_only_reads_a_missing_store_or_a_foreign_file(tmp_path: Path, capsys) -> None:
    """`threads` never creates a store nor adds tables to a SQLite file that is not one."""
    import sqlite3

    missing = tmp_path / "nowhere" / "t.sqlite"
    assert cli.main(["threads", "--db", str(missing)]) == 0
    assert "No threads in" in capsys.readouterr().out
    assert not missing.parent.exists()
    assert cli.main(["threads", "work", "--db", str(missing)]) == 2
    assert not missing.parent.exists()

    foreign = tmp_path / "app.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE users (name TEXT)")
    before = foreign.read_bytes()
    assert cli.main(["threads", "--db", str(foreign)]) == 2
    assert "is not a threads store" in capsys.readouterr().err
    assert foreign.read_bytes() == before
