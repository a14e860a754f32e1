"""A loopback Tavily-compatible search endpoint, for offline demos and tests.

The real ``tavily.TavilyClient`` / ``AsyncTavilyClient`` talk to it unchanged when given
``api_base_url=sim.base_url`` and any non-empty ``api_key``::

    with TavilySimulator(latency=0.4) as sim:
        TavilyClient(api_key="tvly-sim", api_base_url=sim.base_url).search("Apple market cap")

``POST /search`` answers like Tavily's API (``query``, ``answer``, ``images``, ``results`` of
``title`` / ``url`` / ``content`` / ``score`` / ``raw_content``, ``response_time``,
``request_id``, and ``usage`` when asked) from a small corpus: every entry whose keyword occurs
in the query (case-insensitive), in corpus order. A query that matches nothing gets results
made up deterministically from its text (`made_up`: a figure to compute on, a name for a
dependent search, or nothing for a query asking for news). A request without an API key gets
401, as from Tavily.

Run it alone with ``python -m llmcompiler_graph.testing.tavily_server --port 0``.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llmcompiler_graph.testing import made_up
from llmcompiler_graph.testing.loopback import (
    HOST,
    KEEP_REQUESTS,
    Exchange,
    LoopbackServer,
    wait_for_interrupt,
)

Result = dict[str, Any]
Corpus = Mapping[str, Sequence[Mapping[str, Any]]]

DEFAULT_CORPUS: Corpus = {
    "microsoft market cap": [
        {
            "title": "Microsoft (MSFT) - Market capitalization",
            "url": "https://companiesmarketcap.example/microsoft/marketcap/",
            "content": "Microsoft has a market cap of $3.12 trillion (simulated snapshot).",
        }
    ],
    "apple market cap": [
        {
            "title": "Apple (AAPL) - Market capitalization",
            "url": "https://companiesmarketcap.example/apple/marketcap/",
            "content": "Apple has a market cap of $2.95 trillion (simulated snapshot).",
        }
    ],
    "llmcompiler": [
        {
            "title": "An LLM Compiler for Parallel Function Calling",
            "url": "https://arxiv.org/abs/2312.04511",
            "content": "LLMCompiler executes functions in parallel to efficiently orchestrate "
            "multiple function calls. It has a planner, a task fetching unit and an executor; "
            "Kim et al., ICML 2024.",
        }
    ],
    "langgraph": [
        {
            "title": "LangGraph",
            "url": "https://langchain-ai.github.io/langgraph/",
            "content": "LangGraph is a low-level orchestration framework for building stateful, "
            "long-running agents as graphs of nodes.",
        }
    ],
}
"""A few entries for the demo's example questions."""

_ERROR_MESSAGES = {
    400: "Bad request.",
    401: "Unauthorized: missing or invalid API key.",
    429: "Your request has been blocked due to excessive requests (simulated).",
    432: "This request exceeds your plan's set usage limit (simulated).",
}


@dataclass
class SearchLogEntry:
    """One ``/search`` request as served (``time.time()`` stamps)."""

    query: str
    body: dict[str, Any]
    received_at: float
    status: int | None = None
    """HTTP status (None until answered)."""
    delay: float = 0.0
    """Seconds of simulated latency applied."""
    finished_at: float | None = None
    urls: list[str] = field(default_factory=list)
    """URLs of the results returned."""


def fabricate_results(query: str) -> list[Result]:
    """What a query no corpus entry matches finds: made up from the query alone (same query,
    same results), each marked "(simulated result)"; see `made_up`."""
    return made_up.results(query)


def find(
    corpus: Corpus, query: str, fallback: Callable[[str], list[Result]] = fabricate_results
) -> list[Result]:
    """Every result of every corpus entry whose keyword occurs in `query` (case-insensitive),
    each page once, in corpus order; else `fallback(query)`. Copies, without scores."""
    lowered = query.lower()
    matches: dict[str, Result] = {}  # by URL: a page two keywords match is listed once
    for keyword, results in corpus.items():
        if keyword.lower() in lowered:
            for result in results:
                matches.setdefault(result["url"], dict(result))
    return list(matches.values()) or [dict(result) for result in fallback(query)]


