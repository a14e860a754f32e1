"""The `llmcompiler-graph` command: `ask`, `demo`, and the commands kits register (`bench`).

- `ask "question"` runs the ready-made graph (`llmcompiler_graph.graph:graph`) with a live task
  view, then prints the answer, latency, LLM calls and tokens (`--json` for a machine-readable
  result). `--simulate` runs it offline on the simulators instead. `--dag` / `--timeline` draw
  the run's plan and timeline from its events (`llmcompiler_graph.pictures`). `--thread NAME`
  continues a conversation kept in `--db` (`app.threads`): one ask at a time per thread (another
  waits its turn), and `--thread NAME --resume` finishes a turn whose run stopped before its
  answer (a new question never passes over it silently: `--abandon` gives it up, saying so).
- `threads` lists the kept conversations, `threads NAME` shows one.
- `demo` runs the SHOWCASE questions offline, each next to a sequential ReAct run.
- `dev` runs `langgraph dev` (LangGraph Studio) on the project's `langgraph.json`; `--simulate`
  points it at the loopback simulators, so it runs without keys (`llmcompiler_graph.app.dev`).
- `simulate` serves the loopback simulators on fixed ports and prints the settings that point a
  deployed server at them, to smoke-test it without keys (`llmcompiler_graph.app.simulate`).
- `env-example` prints the template of every setting (the repository's `.env.example`, shipped in
  the package), or writes it (`--write .env`) without overwriting a file.
- Other commands come from the `llmcompiler_graph.commands` entry points (`bench`, registered by
  `llmcompiler_graph.bench` in pyproject.toml): their arguments go to the registered function.

Each command runs all its async work in one `asyncio.run`: a chat model's async HTTP client
belongs to the event loop it first ran on. The graph, the model clients and the simulators are
imported by the command that needs them, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, get_args

from dotenv import load_dotenv
from rich.console import Console
from rich.text import Text

from llmcompiler_graph.app.preflight import (
    UsageProblem,
    check_model,
    read_context,
    require_keys,
)
from llmcompiler_graph.context import Context
from llmcompiler_graph.core.formats import JoinerFormat

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool
    from langgraph.graph.state import CompiledStateGraph

    from llmcompiler_graph.app.view import RunBoard
    from llmcompiler_graph.measure import Measurement

COMMANDS_GROUP = "llmcompiler_graph.commands"
"""Entry-point group of the subcommands that live outside the app (see pyproject.toml)."""

DB_HELP = (
    "where the threads are kept: a SQLite file (default: LLMCOMPILER_DB, else threads.sqlite in "
    "$XDG_DATA_HOME/llmcompiler-graph or ~/.local/share/llmcompiler-graph; its threads' locks go "
    "in PATH.locks/), or a postgresql:// URL (needs the postgres extra)"
)

SHOWCASE_COUNT = 3
"""How many questions the offline demo has (checked against the demo by a test)."""

DEV_PORT = 2024
"""`dev`'s default port: `langgraph dev`'s own."""

SIMULATE_PORTS = (8765, 8766)
"""`simulate`'s default ports: the OpenAI simulator's, the Tavily simulator's."""

