"""Wikipedia search through langchain-community, the tool of the paper's HotpotQA runs.

Optional: it needs the `wikipedia` package (`pip install "llmcompiler-graph[wikipedia]"`).
langchain-community announces its sunset (a DeprecationWarning on import); the tool is small
enough to move to the `wikipedia` package directly when that happens.
"""

from __future__ import annotations

from langchain_core.tools import BaseTool

WIKIPEDIA_DESCRIPTION = (
    "Searches Wikipedia and returns the summaries of the best matching pages (title and "
    'summary). Give it a short query naming one entity, e.g. wikipedia("Eiffel Tower").'
)


def create_wikipedia_tool(*, top_k_results: int = 2, max_chars: int = 4000) -> BaseTool:
    """A `wikipedia(query)` tool returning page summaries as text, at most `max_chars` of them.

    Raises ImportError (saying what to install) when the `wikipedia` package is missing.
    """
    from langchain_community.tools import WikipediaQueryRun
    from langchain_community.utilities import WikipediaAPIWrapper

    try:
        wrapper = WikipediaAPIWrapper(top_k_results=top_k_results, doc_content_chars_max=max_chars)
    except ImportError as exc:
        raise ImportError(
            'The wikipedia tool needs the wikipedia package: pip install "llmcompiler-graph'
            '[wikipedia]"'
        ) from exc
    return WikipediaQueryRun(
        name="wikipedia", description=WIKIPEDIA_DESCRIPTION, api_wrapper=wrapper
    )
