"""Pictures of a run: the plan as a DAG (Mermaid text or a local image) and its timeline.

Everything here is drawn from what a run already gives you, so it works for a graph in this
process and for one on a LangGraph server alike:

- the custom events (`stream_mode="custom"`, see docs/events.md), a `measure.Measurement`
  (events plus the LLM and tool calls it measured), or a benchmark `Run`;
- or the graph's state (`graph.get_state(config).values`: `tasks` and `observations`).

```python
from llmcompiler_graph.measure import measure
from llmcompiler_graph.pictures import draw_dag, draw_timeline, plan_mermaid

run = await measure(graph, "Which company has the larger market cap, Microsoft or Apple?")
print(plan_mermaid(run.events))         # paste into any Mermaid viewer (GitHub renders it)
draw_dag(run, "dag.png")                 # or draw_dag(run) in a notebook: shown inline
draw_timeline(run, "timeline.svg", beside=react_run)   # a ReAct Measurement on the same axis
plan_mermaid(graph.get_state(config).values)           # from a thread's state
```

Images are rendered locally with matplotlib (`pip install "llmcompiler-graph[pictures]"`),
imported only when a picture is drawn; nothing calls a web service. The layout of the DAG is
ours (layers by dependency depth), so neither graphviz nor networkx is needed.
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from llmcompiler_graph.core.plan import as_text
from llmcompiler_graph.core.values import shorten

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from llmcompiler_graph.measure import LLMCallRecord, ToolCall

INSTALL_HINT = 'pip install "llmcompiler-graph[pictures]"'

NodeState = Literal["ok", "error", "skipped", "reused", "running", "planned"]
"""A task's final state in a picture: its observation's status, `reused` (it took an earlier
identical call's result), `running` (started, never finished) or `planned` (never started)."""

STATE_COLORS: dict[str, tuple[str, str]] = {
    "ok": ("#d8f0d8", "#2ca02c"),
    "reused": ("#d5f3f6", "#17becf"),
    "error": ("#f8d7d8", "#d62728"),
    "skipped": ("#ececec", "#7f7f7f"),
    "running": ("#fff1c7", "#d9a400"),
    "planned": ("#ffffff", "#9a9a9a"),
    "join": ("#ece3f5", "#9467bd"),
}
"""(fill, stroke) per node state, shared by the Mermaid classes and the drawings."""

BAR_COLORS: dict[str, str] = {
    "planner": "#1f77b4",
    "joiner": "#9467bd",
    "LLM": "#ff7f0e",
    "tool call": STATE_COLORS["ok"][1],
    **{state: stroke for state, (_, stroke) in STATE_COLORS.items() if state != "join"},
}
"""Timeline bars by kind: LLM calls by role (`LLM`: any other, e.g. a ReAct agent's turn), tool
calls whose outcome is not known (a ReAct agent's), and tasks by final state."""

ARGS_CHARS = 32
"""Arguments (and errors) are cut to this many characters in a node's label."""


# the plan of a run


@dataclass
class PlanTask:
    """One task of a run as a picture shows it."""

    key: str
    """The node's id: `t3`, or `t3_2` for a second task that reused id 3 (rejected)."""
    idx: int
    round: int | None
    """The plan it belongs to; None when unknown (state does not record it)."""
    tool: str
    args: dict[str, Any]
    dependencies: list[int]
    state: NodeState = "planned"
    planned_at: float | None = None
    dispatched_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    reused_from: int | None = None
    error: str | None = None

    @property
    def final(self) -> bool:
        return self.state not in ("planned", "running")


@dataclass
class PlanRound:
    """One plan of the turn and the joiner's decision on it."""

    number: int | None
    """1 for the first plan; None for the one group a state is drawn as."""
    started_at: float | None = None
    finished_at: float | None = None
    decision: str | None = None
    """`finish`, `replan`, or None while the joiner has not decided."""
    decided_at: float | None = None
    feedback: str | None = None


@dataclass
class RunPlan:
    """The plan(s) of one run, folded from its events (`plan_from_events`) or its state
    (`plan_from_state`): what `plan_mermaid` and `draw_dag` draw."""

    tasks: list[PlanTask] = field(default_factory=list)
    rounds: list[PlanRound] = field(default_factory=list)

    def tasks_of(self, rnd: PlanRound) -> list[PlanTask]:
        return [t for t in self.tasks if t.round == rnd.number]

    def node_of(self, idx: int) -> PlanTask | None:
        """The task whose observation id `idx` stands for (the first one with that id)."""
        return next((t for t in self.tasks if t.idx == idx), None)


_PLAN_EVENTS = ("plan_started", "plan_finished", "joiner_decision")
_TASK_EVENTS = ("task_planned", "task_started", "task_finished")
_KNOWN_EVENTS = frozenset(_PLAN_EVENTS + _TASK_EVENTS)


def plan_from_events(events: Iterable[Mapping[str, Any]]) -> RunPlan:
    """The plan of one run (one user turn) from its custom events, in any order: they are
    sorted by `time`, as docs/events.md says; events of other kinds are ignored."""
    plan = RunPlan()
    rounds: dict[int, PlanRound] = {}

    def round_of(event: Mapping[str, Any]) -> PlanRound:
        number = _number(event.get("round", 1)) or 1
        if number not in rounds:
            rounds[number] = PlanRound(number)
            plan.rounds.append(rounds[number])
        return rounds[number]

    for event in sorted(events, key=lambda e: e.get("time", 0.0)):
        kind, at = event.get("event"), event.get("time")
        if kind not in _KNOWN_EVENTS or (
            kind in _TASK_EVENTS and _number(event.get("idx")) is None
        ):
            continue  # not ours, or a task event without a task id: nothing to draw
        current = round_of(event)
        if kind == "plan_started":
            current.started_at = at
        elif kind == "plan_finished":
            current.finished_at = at
        elif kind == "joiner_decision":
            current.decision, current.decided_at = event.get("decision"), at
            current.feedback = event.get("feedback")
        elif kind == "task_planned":
            task = _new_task(plan, event)
            task.planned_at = at
            if event.get("error"):
                task.error = event["error"]
        else:
            task = _open_task(plan, event)
            task.dispatched_at = event.get("dispatched_at")
            task.started_at = event.get("started_at")
            task.reused_from = event.get("reused_from")
            if kind == "task_started":
                task.state = "running"
            else:
                task.finished_at = event.get("finished_at", at)
                task.state = _final_state(event.get("status"), task.reused_from is not None)
                task.error = event.get("error")
    plan.rounds.sort(key=lambda r: r.number or 0)
    return plan


TOOL_CHARS = 40
"""A tool's name is cut to this many characters in a picture."""


def _number(value: Any) -> int | None:
    """A task id or a round as events carry them (an int), else None: what a picture draws
    comes from events, and a node's key or a round's name must never be arbitrary text."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _final_state(status: Any, reused: bool = False) -> NodeState:
    """An observation's status as a node state (anything unexpected counts as an error)."""
    if status == "ok":
        return "reused" if reused else "ok"
    return "skipped" if status == "skipped" else "error"


def _new_task(plan: RunPlan, event: Mapping[str, Any]) -> PlanTask:
    idx = event["idx"]
    same = sum(t.idx == idx for t in plan.tasks)
    task = PlanTask(
        key=f"t{idx}" if not same else f"t{idx}_{same + 1}",
        idx=idx,
        round=event.get("round", 1),
        tool=shorten(str(event.get("tool", "?")), TOOL_CHARS),
        args=dict(event.get("args") or {}),
        dependencies=[d for d in event.get("dependencies") or [] if _number(d) is not None],
    )
    plan.tasks.append(task)
    return task


def _open_task(plan: RunPlan, event: Mapping[str, Any]) -> PlanTask:
    """The latest unfinished task with the event's id (a duplicate id is planned and finished
    at once, so this finds the right one), or a new one when the events began late."""
    for task in reversed(plan.tasks):
        if task.idx == event["idx"] and not task.final:
            return task
    return _new_task(plan, event)


def plan_from_state(values: Mapping[str, Any]) -> RunPlan:
    """The plan of the current turn from the graph's state (`tasks`, `observations`, and
    `rejected`, `decision`, `feedback` when present).

    State keeps no round per task, so every plan of the turn is drawn as one group, and a
    reused result reads as `ok` (only the events say a task reused one).
    """
    observations = {o["idx"]: o for o in values.get("observations") or []}
    plan = RunPlan(rounds=[PlanRound(None)])
    for task in values.get("tasks") or []:
        node = _new_task(plan, {**task, "round": None})
        observation = observations.get(task["idx"])
        if observation is not None:
            node.state = _final_state(observation["status"])
            node.error = observation.get("error")
            node.dispatched_at = observation.get("dispatched_at")
            node.started_at = observation.get("started_at")
            node.finished_at = observation.get("finished_at")
        else:
            node.error = task.get("error")
    for task in values.get("rejected") or []:
        node = _new_task(plan, {**task, "round": None})
        node.state, node.error = "error", task.get("error")
    if values.get("decision") is not None:
        plan.rounds[0].decision = values["decision"]
        plan.rounds[0].feedback = values.get("feedback") or None
    return plan


def run_plan(run: Any) -> RunPlan:
    """A `RunPlan` from whatever holds a run: a `RunPlan`, a state dict, a `StateSnapshot`,
    anything with `events` (`Measurement`, a benchmark `Run`), or a list of events."""
    if isinstance(run, RunPlan):
        return run
    if isinstance(run, Mapping):
        if "tasks" not in run and "observations" not in run:
            raise TypeError("a state to draw has `tasks` and `observations`")
        return plan_from_state(run)
    if hasattr(run, "events"):
        return plan_from_events(run.events)
    if isinstance(getattr(run, "values", None), Mapping):  # StateSnapshot
        return plan_from_state(run.values)
    if isinstance(run, Iterable) and not isinstance(run, str | bytes):
        return plan_from_events(run)
    raise TypeError(f"cannot draw a plan from {type(run).__name__}")


def _depths(plan: RunPlan) -> dict[str, int]:
    """Each task's depth within its round: 0 without a dependency on a task planned before it
    in the same round, else one more than its deepest such dependency."""
    depth: dict[str, int] = {}
    for rnd in plan.rounds:
        seen: dict[int, str] = {}
        for task in plan.tasks_of(rnd):
            deps = [depth[seen[d]] for d in task.dependencies if d in seen and d != task.idx]
            depth[task.key] = 1 + max(deps) if deps else 0
            seen.setdefault(task.idx, task.key)
    return depth


def _edges(plan: RunPlan) -> list[tuple[str, str]]:
    """Dependency edges (source key, task key); references to no task are left out."""
    edges = []
    for task in plan.tasks:
        for dep in task.dependencies:
            source = plan.node_of(dep)
            if source is not None and source is not task:
                edges.append((source.key, task.key))
    return edges


def _sinks(plan: RunPlan, rnd: PlanRound) -> list[PlanTask]:
    """The round's tasks no other task of the round needs: the ones its join waits for last."""
    tasks = plan.tasks_of(rnd)
    needed = {d for t in tasks for d in t.dependencies if d != t.idx}
    return [t for t in tasks if t.idx not in needed or plan.node_of(t.idx) is not t]


def _join_key(rnd: PlanRound) -> str:
    return f"join{rnd.number or ''}"


def _sources(plan: RunPlan, rnd: PlanRound) -> list[PlanTask]:
    """The round's tasks that need no other task of the same round: where a replan leads."""
    keys = {t.idx for t in plan.tasks_of(rnd)}
    return [t for t in plan.tasks_of(rnd) if not any(d in keys for d in t.dependencies)]


# Mermaid


_MERMAID_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:_-+=/'"
)