EXIT_USAGE = 2
"""Exit code for what the user must fix before a run can start (keys, unknown question)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `llmcompiler-graph`; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in plugin_commands():
        return run_plugin(args.command, extra)
    if extra and not getattr(args, "passes_on", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return args.run(args)
    except UsageProblem as problem:
        _complain(str(problem))
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        _complain("Interrupted.", *_next_step(exc))
        return 130
    except Exception as exc:
        if args.debug:
            raise
        _complain(
            f"Error: {describe_error(exc)} (run with --debug for the traceback)", *_next_step(exc)
        )
        return 1


NEXT_STEP = "llmcompiler_next_step"
"""An exception's attribute set by a command: what the user can do next (after a run that
stopped, the `ask --thread ... --resume` that finishes it), printed after the error."""


def _next_step(exc: BaseException) -> list[str]:
    step = getattr(exc, NEXT_STEP, None)
    return [step] if step else []


def _complain(*lines: str) -> None:
    """Print to stderr without wrapping, so the commands in messages stay copyable."""
    console = Console(stderr=True)
    for line in lines:
        console.print(Text(line), soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmcompiler-graph",
        description="LLMCompiler (Kim et al., ICML 2024) on LangGraph: plan tool calls as a DAG, "
        "run them in parallel while the plan streams, then answer.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    kept = argparse.ArgumentParser(add_help=False)
    kept.add_argument("--db", type=_store, metavar="PATH|URL", help=DB_HELP)

    ask = commands.add_parser(
        "ask",
        parents=[common, kept],
        help="answer a question with a live view of the tasks",
        description="Answer a question with the ready-made graph (OpenAI model, Tavily search, "
        "math, calculate). Needs OPENAI_API_KEY and TAVILY_API_KEY (environment or ./.env), "
        "unless --simulate. With --thread NAME the question continues a conversation kept in "
        "--db; one ask runs at a time per thread (a second one waits for the first, see --wait), "
        "and a turn whose run stopped before its answer (killed, failed, paused for approval) "
        "is finished with --thread NAME --resume, or given up with --abandon, before the thread "
        "takes a new question.",
    )
    ask.add_argument("question", nargs="?", help="the question (none with --resume)")
    ask.add_argument(
        "--model",
        help="chat model as provider:model or a bare name (gpt-4o-mini, claude-...); default: "
        "LLMCOMPILER_MODEL or openai:gpt-4o-mini",
    )
    ask.add_argument("--max-replans", type=int, help="new plans the joiner may ask for")
    ask.add_argument("--joiner", choices=get_args(JoinerFormat), help="how the joiner answers")
    ask.add_argument(
        "--json",
        action="store_true",
        help="print a JSON result on stdout (the live view goes to stderr)",
    )
    ask.add_argument(
        "--simulate",
        action="store_true",
        help="run offline on a simulated model and search (scripted for the demo questions; "
        "any other question gets a plausible simulated plan and answer)",
    )
    ask.add_argument(
        "--thread",
        metavar="NAME",
        help="continue the conversation NAME (kept in --db; `threads` lists them); while another "
        "ask runs on NAME, this one waits for it",
    )
    ask.add_argument(
        "--resume",
        action="store_true",
        help="with --thread and no question: finish the thread's unfinished turn (its run was "
        "killed or failed before it answered) from its last checkpoint; tool calls that had "
        "finished are not run again",
    )
    ask.add_argument(
        "--abandon",
        action="store_true",
        help="with --thread and a question: give up the thread's unfinished turn, if any (its "
        "question stays in the thread, unanswered), and ask the question",
    )
    ask.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="with --thread: wait at most SECONDS for another ask on the thread to finish, then "
        "give up (default: as long as it takes; 0: give up at once)",
    )
    ask.add_argument(
        "--dag",
        type=Path,
        metavar="PATH",
        help="draw the plan as a DAG, task states coloured: an image (.png, .svg, .pdf; needs "
        "matplotlib) or Mermaid text (.mmd, or .md for a fenced block)",
    )
    ask.add_argument(
        "--timeline",
        type=Path,
        metavar="PATH",
        help="draw the run's timeline (planner stream, tasks, joiner) as an image (.png, .svg, "
        ".pdf; needs matplotlib)",
    )
    ask.add_argument(
        "--compare-react",
        action="store_true",
        help="with --timeline: then run sequential ReAct on the same question, model and tools "
        "and draw it below on the same time axis",
    )
    ask.set_defaults(run=ask_command)

    threads = commands.add_parser(
        "threads",
        parents=[common, kept],
        help="list the conversations kept by `ask --thread`, or show one",
        description="Without NAME: every thread, most recent first. With NAME: its messages.",
    )
    threads.add_argument("name", nargs="?", metavar="NAME")
    threads.set_defaults(run=threads_command)

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="offline demo: LLMCompiler vs sequential ReAct on simulated services",
        description="Run the showcase questions on a simulated model and search (no keys, no "
        "network), each next to a sequential ReAct agent, and compare latencies.",
    )
    demo.add_argument(
        "--question",
        type=int,
        choices=range(1, SHOWCASE_COUNT + 1),
        metavar="N",
        help=f"run only question N (1-{SHOWCASE_COUNT})",
    )
    demo.add_argument("--no-react", action="store_true", help="skip the ReAct comparison")
    demo.add_argument(
        "--fast",
        action="store_true",
        help="no simulated latency (for tests; the timings mean nothing)",
    )
    demo.set_defaults(run=demo_command)

    env_example = commands.add_parser(
        "env-example",
        parents=[common],
        help="print the settings template (.env.example), or --write .env",
        description="Print the template of every setting (keys, model, limits) on stdout, or "
        "write it to PATH, which must not exist yet: llmcompiler-graph env-example --write .env",
    )
    env_example.add_argument(
        "--write", type=Path, metavar="PATH", help="write the template to PATH (never overwrites)"
    )
    env_example.set_defaults(run=env_example_command)

    dev = commands.add_parser(
        "dev",
        parents=[common],
        allow_abbrev=False,  # a prefix of one of langgraph dev's options is passed on as is
        help="langgraph dev: the graph in LangGraph Studio (--simulate: offline, no keys)",
        description="Run `langgraph dev` on the project's langgraph.json (--config, else "
        "./langgraph.json, else the checkout's). With --simulate, the model and the web search "
        "are loopback simulators started here: no keys, nothing leaves the machine, answers are "
        "made up. Other arguments go to langgraph dev (e.g. --no-reload, --tunnel). Ctrl-C stops "
        "everything.",
    )
    dev.add_argument(
        "--simulate",
        action="store_true",
        help="serve the graph on a simulated model and search (no keys needed)",
    )
    dev.add_argument(
        "--port", type=int, default=DEV_PORT, help=f"the server's port (default: {DEV_PORT})"
    )
    dev.add_argument(
        "--host", default="127.0.0.1", help="the interface to bind (default: 127.0.0.1)"
    )
    dev.add_argument("--no-browser", action="store_true", help="do not open Studio in the browser")
    dev.add_argument("--config", type=Path, metavar="PATH", help="the langgraph.json to serve")
    dev.set_defaults(run=dev_command, passes_on=True)

    openai_port, tavily_port = SIMULATE_PORTS
    simulate = commands.add_parser(
        "simulate",
        parents=[common],
        help="serve the model and search simulators for a deployed server (no keys needed)",
        description="Serve the loopback OpenAI- and Tavily-compatible simulators `dev --simulate` "
        "uses, on fixed ports, until Ctrl-C or SIGTERM; print (and with --env-file write) the "
        "settings that point a server at them (langhost serve, docker), so a deployment can be "
        "smoke-tested with no API keys and nothing leaving the machine. Answers are made up; "
        "each request served is shown in one line.",
    )
    simulate.add_argument(
        "--host",
        default="127.0.0.1",
        help="the interface to listen on (default: 127.0.0.1). Any other (0.0.0.0: all, e.g. "
        "for a container) lets whoever reaches the ports use the simulators",
    )
    simulate.add_argument(
        "--openai-port",
        type=int,
        default=openai_port,
        metavar="N",
        help=f"the OpenAI simulator's port (default: {openai_port}; 0: any free one)",
    )
    simulate.add_argument(
        "--tavily-port",
        type=int,
        default=tavily_port,
        metavar="N",
        help=f"the Tavily simulator's port (default: {tavily_port}; 0: any free one)",
    )
    simulate.add_argument(
        "--instant",
        action="store_true",
        help="no simulated latency (default: the demo's, like a hosted model and search)",
    )
    simulate.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="also write the settings to PATH in dotenv format (langhost serve, docker "
        "--env-file); a file simulate did not write is never overwritten",
    )
    simulate.set_defaults(run=simulate_command)

    for name, entry in plugin_commands().items():
        commands.add_parser(name, add_help=False, help=f"arguments go to {entry.value}")
    return parser


# ask


def ask_command(args: argparse.Namespace) -> int:
    from llmcompiler_graph.app.threads import StoreError, ThreadBusy

    check_pictures(args)
    question, context = prepare_ask(args)
    console = Console()
    view_console = Console(stderr=True) if args.json else console
    asked = Asked()
    try:
        asyncio.run(
            _ask(
                question,
                context,
                view_console,
                simulate=args.simulate,
                thread=args.thread,
                db=args.db,
                resume=args.resume,
                abandon=args.abandon,
                wait=args.wait,
                compare_react=args.compare_react,
                asked=asked,
            )
        )
    except StoreError as exc:
        raise UsageProblem(f"Error: {exc} ({_store_origin(args)}).") from None
    except ThreadBusy as exc:
        raise UsageProblem(
            f"Error: {exc}. Try again once it has finished, or let ask wait longer (--wait "
            "SECONDS; without --wait it waits as long as it takes)."
        ) from None
    except (Exception, KeyboardInterrupt) as exc:
        if asked.turn_started:
            setattr(
                exc,
                NEXT_STEP,
                f"The turn stays unfinished in thread {args.thread!r}; to finish it: "
                f"{_resume_command(args.thread, simulate=args.simulate, db=args.db)}",
            )
        raise
    run, board, react = asked.run, asked.board, asked.react
    assert run is not None and board is not None
    if args.json:
        result = {**result_json(run, board), "simulated": args.simulate}
        if args.resume:
            result["resumed"] = True
        if react is not None:
            result["react"] = {"latency": round(react.latency, 3), "error": react.error}
        print(json.dumps(result, indent=2))
    else:
        console.print(Text(run.stats(), style="bold"))
        if react is not None:
            console.print(Text(f"ReAct (sequential): {react.error or react.stats()}"))
    save_pictures(args, run, react, view_console)
    if args.simulate and asked.paused is None:
        from llmcompiler_graph.app.demo import showcase_question

        if showcase_question(run.question) is None:
            view_console.print(showcase_note(), soft_wrap=True)
    if asked.paused is not None:
        _complain(
            f"The run paused before its answer: thread {args.thread!r} waits for "
            f"{asked.paused}. {PAUSED_HELP}"
        )
        return 1
    return 0


PAUSED_HELP = (
    "The CLI cannot answer it: answer from Python with graph.ainvoke(Command(resume=...), "
    "config) or in LangGraph Studio (docs/approval.md), or give the turn up and ask anew "
    "(ask --thread NAME --abandon QUESTION)."
)


def showcase_note() -> Text:
    """After a simulated answer to a question the simulator has no script for (its plan
    improvised, its data made up): the scripted questions, each with what its plan shows of
    LLMCompiler (parallel tasks, dependent tasks, a replan)."""
    from llmcompiler_graph.testing.scenarios import SHOWCASE

    lines = []
    for scenario in SHOWCASE:
        shown = {
            "dependent tasks": any(task["dependencies"] for task in scenario.tasks),
            "a replan": len(scenario.rounds) > 1,
        }
        shows = " and ".join(what for what, there in shown.items() if there) or "parallel tasks"
        lines.append(f'\n  llmcompiler-graph ask --simulate "{scenario.question}"  # {shows}')
    return Text.assemble(
        ("Simulated: ", "bold yellow"),
        "this question has no script: the simulated model improvised its plan and made up "
        "the data. Try a scripted showcase question:",
        *lines,
    )


@dataclass
class Asked:
    """What `_ask` got done: filled in as it goes, so a run that stops midway says how far."""

    run: Measurement | None = None
    board: RunBoard | None = None
    react: Measurement | None = None
    turn_started: bool = False
    """A turn of the thread began to run: if it stops, the thread keeps it unfinished."""
    paused: str | None = None
    """What the thread's paused run waits for (an approval), when it paused."""


