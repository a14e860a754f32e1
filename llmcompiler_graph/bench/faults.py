"""Fault injection: each fault the package must survive, its outcome and the time the run took.

`python -m llmcompiler_graph.bench.faults` prints the table docs/reliability.md
shows; `tests/test_faults.py` asserts every row. Each fault runs one question of the showcase
(two parallel searches) on the simulators, with the real `ChatOpenAI` and `tavily-python`
clients, a checkpointer, and tight limits: `llm_timeout=1`, `llm_retries=1`, `task_timeout=1`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver

from llmcompiler_graph.core.values import shorten
from llmcompiler_graph.graph import create_llmcompiler
from llmcompiler_graph.testing import LatencyModel
from llmcompiler_graph.testing.scenarios import SHOWCASE, ScenarioBrain
from llmcompiler_graph.testing.script import ChatRequest
from llmcompiler_graph.testing.world import SimulatedWorld

QUESTION = next(s for s in SHOWCASE if len(s.rounds) == 1 and not s.math)
"""Two independent searches, then the answer."""
LIMITS: dict[str, Any] = {"llm_timeout": 1.0, "llm_retries": 1, "task_timeout": 1.0}


@dataclass(frozen=True)
class Outcome:
    """How one faulty run ended."""

    fault: str
    ended: str
    """`answer`, or the error the run raised (`LLMCallError: ...`)."""
    tasks: str
    """The observations' statuses, `2 ok` or `1 ok, 1 error` (empty when none)."""
    seconds: float


async def _hung_search(query: str) -> str:
    """A search that ignores cancellation and would take 10 s (it ends then, so that the event
    loop can close: asyncio waits at shutdown for tasks that refuse to be cancelled)."""
    deadline = time.monotonic() + 10
    while (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(left)
    return "too late"


def _blocked_search(query: str) -> str:
    """A sync search that blocks for a minute."""
    time.sleep(60)
    return "late"


def _odd_search(query: str) -> Any:
    """A search returning values no checkpointer can store as they are."""
    return {"big": 2**80, "set": {1, 2}, "socket": socket.socket(), "text": "x" * 5_000_000}


def _tool(function: Callable[..., Any]) -> BaseTool:
    if asyncio.iscoroutinefunction(function):
        return StructuredTool.from_function(coroutine=function, name="search")
    return StructuredTool.from_function(func=function, name="search")


def _silent_joiner(brain: ScenarioBrain) -> Callable[[ChatRequest], Any]:
    def script(request: ChatRequest) -> Any:
        if request.role == "joiner":
            time.sleep(5)  # longer than llm_timeout: the client gives up first
        return brain(request)

    return script


Fault = Callable[[SimulatedWorld], list[BaseTool] | None]
"""Arms a fault on the world; may return a replacement for the search tool."""


def _no_fault(world: SimulatedWorld) -> None:
    return None


def _silent_planner(world: SimulatedWorld) -> None:
    for _ in range(1 + LIMITS["llm_retries"]):
        world.llm.slow_next(30)


def _planner_500(world: SimulatedWorld) -> None:
    # ChatOpenAI retries twice inside each of our tries.
    world.llm.fail_next(3 * (1 + LIMITS["llm_retries"]), 500)


def _planner_429(world: SimulatedWorld) -> None:
    world.llm.fail_next(1, 429)


def _cut_plan(world: SimulatedWorld) -> None:
    world.llm.cut_next_stream(after_chars=QUESTION.rounds[0].plan.index("2."))


def _silent_joiner_fault(world: SimulatedWorld) -> None:
    world.llm.script = _silent_joiner(world.llm.script)


def _search_500(world: SimulatedWorld) -> None:
    world.search.fail_next(4, 500)


FAULTS: dict[str, Fault] = {
    "none": _no_fault,
    "planner model never answers": _silent_planner,
    "planner model answers 500 to every request": _planner_500,
    "planner model answers 429, once": _planner_429,
    "plan stream cut after the first task": _cut_plan,
    "joiner model never answers": _silent_joiner_fault,
    "search API answers 500": _search_500,
    "search ignores cancellation for 10 s": lambda world: [_tool(_hung_search)],
    "sync search blocks for a minute": lambda world: [_tool(_blocked_search)],
    "search returns big ints, a set, a socket, 5 MB": lambda world: [_tool(_odd_search)],
}
"""Every fault, by the name the table shows."""


async def run_fault(name: str) -> Outcome:
    """One run of QUESTION with fault `name` armed."""
    with SimulatedWorld(
        [QUESTION], latency=LatencyModel.instant(), search_latency=(0.0, 0.0)
    ) as world:
        replaced = FAULTS[name](world)
        tools = [*(replaced or world.tools[:1]), *world.tools[1:]]
        graph = create_llmcompiler(world.model, tools, checkpointer=InMemorySaver(), **LIMITS)
        config: Any = {"configurable": {"thread_id": name}}
        start = time.perf_counter()
        try:
            result = await graph.ainvoke({"messages": [("user", QUESTION.question)]}, config)
            ended = "answer" if result["messages"][-1].text else "empty answer"
        except Exception as exc:
            ended = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - start
        state = (await graph.aget_state(config)).values
        statuses = Counter(o["status"] for o in state.get("observations", []))
        tasks = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        return Outcome(name, ended, tasks, seconds)


async def run_all() -> list[Outcome]:
    return [await run_fault(name) for name in FAULTS]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    print("| fault | how the run ended | tasks | time to end |\n|---|---|---|---|")
    for outcome in asyncio.run(run_all()):
        ended = shorten(outcome.ended, 100)
        print(f"| {outcome.fault} | {ended} | {outcome.tasks} | {outcome.seconds:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
