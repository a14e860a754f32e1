"""A live view of an LLMCompiler run, drawn from its custom stream events alone.

Only the public events of `stream_mode="custom"` (docs/events.md) feed it, so the same view
works for a graph in this process and for one on a LangGraph server (events from `langgraph-sdk`'s
`client.runs.stream(..., stream_mode="custom")`). On a terminal it is a `rich` Live table that
updates in place; elsewhere (CI logs, pipes, captured output) it prints one plain line per event,
without escape codes.

```python
with LiveView(console) as view:
    async for mode, chunk in graph.astream(inputs, stream_mode=["custom", "updates"]):
        if mode == "custom":
            view.handle(chunk)
```

`ask_live` does that for a local graph, measured by `llmcompiler_graph.measure`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from langgraph.graph.state import CompiledStateGraph
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from llmcompiler_graph.core.values import shorten
from llmcompiler_graph.measure import Measurement, measure

TaskState = Literal["planned", "running", "done", "error", "skipped"]

_STATE_OF_STATUS: dict[str, TaskState] = {"ok": "done", "error": "error", "skipped": "skipped"}
_STATUS_OF_STATE = {state: status for status, state in _STATE_OF_STATUS.items()}
_STATE_STYLE: dict[TaskState, str] = {
    "planned": "dim",
    "running": "yellow",
    "done": "green",
    "error": "red",
    "skipped": "magenta",
}
ARGS_CHARS = 60
"""Arguments are cut to this many characters in plain lines."""
RESULT_CHARS = 100
"""Observation previews and errors are cut to this many characters in plain lines."""
SNIPPET_CHARS = 70
"""A search result's snippet is cut to this many characters."""
RESULT_LINES = 3
"""At most this many lines of a task's result are shown (search results: one per line)."""


def format_args(args: Any) -> str:
    """Tool arguments as call syntax: `query='Tokyo population', k=3`."""
    if isinstance(args, dict):
        return ", ".join(f"{name}={value!r}" for name, value in args.items())
    return repr(args)


_CUT = "…"
_SENTENCE = re.compile(r"(?<=[.!?])\s")


def readable(value: Any) -> list[str]:
    """A finished task's value as lines to read, not JSON: search results (dicts with a title,
    url or content) one per line as `title: snippet`, other dicts and lists compactly on one line
    (`price: 3.12, currency: USD`), text as it is. `value` is the event's `value`, bounded with
    its shape kept (`values.sample`); a cut list or dict ends with `…`."""
    if value is None or value == "":
        return []
    if isinstance(value, list) and value and all(_is_result(i) or i == _CUT for i in value):
        return [_CUT if item == _CUT else _result_line(item) for item in value]
    return [compact(value)]


def compact(value: Any) -> str:
    """A JSON-like value on one line without JSON's quotes: `a: 1, b: [x, y]`."""
    if isinstance(value, dict):
        inner = ", ".join(f"{key}: {_nested(item)}" for key, item in value.items())
        return inner or "{}"
    if isinstance(value, list):
        return ", ".join(_nested(item) for item in value) or "[]"
    if isinstance(value, str):
        return " ".join(value.split())
    return json.dumps(value)