def _store_origin(args: argparse.Namespace) -> str:
    """Where the store in a message came from, and how to choose another."""
    if args.db is not None:
        origin = "given by --db"
    elif os.environ.get("LLMCOMPILER_DB"):
        origin = "set by LLMCOMPILER_DB"
    else:
        origin = "the default store"
    return f"{origin}; choose another with --db PATH|URL or LLMCOMPILER_DB"


def _resume_command(thread: str, *, simulate: bool, db: Any) -> str:
    """The command that finishes the unfinished turn of `thread`, on the same store."""
    from llmcompiler_graph.app.threads import shown

    line = ["llmcompiler-graph", "ask", "--thread", thread, "--resume"]
    line += ["--simulate"] if simulate else []
    line += ["--db", shown(db)] if db is not None else []
    return shlex.join(line)


IMAGE_SUFFIXES = (".png", ".svg", ".pdf")
MERMAID_SUFFIXES = (".mmd", ".md")


def check_pictures(args: argparse.Namespace) -> None:
    """Refuse, before a run is paid for, pictures that could not be written afterwards."""
    if args.compare_react and args.timeline is None:
        raise UsageProblem("--compare-react draws ReAct on the timeline: add --timeline PATH.")
    wanted = {"--dag": args.dag, "--timeline": args.timeline}
    images = False
    for flag, path in wanted.items():
        if path is None:
            continue
        allowed = IMAGE_SUFFIXES + (MERMAID_SUFFIXES if flag == "--dag" else ())
        if path.suffix.lower() not in allowed:
            raise UsageProblem(f"{flag} writes {', '.join(allowed)} files, not {path.name!r}.")
        if not path.parent.is_dir():
            raise UsageProblem(f"{flag}: there is no directory {str(path.parent)!r}.")
        images = images or path.suffix.lower() in IMAGE_SUFFIXES
    if images:
        from llmcompiler_graph.pictures import require_matplotlib

        try:
            require_matplotlib()
        except ImportError as exc:
            raise UsageProblem(str(exc)) from None


