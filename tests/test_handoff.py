"""Unit tests of the planner -> scheduler hand-off channel (`llmcompiler_graph.handoff`)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from llmcompiler_graph import handoff
from llmcompiler_graph.core.plan import Task, make_task
from llmcompiler_graph.handoff import PlanStream, ProducerGone, producing, streams, superstep_key

# --- helpers -----------------------------------------------------------------------------------


def search(idx: int, **args: Any) -> Task:
    """A `search` task (arguments as keywords)."""
    return make_task(idx, "search", args)


@contextlib.contextmanager
def held(key: str) -> Iterator[PlanStream]:
    """The stream for `key`, held for the block (`streams.get` ... `streams.release`)."""
    stream = streams.get(key)
    try:
        yield stream
    finally:
        streams.release(key)


def new_key() -> str:
    """A key no other test uses (the registry is process-wide)."""
    return f"test-handoff-{uuid.uuid4()}"


async def collect(stream: PlanStream, attach_timeout: float | None = 1.0) -> list[Task]:
    """Everything a consumer reads from `stream` until it ends; fails fast instead of hanging."""
    async with asyncio.timeout(2):
        return [task async for task in stream.items(attach_timeout)]


async def consume(stream: PlanStream, received: list[Task]) -> None:
    """Append each task of `stream` to `received` as it arrives (fails fast instead of hanging)."""
    async with asyncio.timeout(2):
        async for task in stream.items(attach_timeout=1.0):
            received.append(task)


async def spin(iterations: int) -> None:
    """Let the event loop run `iterations` times (no wall-clock waiting)."""
    for _ in range(iterations):
        await asyncio.sleep(0)


class CountingLock:
    """A `threading.Lock` stand-in that counts acquisitions per thread: a stream whose lock is
    not taken while its consumer waits is not being polled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_thread: Counter[int] = Counter()

    def __enter__(self) -> bool:
        self.by_thread[threading.get_ident()] += 1
        return self._lock.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)

    def total(self) -> int:
        return sum(self.by_thread.values())


def count_lock(stream: PlanStream) -> CountingLock:
    lock = CountingLock()
    stream._lock = lock  # type: ignore[assignment]
    return lock


@pytest.fixture(autouse=True)
def no_leaked_holds() -> Iterator[None]:
    """Every test gives back all it takes from the registry."""
    before = len(streams)
    yield
    assert len(streams) == before


# --- 1. producer first -------------------------------------------------------------------------


async def test_producer_first_all_tasks_in_order_then_end_on_complete_close() -> None:
    key = new_key()
    plan = [search(i, query=f"q{i}") for i in range(1, 6)]
    before = len(streams)
    with producing(key) as produced:
        for task in plan:
            produced.publish(task)
        assert len(streams) == before + 1
    assert produced.closed and produced.complete
    assert len(streams) == before

    with held(key) as stream:
        assert stream is produced  # the finished plan is still there for the consumer
        assert await collect(stream, attach_timeout=0.01) == plan


# --- 2. consumer first -------------------------------------------------------------------------


async def test_consumer_first_receives_later_publishes_without_polling() -> None:
    key = new_key()
    stream = streams.get(key)
    lock = count_lock(stream)
    received: list[Task] = []

    consumer = asyncio.create_task(consume(stream, received))
    try:
        await spin(1)  # the consumer runs up to its first wait
        assert not consumer.done() and received == []

        # parked on an empty stream: the loop turns, the consumer never looks at the stream
        parked = lock.total()
        await spin(50)
        assert lock.total() == parked
        assert received == [] and not consumer.done()

        with producing(key) as produced:
            assert produced is stream
            await spin(50)
            assert lock.total() - parked <= 4  # attach: one wake-up, then parked again
            for idx in (1, 2, 3):
                task = search(idx)
                produced.publish(task)
                turns = 0
                while len(received) < idx and turns < 10:
                    await asyncio.sleep(0)
                    turns += 1
                assert received[-1] == task
                assert turns <= 3  # woken by the publish itself, not by a later check
            assert not consumer.done()  # an open stream keeps its consumer waiting

        async with asyncio.timeout(2):
            await consumer  # the close ends it
        assert [t["idx"] for t in received] == [1, 2, 3]
    finally:
        consumer.cancel()
        streams.release(key)


