"""What the runs add up to: latency statistics, cost, the critical-path bound, overheads.

The critical-path lower bound of an LLMCompiler run is the time it would take if everything but
the model and the tools were free. Per round r (a replan starts a new one), with every time
measured from the moment the planner's request reached the model (P_r):

    E_i  = when task i's line was complete in the planner's stream (its `task_planned` event)
    D_i  = how long task i's tool ran (its `task_finished` event: finished_at - started_at)
    F_i  = max(E_i, F_j for each dependency j of the same round) + D_i
    path = max(when the plan was complete (`plan_finished`), every F_i)
    J_r  = how long the joiner's call took on the model's side (request in -> last chunk out)

    bound = sum over rounds of (path + J_r)

so it charges the planner's time to first token and decoding up to each task line, each tool's
own duration along the longest dependency path, and one joiner call per round; it leaves out
everything our code and LangGraph add around them. Efficiency is bound / measured latency. What
is left (measured - bound) is split into where it happens: before the first planner request
(`startup`), between a task becoming ready and its tool starting, along the path (`dispatch`),
from the end of a round to the joiner's request (`to joiner`), from a replan decision to the
next planner request (`to planner`), and after the last joiner reply (`finish`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llmcompiler_graph.bench.harness import BASELINE, PARALLEL
from llmcompiler_graph.bench.trace import Run


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens: prompt tokens, completion tokens, and prompt tokens the
    provider found in its prefix cache (None: no discount)."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, prompt_tokens: float, completion_tokens: float, cached: float = 0) -> float:
        """US dollars for these tokens (`cached`: of the prompt tokens, those from the cache)."""
        discounted = self.input if self.cached_input is None else self.cached_input
        fresh = prompt_tokens - cached
        return (fresh * self.input + cached * discounted + completion_tokens * self.output) / 1e6


PRICES = {
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-3.5-turbo": Price(0.50, 1.50),
}
"""OpenAI's list prices (US dollars per million tokens, as of 2026: input, output, cached input)
the cost columns weigh tokens with; the ratios depend only on their proportions."""

OVERHEADS = ("startup", "dispatch", "to joiner", "to planner", "finish")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between the closest ranks."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class CriticalPath:
    """The bound of one LLMCompiler run and where the rest of its latency went (seconds)."""

    bound: float
    overheads: dict[str, float]


def _events(run: Run, name: str, round: int) -> list[dict[str, Any]]:
    return [e for e in run.events if e["event"] == name and e["round"] == round]


def critical_path(run: Run) -> CriticalPath | None:
    """The critical-path bound of an LLMCompiler run (None for other approaches or failures).

    A round whose plan the joiner wrote with its replan (`joiner_plans`) has no planner call:
    the previous round's joiner call is its planner (its tasks start as that reply streams),
    so the round counts from that call's start, and that call's time is counted once, there."""
    finished_plans = [e for e in run.events if e["event"] == "plan_finished"]
    rounds = sorted({e["round"] for e in finished_plans})
    handed = {e["round"] for e in finished_plans if e.get("by") == "joiner"}
    planners = iter(c for c in run.llm_calls if c.role == "planner")
    joiners = [c for c in run.llm_calls if c.role == "joiner"]
    planner_calls = sum(c.role == "planner" for c in run.llm_calls)
    if run.error or not rounds or rounds[0] in handed:
        return None
    if planner_calls != len(rounds) - len(handed) or len(joiners) != len(rounds):
        return None
    overheads = dict.fromkeys(OVERHEADS, 0.0)
    bound = 0.0
    for n, (round, joiner) in enumerate(zip(rounds, joiners, strict=True)):
        finished = {e["idx"]: e for e in _events(run, "task_finished", round)}
        if round in handed:
            origin = joiners[n - 1].start
        else:
            planner = next(planners)
            origin = planner.start
            if n == 0:
                overheads["startup"] = origin - run.start
            else:
                overheads["to planner"] += origin - joiners[n - 1].end
        planned = {e["idx"]: e["time"] - origin for e in _events(run, "task_planned", round)}
        plan_end = _events(run, "plan_finished", round)[0]["time"]
        ready: dict[int, float] = {}
        for idx in sorted(planned):  # a task depends on lower ids only
            task = finished.get(idx, {})
            inputs = [ready[d] for d in task.get("dependencies", ()) if d in ready]
            ready[idx] = max([planned[idx], *inputs]) + (task.get("duration") or 0.0)
        path = max([plan_end - origin, *ready.values()])
        end = max([plan_end, *(e["finished_at"] for e in finished.values())])
        overheads["dispatch"] += end - origin - path
        overheads["to joiner"] += joiner.start - end
        bound += path
        if n + 1 == len(rounds) or rounds[n + 1] not in handed:  # else the next round's planner
            bound += joiner.end - joiner.start
    overheads["finish"] = run.end - joiners[-1].end
    return CriticalPath(bound, overheads)


def dispatch_lags(run: Run) -> list[float]:
    """Per task that ran: seconds from the moment it could start (its line parsed and every
    dependency finished) to the moment its tool started - the task fetching unit's own cost."""
    planned = {e["idx"]: e["time"] for e in run.events if e["event"] == "task_planned"}
    done = {e["idx"]: e["finished_at"] for e in run.events if e["event"] == "task_finished"}
    return [
        e["started_at"] - max([planned[e["idx"]], *(done[d] for d in e["dependencies"])])
        for e in run.events
        if e["event"] == "task_started"
    ]