class TavilySimulator(LoopbackServer[SearchLogEntry]):
    """Tavily-compatible ``POST /search`` on 127.0.0.1, answering from a canned corpus.

    ``corpus``: keyword -> results (``title``, ``url``, ``content``; ``score`` optional).
    ``fallback``: results for a query nothing matches (default :func:`fabricate_results`).
    Latency per request is ``latency`` (seconds, or a callable of the query) plus, with
    ``jitter=(lo, hi)``, a uniform draw seeded by ``seed`` and the query, so a given query
    always waits the same. All of these can be reassigned while the server runs. ``keep``: how
    many of the latest searches :attr:`requests` keeps (None: all).
    """

    def __init__(
        self,
        corpus: Corpus | None = None,
        *,
        latency: float | Callable[[str], float] = 0.0,
        jitter: tuple[float, float] | None = None,
        seed: int = 0,
        fallback: Callable[[str], list[Result]] = fabricate_results,
        host: str = HOST,
        port: int = 0,
        keep: int | None = KEEP_REQUESTS,
    ) -> None:
        super().__init__(host=host, port=port, keep=keep)
        self.corpus = DEFAULT_CORPUS if corpus is None else corpus
        self.latency = latency
        self.jitter = jitter
        self.seed = seed
        self.fallback = fallback

    @property
    def base_url(self) -> str:
        """What to pass as ``api_base_url`` to the Tavily clients: ``http://127.0.0.1:PORT``."""
        return self.url

    def delay_for(self, query: str) -> float:
        """Seconds a search for ``query`` waits before answering."""
        delay = self.latency(query) if callable(self.latency) else self.latency
        if self.jitter is not None:
            delay += random.Random(f"{self.seed}:{query}").uniform(*self.jitter)
        return delay

    def search(self, query: str, max_results: int = 5) -> list[Result]:
        """The results ``/search`` returns for ``query``, best first."""
        found = find(self.corpus, query, self.fallback)
        for rank, result in enumerate(found):
            result.setdefault("score", round(max(0.9 - 0.1 * rank, 0.1), 2))
        return found[:max_results]

    # -- HTTP --------------------------------------------------------------------------------

    def handle(self, exchange: Exchange) -> None:
        if exchange.method != "POST" or exchange.path != "/search":
            exchange.send_json(404, self.error_body(404, f"Not found: {exchange.path}"))
            return
        try:
            body = exchange.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        entry = self._record(
            SearchLogEntry(str(body.get("query") or ""), body, exchange.received_at)
        )
        answer = self._serve(exchange, body, entry)
        entry.finished_at = time.time()
        if answer is None:
            exchange.abort()  # stopping
            return
        entry.status, payload, headers = answer
        exchange.send_json(entry.status, payload, headers)

    def _serve(
        self, exchange: Exchange, body: dict[str, Any], entry: SearchLogEntry
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Status, body and headers of the answer to one search; None if stopping meanwhile."""
        query, max_results = body.get("query"), body.get("max_results", 5)
        if exchange.bearer_token() is None:
            return 401, self.error_body(401), {}
        if not isinstance(query, str) or not query.strip():
            return 400, self.error_body(400, "Query is missing."), {}
        if not isinstance(max_results, int) or not 0 <= max_results <= 20:
            return 400, self.error_body(400, "max_results must be an integer from 0 to 20."), {}
        failure = self._take_failure()
        if failure is not None:
            return failure.status, self.error_body(failure.status), failure.headers
        entry.delay = self.delay_for(query)
        if not self._sleep_until(exchange.received_monotonic + entry.delay):
            return None
        payload = self._answer(query, body, max_results, entry.delay)
        entry.urls = [result["url"] for result in payload["results"]]
        return 200, payload, {}

    def error_body(self, status: int, message: str | None = None) -> dict[str, Any]:
        default = _ERROR_MESSAGES.get(status, "Internal server error (simulated).")
        return {"detail": {"error": message or default}}

    def _answer(
        self, query: str, body: dict[str, Any], max_results: int, delay: float
    ) -> dict[str, Any]:
        results = self.search(query, max_results)
        raw = bool(body.get("include_raw_content"))
        for result in results:
            result["raw_content"] = result.get("raw_content", result["content"]) if raw else None
        first_sentence = results[0]["content"].split(". ")[0] if results else None
        payload: dict[str, Any] = {
            "query": query,
            "follow_up_questions": None,
            "answer": first_sentence if body.get("include_answer") else None,
            "images": [],
            "results": results,
            "response_time": round(delay, 2),
            "request_id": str(uuid.uuid4()),
        }
        if body.get("include_usage"):
            payload["usage"] = {"credits": 2 if body.get("search_depth") == "advanced" else 1}
        return payload


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the default corpus until interrupted, printing the base URL first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per search")
    args = parser.parse_args(argv)
    with TavilySimulator(latency=args.latency, port=args.port) as simulator:
        print(simulator.base_url, flush=True)
        wait_for_interrupt()


if __name__ == "__main__":
    main()