def save_pictures(
    args: argparse.Namespace, run: Measurement, react: Measurement | None, console: Console
) -> None:
    """Write the `--dag` and `--timeline` pictures of the run, from the events `ask` collected."""
    from llmcompiler_graph.pictures import draw_dag, draw_timeline, plan_mermaid

    if args.dag is not None:
        suffix = args.dag.suffix.lower()
        if suffix in MERMAID_SUFFIXES:
            text = plan_mermaid(run.events)
            args.dag.write_text(f"```mermaid\n{text}```\n" if suffix == ".md" else text)
        else:
            draw_dag(run, args.dag, title=run.question)
        console.print(Text(f"DAG written to {args.dag}"))
    if args.timeline is not None:
        shown = react if react is not None and react.exception is None else None
        draw_timeline(
            run, args.timeline, beside=shown, labels=("LLMCompiler", "ReAct (sequential)")
        )
        console.print(Text(f"Timeline written to {args.timeline}"))


def result_json(run: Measurement, board: RunBoard) -> dict[str, Any]:
    """What `ask --json` prints: the answer, its cost, and every task with its timing."""
    return {
        "question": run.question,
        "answer": run.answer,
        "latency": round(run.latency, 3),
        "llm_calls": len(run.llm_calls),
        "tokens": run.tokens,
        "rounds": board.round,
        "tasks": board.records(),
    }