def _nested(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + compact(value) + "}"
    if isinstance(value, list):
        return "[" + compact(value) + "]"
    return compact(value)


def _is_result(item: Any) -> bool:
    return isinstance(item, dict) and bool({"title", "url", "content"} & set(item))


def _result_line(item: dict[str, Any]) -> str:
    """`Title: the first sentence of the content`, the snippet cut to SNIPPET_CHARS."""
    title = " ".join(str(item.get("title") or item.get("url") or "").split())
    content = " ".join(str(item.get("content") or "").split())
    snippet = _SENTENCE.split(content, maxsplit=1)[0]
    snippet = shorten(snippet, SNIPPET_CHARS) if snippet else ""
    return f"{title}: {snippet}" if title and snippet else title or snippet


@dataclass
class TaskRow:
    """One task of the plan as its events have shown it so far."""

    idx: int
    round: int
    tool: str
    args: Any
    """As planned: references (`$1`) unresolved, so the row stays short and shows the DAG."""
    dependencies: list[int]
    state: TaskState = "planned"
    started_at: float | None = None
    duration: float | None = None
    preview: str | None = None
    value: Any = None
    """The value as the event carries it: bounded, its shape kept (`values.sample`)."""
    error: str | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> TaskRow:
        return cls(
            idx=event["idx"],
            round=event["round"],
            tool=event["tool"],
            args=event["args"],
            dependencies=list(event["dependencies"]),
        )

    @property
    def final(self) -> bool:
        return self.state not in ("planned", "running")

    @property
    def status(self) -> str:
        """The state in the events' words: `task_finished`'s `status` (`ok`, `error`,
        `skipped`) once finished, else `planned` or `running`."""
        return _STATUS_OF_STATE.get(self.state, self.state)

    @property
    def result(self) -> str:
        """What the task produced: its observation preview, or why it failed or was skipped."""
        return self.error or self.preview or ""

    @property
    def result_lines(self) -> list[str]:
        """The result to read: the error, else the value made readable (see `readable`)."""
        if self.error:
            return [" ".join(self.error.split())]
        return readable(self.value)

    def start(self, event: dict[str, Any]) -> None:
        self.state = "running"
        self.started_at = event["started_at"]

    def finish(self, event: dict[str, Any]) -> None:
        self.state = _STATE_OF_STATUS.get(event["status"], "error")
        self.started_at = event["started_at"]
        self.duration = event["duration"]
        self.preview = event["preview"]
        self.value = event.get("value")
        self.error = event["error"]


@dataclass
class PlanStatus:
    """One round's planner: streaming, or finished with its task count."""

    finished_at: float | None = None
    tasks: int = 0
    joined: bool = False


@dataclass
class RunBoard:
    """The state of one run, folded from its custom events (no rendering here)."""

    tasks: list[TaskRow] = field(default_factory=list)
    plans: dict[int, PlanStatus] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    origin: float | None = None
    """Wall-clock time that offsets count from: the first event's."""

    @property
    def round(self) -> int:
        return max(self.plans, default=0)

    def handle(self, event: dict[str, Any]) -> TaskRow | None:
        """Apply one event; returns the task row it touched, if any. Unknown events are ignored,
        so a newer graph with more events still drives an older view."""
        if self.origin is None:
            self.origin = event["time"]
        match event.get("event"):
            case "plan_started":
                self.plans[event["round"]] = PlanStatus()
            case "plan_finished":
                plan = self.plans.setdefault(event["round"], PlanStatus())
                plan.finished_at, plan.tasks, plan.joined = (
                    event["time"],
                    event["tasks"],
                    event["joined"],
                )
            case "joiner_decision":
                self.decisions.append(event)
            case "task_planned":
                self.tasks.append(TaskRow.from_event(event))
                return self.tasks[-1]
            case "task_started":
                row = self._open_row(event)
                row.start(event)
                return row
            case "task_finished":
                row = self._open_row(event)
                row.finish(event)
                return row
        return None

    def _open_row(self, event: dict[str, Any]) -> TaskRow:
        """The latest unfinished row with the event's id (a duplicate id gets its own row, planned
        and finished at once), or a new row when the view joined the run late."""
        for row in reversed(self.tasks):
            if row.idx == event["idx"] and not row.final:
                return row
        self.tasks.append(TaskRow.from_event(event))
        return self.tasks[-1]

    def offset(self, moment: float | None) -> float | None:
        """Seconds from the origin to `moment`."""
        if moment is None or self.origin is None:
            return None
        return moment - self.origin

    def joining(self) -> bool:
        """Whether the current round's plan and tasks are done and its joiner has not decided."""
        plan = self.plans.get(self.round)
        return (
            plan is not None
            and plan.finished_at is not None
            and all(row.final for row in self.tasks)
            and not any(d["round"] == self.round for d in self.decisions)
        )

    def answered(self) -> bool:
        return bool(self.decisions) and self.decisions[-1]["decision"] == "finish"

    def summary(self) -> str:
        """One line: tasks by final state, rounds, and when the joiner answered."""
        counts = Counter(row.state for row in self.tasks)
        states = ", ".join(f"{counts[s]} {s}" for s in _STATE_STYLE if counts[s])
        line = f"{plural(len(self.tasks), 'task')} in {plural(self.round, 'round')}"
        line += f": {states}" if states else ""
        if self.answered():
            line += f"; answered at {_seconds(self.offset(self.decisions[-1]['time']))}"
        return line

    def records(self) -> list[dict[str, Any]]:
        """The tasks as JSON-able dicts, times in seconds from the origin; each task's `status`
        in the events' words (`ok`, not the view's `done`)."""
        return [
            {
                "idx": row.idx,
                "round": row.round,
                "tool": row.tool,
                "args": row.args,
                "dependencies": row.dependencies,
                "status": row.status,
                "start": _rounded(self.offset(row.started_at)),
                "duration": _rounded(row.duration),
                "preview": row.preview,
                "error": row.error,
            }
            for row in self.tasks
        ]


def head_start(events: Iterable[dict[str, Any]], round: int = 1) -> str | None:
    """One sentence on when the plan's first task started against the end of the plan (from
    `task_started.started_at` and `plan_finished.time`), or None if the round had no task."""
    events = list(events)
    began = next((e["time"] for e in events if _is(e, "plan_started", round)), None)
    ended = next((e["time"] for e in events if _is(e, "plan_finished", round)), None)
    starts = [
        e["started_at"]
        for e in events
        if _is(e, "task_started", round) and e.get("started_at") is not None
    ]
    if ended is None or not starts:
        return None
    first, origin = min(starts), began if began is not None else min(starts)
    lead = ended - first
    timing = f"(task at +{first - origin:.2f}s, plan done at +{ended - origin:.2f}s)"
    if lead > 0:
        return (
            f"The first task started {lead:.2f} s before the plan was finished {timing}: "
            "it ran while the planner was still writing."
        )
    return f"The first task started {-lead:.2f} s after the plan was finished {timing}."


def _is(event: dict[str, Any], kind: str, round: int) -> bool:
    return event.get("event") == kind and event.get("round") == round


def plural(count: int, noun: str) -> str:
    """`1 task`, `3 tasks`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _seconds(value: float | None, sign: str = "+") -> str:
    return "-" if value is None else f"{sign}{value:.2f}s"


class LiveView:
    """Shows a run's tasks as they are planned, run and finish; `handle(event)` feeds it.

    Use it as a context manager around the run: on a terminal it keeps a `rich` Live table on
    screen (and is itself a renderable, for embedding in another `Live` or layout); otherwise it
    prints plain lines as events arrive. Either way it prints `RunBoard.summary()` at the end.
    """

    def __init__(self, console: Console | None = None, *, title: str = "LLMCompiler") -> None:
        self.console = console or Console()
        self.title = title
        self.board = RunBoard()
        self.interactive = self.console.is_terminal and not self.console.is_dumb_terminal
        self._lock = threading.Lock()  # Live redraws from its own thread while events arrive
        self._live: Live | None = None

    def __enter__(self) -> Self:
        if self.interactive:
            self._live = Live(self, console=self.console, refresh_per_second=8)
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if exc_type is None:
            self.console.print(Text(self.board.summary(), style="bold"))

    def handle(self, event: dict[str, Any]) -> None:
        """Take one custom event of the run."""
        with self._lock:
            row = self.board.handle(event)
        if self._live is not None:
            self._live.refresh()
        else:
            line = self._plain_line(event, row)
            if line:
                self.console.print(line, soft_wrap=True, markup=False, highlight=False)

    # terminal

    def __rich__(self) -> RenderableType:
        with self._lock:
            return Group(*self._status_lines(), self._table())

    def _status_lines(self) -> list[Text]:
        board = self.board
        lines = [Text(f"{self.title} · round {board.round or '-'}", style="bold")]
        for round, plan in board.plans.items():
            if plan.finished_at is None:
                lines.append(Text(f"  plan {round}: streaming…", style="yellow"))
            else:
                ending = "join()" if plan.joined else "implicit join"
                done = _seconds(board.offset(plan.finished_at))
                lines.append(
                    Text(f"  plan {round}: {plural(plan.tasks, 'task')}, {ending}, done at {done}")
                )
        for decision in board.decisions:
            lines.append(Text(f"  joiner: {_decision_text(decision)}", style="cyan"))
        if board.joining():
            lines.append(Text("  joiner: reading the observations…", style="yellow"))
        return lines

    def _table(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for name in ("#", "round", "tool"):
            table.add_column(name, no_wrap=True, justify="right" if name != "tool" else "left")
        table.add_column("args", ratio=2)
        for name in ("deps", "state", "start", "time"):
            table.add_column(
                name, no_wrap=True, justify="right" if name in ("start", "time") else "left"
            )
        table.add_column("result", ratio=3)
        now = time.time()
        for row in self.board.tasks:
            table.add_row(
                str(row.idx),
                str(row.round),
                row.tool,
                _cell(format_args(row.args)),
                ",".join(map(str, row.dependencies)) or "-",
                Text(row.state, style=_STATE_STYLE[row.state]),
                _seconds(self.board.offset(row.started_at)),
                _duration(row, now),
                _lines_cell(row.result_lines, style="red" if row.error else ""),
            )
        return table

    # plain lines

    def _plain_line(self, event: dict[str, Any], row: TaskRow | None) -> str | None:
        kind = event.get("event")
        at = _seconds(self.board.offset(event["time"]))
        if kind == "plan_started":
            return f"round {event['round']}: planning  {at}"
        if kind == "plan_finished":
            ending = "join()" if event["joined"] else "implicit join"
            tasks = plural(event["tasks"], "task")
            return f"round {event['round']}: plan done, {tasks}, {ending}  {at}"
        if kind == "joiner_decision":
            return f"joiner: {_decision_text(event)}  {at}"
        if row is None:
            return None
        head = f"  #{row.idx:<3} {row.tool:<10} {row.state:<8}"
        if kind == "task_planned":
            after = f"  after {','.join(map(str, row.dependencies))}" if row.dependencies else ""
            return f"{head} {shorten(format_args(row.args), ARGS_CHARS)}{after}".rstrip()
        if kind == "task_started":
            return f"{head} {_seconds(self.board.offset(row.started_at)):>8}"
        # When it finished (each line says when its event happened: the start is on the
        # task's 'running' line), and how long it ran (a rejected or skipped task never ran).
        took = "" if row.duration is None else f"in {row.duration:.2f}s"
        line = f"{head} {at:>8} {took:>8}  "
        lines = [shorten(text, RESULT_CHARS) for text in row.result_lines[:RESULT_LINES]] or [""]
        more = "\n".join(" " * len(line) + text for text in lines[1:])
        return (line + lines[0]).rstrip() + (f"\n{more}" if more else "")


def _cell(text: str, style: str = "") -> Text:
    """A one-line cell that ends in an ellipsis where the column is too narrow."""
    return Text(" ".join(text.split()), style=style, no_wrap=True, overflow="ellipsis")


def _lines_cell(lines: Iterable[str], style: str = "") -> Text:
    """A cell of at most RESULT_LINES lines, each ending in an ellipsis where it is too long."""
    shown = list(lines)[:RESULT_LINES]
    return Text("\n".join(shown), style=style, no_wrap=True, overflow="ellipsis")


def _duration(row: TaskRow, now: float) -> str:
    if row.state == "running" and row.started_at is not None:
        return f"{now - row.started_at:.1f}s…"
    return _seconds(row.duration, sign="")


def _decision_text(event: dict[str, Any]) -> str:
    if event["decision"] == "finish":
        return "finish"
    return f"replan: {shorten(event.get('feedback') or '', RESULT_CHARS)}"


async def ask_live(
    graph: CompiledStateGraph,
    question: str,
    console: Console,
    *,
    number: str = "",
    context: Any = None,
    config: Any = None,
) -> tuple[Measurement, RunBoard]:
    """Print the question, run it with a live view, print the answer; errors are raised."""
    console.rule(f"Question {number}".strip(), style="dim")
    console.print(Text(question, style="bold"))
    view = LiveView(console)
    with view:
        run = await measure(graph, question, context=context, on_event=view.handle, config=config)
    if run.exception is not None:
        raise run.exception
    console.print(Text.assemble(("Answer: ", "bold green"), run.answer or "(none)"))
    return run, view.board