@dataclass(frozen=True)
class Summary:
    """One workload x approach over its examples (means are per example)."""

    workload: str
    approach: str
    examples: int
    errors: int
    accuracy: float
    latency_mean: float
    latency_p50: float
    latency_p95: float
    llm_calls: float
    prompt_tokens: float
    completion_tokens: float
    cost: float
    """US dollars per example."""
    speedup: float | None
    """ReAct's mean latency / this one's (None without the ReAct baseline)."""
    speedup_vs_parallel: float | None
    cost_ratio: float | None
    """ReAct's mean cost / this one's: how many times cheaper."""
    cached_tokens: float = 0.0
    """Of the prompt tokens, those the provider reported from its prefix cache (mean)."""
    bound: float | None = None
    efficiency_mean: float | None = None
    efficiency_min: float | None = None
    overheads: dict[str, float] | None = None
    """Mean seconds per example (see the module doc)."""
    dispatch_lag_mean: float | None = None
    dispatch_lag_p95: float | None = None
    dispatch_lag_max: float | None = None
    """Seconds per task (see `dispatch_lags`)."""
    first_answer_mean: float | None = None
    """Mean seconds from the question to the answer's first text in the messages stream."""
    first_answer_vs_parallel: float | None = None
    """ReAct with parallel tool calls' mean first-answer time / this one's."""


def summarize(runs: Iterable[Run], price: Price) -> list[Summary]:
    """One summary per workload x approach, in the order the runs came in."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.workload, run.approach), []).append(run)
    base = {key: _basics(group, price) for key, group in groups.items()}
    summaries = []
    for (workload, approach), group in groups.items():
        latency, cost = base[workload, approach]
        reference = base.get((workload, BASELINE))
        parallel = base.get((workload, PARALLEL))
        ok = [r for r in group if r.error is None]
        first = _mean(r.first_answer for r in ok if r.first_answer is not None)
        parallel_first = _mean(
            r.first_answer
            for r in groups.get((workload, PARALLEL), [])
            if r.error is None and r.first_answer is not None
        )
        summaries.append(
            Summary(
                workload=workload,
                approach=approach,
                examples=len(group),
                errors=len(group) - len(ok),
                accuracy=sum(r.correct for r in group) / len(group),
                latency_mean=latency,
                latency_p50=percentile([r.latency for r in ok], 50) if ok else math.nan,
                latency_p95=percentile([r.latency for r in ok], 95) if ok else math.nan,
                llm_calls=_mean(len(r.llm_calls) for r in ok),
                prompt_tokens=_mean(sum(c.prompt_tokens for c in r.llm_calls) for r in ok),
                completion_tokens=_mean(sum(c.completion_tokens for c in r.llm_calls) for r in ok),
                cached_tokens=_mean(sum(c.cached_tokens for c in r.llm_calls) for r in ok),
                cost=cost,
                speedup=reference[0] / latency if reference else None,
                speedup_vs_parallel=parallel[0] / latency if parallel else None,
                cost_ratio=reference[1] / cost if reference and cost else None,
                first_answer_mean=None if math.isnan(first) else first,
                first_answer_vs_parallel=None
                if math.isnan(first) or math.isnan(parallel_first)
                else parallel_first / first,
                **_compiler_metrics(ok),
            )
        )
    return summaries


def run_cost(run: Run, price: Price) -> float:
    return price.cost(
        sum(c.prompt_tokens for c in run.llm_calls),
        sum(c.completion_tokens for c in run.llm_calls),
        sum(c.cached_tokens for c in run.llm_calls),
    )


def _basics(group: list[Run], price: Price) -> tuple[float, float]:
    """Mean latency and mean cost of the runs that did not fail."""
    ok = [r for r in group if r.error is None]
    return _mean(r.latency for r in ok), _mean(run_cost(r, price) for r in ok)


def _compiler_metrics(runs: list[Run]) -> dict[str, Any]:
    paths = [(run, path) for run in runs if (path := critical_path(run)) is not None]
    if not paths:
        return {}
    efficiencies = [path.bound / run.latency for run, path in paths]
    lags = [lag for run, _ in paths for lag in dispatch_lags(run)]
    return {
        "bound": _mean(path.bound for _, path in paths),
        "efficiency_mean": statistics.fmean(efficiencies),
        "efficiency_min": min(efficiencies),
        "overheads": {k: _mean(path.overheads[k] for _, path in paths) for k in OVERHEADS},
        "dispatch_lag_mean": statistics.fmean(lags) if lags else None,
        "dispatch_lag_p95": percentile(lags, 95) if lags else None,
        "dispatch_lag_max": max(lags) if lags else None,
    }


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.fmean(values) if values else math.nan
