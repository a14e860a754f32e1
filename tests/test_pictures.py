"""Pictures of a run (`llmcompiler_graph.pictures`): Mermaid text, the DAG and the timeline.

Hand-made events (sent through the real `EventSink` on a fake clock, so their fields are the
public contract) check the folding, the Mermaid syntax and its escaping; runs of the real graph
on the simulators check the pictures of real events, through Python and through `ask`.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import struct
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from llmcompiler_graph import create_llmcompiler
from llmcompiler_graph.app import cli, demo
from llmcompiler_graph.bench import report
from llmcompiler_graph.bench.trace import Run
from llmcompiler_graph.core import events as events_module
from llmcompiler_graph.core.events import EventSink
from llmcompiler_graph.core.plan import make_observation, make_task
from llmcompiler_graph.measure import LLMCallRecord, ToolCall, measure
from llmcompiler_graph.pictures import (
    INSTALL_HINT,
    ROW_NODES,
    _layout,
    draw_dag,
    draw_timeline,
    mermaid_escape,
    plan_from_events,
    plan_from_state,
    plan_mermaid,
)
from llmcompiler_graph.react import create_react_baseline
from llmcompiler_graph.testing.scenarios import SHOWCASE

PNG = b"\x89PNG\r\n\x1a\n"
HOSTILE = '"]); click t1 call evil()\n`**x**` <b>$$x^2$$</b> #quot; end'
MARKET_CAPS, DIRECTORS = SHOWCASE[1], SHOWCASE[2]  # one round with math; a replan

MERMAID_LINE = re.compile(
    r"flowchart TD"
    r'|    subgraph round\d+\["[^"]*"\]'
    r"|    end"
    r'|(    )+t\d+(_\d+)?\["[^"]*"\]:::(ok|error|skipped|reused|running|planned)'
    r'|(    )+join\d*\(\["[^"]*"\]\):::join'
    r"|    \w+ --> \w+"
    r'|    join\d+ -\.->\|"[^"]*"\| round\d+'
    r"|    classDef \w+ fill:#\w+,stroke:#\w+,color:#222(,stroke-dasharray:4 3)?"
)
"""Every statement `plan_mermaid` may write: nothing else can appear, whatever the labels."""


class Clock:
    """Stands in for the `time` module of `core.events`: the events' times are set by hand."""

    now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def two_rounds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A replanned run with every outcome: ok, error, skipped, reused, a duplicate id, and in
    round 2 a task still running and one never started; hostile text everywhere."""
    clock, sent = Clock(), []
    monkeypatch.setattr(events_module, "time", clock)
    t0 = clock.now

    def at(seconds: float) -> float:
        clock.now = t0 + seconds
        return clock.now

    one = EventSink(sent.append, graph="llmcompiler", round=1)
    search1 = make_task(1, "search", {"query": HOSTILE})
    search2 = make_task(2, "search", {"query": "second"})
    total = make_task(3, "math", {"problem": "sum", "context": ["$1", "$2"]}, [1, 2])
    again = make_task(4, "search", {"query": HOSTILE})
    duplicate = make_task(2, "calculate", {"expression": "1 + 1"})
    at(0.0)
    one.send("plan_started")
    one.task_planned(search1)
    one.task_started(search1, search1["args"], at(0.1), at(0.1))
    one.task_planned(search2)
    one.task_started(search2, search2["args"], at(0.2), at(0.25))
    at(0.3)
    one.task_planned(total)
    at(0.35)
    one.task_planned(again)
    at(0.4)
    one.task_planned(duplicate)
    one.task_finished(duplicate, make_observation(2, "error", None, "duplicate id 2", None, None))
    at(0.45)
    one.send("plan_finished", tasks=5, joined=True)
    one.task_finished(search1, make_observation(1, "ok", HOSTILE, None, 1000.1, 1000.1, at(0.6)))
    one.task_started(again, again["args"], at(0.6), at(0.6), reused_from=1)
    one.task_finished(again, make_observation(4, "ok", HOSTILE, None, 1000.6, 1000.6, at(0.6)), 1)
    failed = make_observation(2, "error", None, f"ValueError: {HOSTILE}", 1000.2, 1000.25, at(0.8))
    one.task_finished(search2, failed)
    reason = "skipped: dependency 2 failed"
    one.task_finished(total, make_observation(3, "skipped", None, reason, None, None, at(0.8)))
    at(1.0)
    one.send("joiner_decision", decision="replan", thought="", answer=None, feedback=HOSTILE)

    two = EventSink(sent.append, graph="llmcompiler", round=2)
    convert = make_task(5, "math", {"problem": "convert $1"}, [1])
    hanging = make_task(6, "search", {"query": "slow"})
    never = make_task(7, "calculate", {"expression": "2 * 3"})
    at(1.1)
    two.send("plan_started")
    at(1.2)
    two.task_planned(convert)
    two.task_started(convert, convert["args"], at(1.2), at(1.25))
    at(1.3)
    two.task_planned(hanging)
    two.task_started(hanging, hanging["args"], at(1.35), at(1.35))
    at(1.4)
    two.task_planned(never)
    two.send("plan_finished", tasks=3, joined=True)
    two.task_finished(
        convert, make_observation(5, "ok", "1083 feet", None, 1001.2, 1001.25, at(1.6))
    )
    at(1.8)
    two.send("joiner_decision", decision="finish", thought="", answer="ok", feedback=None)
    return sent


def nodes(mermaid: str) -> dict[str, str]:
    """Node id -> class of the task nodes of Mermaid text."""
    return dict(re.findall(r"^\s+(t\d+(?:_\d+)?)\[.*:::(\w+)$", mermaid, re.MULTILINE))


def labels(mermaid: str) -> list[str]:
    return re.findall(r'"([^"]*)"', mermaid)


LLM_ROWS = ("planner", "joiner ")


def bars(axes: Any, row: int) -> list[tuple[float, float]]:
    """(start, end) of the bars drawn on one row of a timeline, in order."""
    found = [
        (bar.get_x(), bar.get_x() + bar.get_width())
        for bar in axes.patches
        if abs(bar.get_y() + bar.get_height() / 2 - row) < 0.01
    ]
    return sorted(found)


def decoded(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label)


def test_mermaid_of_a_replanned_run(two_rounds: list[dict[str, Any]]) -> None:
    mermaid = plan_mermaid(two_rounds)

    assert nodes(mermaid) == {
        "t1": "ok",
        "t2": "error",
        "t3": "skipped",
        "t4": "reused",
        "t2_2": "error",
        "t5": "ok",
        "t6": "running",
        "t7": "planned",
    }
    lines = mermaid.splitlines()
    for edge in ("t1 --> t3", "t2 --> t3", "t1 --> t5", "t3 --> join1", "t2_2 --> join1"):
        assert f"    {edge}" in lines
    assert "    t1 --> join1" not in lines  # task 3 needs it: the join waits for task 3
    assert [line.strip() for line in lines if "subgraph" in line] == [
        'subgraph round1["round 1"]',
        'subgraph round2["round 2"]',
    ]
    assert any(line.startswith("    join1 -.->|") and line.endswith("| round2") for line in lines)
    assert "join: replan" in mermaid and "join: finish" in mermaid
    assert {"classDef ok", "classDef skipped", "classDef reused", "classDef planned"} <= {
        " ".join(line.split()[:2]) for line in lines
    }
    text = " ".join(decoded(label) for label in labels(mermaid))
    assert "reused #4" not in text and "reused #1" in text
    assert "skipped: dependency 2 failed" in text and "duplicate id 2" in text


def test_mermaid_labels_cannot_break_out(two_rounds: list[dict[str, Any]]) -> None:
    """Arguments, errors and feedback full of Mermaid syntax stay inside their labels."""
    mermaid = plan_mermaid(two_rounds)

    for line in mermaid.splitlines():
        assert MERMAID_LINE.fullmatch(line), line
    assert "click" not in "".join(line.split()[0] for line in mermaid.splitlines())
    for label in labels(mermaid):
        assert re.fullmatch(r"([A-Za-z0-9 .,:_\-+=/']|#\d+;|<br/>)*", label), label
    assert decoded(mermaid_escape(HOSTILE)) == " ".join(HOSTILE.split())


def test_node_keys_and_rounds_come_only_from_numbers_and_tool_names_are_cut() -> None:
    """Events are data from outside: a task id or a round that is text never becomes part of
    a Mermaid statement, and a huge tool name is cut (it took 16 s to draw)."""
    hostile = '1"]\nclick t1 "javascript:alert(1)"\nx["'
    events = [
        {
            "event": "task_planned",
            "round": 1,
            "time": 1.0,
            "idx": 1,
            "tool": "t" * 100_000,
            "args": {},
            "dependencies": [hostile],
        },
        {
            "event": "task_planned",
            "round": hostile,
            "time": 1.1,
            "idx": 2,
            "tool": "ok",
            "args": {},
            "dependencies": [],
        },
        {
            "event": "task_planned",
            "round": 1,
            "time": 1.2,
            "idx": hostile,
            "tool": "ok",
            "args": {},
            "dependencies": [],
        },
    ]
    started = time.perf_counter()
    mermaid = plan_mermaid(events)
    assert time.perf_counter() - started < 1.0
    for line in mermaid.splitlines():
        assert MERMAID_LINE.fullmatch(line), line
    assert "javascript" not in mermaid and "click" not in mermaid
    assert len(mermaid) < 2_000


def test_mermaid_from_state() -> None:
    """`graph.get_state(config).values` draws too: one group, rejected tasks as errors."""
    values = {
        "tasks": [
            make_task(1, "search", {"query": "a"}),
            make_task(2, "math", {"problem": "$1 * 2"}, [1]),
            make_task(3, "search", {"query": "b"}),
        ],
        "observations": [
            make_observation(1, "ok", "x", None, 1.0, 1.0, 2.0),
            make_observation(2, "error", None, "ValueError: no", 2.0, 2.0, 2.5),
        ],
        "rejected": [make_task(2, "search", {"query": "c"}, error="duplicate id 2")],
        "decision": "finish",
    }

    mermaid = plan_mermaid(values)

    assert nodes(mermaid) == {"t1": "ok", "t2": "error", "t3": "planned", "t2_2": "error"}
    assert "subgraph" not in mermaid and "    t1 --> t2" in mermaid.splitlines()
    assert 'join(["join: finish"]):::join' in mermaid
    assert len(plan_from_state(values).rounds) == 1


def test_dag_and_timeline_of_hand_made_events(two_rounds: list[dict[str, Any]]) -> None:
    figure = draw_dag(two_rounds, title=HOSTILE)
    assert figure._repr_png_().startswith(PNG)  # what a notebook shows inline

    timeline = draw_timeline(two_rounds)  # events alone: the joiner's bar is inferred
    (axes,) = timeline.axes
    rows = [label.get_text() for label in axes.get_yticklabels()]
    assert rows[0] == "planner 1" and rows[6] == "joiner 1"
    assert rows[7] == "planner 2" and rows[-1] == "joiner 2"
    assert [row.split(":")[0] for row in rows[1:6]] == ["#1 search", "#2 search", "#3 math",
                                                        "#4 search", "#2 calculate"]  # fmt: skip
    assert len(rows) == 12
    plan = plan_from_events(two_rounds)
    assert [r.decision for r in plan.rounds] == ["replan", "finish"]


def test_the_timeline_legend_explains_every_mark(two_rounds: list[dict[str, Any]]) -> None:
    """Not only the colours: the pale bars (waiting for a first token or a free slot), the
    thin lines (waiting for inputs), the markers of tasks without a call, the answer's line."""
    (legend,) = draw_timeline(two_rounds).legends
    entries = [text.get_text() for text in legend.get_texts()]

    assert "pale: waiting (LLM: for its first token; task: for a free slot)" in entries
    assert "task waits for its inputs" in entries and "task planned" in entries
    assert "no call (rejected, skipped)" in entries and "reused an earlier result" in entries
    assert entries[-1] == "answer"
    one = {"event": "task_planned", "time": 1.0, "idx": 1, "tool": "search", "dependencies": []}
    plain = draw_timeline([one])
    (legend,) = plain.legends  # only what the picture shows
    assert [text.get_text() for text in legend.get_texts()] == [
        "planner",
        "planned",
        "task planned",
        "answer",
    ]