def mermaid_escape(text: str) -> str:
    """`text` as one line of a quoted Mermaid label: every character outside a small safe set
    becomes an entity code (`#34;`), so no argument or tool output can end the label, start a
    statement (`click`), open markdown, HTML or math, or break the line."""
    flat = " ".join(text.split())
    return "".join(c if c in _MERMAID_SAFE else f"#{ord(c)};" for c in flat)


def plan_mermaid(run: Any, *, direction: Literal["TD", "LR"] = "TD") -> str:
    """Mermaid `flowchart` text of the run's plan(s) (anything `run_plan` takes).

    One node per task (`3. math`, its arguments, its error or whom it reused), an edge per
    dependency, a join node per round; with replans each round is a subgraph and a dotted
    edge leads from a join to the next plan. Node classes colour the final states:
    `ok`, `reused`, `error`, `skipped`, `running`, `planned` (never started).
    """
    plan = run_plan(run)
    grouped = len(plan.rounds) > 1
    lines = [f"flowchart {direction}"]
    for rnd in plan.rounds:
        indent = "    "
        if grouped:
            title = f"round {rnd.number}"
            lines.append(f'    subgraph round{rnd.number}["{mermaid_escape(title)}"]')
            indent = "        "
        for task in plan.tasks_of(rnd):
            label = "<br/>".join(mermaid_escape(line) for line in _label_lines(task))
            lines.append(f'{indent}{task.key}["{label}"]:::{task.state}')
        join = "join" if rnd.decision is None else f"join: {rnd.decision}"
        lines.append(f'{indent}{_join_key(rnd)}(["{mermaid_escape(join)}"]):::join')
        if grouped:
            lines.append("    end")
    lines += [f"    {source} --> {target}" for source, target in _edges(plan)]
    for i, rnd in enumerate(plan.rounds):
        lines += [f"    {t.key} --> {_join_key(rnd)}" for t in _sinks(plan, rnd)]
        if i + 1 < len(plan.rounds):
            replan = shorten(f"replan: {rnd.feedback}" if rnd.feedback else "replan", 40)
            target = f"round{plan.rounds[i + 1].number}"
            lines.append(f'    {_join_key(rnd)} -.->|"{mermaid_escape(replan)}"| {target}')
    used = {t.state for t in plan.tasks} | {"join"}
    for state, (fill, stroke) in STATE_COLORS.items():
        if state in used:
            dash = ",stroke-dasharray:4 3" if state in ("planned", "skipped") else ""
            lines.append(f"    classDef {state} fill:{fill},stroke:{stroke},color:#222{dash}")
    return "\n".join(lines) + "\n"


