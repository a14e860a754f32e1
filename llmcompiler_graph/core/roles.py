"""Which of the package's own LLM calls is which: the planner, the joiner or the math tool.

Each call carries a LangChain run tag and run name set here (`Role.mark`), visible in callbacks
and LangSmith. `role_of(tags)` reads the role back; it is the only place that tells roles apart,
so tracing, the benchmark and the simulators agree whatever the prompts say. Models built by
`load_chat_model` also send the role as the `X-LLMCompiler-Role` request header, for the loopback
simulators and for gateways that attribute cost per role, and the reply format the call asks for
(`protocol`, e.g. the joiner's `lean` or `text`) as `X-LLMCompiler-Protocol`. Any other call (a
ReAct agent's turn, a user's own chain) has no role.

The joiner's answer reaches `stream_mode="messages"` through a relay run tagged `ANSWER_TAG`
(see `core.joiner`): it has no role, since it is not a model call, and `is_relay` tells it apart.
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
PROTOCOL_HEADER = "X-LLMCompiler-Protocol"
"""The request header carrying the reply format the call asks for (its `protocol`)."""
PROTOCOL_KEY = "llmcompiler_protocol"
"""The run metadata key `Role.mark` stores the protocol under."""
ANSWER_TAG = "llmcompiler:answer"
"""The tag of the relay run that streams the joiner's answer (not a model call)."""


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

    def mark(
        self, runnable: Runnable, *, streams: bool | None = None, protocol: str | None = None
    ) -> Runnable:
        """`runnable` with this role's run name and tags on every call; `streams` overrides
        whether its tokens show in `stream_mode="messages"`; `protocol` names the reply format
        the call asks for (sent along by `RoleAware` models)."""
        shown = self.streams if streams is None else streams
        tags = [self.tag] if shown else [self.tag, TAG_NOSTREAM]
        metadata = {PROTOCOL_KEY: protocol} if protocol else {}
        return runnable.with_config(run_name=self.run_name, tags=tags, metadata=metadata)


PLANNER = Role("planner", streams=False)
"""The plan is in the custom events and state; its tokens show only with `stream_plan=True`."""
JOINER = Role("joiner", streams=False)
MATH = Role("math", streams=False)
ROLES = {role.tag: role.name for role in (PLANNER, JOINER, MATH)}


def role_of(tags: Iterable[str] | None) -> RoleName | None:
    """The role of an LLM call from its run tags (None: not one of the package's calls)."""
    return next((ROLES[tag] for tag in tags or () if tag in ROLES), None)


def is_relay(tags: Iterable[str] | None) -> bool:
    """Whether a chat model run is the joiner's answer relay rather than a model call."""
    return ANSWER_TAG in (tags or ())


class RoleAware:
    """Mixin for a chat model class whose calls should know their role.

    Each call made in one of the package's roles gets the keyword arguments `with_role` returns
    (`load_chat_model`'s OpenAI model adds the `X-LLMCompiler-Role` and `X-LLMCompiler-Protocol`
    headers; the tests' scripted fake answers as that role). Calls without a role are passed
    through unchanged.
    """

    def with_role(
        self, role: RoleName, protocol: str | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def _role_kwargs(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        config = ensure_config(config)
        role = role_of(config.get("tags"))
        if role is None:
            return kwargs
        return self.with_role(role, config.get("metadata", {}).get(PROTOCOL_KEY), kwargs)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().invoke(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        kwargs = self._role_kwargs(config, kwargs)
        return await super().ainvoke(input, config, **kwargs)  # type: ignore[misc]

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().stream(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]

    def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return super().astream(input, config, **self._role_kwargs(config, kwargs))  # type: ignore[misc]