def searches(count: int) -> list[dict[str, Any]]:
    return [make_task(i, "search", {"query": f"q{i}"}) for i in range(1, count + 1)]


def test_independent_tasks_wrap_onto_rows_so_the_picture_stays_narrow(tmp_path: Path) -> None:
    """500 independent tasks were one row 129,703 px wide: now at most `ROW_NODES` boxes side
    by side, the picture grows in height, and every task is drawn inside it."""
    path = tmp_path / "dag.png"
    figure = draw_dag({"tasks": searches(500), "observations": []}, path)

    width, height = struct.unpack(">II", path.read_bytes()[16:24])  # the PNG's IHDR
    assert width < 3_000 < height
    (axes,) = figure.axes
    heads = [text.get_text().partition("\n")[0] for text in axes.texts]
    assert sorted(heads) == sorted([*(f"{i}. search" for i in range(1, 501)), "join"])
    (left, right), (bottom, top) = axes.get_xlim(), axes.get_ylim()
    assert all(
        left < x < right and bottom < y < top for x, y in (t.get_position() for t in axes.texts)
    )


def test_a_wide_layer_wraps_above_the_tasks_that_need_it() -> None:
    """Its rows on the same columns (a shorter last row too), all above the next layer."""
    tasks = searches(2 * ROW_NODES + 1)
    tasks.append(make_task(len(tasks) + 1, "math", {"problem": "$1 + $2"}, [1, 2]))
    layout = _layout(plan_from_state({"tasks": tasks, "observations": []}))
    assert [len(row) for row in layout.rows] == [ROW_NODES, ROW_NODES, 1, 1, 1]
    assert layout.rows[3:] == [[f"t{len(tasks)}"], ["join"]]
    columns = {layout.column[key] for row in layout.rows[:3] for key in row}
    assert len(columns) == ROW_NODES and layout.column[layout.rows[2][0]] in columns