def _label_lines(task: PlanTask) -> list[str]:
    """A node's label: `3. math  0.42 s`, its arguments, and why it failed or whom it reused."""
    head = f"{task.idx}. {task.tool}"
    if task.state in ("ok", "error") and task.started_at is not None and task.finished_at:
        head += f"  {task.finished_at - task.started_at:.2f} s"
    lines = [head, shorten(_call_text(task.args), ARGS_CHARS)]
    if task.state == "reused" and task.reused_from is not None:
        lines.append(f"reused #{task.reused_from}")
    elif task.state in ("error", "skipped") and task.error:
        lines.append(shorten(task.error, ARGS_CHARS))
    return [line for line in lines if line]


def _call_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={as_text(value)}" for name, value in args.items())


# matplotlib


def require_matplotlib() -> None:
    """Raise an ImportError that says how to install matplotlib, unless it imports (for a
    caller that wants to know before a run, not after)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"drawing a picture needs matplotlib: {INSTALL_HINT}") from exc


@functools.cache
def _picture_class() -> type[Figure]:
    """A `Figure` that notebooks show inline (made without pyplot, so it is never shown twice
    and never changes the session's backend)."""
    from matplotlib.figure import Figure

    class Picture(Figure):
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=100)
            return buffer.getvalue()

    return Picture


