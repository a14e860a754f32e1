"""Paths into JSON text: each observation parsed once, long text off the loop, in slices.

`core.json_text.loads_in_slices` must read exactly what `json.loads` reads (a property test);
the task fetching unit parses an observation once whatever number of tasks reach into it, and
a 50 MB one never stalls its event loop for 100 ms (a loop-lag probe runs beside the plan).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.tools import tool

from llmcompiler_graph.core import fetching, json_text
from llmcompiler_graph.core.fetching import TaskFetchingUnit
from llmcompiler_graph.core.plan import PathError, Task, make_observation, resolve_args

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=3), inner, max_size=20)
    ),
    max_leaves=200,
)


def _read(loads: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", loads(text)
    except json.JSONDecodeError:
        return "error", None


@settings(max_examples=300, deadline=None)
@given(_JSON, st.sampled_from([None, 0, 2]), st.sampled_from([(", ", ": "), (",", ":")]))
def test_slices_read_what_json_loads_reads(value: Any, indent: int | None, seps: Any) -> None:
    text = json.dumps(value, indent=indent, separators=None if indent else seps)
    assert json_text.loads_in_slices(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(
    _JSON, st.integers(min_value=0), st.sampled_from(["", " ", ",", "]", "}", ":", '"', "x", "1"])
)
def test_slices_refuse_what_json_loads_refuses(value: Any, at: int, piece: str) -> None:
    """Damaged text (a piece inserted, or the text cut) fails both ways or reads the same."""
    text = json.dumps(value)
    at %= len(text) + 1
    for damaged in (text[:at] + piece + text[at:], text[:at]):
        assert _read(json_text.loads_in_slices, damaged) == _read(json.loads, damaged)


def test_a_slice_is_small_however_the_text_is_shaped() -> None:
    """Narrow containers around a wide one are walked into: no single C call parses more than
    one record."""
    records = [{"id": i, "tags": ["a", "b"], "text": "x" * 50} for i in range(2000)]
    text = json.dumps({"data": {"page": {"items": records}}})
    calls: list[int] = []
    raw_decode = json_text._DECODER.raw_decode

    def counting(s: str, at: int) -> Any:
        value, end = raw_decode(s, at)
        calls.append(end - at)
        return value, end

    json_text._DECODER.raw_decode = counting  # type: ignore[method-assign]
    try:
        assert json_text.loads_in_slices(text) == json.loads(text)
    finally:
        json_text._DECODER.raw_decode = raw_decode  # type: ignore[method-assign]
    assert max(calls) < 200 and len(calls) > 2000


def _task(idx: int, tool: str, args: dict[str, Any], deps: list[int]) -> Task:
    return {
        "idx": idx,
        "tool": tool,
        "args": args,
        "dependencies": deps,
        "thought": None,
        "error": None,
    }


def test_error_messages_quote_keys_bounded() -> None:
    key = "k" * 5_000_000
    observations = {1: make_observation(1, "ok", {key: 1, "other": 2}, None, 0.0)}
    task = _task(2, "echo", {"v": f"$1.{'q' * 5_000_000}"}, [1])
    with pytest.raises(PathError) as missing:
        resolve_args(task, observations)
    assert len(str(missing.value)) < 2_000 and "other" in str(missing.value)


def test_json_text_is_parsed_once_per_observation(monkeypatch: pytest.MonkeyPatch) -> None:
    parses: list[int] = []
    real = fetching._parsed
    monkeypatch.setattr(
        fetching, "_parsed", lambda text, idx: parses.append(idx) or real(text, idx)
    )

    @tool
    def produce() -> str:
        """Produce JSON text."""
        return json.dumps({"items": [{"name": f"n{i}"} for i in range(10)]})

    @tool
    def echo(v: str) -> str:
        """Echo."""
        return v

    plan = [_task(1, "produce", {}, [])] + [
        _task(i + 2, "echo", {"v": f"$1.items[{i}].name"}, [1]) for i in range(10)
    ]
    observations = TaskFetchingUnit({"produce": produce, "echo": echo}).run(plan)
    assert [observations[i + 2]["value"] for i in range(10)] == [f"n{i}" for i in range(10)]
    assert parses == [1]


def test_paths_into_50_mb_of_json_text_never_stall_the_loop() -> None:
    """64 tasks each with a path into one 50 MB JSON text observation (the issue's case: 8.87 s
    of one stall before): the loop never stalls 100 ms, the text is parsed once."""
    records = [
        {"id": i, "name": f"item {i}", "text": "lorem ipsum dolor sit amet " * 8}
        for i in range(200_000)
    ]
    big = json.dumps({"meta": {"count": len(records)}, "items": records})
    assert len(big) > 50_000_000

    @tool
    async def produce() -> str:
        """Produce a big JSON text."""
        return big

    @tool
    async def echo(v: Any) -> Any:
        """Echo."""
        return v

    picks = [i * 3_000 for i in range(64)]
    plan = [_task(1, "produce", {}, [])] + [
        _task(n + 2, "echo", {"v": f"$1.items[{i}].name"}, [1]) for n, i in enumerate(picks)
    ]
    unit = TaskFetchingUnit({"produce": produce, "echo": echo})

    async def run() -> tuple[dict[int, Any], float, float]:
        worst, running = 0.0, True

        async def probe() -> None:
            nonlocal worst
            while running:
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                worst = max(worst, time.perf_counter() - before - 0.005)

        prober = asyncio.create_task(probe())
        began = time.perf_counter()
        observations = await unit.arun(plan)
        took = time.perf_counter() - began
        running = False
        await prober
        return observations, worst, took

    observations, worst, took = asyncio.run(run())
    assert [observations[n + 2]["value"] for n in range(64)] == [f"item {i}" for i in picks]
    print(
        f"64 paths into {len(big) / 1e6:.1f} MB: {took:.2f} s, "
        f"worst loop stall {worst * 1000:.0f} ms"
    )
    assert worst < 0.1
