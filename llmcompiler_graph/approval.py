"""Plan approval: tasks that wait for a person before they run.

With `approve_plan=True` every task of a plan waits; otherwise only the tasks whose tool's policy
says `requires_approval` (tool metadata `{"llmcompiler": {"requires_approval": True}}`, or
`tool_policies`), and the tasks that depend on them. How a round goes:

1. The planner node streams the plan as usual, but holds back (does not hand to the scheduler)
   each task that needs approval and every task depending on one; state lists the tasks to ask
   about (`awaiting_approval`). The other tasks run as the plan streams. With `approve_plan`
   nothing runs before the approval: streaming dispatch is off in that mode, by necessity.
2. The joiner finds the held tasks without observations, writes their calls as an `AIMessage`
   (with `tool_messages`: the turn's last message while paused, under which chat UIs draw the
   review card) and routes back to the scheduler, which asks before doing anything else: a
   LangGraph `interrupt` whose value follows LangChain's human-in-the-loop convention (the
   `HumanInTheLoopMiddleware` format, which Agent Chat UI renders), one action request per task
   to review, with the values its references resolve to where their tasks have finished:

       {"action_requests": [{"name": "send_email", "args": {"to": "$1", ...},
                             "values": {"to": {"value": "bob@example.com", "from": [1]}},
                             "description": "Task 2 ..."}],
        "review_configs": [{"action_name": "send_email",
                            "allowed_decisions": ["approve", "edit", "reject"]}]}

3. The caller resumes with one decision per action request, in order:

       Command(resume={"decisions": [
           {"type": "approve"},
           {"type": "edit", "edited_action": {"name": "send_email", "args": {...}}},
           {"type": "reject", "message": "Do not email the whole team."},
       ]})

   Approved tasks run as planned (a tool that requires approval is never replaced by an
   identical earlier call's result: an approved send is a send), edited
   ones as edited (checked like a plan line: tool, argument names, `$N` references); a rejected
   task becomes an error observation ("rejected by the reviewer: ...", cut like an observation)
   and the tasks depending on it are skipped. A round with a rejection ends in a replan whose
   feedback is the reviewer's messages, without a joiner call (when no replan is left, the
   joiner answers with what ran). A resume value that is not an answer is answered by the same
   request again with an `error`: nothing stored can strand the thread.

The interrupt needs a checkpointer (`create_llmcompiler(..., checkpointer=...)`, a parent graph's,
or the LangGraph server's). A tool can also pause itself: calling `langgraph.types.interrupt()`
inside a tool pauses the run there, and the resumed run calls that tool again with the same
arguments, the other finished tasks of the plan kept (see docs/approval.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command, StateSnapshot, interrupt

from llmcompiler_graph.core.parser import PlanParser
from llmcompiler_graph.core.plan import (
    REFERENCE,
    Observation,
    Task,
    as_text,
    format_call,
    resolve_args,
)
from llmcompiler_graph.core.policy import ToolPolicy
from llmcompiler_graph.core.prompts import quote, truncate

DECISIONS = ("approve", "edit", "reject")


class ApprovalError(ValueError):
    """The resume value does not answer the approval request: the request is asked again,
    carrying this error (see the module docstring)."""


class NotPausedError(ValueError):
    """A `Command(resume=...)` for a thread that is not paused: nothing waits for its value."""


def is_resume(value: Any) -> bool:
    """Whether a graph input is a plain `Command(resume=...)` (`None` and `{}` included)."""
    return (
        isinstance(value, Command) and value.graph is None and not value.goto and not value.update
    )


def checked_resume(command: Command, snapshot: StateSnapshot) -> Command:
    """The resume `command` as the run should get it, given the thread's state.

    A thread that is not paused gets a `NotPausedError` (LangGraph would silently return the
    finished state). An empty value (`None`, which LangGraph cannot take, or `{}`, which it
    takes as "no interrupt answered" and pauses again silently) for an approval request becomes
    a value the scheduler answers by asking again, saying what to send.
    """
    thread = snapshot.config.get("configurable", {}).get("thread_id")
    if not snapshot.interrupts:
        raise NotPausedError(
            f"thread {thread!r} is not paused, so Command(resume=...) has nothing to answer "
            "(it finished, or another call answered the request first); send a new message "
            "instead, or read the thread's state (graph.get_state(config))."
        )
    ours = any(
        isinstance(i.value, Mapping) and "action_requests" in i.value for i in snapshot.interrupts
    )
    if ours and (command.resume is None or command.resume == {}):
        return Command(resume=f"<nothing: Command(resume={command.resume!r})>")
    return command


def gate(approve_plan: bool, policies: Mapping[str, ToolPolicy]) -> Gate | None:
    """The approval gate of one plan: every task waits with `approve_plan`, else the tasks of
    the tools whose policy `requires_approval`; None when no task can wait."""
    sensitive = {name for name, policy in policies.items() if policy.requires_approval}
    if not (approve_plan or sensitive):
        return None
    return Gate(lambda tool: approve_plan or tool in sensitive)


def ask(
    asked: Sequence[Task],
    observations: Mapping[int, Observation],
    earlier: Sequence[Task],
    signatures: Mapping[str, Sequence[str]],
    *,
    max_chars: int,
) -> Review:
    """Ask a person about the `asked` tasks (a LangGraph `interrupt`: the node stops here until
    the caller resumes it) and return their decisions. A resume value that is not an answer is
    answered by the same request again, with its error: whatever was resumed with, the thread
    can still be answered. `earlier`: every task of the turn (see `review`)."""
    error = None
    while True:
        answer = interrupt(request(asked, observations, max_chars=max_chars, error=error))
        try:
            return review(asked, answer, earlier, signatures, max_chars=max_chars)
        except ApprovalError as exc:
            error = str(exc)


class Gate:
    """Decides, task by task as the plan streams, which tasks wait for approval.

    Args:
        needs_approval: whether a call of this tool must be approved.
    """

    def __init__(self, needs_approval: Callable[[str], bool]) -> None:
        self.needs_approval = needs_approval
        self.held: set[int] = set()
        """Every task held back: the ones to ask about and the ones depending on them."""
        self.asked: list[int] = []
        """The tasks to ask about, in plan order."""

    def admit(self, task: Task) -> bool:
        """True if the task may run now; else it is held back until the approval."""
        if task["error"]:
            return True  # it will not run: its error observation needs no approval
        if self.needs_approval(task["tool"]):
            self.held.add(task["idx"])
            self.asked.append(task["idx"])
            return False
        if self.held.intersection(task["dependencies"]):
            self.held.add(task["idx"])
            return False
        return True


def request(
    tasks: Sequence[Task],
    observations: Mapping[int, Observation],
    *,
    max_chars: int,
    error: str | None = None,
) -> dict[str, Any]:
    """The interrupt's value: one action request per task to review.

    `args` are the task's arguments as written (`$N` references included: what an edit may
    keep). Where the tasks a reference names have finished, `values` holds each such argument
    as it will be sent: a preview cut to `max_chars` and the ids of the tasks it came from,
    also written into the description, so the reviewer approves a value, not a reference.
    `error`: why the previous resume value was not an answer (the request is asked again).
    """
    requests = []
    for task in tasks:
        values = resolved_values(task, observations, max_chars)
        description = _description(task, values)
        if error is not None:
            description = f"Your previous answer could not be used: {error}\n\n{description}"
        requests.append(
            {"name": task["tool"], "args": task["args"], "description": description}
            | ({"values": values} if values else {})
        )
    return {
        "action_requests": requests,
        "review_configs": [
            {"action_name": task["tool"], "allowed_decisions": list(DECISIONS)} for task in tasks
        ],
    } | ({"error": error} if error is not None else {})


def resolved_values(
    task: Task, observations: Mapping[int, Observation], max_chars: int
) -> dict[str, dict[str, Any]]:
    """Argument name -> `{"value": preview, "from": [task ids]}` for each argument that holds a
    reference whose task has finished ok (an argument that does not resolve: `"error"`)."""
    values: dict[str, dict[str, Any]] = {}
    for name, written in task["args"].items():
        refs = sorted(
            {int(m.group(1) or m.group(2)) for m in REFERENCE.finditer(as_text(written))}
            & set(task["dependencies"])
        )
        if not refs or any(observations.get(r, {}).get("status") != "ok" for r in refs):
            continue
        try:
            value = resolve_args({**task, "args": {name: written}}, observations)[name]
        except Exception as exc:
            values[name] = {"error": f"{type(exc).__name__}: {exc}", "from": refs}
            continue
        values[name] = {"value": truncate(as_text(value), max_chars), "from": refs}
    return values


def _description(task: Task, values: Mapping[str, Mapping[str, Any]]) -> str:
    waits = ", ".join(f"${d}" for d in task["dependencies"])
    after = f" It uses the results of {waits}." if waits else ""
    thought = f" The planner's thought: {task['thought']}" if task["thought"] else ""
    lines = [f"Task {task['idx']} of the plan: {format_call(task)}.{after}{thought}"]
    for name, value in values.items():
        source = ", ".join(f"task {r}" for r in value["from"])
        if "value" in value:
            shown = quote(value["value"])
        else:
            shown = f"cannot be resolved: {value['error']}"
        lines.append(f"- {name} will be {shown} (from {source})")
    return "\n".join(lines)


@dataclass
class Review:
    """What the reviewer decided, ready for the scheduler."""

    tasks: dict[int, Task] = field(default_factory=dict)
    """Task id -> the task to run instead of the planned one (edited, or rejected: its `error`
    says so)."""
    edited: dict[int, Task] = field(default_factory=dict)
    """The edited tasks, as state keeps them from now on."""
    rejections: list[str] = field(default_factory=list)
    """One line per rejected task: which, and the reviewer's message."""
    decisions: list[dict[str, Any]] = field(default_factory=list)
    """Per reviewed task: its id and the decision (for the custom events)."""