def _new_figure(width: float, height: float) -> Figure:
    require_matplotlib()
    return _picture_class()(figsize=(width, height), layout="constrained")


def _save(figure: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        figure.savefig(path, dpi=120)
    return figure


def _legend(figure: Figure, handles: Sequence[Any]) -> None:
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 9),
        fontsize=7,
        frameon=False,
    )


def _plain(text: Any) -> None:
    """No mathtext: a `$1` in a label is text."""
    text.set_parse_math(False)


_BOX_W, _BOX_H, _X_GAP, _Y_GAP = 2.6, 0.8, 3.0, 1.25
_JOIN_W, _JOIN_H = 1.5, 0.45
_INCH = 0.72
"""Inches per layout unit: boxes keep their size in points, so their labels fit."""
ROW_NODES = 8
"""At most this many boxes side by side: a wider layer (independent tasks) wraps onto more rows,
so a picture is at most 8 boxes wide (18 in: 2,180 px saved at 120 dpi, 1,810 px inline at
100 dpi, within a full-HD screen, labels readable) whatever the number of tasks; it grows in
height instead."""


def draw_dag(run: Any, path: str | Path | None = None, *, title: str | None = None) -> Figure:
    """The run's plan(s) as a picture (anything `run_plan` takes), laid out in layers by
    dependency depth (a layer wider than `ROW_NODES` wraps onto more rows); rounds in bands,
    top to bottom, each ending in its join. An edge across rows runs along the gaps between
    the boxes, never behind one.

    Written to `path` when given (the format from its suffix: .png, .svg, .pdf); the Figure is
    returned either way, and a notebook shows it inline.
    """
    require_matplotlib()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as Polyline

    plan = run_plan(run)
    layout = _layout(plan)
    rows, bands = layout.rows, layout.bands
    widest = max((len(row) for row in rows), default=1)
    width, height = widest * _X_GAP + 1.2, len(rows) * _Y_GAP + 0.4
    inches = max(width * _INCH, 4.0)
    figure = _new_figure(inches, max(height * _INCH + (0.6 if title else 0), 1.5))
    ax = figure.subplots()
    ax.set_axis_off()
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-height + 0.2 + _Y_GAP / 2, _Y_GAP / 2 + 0.2)
    row_of = {key: y for y, row in enumerate(rows) for key in row}
    where = {key: (layout.column[key] * _X_GAP, -y * _Y_GAP) for key, y in row_of.items()}
    for number, (top, bottom) in bands.items():
        y0, y1 = -bottom * _Y_GAP - _Y_GAP / 2, -top * _Y_GAP + _Y_GAP / 2
        ax.axhspan(y0, y1, color="#000000", alpha=0.035 if number % 2 else 0.0, lw=0)
        label = ax.text(-width / 2 + 0.1, y1 - 0.1, f"round {number}", va="top", fontsize=7)
        label.set_color("#666666")

    joins = {_join_key(rnd) for rnd in plan.rounds}

    def size(key: str) -> tuple[float, float]:
        return (_JOIN_W, _JOIN_H) if key in joins else (_BOX_W, _BOX_H)

    # Each row's boxes as (x, half width), for the edges that pass it.
    spans = [tuple((where[key][0], size(key)[0] / 2) for key in row) for row in rows]

    def arrow(source: str, target: str, **style: Any) -> None:
        (x1, y1), (x2, y2) = where[source], where[target]
        start, end = (x1, y1 - size(source)[1] / 2), (x2, y2 + size(target)[1] / 2)
        style = {"arrowstyle": "-|>", "mutation_scale": 9, "color": "#555555", "lw": 0.8, **style}
        passed = set(spans[row_of[source] + 1 : row_of[target]])
        if not passed:  # the next row: straight across the gap between the rows
            ax.add_patch(FancyArrowPatch(start, end, shrinkA=1, shrinkB=1, **style))
            return
        # Across rows (a replan's task needing an earlier round's, a join waiting for a task
        # rows up, a wrapped layer): along the gap below the source's row to an x where no box
        # of the rows between stands, down there, and along the gap above the target's row.
        side, gap = _clear_x(passed, x1, x2), _Y_GAP / 2
        points = [start, (x1, y1 - gap), (side, y1 - gap), (side, y2 + gap), (x2, y2 + gap), end]
        ax.add_patch(FancyArrowPatch(path=Polyline(points), **style))

    for source, target in _edges(plan):
        arrow(source, target)
    for i, rnd in enumerate(plan.rounds):
        join = _join_key(rnd)
        for task in _sinks(plan, rnd):
            arrow(task.key, join, color="#9467bd", lw=0.6)
        if i + 1 < len(plan.rounds):
            after = plan.rounds[i + 1]
            targets = [t.key for t in _sources(plan, after)] or [_join_key(after)]
            for target in targets:
                arrow(join, target, color="#9467bd", lw=0.8, linestyle="--")
    nodes = [(t.key, t.state, _label_lines(t)) for t in plan.tasks]
    nodes += [
        (_join_key(r), "join", ["join" if r.decision is None else f"join: {r.decision}"])
        for r in plan.rounds
    ]
    for key, state, lines in nodes:
        fill, stroke = STATE_COLORS[state]
        x, y = where[key]
        w, h = size(key)
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - h / 2),
                w,
                h,
                boxstyle=f"round,pad=0,rounding_size={h / 2 if state == 'join' else 0.12}",
                facecolor=fill,
                edgecolor=stroke,
                linewidth=1.2,
                linestyle="--" if state in ("planned", "skipped") else "-",
            )
        )
        text = ax.text(x, y, "\n".join(lines), ha="center", va="center", fontsize=6.5)
        _plain(text)
    used = [s for s in STATE_COLORS if s != "join" and any(t.state == s for t in plan.tasks)]
    if used:
        handles = [Patch(fc=STATE_COLORS[s][0], ec=STATE_COLORS[s][1], label=s) for s in used]
        _legend(figure, handles)
    if title:
        _plain(figure.suptitle(textwrap.fill(title, int(inches * 12)), fontsize=9))
    return _save(figure, path)