async def test_empty_complete_plan_ends_consumer_without_tasks() -> None:
    key = new_key()
    with held(key) as stream:
        consumer = asyncio.create_task(collect(stream))
        await spin(1)
        with producing(key):
            pass
        assert await consumer == []


async def test_two_consumers_of_one_stream_each_read_the_whole_plan() -> None:
    key = new_key()
    plan = [search(i) for i in range(1, 4)]
    first, second = streams.get(key), streams.get(key)
    assert first is second
    try:
        consumers = [asyncio.create_task(collect(first)) for _ in range(2)]
        await spin(1)
        with producing(key) as produced:
            for task in plan:
                produced.publish(task)
                await spin(1)
        async with asyncio.timeout(2):
            assert await asyncio.gather(*consumers) == [plan, plan]
    finally:
        streams.release(key)
        streams.release(key)


# --- 3. producer never attaches ----------------------------------------------------------------


async def test_producer_never_attaches_raises_producer_gone() -> None:
    key = new_key()
    with held(key) as stream, pytest.raises(ProducerGone):
        await collect(stream, attach_timeout=0.05)
    # a stream nobody produced into is not kept: a late planner and consumer start afresh
    with held(key) as late:
        assert late is not stream and not late.closed


async def test_producer_attaching_in_time_is_no_error() -> None:
    key = new_key()
    stream = streams.get(key)
    plan = [search(1), search(2)]

    async def plan_later() -> None:
        await spin(3)  # after the consumer started waiting for a producer
        with producing(key) as produced:
            for task in plan:
                produced.publish(task)

    try:
        consumer = asyncio.create_task(collect(stream, attach_timeout=1.0))
        await spin(1)
        assert not consumer.done()
        async with asyncio.timeout(2):
            got, _ = await asyncio.gather(consumer, plan_later())
        assert got == plan
    finally:
        streams.release(key)


async def test_attach_timeout_only_bounds_the_wait_for_a_producer() -> None:
    key = new_key()
    stream = streams.get(key)
    plan = [search(1)]
    try:
        with producing(key) as produced:
            consumer = asyncio.create_task(collect(stream, attach_timeout=0.01))
            await asyncio.sleep(0.05)  # longer than attach_timeout, but a producer is attached
            assert not consumer.done()
            produced.publish(plan[0])
        assert await consumer == plan
    finally:
        streams.release(key)


# --- 4. producer fails -------------------------------------------------------------------------


async def test_failing_producer_closes_incomplete_and_consumer_ends() -> None:
    key = new_key()
    before = len(streams)
    stream = streams.get(key)
    received: list[Task] = []

    consumer = asyncio.create_task(consume(stream, received))
    try:
        await spin(1)
        with pytest.raises(RuntimeError, match="LLM down"), producing(key) as produced:
            produced.publish(search(1))
            async with asyncio.timeout(2):
                while not received:  # the consumer has task 1 before the planner fails
                    await asyncio.sleep(0)
            produced.publish(search(2))
            raise RuntimeError("LLM down")
        assert stream.closed and not stream.complete
        async with asyncio.timeout(2):
            await consumer  # ends, does not wait for a producer that is gone
        assert [t["idx"] for t in received] == [1]  # nothing after the failure
    finally:
        consumer.cancel()
        streams.release(key)
    assert len(streams) == before


async def test_failed_plan_yields_nothing_to_a_later_consumer() -> None:
    key = new_key()
    before = len(streams)
    with pytest.raises(ValueError), producing(key) as produced:
        produced.publish(search(1))
        raise ValueError("bad plan")
    assert produced.closed and not produced.complete
    assert len(streams) == before

    with held(key) as stream:
        assert await collect(stream) == []