def prepare_ask(args: argparse.Namespace) -> tuple[str | None, Context]:
    """The question (None to resume the thread's turn) and settings of an `ask`, once nothing
    stands in the way of running it."""
    check_thread_flags(args)
    if not args.resume and not (args.question or "").strip():
        simulate = " --simulate" if args.simulate else ""
        raise UsageProblem(
            "Error: the question is empty: ask one in quotes, e.g.\n"
            f'  llmcompiler-graph ask{simulate} "What is the combined population of Paris '
            'and Berlin?"'
        )
    if not args.simulate:
        load_dotenv_file()
        context = read_context(_overrides(args))
        check_model(context.model)  # first: no key helps a model that cannot load
        require_keys(context.model)
        return args.question, context
    if args.model:
        raise UsageProblem("--model has no effect with --simulate: the simulator plays one model.")
    from llmcompiler_graph.app.demo import showcase_question

    question = args.question and (showcase_question(args.question) or args.question)
    return question, read_context(_overrides(args))


def check_thread_flags(args: argparse.Namespace) -> None:
    """Refuse `--resume`, `--abandon` and `--wait` where they mean nothing, before anything
    runs."""
    flags = {"--resume": args.resume, "--abandon": args.abandon, "--wait": args.wait is not None}
    given = [flag for flag, on in flags.items() if on]
    if given and not args.thread:
        raise UsageProblem(
            f"Error: {given[0]} is about a conversation's thread: add --thread NAME."
        )
    if args.resume and args.abandon:
        raise UsageProblem(
            "Error: --resume finishes the unfinished turn and --abandon gives it up: choose one."
        )
    if args.resume and args.question is not None:
        raise UsageProblem(
            "Error: --resume takes no question: it finishes the thread's unfinished turn, whose "
            "question the thread keeps."
        )
    if args.resume and args.compare_react:
        raise UsageProblem("Error: --compare-react times whole runs: not with --resume.")
    if args.wait is not None and not args.wait >= 0:
        raise UsageProblem(f"Error: --wait takes seconds >= 0, got {args.wait:g}.")