def _clear_x(rows: Iterable[tuple[tuple[float, float], ...]], x1: float, x2: float) -> float:
    """An x at which a vertical line passes no box of `rows` (each box an (x, half width)),
    the nearest to `x1` and `x2`: one of them, else the middle of a gap beside a box (between
    two columns, or beyond a row's ends)."""
    clearance = (_X_GAP - _BOX_W) / 2  # half the gap between two columns
    boxes = {box for row in rows for box in row}
    beside = {x + side * (half + clearance) for x, half in boxes for side in (-1, 1)}
    clear = [x for x in {x1, x2} | beside if all(abs(x - c) >= h + clearance / 2 for c, h in boxes)]
    return min(clear, key=lambda x: (abs(x - x1) + abs(x - x2), abs(x - x1), x))


@dataclass
class _Layout:
    """Where `draw_dag` puts each node."""

    rows: list[list[str]] = field(default_factory=list)
    """Node keys per row, top to bottom."""
    column: dict[str, float] = field(default_factory=dict)
    """Each node's x, in columns from the middle."""
    bands: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Each numbered round's (first, last) row, when there are several rounds."""


def _layout(plan: RunPlan) -> _Layout:
    """The layers by dependency depth, top to bottom, each ordered to keep edges short and
    wrapped onto rows of at most `ROW_NODES` (a shorter last row on the others' columns)."""
    depth = _depths(plan)
    parents: dict[str, list[str]] = {}
    for source, target in _edges(plan):
        parents.setdefault(target, []).append(source)
    layout = _Layout()
    column = layout.column
    for rnd in plan.rounds:
        first = len(layout.rows)
        tasks = plan.tasks_of(rnd)
        deepest = max((depth[t.key] for t in tasks), default=-1)
        layers = [[t.key for t in tasks if depth[t.key] == d] for d in range(deepest + 1)]
        for layer in [*layers, [_join_key(rnd)]]:
            layer.sort(key=lambda k: _mean([column[p] for p in parents.get(k, []) if p in column]))
            width = min(len(layer), ROW_NODES)
            for start in range(0, len(layer), ROW_NODES):
                row = layer[start : start + ROW_NODES]
                offset = (width - len(row)) // 2 - (width - 1) / 2
                column.update({key: offset + i for i, key in enumerate(row)})
                layout.rows.append(row)
        if rnd.number is not None and len(plan.rounds) > 1:
            layout.bands[rnd.number] = (first, len(layout.rows) - 1)
    return layout


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# timelines


