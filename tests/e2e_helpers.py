"""Helpers shared by the end-to-end tests (real clients against the loopback simulators)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from llmcompiler_graph.core.plan import is_whole_reference
from llmcompiler_graph.testing import ChatRequest, ChatResponse
from llmcompiler_graph.testing.scenarios import EIFFEL, SHOWCASE, Role, Scenario, role_of
from llmcompiler_graph.tools.calculator import safe_eval

TASK_EVENTS = ("task_planned", "task_started", "task_finished")


SCENARIOS: tuple[Scenario, ...] = (*SHOWCASE, EIFFEL)
"""Every scripted question; a `ScenarioBrain` over these answers all of them."""
PARALLEL = next(s for s in SHOWCASE if len(s.rounds) == 1 and not s.math)
"""One round of independent searches."""
WITH_MATH = next(s for s in SHOWCASE if len(s.rounds) == 1 and s.math)
"""One round: searches whose results feed a math task."""
REPLAN = next(s for s in SHOWCASE if len(s.rounds) > 1)
"""A SHOWCASE question that needs a second plan."""
REPLANS = [s for s in SCENARIOS if len(s.rounds) > 1]


def scenario_id(scenario: Scenario) -> str:
    """A short test id from the question: `how-tall-is-the-eiffel`."""
    return "-".join(re.findall(r"[a-z0-9]+", scenario.question.lower())[:5])


def requests_of(simulator: Any, role: Role) -> list[Any]:
    """The simulator's log entries (`ChatLogEntry`) of one role, in arrival order."""
    return [entry for entry in simulator.requests if role_of(entry.request) == role]


def joiner_reply(
    request: ChatRequest, *, answer: str = "", feedback: str | None = None, thought: str = "ok"
) -> ChatResponse | str:
    """The joiner's decision in whichever protocol the request uses (structured or text)."""
    finish = feedback is None
    decision = {
        "thought": thought,
        "action": "finish" if finish else "replan",
        "answer": answer if finish else "",
        "feedback": feedback or "",
    }
    if request.wants_structure:
        return request.structured_reply(decision)
    action = f"Finish({answer})" if finish else f"Replan({feedback})"
    return f"Thought: {thought}\nAction: {action}"


Joiner = Callable[[ChatRequest], "ChatResponse | str"]


class RoleScript:
    """A simulator script: canned plans for the planner (one per round), a callable joiner, and
    `fallback` (e.g. a `ScenarioBrain`) for every other request (the math tool)."""

    def __init__(
        self,
        plans: Sequence[str],
        joiner: Joiner,
        fallback: Callable[[ChatRequest], ChatResponse | str] | None = None,
    ) -> None:
        self.plans = list(plans)
        self.joiner = joiner
        self.fallback = fallback
        self.planner_calls = 0

    def __call__(self, request: ChatRequest) -> ChatResponse | str:
        role = role_of(request)
        if role == "planner":
            plan = self.plans[min(self.planner_calls, len(self.plans) - 1)]
            self.planner_calls += 1
            return plan
        if role == "joiner":
            return self.joiner(request)
        if self.fallback is None:
            raise LookupError(f"no script for a {role} request")
        return self.fallback(request)


def task_events(events: Iterable[dict[str, Any]]) -> dict[int, list[str]]:
    """Task id -> the names of its task events, in arrival order."""
    by_task: dict[int, list[str]] = {}
    for event in events:
        if event.get("event") in TASK_EVENTS:
            by_task.setdefault(event["idx"], []).append(event["event"])
    return by_task


def first(events: Iterable[dict[str, Any]], name: str, **fields: Any) -> dict[str, Any]:
    """The first event called `name` whose fields match `fields`."""
    for event in events:
        if event.get("event") == name and all(event.get(k) == v for k, v in fields.items()):
            return event
    raise LookupError(f"no {name} event with {fields}")


def round_tasks(scenario: Scenario) -> list[list[dict[str, Any]]]:
    """The scenario's tasks, round by round."""
    rounds: list[list[dict[str, Any]]] = []
    tasks = iter(scenario.tasks)
    for round in scenario.rounds:
        count = sum(1 for line in round.plan.splitlines() if _is_task_line(line))
        rounds.append([next(tasks) for _ in range(count)])
    return rounds


def _is_task_line(line: str) -> bool:
    head, dot, rest = line.strip().partition(". ")
    return bool(dot) and head.isdigit() and not rest.startswith("join(")


def math_results(scenario: Scenario) -> dict[int, float]:
    """Math task id -> what the math tool must return: the scenario's expression, evaluated."""
    results: dict[int, float] = {}
    for task in scenario.tasks:
        if task["tool"] == "math":
            problem = task["args"]["problem"]
            expression = next(e for p, e in scenario.math.items() if p in problem)
            results[task["idx"]] = safe_eval(expression)
    return results


def referenced_values(task: dict[str, Any], observations: dict[int, Any]) -> list[Any]:
    """The typed observations a task's whole-value `context` references must receive."""
    refs = [is_whole_reference(item) for item in task["args"].get("context") or []]
    return [observations[idx]["value"] for idx in refs if idx is not None]


def planned(scenario_tasks: Iterable[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """(idx, tool, args) of tasks, to compare a run's plan with a scenario's."""
    return [(t["idx"], t["tool"], t["args"]) for t in scenario_tasks]


__all__ = [
    "PARALLEL",
    "REPLAN",
    "REPLANS",
    "SCENARIOS",
    "TASK_EVENTS",
    "WITH_MATH",
    "RoleScript",
    "first",
    "joiner_reply",
    "math_results",
    "planned",
    "referenced_values",
    "requests_of",
    "role_of",
    "round_tasks",
    "scenario_id",
    "task_events",
]