async def _ask(
    question: str | None,
    context: Context,
    console: Console,
    *,
    simulate: bool,
    thread: str | None = None,
    db: str | Path | None = None,
    resume: bool = False,
    abandon: bool = False,
    wait: float | None = None,
    compare_react: bool = False,
    asked: Asked,
) -> None:
    """Run the question (`resume`: the thread's unfinished turn) into `asked`: the run, its
    task board, and with `compare_react` sequential ReAct's run after it.

    A `thread` is held (`threads.hold_thread`) from before its state is read until its last
    checkpoint is written, so that two asks on it take turns; the store's errors name it."""
    from llmcompiler_graph.app.demo import Simulation, simulation
    from llmcompiler_graph.app.threads import (
        default_db,
        hold_thread,
        named_errors,
        open_threads,
        thread_config,
        unfinished,
    )
    from llmcompiler_graph.app.view import ask_live
    from llmcompiler_graph.graph import build_graph
    from llmcompiler_graph.graph import graph as ready_graph
    from llmcompiler_graph.nodes import Components
    from llmcompiler_graph.react import create_react_baseline

    async with contextlib.AsyncExitStack() as stack:
        saver, config = None, None
        if thread:
            target = db or default_db()
            stack.enter_context(named_errors(target))  # first in, so it sees every error
            await stack.enter_async_context(
                hold_thread(target, thread, wait=wait, on_wait=_complain)
            )
            saver = await stack.enter_async_context(open_threads(target))
            config = thread_config(thread)
            # Before the simulators start: the thread's state reads the same through any graph.
            kept = ready_graph.copy({"checkpointer": saver})
            question = await _turn_question(
                kept, thread, question, abandon=abandon, simulate=simulate, db=db
            )
        sim: Simulation | None = None
        if simulate:
            sim = await stack.enter_async_context(simulation())
            console.print(sim.notice())
            components = Components.build(sim.model, sim.tools, context.settings())  # all settings
            graph = build_graph(lambda _runtime: components, name="llmcompiler", checkpointer=saver)
        else:
            graph = ready_graph if saver is None else ready_graph.copy({"checkpointer": saver})
        assert question is not None
        asked.turn_started = thread is not None
        asked.run, asked.board = await ask_live(
            cast("CompiledStateGraph", _FromCheckpoint(graph)) if resume else graph,
            question,
            console,
            number="(resumed)" if resume else "",
            context=None if simulate else context,  # the simulated graph has its settings
            config=config,
        )
        if config is not None and (paused := await unfinished(graph, config)) is not None:
            asked.paused = paused.waits_for
        if compare_react:
            model, tools = (sim.model, sim.tools) if sim else _real_model_and_tools(context)
            asked.react = await _react_run(create_react_baseline(model, tools), question, console)


