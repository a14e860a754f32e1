"""The joiner's protocols: one module each, named as the `joiner=` setting names it.

- `lean` (the default): the decision first, `Answer: ...` or `Replan: ...`; the answer streams.
- `text`: the paper's `Thought:` / `Action: Finish(...)` / `Action: Replan(...)`.
- `structured`: the decision through tool calling (`JoinerDecision`); falls back to `text`.

Adding a protocol is one module here (plus its tests): it defines `STRATEGY`, an instance of a
`JoinerProtocol` subclass (its prompt part, how a reply is read, whether it streams). Its name
then is one of the settings' choices (`core.formats.JoinerFormat`), in Studio and in the CLI.
"""

from __future__ import annotations

from llmcompiler_graph.core.formats import load
from llmcompiler_graph.core.joiner_protocols._base import (
    Decision,
    JoinerDecision,
    JoinerProtocol,
    ReplyReader,
    parse_text_decision,
    split_replan,
)

__all__ = [
    "Decision",
    "JoinerDecision",
    "JoinerProtocol",
    "ReplyReader",
    "joiner_protocol",
    "parse_text_decision",
    "split_replan",
]


def joiner_protocol(name: str) -> JoinerProtocol:
    """The protocol of that name (a module of this package)."""
    found = load(__name__, name, "joiner")
    assert isinstance(found, JoinerProtocol)
    return found
