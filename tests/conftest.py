"""Fixtures shared by the end-to-end tests: the loopback OpenAI and Tavily simulators playing
every scripted scenario, and a per-test async HTTP client for ChatOpenAI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from helpers import SCENARIOS

from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import ScenarioBrain, merged_corpus


@pytest.fixture
def llm() -> Iterator[OpenAISimulator]:
    """The OpenAI simulator playing every scripted role, without latency."""
    with OpenAISimulator(ScenarioBrain(SCENARIOS), latency=LatencyModel.instant()) as simulator:
        yield simulator


@pytest.fixture
def tavily() -> Iterator[TavilySimulator]:
    """The Tavily simulator serving the scenarios' corpus."""
    with TavilySimulator(merged_corpus(SCENARIOS)) as simulator:
        yield simulator


@pytest.fixture
async def http_client() -> AsyncIterator[openai.DefaultAsyncHttpxClient]:
    """An async HTTP client for ChatOpenAI bound to this test's event loop.

    langchain-openai caches its default async client per base URL process-wide; a cached client
    keeps connections of a closed loop (each async test has its own) and then fails with
    "Event loop is closed", so async tests bring their own and close it.
    """
    async with openai.DefaultAsyncHttpxClient() as client:
        yield client