async def _turn_question(
    graph: CompiledStateGraph,
    thread: str,
    question: str | None,
    *,
    abandon: bool,
    simulate: bool,
    db: Any,
) -> str:
    """The question this ask runs on `thread`: `question`, or (None: `--resume`) the thread's
    unfinished turn's. While a turn is unfinished a new question is refused unless `abandon`
    (the turn is given up, said on stderr), and a turn paused for a person's answer is never
    resumed blindly: no question is left unanswered without a word."""
    from langgraph.graph import END

    from llmcompiler_graph.app.threads import default_db, history, shown, thread_config, unfinished

    config = thread_config(thread)
    turn = await unfinished(graph, config)
    if turn is not None and question is not None and abandon:
        await graph.aupdate_state(config, None, as_node=END)  # clears the turn's pending runs
        _complain(
            f"Gave up the unfinished turn of thread {thread!r} ({turn.question!r}): it stays in "
            "the thread, unanswered."
        )
        return question
    if turn is not None and turn.waits_for is not None:
        raise UsageProblem(
            f"Error: thread {thread!r} is paused: its run for {turn.question!r} waits for "
            f"{turn.waits_for}. {PAUSED_HELP}"
        )
    if turn is not None and question is not None:
        raise UsageProblem(
            f"Error: thread {thread!r} has an unfinished turn: the run for {turn.question!r} "
            "stopped before its answer (it was killed, or failed). Finish it first, then ask "
            f"again:\n  {_resume_command(thread, simulate=simulate, db=db)}\nor give it up "
            "and ask anyway: add --abandon."
        )
    if turn is not None:
        return turn.question
    if question is not None:
        return question
    assert graph.checkpointer is not None and not isinstance(graph.checkpointer, bool)
    said = await history(graph.checkpointer, thread)
    if not said:
        raise UsageProblem(
            f"Error: there is no thread {thread!r} in {shown(db or default_db())}: nothing to "
            "resume."
        )
    raise UsageProblem(
        f"Error: nothing to resume: thread {thread!r} has no unfinished turn (its last question "
        "was answered); ask a new question instead."
    )


