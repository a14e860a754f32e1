"""The real `langgraph dev` server serving `langgraph.json`'s graph, driven by `langgraph_sdk`.

The server runs as a subprocess (its own process group, always killed at teardown) from the
repository root; its model and search go to the loopback simulators started in this process, via
the environment the ready-made graph reads (OPENAI_BASE_URL, TAVILY_BASE_URL, ...).
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import (
    PARALLEL,
    REPLAN,
    SCENARIOS,
    WITH_MATH,
    planned,
    role_of,
    round_tasks,
    task_events,
)
from langgraph_sdk import get_sync_client
from langgraph_sdk._sync.client import SyncLangGraphClient
from servers import config_file, free_port, server_env, start_logged, stop_process

from llmcompiler_graph.core.prompts import FORCE_ANSWER
from llmcompiler_graph.testing import LatencyModel, OpenAISimulator, TavilySimulator
from llmcompiler_graph.testing.scenarios import ScenarioBrain, merged_corpus

pytestmark = pytest.mark.slow  # starts the real `langgraph dev` server

REPO = Path(__file__).resolve().parents[1]
GRAPH = "llmcompiler"
STARTUP_TIMEOUT = 90.0
RUN_TIMEOUT = 60.0

FAST = LatencyModel(ttft_base=0.01, ttft_per_prompt_token=0.0, tokens_per_second=5_000.0)
"""Instant-ish: real SSE chunks, no noticeable waiting."""


@dataclass
class DevServer:
    """A running `langgraph dev` and the simulators behind its graph."""

    url: str
    llm: OpenAISimulator
    tavily: TavilySimulator
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _server_env(llm: OpenAISimulator, tavily: TavilySimulator) -> dict[str, str]:
    return server_env(
        OPENAI_BASE_URL=llm.base_url,
        OPENAI_API_KEY="sim",
        TAVILY_BASE_URL=tavily.base_url,
        TAVILY_API_KEY="tvly-sim",
        LLMCOMPILER_MODEL="openai:gpt-4o-mini",
    )


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"langgraph dev exited with {process.returncode}:\n"
                f"{log.read_text(errors='replace')}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ok", timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(
        f"langgraph dev did not answer /ok within {STARTUP_TIMEOUT:g} s:\n"
        f"{log.read_text(errors='replace')}"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """Simulators in this process, `langgraph dev` in a subprocess; all stopped at the end."""
    scratch = tmp_path_factory.mktemp("langgraph-dev")
    executable = Path(sys.executable).with_name("langgraph")
    assert executable.exists(), f"{executable} missing: pip install 'langgraph-cli[inmem]'"
    state_dir = REPO / ".langgraph_api"  # the in-memory server's dev persistence
    had_state_dir = state_dir.exists()
    with (
        OpenAISimulator(ScenarioBrain(SCENARIOS), latency=FAST) as llm,
        TavilySimulator(merged_corpus(SCENARIOS)) as tavily,
    ):
        port = free_port()
        command = [
            str(executable),
            "dev",
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(config_file(scratch)),
        ]
        log = scratch / "server.log"
        process = start_logged(command, log, cwd=REPO, env=_server_env(llm, tavily))
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, process, log)
            yield DevServer(url, llm, tavily, log)
        finally:
            stop_process(process)
            if not had_state_dir:
                shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def client(server: DevServer) -> Iterator[SyncLangGraphClient]:
    """An SDK client for the server (no API key sent, bounded waits)."""
    with get_sync_client(url=server.url, api_key=None, timeout=RUN_TIMEOUT) as sdk:
        yield sdk


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _stream(
    client: SyncLangGraphClient, thread_id: str, text: str, **kwargs: Any
) -> list[tuple[str, Any]]:
    """Stream one run to its end; (event, data) of every part."""
    parts = client.runs.stream(thread_id, GRAPH, input=_user(text), **kwargs)
    return [(part.event, part.data) for part in parts]


def _custom(parts: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [data for event, data in parts if event == "custom"]


def _joiner_requests(server: DevServer, since: int) -> list[Any]:
    """The joiner requests the simulator received after its `since`-th request."""
    return [e for e in server.llm.requests_since(since) if role_of(e.request) == "joiner"]


def _values(client: SyncLangGraphClient, thread_id: str) -> dict[str, Any]:
    return client.threads.get_state(thread_id)["values"]


def _calls_answered(messages: list[dict[str, Any]]) -> set[str]:
    """The tool call ids of the conversation, each answered by exactly one tool message."""
    calls = [c["id"] for m in messages if m["type"] == "ai" for c in m.get("tool_calls") or []]
    answered = [m["tool_call_id"] for m in messages if m["type"] == "tool"]
    assert sorted(calls) == sorted(answered), "a tool call without its tool message"
    return set(calls)


def test_streamed_run_answers_and_reports_every_task(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    """updates + custom + messages: the answer lands in the thread, every task reports its
    planned / started / finished events, the answer streams (the plan's tokens do not)."""
    thread_id = client.threads.create()["thread_id"]

    parts = _stream(
        client, thread_id, WITH_MATH.question, stream_mode=["updates", "custom", "messages"]
    )

    events = {event for event, _ in parts}
    assert "error" not in events, [data for event, data in parts if event == "error"]
    values = _values(client, thread_id)
    assert values["messages"][-1]["type"] == "ai"
    assert values["messages"][-1]["content"] == WITH_MATH.answer
    assert planned(values["tasks"]) == planned(WITH_MATH.tasks)
    assert [o["status"] for o in values["observations"]] == ["ok"] * len(WITH_MATH.tasks)
    lifecycle = ["task_planned", "task_started", "task_finished"]
    assert task_events(_custom(parts)) == {t["idx"]: lifecycle for t in WITH_MATH.tasks}
    updated = {node for event, data in parts if event == "updates" for node in data}
    assert {"planner", "scheduler", "joiner"} <= updated
    streamed = [
        message
        for event, data in parts
        if event.startswith("messages/")
        for message in (data if isinstance(data, list) else [])
        if isinstance(message, dict)
    ]
    texts = [message["content"] for message in streamed]
    plan_start = WITH_MATH.rounds[0].plan[:30]
    assert not any(text.startswith(plan_start) for text in texts), "the plan was streamed"
    assert WITH_MATH.answer in texts
    answer_id = values["messages"][-1]["id"]
    assert all(m["id"].startswith("llmcompiler-") for m in streamed if m.get("tool_calls")), (
        "the joiner's decision was streamed"
    )
    assert answer_id in {m["id"] for m in streamed}, "the answer's id changed after streaming"
    shown_calls = {c["id"] for m in streamed for c in m.get("tool_calls") or []}
    shown_results = {m["tool_call_id"] for m in streamed if m["type"] == "tool"}
    assert shown_calls == shown_results == _calls_answered(values["messages"])
    queries = sorted(t["args"]["query"] for t in WITH_MATH.tasks if t["tool"] == "search")
    assert sorted(e.query for e in server.tavily.requests[-len(queries) :]) == queries


def test_second_turn_on_the_same_thread_starts_at_task_1(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    """A new question on a thread that already has a turn: its own plan, ids from 1, its
    own answer; the conversation keeps both turns."""
    thread_id = client.threads.create()["thread_id"]
    client.runs.wait(thread_id, GRAPH, input=_user(WITH_MATH.question))
    assert _values(client, thread_id)["messages"][-1]["content"] == WITH_MATH.answer

    parts = _stream(client, thread_id, PARALLEL.question, stream_mode="custom")

    values = _values(client, thread_id)
    assert values["tasks"][0]["idx"] == 1
    assert values["round"] == 1
    assert {e["round"] for e in _custom(parts)} == {1}
    assert planned(values["tasks"]) == planned(PARALLEL.tasks), "turn 2 ran another question's plan"
    assert [o["idx"] for o in values["observations"]] == [t["idx"] for t in PARALLEL.tasks]
    assert values["messages"][-1]["content"] == PARALLEL.answer
    messages = values["messages"]
    second = [i for i, m in enumerate(messages) if m["type"] == "human"][1]
    assert messages[second - 1]["content"] == WITH_MATH.answer  # turn 1 ends with its answer
    assert messages[second + 1]["tool_calls"][0]["name"] == PARALLEL.tasks[0]["tool"]
    _calls_answered(messages)


def test_run_context_sets_the_replan_budget(server: DevServer, client: SyncLangGraphClient) -> None:
    """`context={"max_replans": 0}` reaches the graph's `Context`: the first joiner call is told
    to answer now, and a question that needs a second plan ends after one round. Without it
    (default budget 2) the joiner replans."""
    thread_id = client.threads.create()["thread_id"]
    before = server.llm.logged

    client.runs.wait(thread_id, GRAPH, input=_user(REPLAN.question), context={"max_replans": 0})

    values = _values(client, thread_id)
    assert values["messages"][-1]["content"] == REPLAN.answer
    first_round = round_tasks(REPLAN)[0]
    assert values["round"] == 1
    assert planned(values["tasks"]) == planned(first_round)
    joiners = _joiner_requests(server, before)
    assert len(joiners) == 1
    assert FORCE_ANSWER in joiners[0].request.last_user_text

    default_thread = client.threads.create()["thread_id"]
    before = server.llm.logged
    client.runs.wait(default_thread, GRAPH, input=_user(REPLAN.question))

    joiners = _joiner_requests(server, before)
    assert FORCE_ANSWER not in joiners[0].request.last_user_text
    values = _values(client, default_thread)
    assert values["messages"][-1]["content"] == REPLAN.answer
    assert values["round"] == len(REPLAN.rounds), "with the default budget the joiner replans"
    assert planned(values["tasks"]) == planned(REPLAN.tasks)


def test_updates_show_what_each_node_wrote(server: DevServer, client: SyncLangGraphClient) -> None:
    """The server streams with `output_keys=graph.output_channels` (`messages`), which would
    leave only `{'planner': None}` and `{'scheduler': None}` in `updates`: each node's update
    is its whole write. The output stays messages only."""
    thread_id = client.threads.create()["thread_id"]

    parts = _stream(client, thread_id, PARALLEL.question, stream_mode=["updates", "values"])

    updates = [data for event, data in parts if event == "updates"]
    by_node = {node: value for update in updates for node, value in update.items()}
    assert by_node["planner"] is not None and by_node["scheduler"] is not None, updates
    assert planned(by_node["planner"]["tasks"]) == planned(PARALLEL.tasks)
    assert by_node["planner"]["round"] == 1
    observed = by_node["scheduler"]["observations"]
    assert [o["idx"] for o in observed] == [t["idx"] for t in PARALLEL.tasks]
    assert by_node["joiner"]["decision"] == "finish"
    assert by_node["joiner"]["messages"][-1]["content"] == PARALLEL.answer
    outputs = [data for event, data in parts if event == "values"]
    assert all(set(output) == {"messages"} for output in outputs), "values: the output schema"

    waited = client.runs.wait(thread_id, GRAPH, input=_user(WITH_MATH.question))
    assert set(waited) == {"messages"}
    assert waited["messages"][-1]["content"] == WITH_MATH.answer


def test_a_bad_setting_reaches_the_client_by_name(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    thread_id = client.threads.create()["thread_id"]

    parts = _stream(client, thread_id, PARALLEL.question, context={"max_replans": -1})

    errors = [data for event, data in parts if event == "error"]
    assert errors == [
        {
            "error": "SettingError",  # a ValueError
            "message": "max_replans must be an integer >= 0, got -1 (given in the context, or "
            "env LLMCOMPILER_MAX_REPLANS).",
        }
    ]


def test_a_missing_provider_package_reaches_the_client_with_the_install_hint(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    """The server hides the message of an ImportError ("An internal error occurred"); the
    missing package's error is also a ValueError, whose message it passes on."""
    if importlib.util.find_spec("langchain_xai") is not None:
        pytest.skip("langchain-xai is installed")
    thread_id = client.threads.create()["thread_id"]

    parts = _stream(client, thread_id, PARALLEL.question, context={"model": "xai:grok-2"})

    errors = [data for event, data in parts if event == "error"]
    assert len(errors) == 1, parts
    assert "An internal error" not in errors[0]["message"]
    assert "'xai:grok-2'" in errors[0]["message"] and "pip install" in errors[0]["message"]
    assert "langchain-xai" in errors[0]["message"]


def test_plan_approval_pauses_before_any_tool_and_resumes_with_decisions(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    """Agent Chat UI's path: the run pauses with LangChain's human-in-the-loop request before
    any search, and a resume command with one decision per action request runs the plan."""
    thread_id = client.threads.create()["thread_id"]
    context = {"approve_plan": True}
    searches = server.tavily.logged
    client.runs.wait(thread_id, GRAPH, input=_user(PARALLEL.question), context=context)
    (paused,) = client.threads.get_state(thread_id)["interrupts"]
    requests = paused["value"]["action_requests"]
    assert [r["name"] for r in requests] == ["search"] * len(PARALLEL.tasks)
    assert all(r["description"].startswith("Task ") for r in requests)
    assert server.tavily.logged == searches, "a search ran before the approval"

    decisions = [{"type": "approve"}] * len(requests)
    client.runs.wait(
        thread_id, GRAPH, command={"resume": {"decisions": decisions}}, context=context
    )
    assert client.threads.get_state(thread_id)["interrupts"] == []
    assert _values(client, thread_id)["messages"][-1]["content"] == PARALLEL.answer
    assert server.tavily.logged == searches + len(PARALLEL.tasks)


def test_approval_over_the_server_renders_on_every_turn_and_survives_bad_resumes(
    server: DevServer, client: SyncLangGraphClient
) -> None:
    """What Agent Chat UI relies on, turn after turn: at each pause the last message is an AI
    message with the calls to review; a resume that does not answer asks again (the thread is
    never stranded); the right one runs the plan, each call answered by its tool message."""
    thread_id = client.threads.create()["thread_id"]
    context = {"approve_plan": True}
    for turn, question in enumerate([PARALLEL.question, WITH_MATH.question], start=1):
        client.runs.wait(thread_id, GRAPH, input=_user(question), context=context)
        state = client.threads.get_state(thread_id)
        last = state["values"]["messages"][-1]
        assert last["type"] == "ai" and last["tool_calls"], f"turn {turn}: no card to draw under"
        (paused,) = state["interrupts"]
        count = len(paused["value"]["action_requests"])
        assert [c["name"] for c in last["tool_calls"]] == [
            r["name"] for r in paused["value"]["action_requests"]
        ]
        for bad in ({"decisions": []}, {}, "yes"):
            client.runs.wait(thread_id, GRAPH, command={"resume": bad}, context=context)
            (again,) = client.threads.get_state(thread_id)["interrupts"]
            assert "decision" in again["value"]["error"]
            assert len(again["value"]["action_requests"]) == count
        decisions = [{"type": "approve"}] * count
        client.runs.wait(
            thread_id, GRAPH, command={"resume": {"decisions": decisions}}, context=context
        )
        state = client.threads.get_state(thread_id)
        # a plan with a replan pauses again for its second round: approve that too
        while state["interrupts"]:
            count = len(state["interrupts"][0]["value"]["action_requests"])
            client.runs.wait(
                thread_id,
                GRAPH,
                command={"resume": {"decisions": [{"type": "approve"}] * count}},
                context=context,
            )
            state = client.threads.get_state(thread_id)
        messages = state["values"]["messages"]
        assert messages[-1]["type"] == "ai" and not messages[-1].get("tool_calls")
        _calls_answered(messages)
