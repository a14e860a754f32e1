"""The benchmark harness (`llmcompiler-graph bench`), end to end on instant simulators.

No timing assertions: only the structure of the outputs and relations that hold whatever the
machine's speed (sequential ReAct needs more LLM calls than LLMCompiler, the critical-path bound
never exceeds the measured latency, ...). The real-model mode runs its own code path against the
simulators standing in for OpenAI and Tavily.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from llmcompiler_graph.bench import harness, main, prompt_parts
from llmcompiler_graph.bench.metrics import PRICES, Price, critical_path
from llmcompiler_graph.bench.scoring import score
from llmcompiler_graph.bench.trace import Run
from llmcompiler_graph.bench.workloads import WORKLOADS, check, generate
from llmcompiler_graph.measure import LLMCallRecord
from llmcompiler_graph.nodes import Components
from llmcompiler_graph.settings import Settings
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.latency import estimate_tokens
from llmcompiler_graph.testing.scenarios import (
    Round,
    Scenario,
    ScenarioBrain,
    merged_corpus,
)
from llmcompiler_graph.tools import default_tools

pytestmark = pytest.mark.slow  # runs the benchmark on the simulators

DATASET = Path(__file__).parent / "data" / "bench_dataset.json"
APPROACHES = list(harness.APPROACHES)
COMPILERS = [a for a in APPROACHES if a.startswith("llmcompiler")]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    """One instant run of every workload and approach: (markdown, JSON, plot path)."""
    out = tmp_path_factory.mktemp("bench")
    json_path, plot_path = out / "bench.json", out / "timeline.png"
    args = ["--instant", "--examples", "1", "--quiet", "--json", str(json_path)]
    with pytest.MonkeyPatch.context() as patch:
        printed: list[str] = []
        patch.setattr("builtins.print", lambda *a, **k: printed.append(" ".join(map(str, a))))
        assert main([*args, "--plot", str(plot_path)]) == 0
    return "\n".join(printed), json.loads(json_path.read_text()), plot_path


def test_workloads_are_seeded_distinct_and_unambiguous() -> None:
    for workload in WORKLOADS.values():
        first = generate(workload, 6, seed=1)
        assert [s.question for s in first] == [s.question for s in generate(workload, 6, 1)]
        assert len({s.question for s in first}) == 6
        assert [s.question for s in first] != [s.question for s in generate(workload, 6, 2)]
    check(s for w in WORKLOADS.values() for s in generate(w, 12, seed=0))


def test_workload_shapes() -> None:
    shapes = {name: generate(w, 8, seed=0) for name, w in WORKLOADS.items()}
    assert all(len(s.tasks) == 2 for s in shapes["hotpotqa"])
    assert all(len(s.tasks) == 8 for s in shapes["movie"])
    for scenario in shapes["parallelqa"]:
        searches = [t for t in scenario.tasks if t["tool"] == "search"]
        maths = [t for t in scenario.tasks if t["tool"] == "math"]
        assert 2 <= len(searches) <= 5 and len(maths) == len(searches) + 1
        assert set(maths[-1]["dependencies"]) == {t["idx"] for t in maths[:-1]}  # level two
    assert all(len(s.rounds) == 2 and s.rounds[0].replan for s in shapes["replan"])


def test_check_refuses_a_query_that_hits_another_question() -> None:
    plan = '1. search(query="K2 height in metres")\n2. join()'
    one = Scenario("Q1", (Round(plan),), "a", {"k2 height in metres": [{"content": "1"}]})
    other = Scenario("Q2", (Round(plan),), "b", {"k2 height": [{"content": "2"}]})
    with pytest.raises(ValueError, match="hits"):
        check([one, other])


def test_report_lists_every_workload_and_approach(bench: tuple[str, dict, Path]) -> None:
    markdown, data, plot = bench
    for name in WORKLOADS:
        assert f"| {name} | LLMCompiler (streaming) |" in markdown
        assert f"| {name} | ReAct (sequential) |" in markdown
    assert "critical-path bound" in markdown and "Targets" in markdown
    assert {(s["workload"], s["approach"]) for s in data["summaries"]} == {
        (w, a) for w in WORKLOADS for a in APPROACHES
    }
    assert data["setup"]["mode"] == "simulated" and data["setup"]["examples"] == 1
    assert plot.stat().st_size > 0


def test_measurements_are_consistent(bench: tuple[str, dict, Path]) -> None:
    _, data, _ = bench
    summary = {(s["workload"], s["approach"]): s for s in data["summaries"]}
    for workload in WORKLOADS:
        react = summary[workload, "react"]
        compiler = summary[workload, "llmcompiler"]
        assert react["llm_calls"] > compiler["llm_calls"]
        assert react["llm_calls"] >= summary[workload, "react-parallel"]["llm_calls"]
        assert react["speedup"] == pytest.approx(1.0) and react["cost_ratio"] == pytest.approx(1)
        assert summary[workload, "react"]["bound"] is None
        for s in (summary[workload, name] for name in COMPILERS):
            assert s["errors"] == 0 and s["accuracy"] == 1.0
            assert s["first_answer_mean"] is not None
            assert s["prompt_tokens"] > 0 and s["completion_tokens"] > 0
            assert 0 < s["bound"] <= s["latency_mean"]
            assert 0 < s["efficiency_min"] <= s["efficiency_mean"] <= 1
    for run in data["runs"]:
        assert run["error"] is None and run["correct"]
        if run["approach"].startswith("llmcompiler"):
            assert run["bound"] <= run["latency"]
            assert run["bound"] + sum(run["overheads"].values()) == pytest.approx(run["latency"])


def test_replan_workload_replans(bench: tuple[str, dict, Path]) -> None:
    _, data, _ = bench
    for approach, planner_calls in (("llmcompiler", 1), ("llmcompiler-two-call", 2)):
        run = next(
            r for r in data["runs"] if r["workload"] == "replan" and r["approach"] == approach
        )
        decisions = [e["decision"] for e in run["events"] if e["event"] == "joiner_decision"]
        assert decisions == ["replan", "finish"]
        assert [c["role"] for c in run["llm_calls"]].count("planner") == planner_calls
        plans = [e.get("by") for e in run["events"] if e["event"] == "plan_finished"]
        assert plans == ["planner", "planner" if planner_calls == 2 else "joiner"]


def test_critical_path_follows_dependencies_and_charges_the_joiner() -> None:
    """Task 2 needs task 1: its line is parsed at 0.7 s but it can only start at 1.5 s."""

    def event(name: str, time: float, **fields: object) -> dict:
        return {"event": name, "round": 1, "time": time, **fields}

    run = Run("w", 0, "llmcompiler", "q", "a", start=9.99, end=12.65, answer="a", correct=True)
    run.llm_calls = [
        LLMCallRecord("planner", 10.0, 10.3, 10.9, 100, 10),
        LLMCallRecord("joiner", 12.1, 12.4, 12.6, 100, 10),
    ]
    run.events = [
        event("task_planned", 10.5, idx=1),
        event("task_planned", 10.7, idx=2),
        event("plan_finished", 10.9),
        event("task_finished", 11.5, idx=1, dependencies=[], finished_at=11.5, duration=1.0),
        event("task_finished", 12.0, idx=2, dependencies=[1], finished_at=12.0, duration=0.5),
    ]
    path = critical_path(run)
    assert path is not None
    assert path.bound == pytest.approx(0.5 + 1.0 + 0.5 + 0.5)  # line, tool 1, tool 2, joiner
    assert path.overheads["startup"] == pytest.approx(0.01)
    assert path.overheads["to joiner"] == pytest.approx(0.1)
    assert path.bound + sum(path.overheads.values()) == pytest.approx(run.latency)


def test_critical_path_of_a_plan_the_joiner_wrote_counts_from_that_joiner_call() -> None:
    """Round 2 streamed in round 1's replan: that joiner call (11.6-12.6 s) is round 2's
    planner, its task planned at 12.0 s while the reply went on; no planner call."""

    def event(name: str, time: float, round: int = 1, **fields: object) -> dict:
        return {"event": name, "round": round, "time": time, **fields}

    run = Run("w", 0, "llmcompiler", "q", "a", start=9.99, end=13.4, answer="a", correct=True)
    run.llm_calls = [
        LLMCallRecord("planner", 10.0, 10.3, 10.9, 100, 10),
        LLMCallRecord("joiner", 11.6, 11.9, 12.6, 100, 10),
        LLMCallRecord("joiner", 13.05, 13.1, 13.35, 100, 10),
    ]
    run.events = [
        event("task_planned", 10.5, idx=1),
        event("plan_finished", 10.9, by="planner"),
        event("task_finished", 11.5, idx=1, dependencies=[], finished_at=11.5, duration=1.0),
        event("task_planned", 12.0, 2, idx=2),
        event("plan_finished", 12.6, 2, by="joiner"),
        event("task_finished", 13.0, 2, idx=2, dependencies=[1], finished_at=13.0, duration=1.0),
    ]
    path = critical_path(run)
    assert path is not None
    # round 1: line 0.5 + tool 1.0; round 2 from 11.6: line 0.4 + tool 1.0, then joiner 0.3
    assert path.bound == pytest.approx(1.5 + 1.4 + 0.3)
    assert path.overheads["to planner"] == 0
    assert path.overheads["to joiner"] == pytest.approx(0.1 + 0.05)
    assert path.bound + sum(path.overheads.values()) == pytest.approx(run.latency)


@pytest.mark.parametrize(
    ("answer", "label", "expected"),
    [
        ("The Mariana Trench.", "Mariana Trench", True),
        ("yes", "no", False),
        ("About 5,931.8 metres", "5931.80", True),
        ("6600", "5931.80", False),
        ("between 1 and 2", "1.5", False),
        (None, "1", False),
    ],
)
def test_scoring_follows_the_paper(answer: str | None, label: str, expected: bool) -> None:
    assert score(answer, label) is expected


def test_real_model_mode_on_a_dataset_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--model` and `--dataset` with the simulators standing in for OpenAI and Tavily."""
    questions = [item["question"] for item in json.loads(DATASET.read_text())]

    def page(text: str) -> list[dict]:
        return [{"title": text[:20], "url": f"https://x.example/{len(text)}", "content": text}]

    born = Scenario(
        questions[0],
        (
            Round(
                '1. search(query="Jane Austen birth")\n2. search(query="Charles Dickens birth")\n'
                "3. join()"
            ),
        ),
        "Jane Austen",
        {
            "jane austen birth": page("Jane Austen was born in 1775."),
            "charles dickens birth": page("Charles Dickens was born in 1812."),
        },
    )
    heights = Scenario(
        questions[1],
        (
            Round(
                '1. search(query="K2 height")\n2. search(query="Denali height")\n'
                '3. math(problem="K2 minus 10%", context=["$1"])\n'
                '4. math(problem="Denali plus 20%", context=["$2"])\n'
                '5. math(problem="Difference of the two", context=["$3", "$4"])\n6. join()'
            ),
        ),
        "About 321.9 metres.",
        {"k2 height": page("K2 is 8,611 m high."), "denali height": page("Denali: 6,190 m.")},
        {
            "K2 minus 10%": "8611 * 0.9",
            "Denali plus 20%": "6190 * 1.2",
            "Difference of the two": "7749.9 - 7428",
        },
    )
    brain = ScenarioBrain([born, heights])
    with (
        OpenAISimulator(brain, latency=LatencyModel.instant()) as llm,
        TavilySimulator(merged_corpus([born, heights])) as search,
    ):
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sim")
        monkeypatch.setenv("TAVILY_BASE_URL", search.base_url)
        monkeypatch.setenv("TAVILY_API_KEY", "tvly-sim")
        out = tmp_path / "real.json"
        args = ["--model", "openai:gpt-4o-mini", "--dataset", str(DATASET), "--quiet"]
        assert main([*args, "--json", str(out)]) == 0
        prompts = [r.request.system_text for r in llm.requests if r.request.role != "math"]
    data = json.loads(out.read_text())
    assert data["setup"]["mode"] == "real" and data["setup"]["workloads"] == ["bench_dataset"]
    assert {s["approach"] for s in data["summaries"]} == set(APPROACHES)
    assert all(s["accuracy"] == 1.0 and s["errors"] == 0 for s in data["summaries"])
    assert prompts and all("Give only the final answer" in p for p in prompts)
    for run in data["runs"]:
        assert run["llm_calls"] and all(c["prompt_tokens"] > 0 for c in run["llm_calls"])
        if run["approach"] == "llmcompiler":
            assert {c["role"] for c in run["llm_calls"]} >= {"planner", "joiner"}
            assert run["bound"] <= run["latency"]


