"""A whole simulated world: both simulators, and the real model and tools wired to them.

What the demo, the benchmark and your own offline experiments run on::

    with SimulatedWorld(SHOWCASE) as world:
        graph = create_llmcompiler(world.model, world.tools)

The model is the real `ChatOpenAI` (from `load_chat_model`, so each call names its role) and
the search tool the real `tavily-python` client; only the services behind them are loopback
stand-ins, answering from the scenarios' scripts (`ScenarioBrain`); any other question gets the
plan a real model would write, improvised by `simulated_planner`, and facts `made_up` for it
(each marked as simulated). Their HTTP clients belong to the world (never shared with another
event loop) and ignore proxy settings: everything they reach is on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from llmcompiler_graph.models import load_chat_model
from llmcompiler_graph.testing.latency import SIMULATED_MODEL, LatencyModel
from llmcompiler_graph.testing.loopback import Service
from llmcompiler_graph.testing.openai_server import OpenAISimulator
from llmcompiler_graph.testing.scenarios import Scenario, ScenarioBrain, merged_corpus
from llmcompiler_graph.testing.tavily_server import TavilySimulator
from llmcompiler_graph.tools import calculate, create_math_tool, create_search_tool


class SimulatedWorld(Service):
    """Both simulators on loopback, and `model` / `tools` built on them (a context manager).

    Args:
        scenarios: the questions the simulated model knows.
        latency: the model's latency model (default: hosted-model-like).
        search_latency: (low, high) seconds of the uniform, per-query seeded search latency.
        seed: the search latency's seed.
    """

    def __init__(
        self,
        scenarios: Iterable[Scenario],
        *,
        latency: LatencyModel | None = None,
        search_latency: tuple[float, float] = (0.5, 1.5),
        seed: int = 0,
    ) -> None:
        scenarios = list(scenarios)
        self.latency = latency or LatencyModel()
        self.search_latency = search_latency
        self.llm = OpenAISimulator(
            ScenarioBrain(scenarios), latency=self.latency, models=[SIMULATED_MODEL]
        )
        self.search = TavilySimulator(merged_corpus(scenarios), jitter=search_latency, seed=seed)
        self._stack = contextlib.ExitStack()
        self.model: BaseChatModel
        self.tools: list[BaseTool]

    def start(self) -> SimulatedWorld:
        """Start the simulators and build the model and tools (`with` does it for you)."""
        self._stack.enter_context(self.llm)
        self._stack.enter_context(self.search)
        self.model = load_chat_model(
            f"openai:{SIMULATED_MODEL}",
            base_url=self.llm.base_url,
            api_key="simulated",
            http_client=self._stack.enter_context(httpx.Client(trust_env=False)),
            http_async_client=httpx.AsyncClient(trust_env=False),
        )
        search = create_search_tool(api_key="tvly-simulated", base_url=self.search.base_url)
        self.tools = [search, create_math_tool(self.model), calculate]
        return self

    def stop(self) -> None:
        self._stack.close()

    def describe(self) -> dict[str, Any]:
        """The settings a report needs to be reproduced."""
        return {
            "model": SIMULATED_MODEL,
            "latency": asdict(self.latency),
            "search_latency": list(self.search_latency),
        }

    @contextlib.contextmanager
    def instant(self) -> Iterator[None]:
        """No simulated latency inside the block (for warm-up runs)."""
        latency, jitter = self.llm.latency, self.search.jitter
        self.llm.latency, self.search.jitter = LatencyModel.instant(), None
        try:
            yield
        finally:
            self.llm.latency, self.search.jitter = latency, jitter