def review(
    asked: Sequence[Task],
    resume: Any,
    earlier: Iterable[Task],
    signatures: Mapping[str, Sequence[str]],
    *,
    max_chars: int,
) -> Review:
    """Apply the resume value to the tasks that were asked about.

    `earlier`: every task of the turn (edited arguments may reference those before the task).
    A rejection's message is cut to `max_chars`, like an observation. Raises `ApprovalError`
    when the resume value is not one decision per task (the caller asks again).
    """
    decisions = resume.get("decisions") if isinstance(resume, Mapping) else resume
    if not isinstance(decisions, list) or len(decisions) != len(asked):
        raise ApprovalError(
            f"resume the approval with {{'decisions': [...]}}, one decision per action request "
            f"({len(asked)}, in order), each {{'type': 'approve'}}, {{'type': 'edit', "
            f"'edited_action': {{'name': ..., 'args': {{...}}}}}} or {{'type': 'reject', "
            f"'message': ...}}; got {resume!r:.300}"
        )
    ids = [t["idx"] for t in earlier]
    result = Review()
    for task, decision in zip(asked, decisions, strict=True):
        kind = decision.get("type") if isinstance(decision, Mapping) else None
        if kind not in DECISIONS:
            raise ApprovalError(
                f"decision for task {task['idx']} must have 'type' approve, edit or reject; "
                f"got {decision!r:.300}"
            )
        assert isinstance(decision, Mapping)
        result.decisions.append({"idx": task["idx"], "type": kind})
        if kind == "edit":
            edited = _edited(task, decision.get("edited_action"), ids, signatures)
            result.tasks[task["idx"]] = result.edited[task["idx"]] = edited
        elif kind == "reject":
            message = truncate(str(decision.get("message") or "no reason given"), max_chars)
            result.tasks[task["idx"]] = {**task, "error": f"rejected by the reviewer: {message}"}
            result.rejections.append(f"task {task['idx']} ({format_call(task)}): {message}")
    return result


def _edited(
    task: Task, action: Any, ids: Sequence[int], signatures: Mapping[str, Sequence[str]]
) -> Task:
    """The task as the reviewer edited it, checked like a plan line of the same id."""
    if not isinstance(action, Mapping) or not isinstance(action.get("args", {}), Mapping):
        raise ApprovalError(
            f"an edit of task {task['idx']} needs 'edited_action': {{'name': tool, 'args': "
            f"{{...}}}}; got {action!r:.300}"
        )
    parser = PlanParser(signatures, known_ids=[i for i in ids if i < task["idx"]])
    checked = parser.call(str(action.get("name") or task["tool"]), dict(action.get("args", {})))
    if checked is None:
        raise ApprovalError(f"task {task['idx']} cannot be edited into join()")
    return {**checked, "idx": task["idx"], "thought": task["thought"]}