class TimedRun(Protocol):
    """What a timeline is drawn from: a `measure.Measurement`, or a benchmark `Run`."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def llm_calls(self) -> Sequence[LLMCallRecord]: ...
    @property
    def tool_calls(self) -> Sequence[ToolCall]: ...
    @property
    def events(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class _Timing:
    start: float
    end: float
    llm_calls: Sequence[Any]
    tool_calls: Sequence[Any]
    events: Sequence[Mapping[str, Any]]


def _timing(run: TimedRun | Sequence[Mapping[str, Any]]) -> _Timing:
    """A run with its clock: a measured one as it is; events alone span their own times."""
    if hasattr(run, "llm_calls"):
        return _Timing(run.start, run.end, run.llm_calls, run.tool_calls, run.events)
    events = list(run)  # type: ignore[arg-type]
    times = [e["time"] for e in events if "time" in e] or [0.0]
    return _Timing(min(times), max(times), [], [], events)


@dataclass(frozen=True)
class _Row:
    """One line of a Gantt chart, in seconds from the run's start."""

    label: str
    kind: str
    """Its colour and legend entry: a key of `BAR_COLORS`."""
    spans: tuple[tuple[float, float, float], ...] = ()
    """(start, end, opacity): pale while waiting (for a first token, a free slot)."""
    waits: tuple[tuple[float, float], ...] = ()
    """Thin lines: a task waiting for its inputs."""
    ticks: tuple[tuple[float, str], ...] = ()
    """(time, task id): a task line complete in the planner's stream."""
    marks: tuple[tuple[float, str], ...] = ()
    """(time, marker): an outcome without a duration (skipped, invalid, reused)."""
    note: str = ""


_PALE = 0.3
"""The opacity of a bar's waiting part: for an LLM call's first token, a task's free slot."""
_WAIT_COLOR = "#b0b0b0"
"""The thin line of a task waiting for its inputs."""
_NO_CALL, _REUSED = "x", "D"
"""The markers of a task's outcome without a call of its own (rejected or skipped; reused)."""
_MARKS = {_NO_CALL: "no call (rejected, skipped)", _REUSED: "reused an earlier result"}
"""What each marker means, in the legend."""


def draw_timeline(
    run: TimedRun | Sequence[Mapping[str, Any]],
    path: str | Path | None = None,
    *,
    beside: TimedRun | None = None,
    labels: tuple[str, str] = ("LLMCompiler", "ReAct"),
    title: str | None = None,
) -> Figure:
    """A Gantt chart of one run: per round the planner's stream (pale until its first token,
    a tick where each task line was complete), each task (a thin line while it waits for its
    inputs, then from `task_started` to `task_finished`, coloured by status) and the joiner.

    `run` is a `Measurement` (events plus the measured LLM calls), a benchmark `Run`, or the
    custom events alone (then the planner's bar spans plan_started to plan_finished, and the
    joiner's starts when its inputs were complete). `beside`: a second run (e.g. ReAct's
    `Measurement`) drawn below on the same time axis. Written to `path` when given (.png, .svg,
    .pdf); the Figure is returned either way, and a notebook shows it inline.
    """
    panels = [(labels[0], run)] + ([(labels[1], beside)] if beside is not None else [])
    question = getattr(run, "question", None)
    return draw_timelines(panels, path, title=title or question)