class _FromCheckpoint:
    """The graph run on from its thread's last checkpoint (input None), whatever input `measure`
    sends: how a turn whose run stopped is finished (LangGraph runs the nodes left to run; the
    scheduler's journal keeps finished tool calls from running again)."""

    def __init__(self, graph: CompiledStateGraph) -> None:
        self.graph = graph

    def astream(self, _input: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        return self.graph.astream(None, *args, **kwargs)


def _real_model_and_tools(context: Context) -> tuple[BaseChatModel, list[BaseTool]]:
    """The model and tools the ready-made graph runs with `context`, for ReAct to use too (with
    the client's own retries: ReAct has none of its own)."""
    from llmcompiler_graph.models import load_chat_model
    from llmcompiler_graph.tools import default_tools

    model = load_chat_model(context.model, temperature=context.temperature)
    tools = default_tools(
        model,
        max_results=context.search_max_results,
        llm_timeout=context.llm_timeout,
        llm_retries=context.llm_retries,
    )
    return model, tools


async def _react_run(baseline: CompiledStateGraph, question: str, console: Console) -> Measurement:
    """ReAct on the question, measured; a failure is recorded, not raised (the LLMCompiler
    run it is compared with is done and stays shown)."""
    from llmcompiler_graph.measure import measure

    with console.status("ReAct (sequential: one tool call per LLM turn) on the same question…"):
        return await measure(baseline, question)


def threads_command(args: argparse.Namespace) -> int:
    """`threads`: list the kept conversations; `threads NAME`: show one. Reads only: a missing
    store is reported, not created, and a file that is not one is left as it is."""
    from llmcompiler_graph.app.threads import (
        NotAThreadStore,
        NoThreads,
        StoreError,
        default_db,
        history,
        named_errors,
        open_threads,
        shown,
        summaries,
    )

    path = args.db or default_db()
    where = shown(path)
    console = Console()

    async def show() -> int:
        async with open_threads(path, read_only=True) as saver:
            if args.name is None:
                found = await summaries(saver)
                for thread in found:
                    asked = f"{thread.questions} question{'s' if thread.questions != 1 else ''}"
                    console.print(f"{thread.name}  ({asked}) last: {thread.last_question}")
                if not found:
                    raise NoThreads
                return 0
            messages = await history(saver, args.name)
            if not messages:
                raise NoThreads
            for message in messages:
                console.print(_history_line(message))
            return 0

    try:
        with named_errors(path):
            return asyncio.run(show())
    except NoThreads:
        if args.name is not None:
            raise UsageProblem(f"No thread {args.name!r} in {where}.") from None
        console.print(f"No threads in {where} yet: ask --thread NAME starts one.")
        return 0
    except NotAThreadStore as exc:
        raise UsageProblem(f"Error: {exc}") from None
    except StoreError as exc:
        raise UsageProblem(f"Error: {exc} ({_store_origin(args)}).") from None


def _history_line(message: Any) -> Text:
    """One message of `threads NAME`: a question, an answer, or (dim) a tool call or result."""
    if message.type == "human":
        return Text.assemble(("you: ", "bold"), message.text)
    if message.type == "tool":
        result = " ".join(message.text.split())
        cut = "..." if len(result) > 200 else ""
        return Text(f"  {message.name} -> {result[:200]}{cut}", "dim")
    if calls := getattr(message, "tool_calls", None):
        shown = ", ".join(f"{c['name']}({', '.join(map(repr, c['args'].values()))})" for c in calls)
        return Text(f"  calls: {shown}", "dim")
    return Text.assemble(("assistant: ", "bold"), message.text)


def _store(text: str) -> str | Path:
    """`--db`: a SQLite path or a postgresql:// URL (see `app.threads.store`)."""
    from llmcompiler_graph.app.threads import store

    return store(text)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The Context fields given on the command line (the rest fall back to env and defaults)."""
    given = {"model": args.model, "max_replans": args.max_replans, "joiner": args.joiner}
    return {name: value for name, value in given.items() if value is not None}


def load_dotenv_file() -> None:
    """Read ./.env like `langgraph dev` does; variables already set win."""
    load_dotenv(Path.cwd() / ".env", override=False)


def describe_error(exc: BaseException, model: str | None = None) -> str:
    """One paragraph on what went wrong and what to check, for errors users can act on: a model
    provider's failure (any provider; see `models.describe_model_error`), else the error."""
    from llmcompiler_graph.models import describe_model_error

    spec = model or os.environ.get("LLMCOMPILER_MODEL") or "openai:gpt-4o-mini"
    cause: BaseException | None = exc
    while cause is not None:  # an LLMCallError wraps the provider's error
        if (said := describe_model_error(cause, spec)) is not None:
            return said
        cause = cause.__cause__
    return f"{type(exc).__name__}: {exc}"


# demo, and the commands of other kits


def dev_command(args: argparse.Namespace) -> int:
    """`dev`: `langgraph dev`, with `--simulate` on the loopback simulators (see `app.dev`)."""
    from llmcompiler_graph.app.dev import dev_command as run_dev

    return run_dev(args, args.extra, Console())


def simulate_command(args: argparse.Namespace) -> int:
    """`simulate`: the simulators on fixed ports, for a deployed server (see `app.simulate`)."""
    from llmcompiler_graph.app.simulate import simulate_command as run_simulate

    return run_simulate(args)


def demo_command(args: argparse.Namespace) -> int:
    from llmcompiler_graph.app.demo import run_demo

    numbers = [args.question] if args.question else list(range(1, SHOWCASE_COUNT + 1))
    asyncio.run(run_demo(Console(), numbers, react=not args.no_react, fast=args.fast))
    return 0


def env_example() -> str:
    """The template of every setting: `.env.example`, shipped as package data."""
    from importlib.resources import files

    return (files("llmcompiler_graph") / "data" / "env.example").read_text(encoding="utf-8")


def env_example_command(args: argparse.Namespace) -> int:
    """`env-example`: the template on stdout, or `--write PATH` into a new file."""
    if args.write is None:
        sys.stdout.write(env_example())
        return 0
    try:
        with args.write.open("x", encoding="utf-8") as file:
            file.write(env_example())
    except FileExistsError:
        raise UsageProblem(
            f"{args.write} exists and is left as it is; "
            "`llmcompiler-graph env-example` prints the template to copy settings from."
        ) from None
    print(f"Wrote {args.write}: fill in OPENAI_API_KEY and TAVILY_API_KEY.")
    return 0


def plugin_commands() -> dict[str, EntryPoint]:
    """Commands other parts of the package register (`bench`), by name; loaded when run."""
    return {entry.name: entry for entry in entry_points(group=COMMANDS_GROUP)}


def run_plugin(name: str, argv: list[str]) -> int:
    """Run a registered command with the rest of the command line."""
    try:
        command = plugin_commands()[name].load()
    except ImportError as exc:
        _complain(f"The {name} command is not available: {exc}")
        return 1
    return command(argv) or 0


if __name__ == "__main__":
    sys.exit(main())