def test_cost_weighs_cached_prompt_tokens_at_their_own_price() -> None:
    """1,000 prompt tokens of which 400 from the cache, 100 completion tokens, at gpt-4o-mini's
    list prices; a model without a cached price charges every prompt token the same."""
    assert PRICES["gpt-4o-mini"].cost(1000, 100, 400) == pytest.approx(
        (600 * 0.15 + 400 * 0.075 + 100 * 0.60) / 1e6
    )
    assert Price(0.5, 1.5).cost(1000, 100, 400) == Price(0.5, 1.5).cost(1000, 100)


def test_the_journal_cost_bench_measures_each_checkpointer() -> None:
    """A tiny run of `bench.journal_cost`: one row per plan size, a time per task for the graph
    without a checkpointer and with each, and the journal's share with each."""
    import asyncio

    from llmcompiler_graph.bench import journal_cost

    rows = asyncio.run(journal_cost.measure([3, 6], repeats=1))
    assert [r["tasks"] for r in rows] == [3, 6]
    for row in rows:
        assert all(row[f"{kind}_ms_per_task"] > 0 for kind in journal_cost.SAVERS)
        assert row["memory_journal_ms_per_task"] == pytest.approx(
            row["memory_ms_per_task"] - row["none_ms_per_task"]
        )


def test_the_prompt_parts_add_up_to_the_prompts_they_price() -> None:
    """Every part of the planner's system prompt is priced, and nothing else is."""
    model = FakeListChatModel(responses=["unused"])
    components = Components.build(model, default_tools(model), Settings())
    priced = prompt_parts.parts(components.planner.toolbox)
    planner = [text for name, text in priced if name.startswith("planner:")]

    assert {name for name, _ in priced} >= {"planner: tool search", "planner: tool math"}
    whole = estimate_tokens(components.planner.system_prompt)
    assert abs(sum(estimate_tokens(text) for text in planner) - whole) <= len(planner)
    table = prompt_parts.table()
    assert f"| planner call | {whole:,} | no |" in table
    assert "| joiner call, one-call replans (default) |" in table