def test_a_small_plan_keeps_its_layout(two_rounds: list[dict[str, Any]]) -> None:
    layout = _layout(plan_from_events(two_rounds))
    rows = [["t1", "t2", "t4", "t2_2"], ["t3"], ["join1"], ["t5", "t6", "t7"], ["join2"]]
    assert (layout.rows, layout.bands) == (rows, {1: (0, 2), 2: (3, 4)})
    assert [layout.column[key] for key in rows[0] + rows[3]] == [-1.5, -0.5, 0.5, 1.5, -1, 0, 1]
    assert list(draw_dag(two_rounds).get_size_inches()) == pytest.approx([9.504, 4.788])


def planned(round: int, at: float, idx: int, dependencies: list[int]) -> dict[str, Any]:
    return {"event": "task_planned", "round": round, "time": at, "idx": idx, "tool": "search",
            "args": {"query": f"q{idx}"}, "dependencies": dependencies}  # fmt: skip


@pytest.fixture
def replan_under_the_join() -> list[dict[str, Any]]:
    """Round 2's tasks need round 1's middle task, straight above round 1's join, and a task
    two rows up (a straight or arched edge would run through the join and a task)."""
    return [
        {"event": "plan_started", "round": 1, "time": 0.0},
        *(planned(1, 0.1 * idx, idx, []) for idx in (1, 2, 3)),
        {"event": "plan_finished", "round": 1, "time": 0.5, "tasks": 3, "joined": True},
        {"event": "joiner_decision", "round": 1, "time": 1.0, "decision": "replan"},
        {"event": "plan_started", "round": 2, "time": 1.1},
        planned(2, 1.2, 4, [2]),
        planned(2, 1.3, 5, [1, 4]),
        planned(2, 1.4, 6, [3, 4]),
        {"event": "plan_finished", "round": 2, "time": 1.5, "tasks": 3, "joined": True},
    ]


