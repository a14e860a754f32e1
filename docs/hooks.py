"""MkDocs hooks (`hooks:` in mkdocs.yml): generated parts of the pages.

A page may hold these markers, each on a line of its own; the build replaces them:

- `<!-- settings-table -->`: every setting of the ready-made graph's `Context` (name, environment
  variable, default, allowed values, description), from the fields' own metadata;
- `<!-- create-llmcompiler-signature -->`: `create_llmcompiler`'s signature, read from the function.

So the settings reference is never copied by hand (`tests/test_docs.py` checks it).
"""

from __future__ import annotations

from typing import Any

from llmcompiler_graph.settings_reference import markdown_table, signature

MARKERS = {
    "<!-- settings-table -->": markdown_table,
    "<!-- create-llmcompiler-signature -->": lambda: f"```python\n{signature()}```\n",
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    for marker, render in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    return markdown
