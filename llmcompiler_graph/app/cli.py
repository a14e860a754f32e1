"""The `llmcompiler-graph` command: `ask`, `demo`, and the commands kits register (`bench`).

- `ask "question"` runs the ready-made graph (`llmcompiler_graph.graph:graph`) with a live task
  view, then prints the answer, latency, LLM calls and tokens (`--json` for a machine-readable
  result). `--simulate` runs it offline on the simulators instead. `--dag` / `--timeline` draw
  the run's plan and timeline from its events (`llmcompiler_graph.pictures`).
- `demo` runs the SHOWCASE questions offline, each next to a sequential ReAct run.
- `dev` runs `langgraph dev` (LangGraph Studio) on the project's `langgraph.json`; `--simulate`
  points it at the loopback simulators, so it runs without keys (`llmcompiler_graph.app.dev`).
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
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

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
    "$XDG_DATA_HOME/llmcompiler-graph or ~/.local/share/llmcompiler-graph), or a postgresql:// "
    "URL (needs the postgres extra)"
)

SHOWCASE_COUNT = 3
"""How many questions the offline demo has (checked against the demo by a test)."""

DEV_PORT = 2024
"""`dev`'s default port: `langgraph dev`'s own."""

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
    except KeyboardInterrupt:
        _complain("Interrupted.")
        return 130
    except Exception as exc:
        if args.debug:
            raise
        _complain(f"Error: {describe_error(exc)} (run with --debug for the traceback)")
        return 1


def _complain(message: str) -> None:
    """Print to stderr without wrapping, so the commands in messages stay copyable."""
    Console(stderr=True).print(Text(message), soft_wrap=True)


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
        "unless --simulate.",
    )
    ask.add_argument("question")
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
        help="continue the conversation NAME (kept in SQLite, see --db; `threads` lists them)",
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

    for name, entry in plugin_commands().items():
        commands.add_parser(name, add_help=False, help=f"arguments go to {entry.value}")
    return parser


# ask


def ask_command(args: argparse.Namespace) -> int:
    check_pictures(args)
    question, context = prepare_ask(args)
    console = Console()
    view_console = Console(stderr=True) if args.json else console
    run, board, react = asyncio.run(
        _ask(
            question,
            context,
            view_console,
            simulate=args.simulate,
            thread=args.thread,
            db=args.db,
            compare_react=args.compare_react,
        )
    )
    if args.json:
        result = {**result_json(run, board), "simulated": args.simulate}
        if react is not None:
            result["react"] = {"latency": round(react.latency, 3), "error": react.error}
        print(json.dumps(result, indent=2))
    else:
        console.print(Text(run.stats(), style="bold"))
        if react is not None:
            console.print(Text(f"ReAct (sequential): {react.error or react.stats()}"))
    save_pictures(args, run, react, view_console)
    return 0


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


def prepare_ask(args: argparse.Namespace) -> tuple[str, Context]:
    """The question and settings of an `ask`, once nothing stands in the way of running it."""
    if not args.question.strip():
        simulate = " --simulate" if args.simulate else ""
        raise UsageProblem(
            "Error: the question is empty: ask one in quotes, e.g.\n"
            f'  llmcompiler-graph ask{simulate} "What is the combined population of Paris '
            'and Berlin?"'
        )
    if not args.simulate:
        load_dotenv_file()
        context = read_context(_overrides(args))
        require_keys(context.model)
        check_model(context.model)
        return args.question, context
    if args.model:
        raise UsageProblem("--model has no effect with --simulate: the simulator plays one model.")
    from llmcompiler_graph.app.demo import showcase_question

    return showcase_question(args.question) or args.question, read_context(_overrides(args))


async def _ask(
    question: str,
    context: Context,
    console: Console,
    *,
    simulate: bool,
    thread: str | None = None,
    db: str | Path | None = None,
    compare_react: bool = False,
) -> tuple[Measurement, RunBoard, Measurement | None]:
    """The run, its task board, and with `compare_react` sequential ReAct's run after it."""
    from llmcompiler_graph.app.demo import simulation
    from llmcompiler_graph.app.threads import default_db, open_threads, thread_config
    from llmcompiler_graph.app.view import ask_live
    from llmcompiler_graph.graph import build_graph
    from llmcompiler_graph.graph import graph as ready_graph
    from llmcompiler_graph.nodes import Components
    from llmcompiler_graph.react import create_react_baseline

    async with contextlib.AsyncExitStack() as stack:
        saver = (
            await stack.enter_async_context(open_threads(db or default_db())) if thread else None
        )
        config = thread_config(thread) if thread else None
        if not simulate:
            graph = ready_graph if saver is None else ready_graph.copy({"checkpointer": saver})
            run, board = await ask_live(graph, question, console, context=context, config=config)
            if not compare_react:
                return run, board, None
            model, tools = _real_model_and_tools(context)
            baseline = create_react_baseline(model, tools)
            return run, board, await _react_run(baseline, question, console)
        sim = await stack.enter_async_context(simulation())
        console.print(sim.notice())
        components = Components.build(sim.model, sim.tools, context.settings())  # every setting
        graph = build_graph(lambda _runtime: components, name="llmcompiler", checkpointer=saver)
        run, board = await ask_live(graph, question, console, config=config)
        if not compare_react:
            return run, board, None
        baseline = create_react_baseline(sim.model, sim.tools)
        return run, board, await _react_run(baseline, question, console)


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
        default_db,
        history,
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
        return asyncio.run(show())
    except NoThreads:
        if args.name is not None:
            raise UsageProblem(f"No thread {args.name!r} in {where}.") from None
        console.print(f"No threads in {where} yet: ask --thread NAME starts one.")
        return 0
    except NotAThreadStore as exc:
        raise UsageProblem(f"Error: {exc}") from None


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
