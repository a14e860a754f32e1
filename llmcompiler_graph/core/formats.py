"""The names of the planner's formats and the joiner's protocols (plain `Literal`s, importable
without LangChain: the settings, Studio and the CLI list their choices from them)."""

from typing import Literal

PlannerFormat = Literal["text", "tools"]
"""`text`: the paper's numbered plan language; `tools`: the plan as native tool calls."""

JoinerFormat = Literal["lean", "structured", "text"]
"""`lean`: the decision first; `text`: the paper's Thought/Action; `structured`: tool calling."""