def draw_timelines(
    panels: Sequence[tuple[str, TimedRun | Sequence[Mapping[str, Any]]]],
    path: str | Path | None = None,
    *,
    title: str | None = None,
) -> Figure:
    """Gantt charts of several runs, one panel each (`(label, run)`), on a shared time axis
    (the dashed line: the answer). What `draw_timeline` draws, and the benchmark's `--plot`:
    a run with task events gets `draw_timeline`'s rows, one without (ReAct) a row per LLM call
    and per tool call."""
    require_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    timings = [_timing(run) for _, run in panels]
    rows = [_rows(timing) for timing in timings]
    heights = [max(len(r), 1) for r in rows]
    figure = _new_figure(12, 1.6 + 0.28 * sum(heights) + 0.5 * len(panels))
    axes = figure.subplots(
        len(panels), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": heights}
    )[:, 0]
    for ax, (label, _), timing, panel in zip(axes, panels, timings, rows, strict=True):
        _draw_rows(ax, panel)
        latency = timing.end - timing.start
        ax.axvline(latency, color="black", linewidth=0.8, linestyle="--")
        _plain(ax.set_title(f"{label}: {latency:.2f} s", fontsize=9, loc="left"))
    axes[-1].set_xlabel("seconds since the question")
    axes[-1].set_xlim(left=0)
    kinds = {row.kind for panel in rows for row in panel}
    named: dict[str, list[str]] = {}
    for kind, color in BAR_COLORS.items():
        if kind in kinds:
            named.setdefault(color, []).append(kind)
    handles: list[Any] = [Patch(color=c, label=" / ".join(k)) for c, k in named.items()]
    drawn = [row for panel in rows for row in panel]
    if any(alpha < 1 for row in drawn for _, _, alpha in row.spans):
        label = "pale: waiting (LLM: for its first token; task: for a free slot)"
        handles.append(Patch(color="#7f7f7f", alpha=_PALE, label=label))
    if any(row.waits for row in drawn):
        handles.append(Line2D([], [], color=_WAIT_COLOR, lw=1, label="task waits for its inputs"))
    if any(row.ticks for row in drawn):
        handles.append(Line2D([], [], color="black", marker="|", ls="", label="task planned"))
    for marker, meaning in _MARKS.items():
        if any(mark == marker for row in drawn for _, mark in row.marks):
            handles.append(Line2D([], [], color="#555555", marker=marker, ls="", label=meaning))
    handles.append(Line2D([], [], color="black", lw=0.8, ls="--", label="answer"))
    _legend(figure, handles)
    if title:
        _plain(figure.suptitle(shorten(title, 110), fontsize=10))
    return _save(figure, path)


def _draw_rows(ax: Axes, rows: Sequence[_Row]) -> None:
    for y, row in enumerate(rows):
        color = BAR_COLORS[row.kind]
        for start, end, alpha in row.spans:
            ax.barh(y, end - start, left=start, color=color, alpha=alpha, height=0.7)
        for start, end in row.waits:
            ax.plot([start, end], [y, y], color=_WAIT_COLOR, linewidth=1)
        for at, marker in row.marks:
            ax.plot(at, y, marker=marker, color=color, markersize=6, ls="")
        for at, idx in row.ticks:
            ax.plot(at, y, marker="|", color="black", markersize=9)
            if len(row.ticks) <= 30:
                ax.text(at, y - 0.4, idx, fontsize=5.5, ha="center", va="bottom")
        if row.note:
            end = max([s[1] for s in row.spans] + [m[0] for m in row.marks], default=0.0)
            ax.text(end, y, f" {row.note}", fontsize=6.5, va="center")
    ax.set_yticks(range(len(rows)), [row.label for row in rows], fontsize=7)
    for label in ax.get_yticklabels():
        _plain(label)
    ax.set_ylim(len(rows) - 0.5, -0.5)


def _rows(run: _Timing) -> list[_Row]:
    """The rows of one run: by rounds when it has task events, else one per call."""
    if any(e.get("event") == "task_planned" for e in run.events):
        return _compiler_rows(run)
    return _call_rows(run.llm_calls, run.tool_calls, run.start)


