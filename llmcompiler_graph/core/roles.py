"""Which of the package's own LLM calls is which: the planner, the joiner or the math tool.

Each call carries a LangChain run tag and run name set here (`Role.mark`), visible in callbacks
and LangSmith. `role_of(tags)` reads the role back; it is the only place that tells roles apart,
so tracing, the benchmark and the simulators agree whatever the prompts say. Models built by
`load_chat_model` also send the role as the `X-LLMCompiler-Role` request header, for the loopback
simulators and for gateways that attribute cost per role. Any other call (a ReAct agent's turn,
a user's own chain) has no role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langgraph.constants import TAG_NOSTREAM

RoleName = Literal["planner", "joiner", "math"]

ROLE_HEADER = "X-LLMCompiler-Role"
"""The request header carrying the role (see `llmcompiler_graph.models.load_chat_model`)."""


@dataclass(frozen=True)
class Role:
    """One kind of LLM call the package makes."""

    name: RoleName
    streams: bool
    """Whether its tokens show in `stream_mode="messages"` (else tagged `nostream`)."""

    @property
    def tag(self) -> str:
        return f"llmcompiler:{self.name}"

    @property
    def tags(self) -> list[str]:
        return [self.tag] if self.streams else [self.tag, TAG_NOSTREAM]

    @property
    def run_name(self) -> str:
        # Not the node's name: LangGraph treats a run named like its node as the node itself.
        return f"{self.name}_llm"

    def mark(self, runnable: Runnable, *, streams: bool | None = None) -> Runnable:
        """`runnable` with this role's run name and tags on every call; `streams` overrides
        whether its tokens show in `stream_mode="messages"`."""
        shown = self.streams if streams is None else streams
        tags = [self.tag] if shown else [self.tag, TAG_NOSTREAM]
        return runnable.with_config(run_name=self.run_name, tags=tags)


PLANNER = Role("planner", streams=False)
"""The plan is in the custom events and state; its tokens show only with `stream_plan=True`."""
JOINER = Role("joiner", streams=False)
MATH = Role("math", streams=False)
ROLES = {role.tag: role.name for role in (PLANNER, JOINER, MATH)}


def role_of(tags: Iterable[str] | None) -> RoleName | None:
    """The role of an LLM call from its run tags (None: not one of the package's calls)."""
    return next((ROLES[tag] for tag in tags or () if tag in ROLES), None)


class RoleAware:
    """Mixin for a chat model class whose calls should know their role.

    Each call made in one of the package's roles gets the keyword arguments `with_role` returns
    (`load_chat_model`'s OpenAI model adds the `X-LLMCompiler-Role` header; the tests' scripted
    fake answers as that role). Calls without a role are passed through unchanged.
    """

    def with_role(self, role: RoleName, kwargs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _role_kwargs(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        role = role_of(ensure_config(config).get("tags"))
        return kwargs if role is None else self.with_role(role, kwargs)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().invoke(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        kwargs = self._role_kwargs(config, kwargs)
        return await super().ainvoke(input, config, **kwargs)  # type: ignore[misc]

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().stream(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]

    def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().astream(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]
