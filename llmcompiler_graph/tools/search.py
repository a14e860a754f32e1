"""The `search` tool: web search through Tavily (`tavily-python`).

The API key and base URL are resolved when the tool runs, not when it is created, so a graph can
be built (and shown in Studio) without a key, and tests or the offline simulator can point the
real client at a local server through `TAVILY_BASE_URL`.

Async calls share one `httpx.AsyncClient` per event loop and key (an `httpx.AsyncClient` is
bound to the loop it first ran on, and a tool may be called from several loops: Jupyter,
`asyncio.run` per question, LangGraph's sync-to-async bridging). A fresh client costs ~20 ms of
CPU on the loop (its SSL context): eight parallel searches measured 0.71 s instead of 0.53 s
against a 0.5 s endpoint. With Tavily's own proxy settings (`TAVILY_HTTP(S)_PROXY`) each call
gets its own client, built by tavily-python with those proxies.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import Any, Literal, TypedDict

import httpx
from langchain_core.tools import BaseTool, StructuredTool
from tavily import AsyncTavilyClient, TavilyClient

SearchDepth = Literal["basic", "advanced", "fast", "ultra-fast"]

MISSING_KEY_MESSAGE = (
    "TAVILY_API_KEY is not set: get a key at https://app.tavily.com and "
    "`export TAVILY_API_KEY=...` (or run the offline simulator)"
)

SEARCH_DESCRIPTION = """\
Web search. Returns a list of results with title, url and content (a text snippet of the page), \
most relevant first. `query` is a short, specific search query about ONE entity or fact, e.g. \
"Microsoft market cap" - search for two entities with two calls. The results are text, not \
numbers: to compute with them, pass them as `context` to a tool that reads text, such as `math`."""


class SearchResult(TypedDict):
    """One search hit. The optional answer item (`include_answer`) has `url` None."""

    title: str
    url: str | None
    content: str


class MissingSearchKeyError(RuntimeError):
    """No Tavily API key was given or found in the environment."""


def _client_settings(api_key: str | None, base_url: str | None) -> dict[str, str | None]:
    """Constructor arguments for a Tavily client: argument, else environment, else the default.

    tavily-python itself would run "keyless" without a key; we refuse instead, with instructions.
    """
    key = api_key or os.environ.get("TAVILY_API_KEY")
    if not key:
        raise MissingSearchKeyError(MISSING_KEY_MESSAGE)
    url = base_url or os.environ.get("TAVILY_BASE_URL")
    # The sync client appends "/search" to the base URL as a string.
    return {"api_key": key, "api_base_url": url.rstrip("/") if url else None}


_POOLS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str | None, ...], httpx.AsyncClient]
] = weakref.WeakKeyDictionary()


def _shared_http(settings: dict[str, str | None]) -> httpx.AsyncClient | None:
    """This loop's connection pool for these settings; None where Tavily's proxies apply."""
    if os.environ.get("TAVILY_HTTP_PROXY") or os.environ.get("TAVILY_HTTPS_PROXY"):
        return None
    pools = _POOLS.setdefault(asyncio.get_running_loop(), {})
    key = (settings["api_key"], settings["api_base_url"])
    if key not in pools or pools[key].is_closed:
        pools[key] = httpx.AsyncClient()
    return pools[key]


def _results(response: dict[str, Any], include_answer: bool) -> list[SearchResult]:
    results: list[SearchResult] = [
        {
            "title": item.get("title") or "",
            "url": item.get("url") or "",
            "content": item.get("content") or "",
        }
        for item in response.get("results") or []
    ]
    if include_answer and response.get("answer"):
        results.insert(0, {"title": "Answer", "url": None, "content": response["answer"]})
    return results


def create_search_tool(
    *,
    max_results: int = 5,
    api_key: str | None = None,
    base_url: str | None = None,
    search_depth: SearchDepth = "basic",
    include_answer: bool = False,
) -> BaseTool:
    """The `search` tool. Key: `api_key`, else `TAVILY_API_KEY`; base URL: `base_url`, else
    `TAVILY_BASE_URL`, else Tavily's API. Both are read at call time."""
    options: dict[str, Any] = {
        "max_results": max_results,
        "search_depth": search_depth,
        "include_answer": include_answer,
    }

    def search(query: str) -> list[SearchResult]:
        with TavilyClient(**_client_settings(api_key, base_url)) as client:
            response = client.search(query, **options)
        return _results(response, include_answer)

    async def asearch(query: str) -> list[SearchResult]:
        settings = _client_settings(api_key, base_url)
        # Closing it closes only a client it made itself, never the shared pool.
        async with AsyncTavilyClient(**settings, client=_shared_http(settings)) as client:
            response = await client.search(query, **options)
        return _results(response, include_answer)

    return StructuredTool.from_function(
        func=search, coroutine=asearch, name="search", description=SEARCH_DESCRIPTION
    )
