"""Pytest fixtures for the loopback simulators.

Enable them with ``pytest_plugins = ["llmcompiler_graph.testing.pytest_plugin"]`` in a root
``conftest.py`` (or a test module). Each test gets its own running server, stopped afterwards
even if the test fails. The OpenAI simulator starts instant (``LatencyModel.instant()``) and
echoing; set ``openai_simulator.script`` / ``.latency`` in the test.
"""

from collections.abc import Iterator

import pytest

from llmcompiler_graph.testing.latency import LatencyModel
from llmcompiler_graph.testing.openai_server import OpenAISimulator
from llmcompiler_graph.testing.tavily_server import TavilySimulator


@pytest.fixture
def openai_simulator() -> Iterator[OpenAISimulator]:
    """A running :class:`OpenAISimulator` with no latency; point ChatOpenAI at ``.base_url``."""
    with OpenAISimulator(latency=LatencyModel.instant()) as simulator:
        yield simulator


@pytest.fixture
def tavily_simulator() -> Iterator[TavilySimulator]:
    """A running :class:`TavilySimulator` on the default corpus with no latency."""
    with TavilySimulator() as simulator:
        yield simulator
