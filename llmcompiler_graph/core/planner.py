"""The planner: one streamed LLM call that writes the plan, parsed and published task by task.

Each task is handed to `publish` the moment its line is complete, so the task fetching unit can
start it while the rest of the plan is still being generated. After `join()` the rest of the
stream is read but not parsed: providers report token usage in the last chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    HumanMessage,
    SystemMessage,
)
from langchain_core.runnables import RunnableConfig

from llmcompiler_graph.core.parser import PlanParser
from llmcompiler_graph.core.plan import Task
from llmcompiler_graph.core.prompts import PLANNER_PROMPT, fill, format_results, planner_examples
from llmcompiler_graph.core.toolbox import Toolbox
from llmcompiler_graph.state import Turn

logger = logging.getLogger(__name__)

Publish = Callable[[Task], None]


class Planner:
    """Turns the conversation (and, on replan, the previous results) into a stream of tasks.

    Args:
        model: the chat model; one that streams tokens gives the earliest dispatch.
        toolbox: the tools the plan may call.
        prompt: the system prompt template (see `llmcompiler_graph.core.prompts`).
        max_observation_chars: how much of each earlier observation a replan prompt shows.
        max_tasks: a plan stops at this many tasks (a model stuck in a loop would otherwise
            start tool calls until its token limit); the cut is reported to the joiner as an
            error observation on the first task left out.
    """

    def __init__(
        self,
        model: BaseChatModel,
        toolbox: Toolbox,
        *,
        prompt: str | None = None,
        max_observation_chars: int = 2000,
        max_tasks: int = 64,
    ) -> None:
        # Not named "planner": LangGraph treats a run named like its node as the node itself.
        self.model = model.with_config(run_name="planner_llm", tags=["llmcompiler:planner"])
        self.toolbox = toolbox
        self.max_observation_chars = max_observation_chars
        self.max_tasks = max_tasks
        signatures = toolbox.signatures
        self.system_prompt = fill(
            prompt or PLANNER_PROMPT,
            tools=toolbox.describe(),
            join_number=str(len(toolbox) + 1),
            examples=planner_examples(signatures),
        )

    def messages(
        self, turn: Turn, system: str, dialogue: list[AnyMessage], feedback: str
    ) -> list[BaseMessage]:
        """The planner's prompt: instructions, the conversation, and on replan what happened."""
        instructions = f"{self.system_prompt}\n\n{system}".strip()
        messages: list[BaseMessage] = [SystemMessage(instructions), *dialogue]
        if turn.tasks:
            results = format_results(
                turn.tasks, turn.observations, max_chars=self.max_observation_chars
            )
            ids = ", ".join(f"${t['idx']}" for t in turn.tasks)
            messages.append(
                HumanMessage(
                    "The previous plan and its results:\n"
                    f"{results}\n\n"
                    f"They did not answer the question yet. Feedback: {feedback or '(none)'}\n"
                    f"Write a new plan that continues the ids at {turn.next_id}. The results "
                    f"above stay available as {ids}; reference them instead of repeating work."
                )
            )
        return messages

    def parser(self, turn: Turn) -> PlanParser:
        return PlanParser(self.toolbox.signatures, known_ids=[t["idx"] for t in turn.tasks])

    async def aplan(
        self,
        messages: list[BaseMessage],
        parser: PlanParser,
        publish: Publish,
        config: RunnableConfig | None = None,
    ) -> list[Task]:
        """Stream the plan, publishing each task as soon as it parses; return all tasks."""
        writer = _PlanWriter(parser, publish, self.max_tasks)
        try:
            async for chunk in self.model.astream(messages, config):
                writer.take(chunk)
        except Exception as exc:
            writer.keep_partial_plan(exc)
        return writer.finish()

    def plan(
        self,
        messages: list[BaseMessage],
        parser: PlanParser,
        publish: Publish,
        config: RunnableConfig | None = None,
    ) -> list[Task]:
        """Sync `aplan`."""
        writer = _PlanWriter(parser, publish, self.max_tasks)
        try:
            for chunk in self.model.stream(messages, config):
                writer.take(chunk)
        except Exception as exc:
            writer.keep_partial_plan(exc)
        return writer.finish()


class _PlanWriter:
    """One plan being written: parsed chunk by chunk, each task published once, capped."""

    def __init__(self, parser: PlanParser, publish: Publish, max_tasks: int) -> None:
        self.parser = parser
        self.publish = publish
        self.max_tasks = max_tasks
        self.tasks: list[Task] = []

    def take(self, chunk: BaseMessageChunk) -> None:
        """Feed one streamed chunk (the parser ignores everything after `join()`)."""
        self._publish(self.parser.feed(chunk.text))

    def finish(self) -> list[Task]:
        self._publish(self.parser.close())
        return self.tasks

    def _publish(self, tasks: list[Task]) -> None:
        for task in tasks:
            if len(self.tasks) > self.max_tasks:
                return
            if len(self.tasks) == self.max_tasks:
                task = {
                    **task,
                    "error": f"the plan exceeds max_tasks={self.max_tasks}; "
                    "this task and the ones after it were dropped",
                }
            self.tasks.append(task)
            self.publish(task)

    def keep_partial_plan(self, exc: Exception) -> None:
        """A broken LLM stream fails the run unless some tasks already parsed: those are
        running already, so they stand as the plan and the joiner decides what to do."""
        if not self.tasks:
            raise exc
        logger.warning(
            "planner stream failed after %d tasks; keeping them: %r", len(self.tasks), exc
        )