async def test_rerun_planner_gets_a_fresh_stream_after_a_failure() -> None:
    key = new_key()
    with pytest.raises(RuntimeError), producing(key) as failed:
        failed.publish(search(1, query="old"))
        raise RuntimeError("cancelled")

    new_plan = [search(1, query="new"), search(2, query="new")]
    with producing(key) as rerun:
        assert rerun is not failed
        assert not rerun.closed
        consumer_stream = streams.get(key)  # the re-run scheduler meets the re-run planner
        try:
            assert consumer_stream is rerun
            consumer = asyncio.create_task(collect(consumer_stream))
            for task in new_plan:
                rerun.publish(task)
        finally:
            streams.release(key)
    assert await consumer == new_plan
    assert failed.closed and not failed.complete  # the stale stream is left as it was


async def test_rerun_planner_gets_a_fresh_stream_while_stale_one_is_still_held() -> None:
    key = new_key()
    with held(key) as stale_reader:
        with pytest.raises(RuntimeError), producing(key):
            raise RuntimeError("cancelled")
        assert stale_reader.closed and not stale_reader.complete
        with producing(key) as rerun:
            assert rerun is not stale_reader
            rerun.publish(search(7))
    # once every holder let go, the completed re-run plan is what the key leads to
    with held(key) as stream:
        assert stream is rerun
        assert [t["idx"] for t in await collect(stream)] == [7]


# --- 5. two keys at once -----------------------------------------------------------------------


async def test_two_keys_interleaved_never_mix() -> None:
    keys = [new_key(), new_key()]
    plans = {
        key: [search(i, tool=f"tool{n}", key=key) for i in range(1, 6)]
        for n, key in enumerate(keys)
    }
    readers = {key: streams.get(key) for key in keys}
    assert readers[keys[0]] is not readers[keys[1]]

    async def produce(key: str) -> None:
        with producing(key) as produced:
            for task in plans[key]:
                produced.publish(task)
                await asyncio.sleep(0)  # let the other producer and both consumers run

    try:
        async with asyncio.timeout(2):
            got = await asyncio.gather(
                collect(readers[keys[0]]),
                collect(readers[keys[1]]),
                produce(keys[0]),
                produce(keys[1]),
            )
        assert got[0] == plans[keys[0]]
        assert got[1] == plans[keys[1]]
    finally:
        for key in keys:
            streams.release(key)


# --- 6. producer in another thread -------------------------------------------------------------