def _llm_spans(calls: Iterable[Any], t0: float) -> tuple[tuple[float, float, float], ...]:
    """Each call pale from the request to its first token, solid to its last chunk (a reply
    that streamed nothing is one solid bar)."""
    spans = []
    for call in calls:
        start, end = call.start - t0, call.end - t0
        if call.first_token is None:
            spans.append((start, end, 1.0))
        else:
            spans += [(start, call.first_token - t0, _PALE), (call.first_token - t0, end, 1.0)]
    return tuple(spans)


def _call_rows(llm_calls: Iterable[Any], tool_calls: Iterable[Any], t0: float) -> list[_Row]:
    """A row per LLM call (the math tool's is inside its tool bar) and per tool call, by
    start time."""
    timed: list[tuple[float, _Row]] = []
    for call in llm_calls:
        if call.role != "math":
            kind = call.role if call.role in ("planner", "joiner") else "LLM"
            timed.append((call.start, _Row(kind, kind, _llm_spans([call], t0))))
    for tool in tool_calls:
        label = shorten(f"{tool.tool}: {tool.label}", 48)
        timed.append(
            (tool.start, _Row(label, "tool call", ((tool.start - t0, tool.end - t0, 1.0),)))
        )
    return [row for _, row in sorted(timed, key=lambda item: item[0])]


def _compiler_rows(run: _Timing) -> list[_Row]:
    """Per round: the planner, its tasks in planned order, the joiner; then any other calls."""
    t0 = run.start
    plan = plan_from_events(run.events)
    calls: dict[tuple[str, int | None], list[Any]] = {}
    for call in run.llm_calls:
        if call.role in ("planner", "joiner"):
            calls.setdefault((call.role, _round_at(plan.rounds, call.start)), []).append(call)
    rows: list[_Row] = []
    for rnd in plan.rounds:
        tasks = plan.tasks_of(rnd)
        spans = _llm_spans(calls.get(("planner", rnd.number), []), t0)
        if not spans and rnd.started_at is not None:
            spans = ((rnd.started_at - t0, (rnd.finished_at or run.end) - t0, 1.0),)
        ticks = tuple((t.planned_at - t0, str(t.idx)) for t in tasks if t.planned_at is not None)
        rows.append(_Row(f"planner {rnd.number}", "planner", spans, ticks=ticks))
        rows += [_task_row(task, t0, run.end) for task in tasks]
        joiner = _llm_spans(calls.get(("joiner", rnd.number), []), t0)
        if not joiner and rnd.decided_at is not None:
            ready = [rnd.finished_at or 0.0, *(t.finished_at or 0.0 for t in tasks)]
            joiner = ((max(ready) - t0, rnd.decided_at - t0, 1.0),)
        if joiner:
            label = f"joiner {rnd.number}"
            rows.append(_Row(label, "joiner", joiner, note=rnd.decision or ""))
    others = [c for c in run.llm_calls if c.role not in ("planner", "joiner")]
    return rows + _call_rows(others, [], t0)


def _round_at(rounds: Sequence[PlanRound], moment: float) -> int | None:
    """The round a planner or joiner call starting at `moment` belongs to: the latest one whose
    plan had started (its `plan_started` is sent before the planner's call, and the joiner's
    call comes before the next plan's)."""
    started = [r.number for r in rounds if r.started_at is not None and r.started_at <= moment]
    return started[-1] if started else rounds[0].number if rounds else None


def _task_row(task: PlanTask, t0: float, end: float) -> _Row:
    """A task: waiting for its inputs (thin), for a free slot (pale), then its call; an
    outcome without a call (skipped, invalid, reused) is a mark."""
    label = shorten(f"#{task.idx} {task.tool}: {_call_text(task.args)}", 44)
    waits, spans, marks = [], [], []
    dispatched = task.dispatched_at or task.started_at
    if task.planned_at is not None and dispatched is not None and dispatched > task.planned_at:
        waits.append((task.planned_at - t0, dispatched - t0))
    if task.started_at is None:
        if task.finished_at is not None:
            marks.append((task.finished_at - t0, _NO_CALL))
    elif task.state == "reused":
        marks.append((task.started_at - t0, _REUSED))
    else:
        if task.dispatched_at is not None and task.started_at > task.dispatched_at:
            spans.append((task.dispatched_at - t0, task.started_at - t0, _PALE))
        finish = task.finished_at if task.finished_at is not None else end
        spans.append((task.started_at - t0, finish - t0, 1.0))
    return _Row(label, task.state, tuple(spans), tuple(waits), marks=tuple(marks))