def boxes_crossed(figure: Any) -> list[tuple[str, str]]:
    """(where an edge starts, a box it runs through) for each edge of a DAG picture that runs
    through a box, each named by the first line of its label. A box counts inside its outline
    shrunk a little: an edge's own ends are on its source's and its target's outline."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    (axes,) = figure.axes
    labels = [(text.get_position(), text.get_text().partition("\n")[0]) for text in axes.texts]
    boxes = []  # (name, left, bottom, right, top)
    for patch in axes.patches:
        if isinstance(patch, FancyBboxPatch):
            x, y, w, h = patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()
            name = next(
                n for (tx, ty), n in labels if math.dist((tx, ty), (x + w / 2, y + h / 2)) < 0.01
            )
            boxes.append((name, x + 0.05, y + 0.05, x + w - 0.05, y + h - 0.05))
    crossed = []
    for patch in axes.patches:
        if isinstance(patch, FancyArrowPatch):
            lines = patch.get_path().to_polygons(closed_only=False)
            points = [tuple(point) for line in lines for point in line]
            source = min(boxes, key=lambda b: math.dist(points[0], ((b[1] + b[3]) / 2, b[2])))
            along = [
                (x1 + (x2 - x1) * i / 50, y1 + (y2 - y1) * i / 50)
                for line in lines
                for (x1, y1), (x2, y2) in itertools.pairwise(line)
                for i in range(51)
            ]
            crossed += [
                (source[0], name)
                for name, left, bottom, right, top in boxes
                if any(left < x < right and bottom < y < top for x, y in along)
            ]
    return crossed


@pytest.fixture
def wrapped_layer() -> dict[str, Any]:
    """A layer wrapped onto 3 rows, two of its tasks feeding one below it."""
    tasks = searches(2 * ROW_NODES + 1)
    tasks.append(make_task(len(tasks) + 1, "math", {"problem": "$1 + $2"}, [1, 2]))
    return {"tasks": tasks, "observations": []}


@pytest.mark.parametrize("run", ["two_rounds", "replan_under_the_join", "wrapped_layer"])
def test_dag_edges_run_between_the_boxes(run: str, request: pytest.FixtureRequest) -> None:
    """An edge that skips rows (a task of round 2 needing one of round 1, a join waiting for a
    task two rows up, a task needing one in a wrapped layer's first row) goes around the boxes
    of the rows between, along the gaps."""
    assert boxes_crossed(draw_dag(request.getfixturevalue(run))) == []


def test_bench_plot_draws_one_panel_per_approach(
    two_rounds: list[dict[str, Any]], tmp_path: Path
) -> None:
    start = two_rounds[0]["time"]
    compiler = Run(
        "replan",
        0,
        "llmcompiler",
        "q",
        "a",
        start,
        start + 1.9,
        "a",
        True,
        [LLMCallRecord("planner", start, start + 0.05, start + 0.45, 10, 5)],
        [],
        two_rounds,
    )
    react = Run("replan", 0, "react", "q", "a", start, start + 3.0, "a", True,
                [LLMCallRecord("other", start, start + 0.2, start + 0.5, 10, 5)],
                [ToolCall("search", "q", start + 0.5, start + 1.5)])  # fmt: skip

    report.plot(tmp_path / "plot.png", [compiler, react])

    assert (tmp_path / "plot.png").read_bytes().startswith(PNG)


def test_without_matplotlib_the_error_says_how_to_install_it(
    two_rounds: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    for name in ["matplotlib", *(m for m in sys.modules if m.startswith("matplotlib."))]:
        monkeypatch.setitem(sys.modules, name, None)  # `import` of any of them fails

    with pytest.raises(ImportError, match=re.escape(INSTALL_HINT)):
        draw_dag(two_rounds)
    with pytest.raises(ImportError, match=re.escape(INSTALL_HINT)):
        draw_timeline(two_rounds)
    assert plan_mermaid(two_rounds).startswith("flowchart")  # text needs nothing
    # ask refuses before running, so no paid run is lost
    assert cli.main(["ask", "--simulate", "--dag", str(tmp_path / "d.png"), "question"]) == 2
    assert INSTALL_HINT in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (["--timeline", "t.mmd"], "--timeline writes .png, .svg, .pdf files"),
        (["--dag", "d.txt"], "--dag writes .png, .svg, .pdf, .mmd, .md files"),
        (["--dag", "missing/d.png"], "no directory"),
        (["--compare-react"], "add --timeline PATH"),
    ],
)
def test_ask_refuses_pictures_it_cannot_write(
    flags: list[str], complaint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["ask", "--simulate", *flags, "question"]) == 2
    assert complaint in capsys.readouterr().err


# the real graph on the simulators


@pytest.fixture
def fast_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """`ask --simulate` on the instant simulators (timings mean nothing, shapes do)."""
    monkeypatch.setattr(demo, "simulation", functools.partial(demo.simulation, fast=True))


@pytest.mark.slow
async def test_pictures_of_a_replanned_graph_run(tmp_path: Path) -> None:
    async with demo.simulation(fast=True) as sim:
        # planner-written replans: one-call ones draw round 2's plan inside joiner 1's reply
        graph = create_llmcompiler(
            sim.model, sim.tools, joiner_plans=False, checkpointer=InMemorySaver()
        )
        config = {"configurable": {"thread_id": "pictures"}}
        run = await measure(graph, DIRECTORS.question, config=config)
        react = await measure(create_react_baseline(sim.model, sim.tools), DIRECTORS.question)
        state = (await graph.aget_state(config)).values
    assert run.exception is None and react.exception is None

    plan = plan_from_events(run.events)
    assert [(r.number, r.decision) for r in plan.rounds] == [(1, "replan"), (2, "finish")]
    assert [t.idx for t in plan.tasks] == [1, 2, 3, 4, 5]
    assert nodes(plan_mermaid(run)) == nodes(plan_mermaid(state))  # same tasks, same states

    figure = draw_timeline(run, tmp_path / "timeline.png", beside=react)
    compiler_axes, react_axes = figure.axes
    rows = [label.get_text() for label in compiler_axes.get_yticklabels()]
    assert rows == ["planner 1", rows[1], "joiner 1", "planner 2", *rows[4:8], "joiner 2"]
    assert [row.split(":")[0] for row in rows[4:8]] == ["#2 search", "#3 search", "#4 math",
                                                        "#5 math"]  # fmt: skip
    # each round's model calls are in its own rows: planner 1, joiner 1, planner 2, joiner 2
    spans = [bars(compiler_axes, rows.index(row)) for row in rows if row[:7] in LLM_ROWS]
    assert all(spans) and all(a[-1][1] <= b[0][0] for a, b in itertools.pairwise(spans))
    drawn = sum(c.role != "math" for c in react.llm_calls) + len(react.tool_calls)
    assert len(react_axes.get_yticklabels()) == drawn
    assert (tmp_path / "timeline.png").read_bytes().startswith(PNG)
    draw_dag(state, tmp_path / "dag.svg")
    assert (tmp_path / "dag.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.slow
def test_ask_writes_the_dag_and_timeline(fast_simulation: None, tmp_path: Path, capsys) -> None:
    mermaid, timeline = tmp_path / "dag.mmd", tmp_path / "timeline.png"
    argv = ["ask", "--simulate", "--json", "--dag", str(mermaid), "--timeline", str(timeline)]

    assert cli.main([*argv, MARKET_CAPS.question]) == 0

    out, err = capsys.readouterr()
    result = json.loads(out)
    assert timeline.read_bytes().startswith(PNG)
    assert nodes(mermaid.read_text()) == {f"t{t['idx']}": "ok" for t in result["tasks"]}
    assert len(result["tasks"]) == 3
    assert f"DAG written to {mermaid}" in " ".join(err.split())

    image, markdown = tmp_path / "dag.png", tmp_path / "dag.md"
    assert cli.main(["ask", "--simulate", "--dag", str(image), MARKET_CAPS.question]) == 0
    assert image.read_bytes().startswith(PNG)
    assert cli.main(["ask", "--simulate", "--dag", str(markdown), MARKET_CAPS.question]) == 0
    text = markdown.read_text()
    assert text.startswith("```mermaid\nflowchart TD\n") and text.endswith("```\n")


@pytest.mark.slow
def test_ask_compares_with_react_on_the_timeline(
    fast_simulation: None, tmp_path: Path, capsys
) -> None:
    timeline = tmp_path / "timeline.svg"
    argv = ["ask", "--simulate", "--json", "--timeline", str(timeline), "--compare-react"]

    assert cli.main([*argv, DIRECTORS.question]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["react"]["error"] is None and result["react"]["latency"] > 0
    assert result["rounds"] == 2
    svg = timeline.read_text()
    assert "ReAct (sequential)" in svg and "planner 2" in svg