async def test_thread_producer_wakes_async_consumer_threadsafe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = new_key()
    plan = [search(i) for i in range(1, 6)]
    stream = streams.get(key)
    lock = count_lock(stream)
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    wakes: list[Any] = []
    real_call_soon_threadsafe = loop.call_soon_threadsafe

    def spy(callback: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != loop_thread:
            wakes.append(callback)
        return real_call_soon_threadsafe(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon_threadsafe", spy)

    errors: list[BaseException] = []

    def planner() -> None:
        try:
            with producing(key) as produced:
                for task in plan:
                    time.sleep(0.01)
                    produced.publish(task)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=planner)
    try:
        consumer = asyncio.create_task(collect(stream, attach_timeout=1.0))
        await spin(1)  # waiting before the thread starts: every wake-up goes through the spy
        thread.start()
        assert await consumer == plan
    finally:
        thread.join(timeout=2)
        streams.release(key)
    assert not thread.is_alive() and errors == []
    assert stream.closed and stream.complete

    # the thread woke the loop once per attach, publish and close, by setting the waiter's event
    assert len(wakes) == len(plan) + 2
    assert all(isinstance(w.__self__, asyncio.Event) and w.__name__ == "set" for w in wakes)
    # no polling: the consumer read the stream at most twice per wake-up (the read that finds a
    # task, the one that finds nothing more) plus registering and removing its waiter
    assert lock.by_thread[loop_thread] <= 2 * len(wakes) + 2


# --- 7. registry lifetime ----------------------------------------------------------------------


async def test_a_closed_plan_waits_for_a_late_consumer_then_goes() -> None:
    """A scheduler that starts after its planner finished still reads the plan; once a
    consumer has read it, nothing keeps it (a resumed scheduler has its journal)."""
    key = new_key()
    plan = [search(1), search(2)]
    with producing(key) as produced:
        for task in plan:
            produced.publish(task)

    with held(key) as late:
        assert late is produced
        assert await collect(late, attach_timeout=0.01) == plan

    with held(key) as again:
        assert again is not produced and not again.closed


async def test_kept_closed_streams_are_bounded_in_number() -> None:
    kept = handoff._DONE_KEPT
    assert kept > 0
    keys = [new_key() for _ in range(kept + 1)]
    finished = {}
    for n, key in enumerate(keys):
        with producing(key) as produced:
            produced.publish(search(n))
        finished[key] = produced

    oldest = streams.get(keys[0])  # evicted: a fresh stream, not the finished plan
    try:
        assert oldest is not finished[keys[0]] and not oldest.closed
    finally:
        streams.release(keys[0])

    for n, key in enumerate(keys[1:], start=1):  # the newest `kept` are all still there
        with held(key) as stream:
            assert stream is finished[key]
            assert [t["idx"] for t in await collect(stream, attach_timeout=0.01)] == [n]


# --- 8. superstep_key --------------------------------------------------------------------------


def runtime(checkpoint_id: str | None, checkpoint_ns: str, task_id: str | None = None) -> Any:
    """A stand-in for `langgraph.runtime.Runtime` with just its `execution_info`."""
    return SimpleNamespace(
        execution_info=SimpleNamespace(
            checkpoint_id=checkpoint_id,
            checkpoint_ns=checkpoint_ns,
            task_id=task_id or str(uuid.uuid4()),
        )
    )


def test_superstep_key_shared_by_the_nodes_of_one_superstep() -> None:
    checkpoint = str(uuid.uuid4())
    for parent in ("", "parent:1|", "outer:1|inner:2|"):
        planner = runtime(checkpoint, f"{parent}planner:{uuid.uuid4()}")
        scheduler = runtime(checkpoint, f"{parent}scheduler:{uuid.uuid4()}")
        assert superstep_key(planner) == superstep_key(scheduler), parent


def test_superstep_key_differs_between_checkpoints_and_parents() -> None:
    one, two = str(uuid.uuid4()), str(uuid.uuid4())
    planner_ns, scheduler_ns = f"planner:{uuid.uuid4()}", f"scheduler:{uuid.uuid4()}"

    # another superstep or run: another checkpoint
    assert superstep_key(runtime(one, f"parent|{planner_ns}")) != superstep_key(
        runtime(two, f"parent|{scheduler_ns}")
    )
    # another subgraph instance: another parent namespace
    assert superstep_key(runtime(one, f"parent:a|{planner_ns}")) != superstep_key(
        runtime(one, f"parent:b|{scheduler_ns}")
    )
    assert superstep_key(runtime(one, f"outer:1|inner:2|{planner_ns}")) != superstep_key(
        runtime(one, f"outer:1|inner:3|{scheduler_ns}")
    )
    assert superstep_key(runtime(one, planner_ns)) != superstep_key(
        runtime(one, f"parent|{scheduler_ns}")
    )


@pytest.mark.parametrize("missing", ["", None])
def test_superstep_key_without_checkpoint_id_is_per_task(
    missing: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    planner = runtime(missing, f"parent|planner:{uuid.uuid4()}")
    scheduler = runtime(missing, f"parent|scheduler:{uuid.uuid4()}")
    same_ns_other_task = runtime(missing, planner.execution_info.checkpoint_ns)
    with caplog.at_level("WARNING", logger=handoff.__name__):
        keys = [superstep_key(r) for r in (planner, scheduler, same_ns_other_task)]
    assert len(set(keys)) == 3
    assert superstep_key(planner) == keys[0]  # stable for one task
    assert "streaming dispatch is off" in caplog.text


async def test_kept_closed_streams_are_bounded_in_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff, "_DONE_KEPT_CHARS", 1_000)
    big, small = new_key(), new_key()
    with producing(big) as first:
        first.publish(search(1, query="x" * 900))
    with producing(small) as second:
        second.publish(search(1, query="y" * 200))
    evicted, kept = streams.get(big), streams.get(small)
    try:
        assert evicted is not first and kept is second
    finally:
        streams.release(big)
        streams.release(small)
