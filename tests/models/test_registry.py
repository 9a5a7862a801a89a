"""ModelRegistry: lookup, default, health rotation, leases, and hot swap under concurrent load."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import pytest

from cerebra.errors import BackendError, UnknownModel
from cerebra.models.base import Generation, GenerationRequest
from cerebra.models.registry import ModelRegistry, ModelUnavailable
from cerebra.testing import FakeModel

REQ = GenerationRequest(prompt="hello", max_tokens=8)


class Closable(FakeModel):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_add_get_default_remove_and_unknown() -> None:
    reg = ModelRegistry()
    a, b = FakeModel("a", name="a"), FakeModel("b", name="b")
    reg.add(a)
    reg.add(b)
    assert reg.get() is a and reg.default_name == "a" and reg.names() == ["a", "b"]
    assert reg.items() == [("a", a), ("b", b)] and "b" in reg and len(reg) == 2
    reg.set_default("b")
    assert reg.resolve() == ("b", b)
    with pytest.raises(UnknownModel) as err:
        reg.get("c")
    assert err.value.status_code == 404 and err.value.extra["known_models"] == ["a", "b"]
    assert reg.replace("a", c := FakeModel("c", name="a")) is a and reg.get("a") is c
    assert reg.remove("b") is b and reg.default_name == "a"
    with pytest.raises(UnknownModel):
        reg.remove("b")


def test_unhealthy_model_leaves_rotation_and_returns() -> None:
    reg = ModelRegistry()
    a, b = FakeModel(name="a"), FakeModel(name="b")
    reg.add(a)
    reg.add(b)
    events: list[tuple[str, str]] = []
    unsubscribe = reg.subscribe(lambda event, name, _: events.append((event, name)))
    assert reg.set_health("a", False, "probe failed: boom")
    with pytest.raises(ModelUnavailable) as err:
        reg.get("a")
    assert isinstance(err.value, BackendError) and err.value.retryable
    assert err.value.status_code == 503 and "boom" in err.value.message
    assert reg.get() is b and reg.available() == ["b"] and reg.names() == ["a", "b"]
    assert not reg.set_health("a", True, backend=FakeModel(name="a"))  # stale probe: ignored
    assert reg.set_health("a", True)
    assert reg.get("a") is a and reg.get() is a
    reg.set_health("a", False)
    reg.set_health("b", False)
    with pytest.raises(ModelUnavailable, match="no model is in rotation"):
        reg.get()
    reg.replace("a", fresh := FakeModel(name="a"))  # a swapped-in backend starts healthy
    assert reg.get("a") is fresh
    assert ("unhealthy", "a") in events and ("healthy", "a") in events
    unsubscribe()
    reg.remove("b")
    assert ("removed", "b") not in events


def test_retired_backend_closes_after_its_last_lease() -> None:
    reg = ModelRegistry()
    old = Closable(name="m")
    reg.add(old)
    with reg.lease("m") as held:
        assert held is old and reg.status()[0].in_flight == 1
        reg.replace("m", Closable(name="m"), close=True)
        assert old.closed == 0  # still serving the request in flight
        assert held.generate(REQ).text
    assert old.closed == 1
    idle = reg.get("m")
    reg.remove("m", close=True)
    assert isinstance(idle, Closable) and idle.closed == 1


class Paused(FakeModel):
    """Signals `started` when a generation begins, then waits for `release` (a minute at
    most, so that a broken test cannot hang)."""

    def __init__(self, reply: str, name: str) -> None:
        super().__init__(reply, name=name)
        self.started, self.release = threading.Event(), threading.Event()

    def generate(self, request: GenerationRequest) -> Generation:
        self.started.set()
        self.release.wait(60)
        return super().generate(request)


def test_in_flight_request_finishes_on_the_old_backend() -> None:
    reg = ModelRegistry()
    old = Paused("old", name="m")
    reg.add(old)
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(reg.get("m").generate(REQ).text))
    worker.start()
    assert old.started.wait(60)  # the request is in flight on the old backend
    reg.replace("m", FakeModel("new", name="m"))
    assert reg.get("m").generate(REQ).text == "new"
    reg.remove("m")
    old.release.set()
    worker.join(60)
    assert result == ["old"]


def _swap_storm(reg: ModelRegistry, stop: threading.Event, versions: list[str],
                remove_too: bool) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        text = f"v{i}"
        versions.append(text)
        if remove_too and i % 2 == 0:
            reg.remove("m")
            time.sleep(0.0005)
            reg.add(FakeModel(text, name="m", delay_s=0.002), name="m")
        else:
            reg.replace("m", FakeModel(text, name="m", delay_s=0.002))
        reg.add(FakeModel("side", name=f"side{i % 3}"))
        if i % 2:
            reg.remove(f"side{i % 3}")
        time.sleep(0.001)


def test_hot_swap_under_concurrent_threads_loses_no_request() -> None:
    reg = ModelRegistry()
    reg.add(FakeModel("v0", name="m", delay_s=0.002))
    versions = ["v0"]
    stop = threading.Event()
    answers: list[str] = []
    errors: list[BaseException] = []

    def client() -> None:
        for _ in range(40):
            try:
                answers.append(reg.get("m").generate(REQ).text)
            except BaseException as exc:
                errors.append(exc)

    swapper = threading.Thread(target=_swap_storm, args=(reg, stop, versions, False))
    swapper.start()
    clients = [threading.Thread(target=client) for _ in range(16)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    stop.set()
    swapper.join()
    assert errors == []
    assert len(answers) == 16 * 40
    assert set(answers) <= set(versions)
    assert len(set(answers)) > 5  # the swaps really happened during the load


def test_remove_and_readd_under_load_answers_or_says_unknown() -> None:
    """A removed name is a clean 404 for requests arriving in the gap; every request that
    got a backend is answered by it, and none is lost."""
    reg = ModelRegistry()
    reg.add(FakeModel("v0", name="m", delay_s=0.002))
    versions = ["v0"]
    stop = threading.Event()
    outcomes: Counter[str] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(40):
            try:
                backend = reg.get("m")
            except UnknownModel:
                with lock:
                    outcomes["404"] += 1
                time.sleep(0.002)  # a client backing off before its next request
                continue
            try:
                text = backend.generate(REQ).text
                with lock:
                    outcomes["answered" if text in versions else "wrong"] += 1
            except BaseException as exc:
                unexpected.append(exc)

    swapper = threading.Thread(target=_swap_storm, args=(reg, stop, versions, True))
    swapper.start()
    clients = [threading.Thread(target=client) for _ in range(16)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    stop.set()
    swapper.join()
    assert unexpected == [] and outcomes["wrong"] == 0
    assert outcomes["answered"] + outcomes["404"] == 16 * 40
    assert outcomes["answered"] > 0


def test_default_requests_never_fail_while_models_come_and_go() -> None:
    reg = ModelRegistry()
    reg.add(FakeModel("base", name="base", delay_s=0.001), default=True)
    reg.add(FakeModel("v0", name="m", delay_s=0.001))
    stop = threading.Event()
    versions = ["v0"]
    failures: list[BaseException] = []

    def client() -> None:
        for _ in range(50):
            try:
                reg.get().generate(REQ)
            except BaseException as exc:
                failures.append(exc)

    swapper = threading.Thread(target=_swap_storm, args=(reg, stop, versions, True))
    swapper.start()
    clients = [threading.Thread(target=client) for _ in range(8)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    stop.set()
    swapper.join()
    assert failures == []


async def test_hot_swap_under_concurrent_asyncio_load() -> None:
    reg = ModelRegistry()
    reg.add(FakeModel("v0", name="m", delay_s=0.002))
    issued = ["v0"]
    done = asyncio.Event()

    async def swapper() -> None:
        i = 0
        while not done.is_set():
            i += 1
            issued.append(f"v{i}")
            reg.replace("m", FakeModel(f"v{i}", name="m", delay_s=0.002))
            await asyncio.sleep(0.002)

    async def worker() -> list[str]:
        return [(await reg.get("m").agenerate(REQ)).text for _ in range(15)]

    swap_task = asyncio.create_task(swapper())
    answers = [a for batch in await asyncio.gather(*(worker() for _ in range(20))) for a in batch]
    done.set()
    await swap_task
    assert len(answers) == 300 and set(answers) <= set(issued) and len(set(answers)) > 1


def test_a_lease_spans_a_generator_and_is_returned_when_it_ends_or_is_dropped() -> None:
    reg = ModelRegistry()
    old = Closable("one two three", name="m")
    reg.add(old)

    def stream() -> object:
        with reg.lease("m") as backend:
            yield from backend.stream(REQ)

    chunks = stream()
    assert next(chunks)  # type: ignore[call-overload]
    reg.replace("m", Closable(name="m"), close=True)
    assert old.closed == 0 and reg.status()[0].in_flight == 0  # the new one is idle
    rest = list(chunks)  # type: ignore[call-overload]
    assert rest[-1].finish_reason == "stop" and old.closed == 1

    abandoned = reg.get("m")
    half = stream()
    next(half)  # type: ignore[call-overload]
    reg.replace("m", Closable(name="m"), close=True)
    del half  # a consumer that walks away: the generator's exit returns the lease
    assert isinstance(abandoned, Closable) and abandoned.closed == 1

    dropped = reg.get("m")
    lease = reg.lease("m")
    reg.remove("m", close=True)
    assert isinstance(dropped, Closable) and dropped.closed == 0
    lease.release()
    lease.release()  # idempotent: closed once
    assert dropped.closed == 1 and lease.released


async def test_async_lease_across_an_async_generator() -> None:
    reg = ModelRegistry()
    old = Closable("a b c", name="m")
    reg.add(old)

    async def stream() -> list[str]:
        texts = []
        async with reg.lease("m") as backend:
            async for chunk in backend.astream(REQ):
                texts.append(chunk.text)
                if len(texts) == 1:
                    reg.replace("m", Closable(name="m"), close=True)
                    assert old.closed == 0
        return texts

    assert "".join(await stream()).strip() == "a b c" and old.closed == 1


def test_members_lease_the_current_model_per_call() -> None:
    reg = ModelRegistry()
    first = Closable("first", name="m")
    reg.add(first)
    member = reg.member("m")
    assert member.name == "m" and member.generate(REQ).text == "first"
    chunks = member.stream(REQ)
    next(chunks)
    reg.replace("m", Closable("second", name="m"), close=True)
    assert first.closed == 0  # the member's stream still holds it
    list(chunks)
    assert first.closed == 1 and member.generate(REQ).text == "second"
    reg.set_health("m", False, "probe failed")
    assert member.generate(REQ).text == "second"  # a router keeps its own health
    reg.remove("m")
    with pytest.raises(BackendError, match="was removed") as info:
        member.generate(REQ)
    assert not info.value.retryable


def test_a_metered_model_retired_by_a_swap_is_closed() -> None:
    from cerebra.models.cache import CachedBackend
    from cerebra.observability.metrics import MeteredBackend, Metrics

    reg = ModelRegistry()
    old = Closable(name="m")
    reg.add(MeteredBackend(CachedBackend(old), Metrics()))
    with reg.lease("m") as held:
        reg.replace("m", MeteredBackend(Closable(name="m"), Metrics()), close=True)
        held.generate(REQ)
    assert old.closed == 1
