"""The admission queue in front of a local model (QueuedBackend over FakeModel): bound and
429 estimate, FIFO order, cancellation between tokens and while queued, wall-clock limits,
consumers that leave, and the busy probe. Tests synchronise on events and queue states,
never on sleeps or the wall clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cerebra.errors import Overloaded
from cerebra.models.admission import Admission, AdmissionStats
from cerebra.models.base import GenerationRequest, Message
from cerebra.models.cache import request_key
from cerebra.models.cancellation import CANCELLED, TIMEOUT, Cancellation
from cerebra.models.health import HealthMonitor
from cerebra.models.queued import QueuedBackend
from cerebra.models.registry import ModelRegistry
from cerebra.testing import FakeModel

WAIT = 30.0  # a safety net for a broken implementation, never a synchronisation
REPLY = "one two three four five six seven eight nine ten"


def _text(request: GenerationRequest) -> str:
    return request.prompt if request.prompt is not None else request.messages[-1].content


class Gate:
    """A hook for FakeModel that holds requests whose prompt says "hold" at token 1."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: GenerationRequest, index: int) -> None:
        if index == 1 and "hold" in _text(request):
            self.entered.set()
            assert self.release.wait(WAIT)


def _request(text: str, **kw: Any) -> GenerationRequest:
    return GenerationRequest(prompt=text, max_tokens=100, temperature=0.0, **kw)


def _until(backend: QueuedBackend, predicate: Callable[[AdmissionStats], bool]) -> None:
    assert backend.admission.wait_until(predicate, WAIT), backend.queue_stats()


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.release.set()


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_fifo_order_and_queue_bound(gate: Gate) -> None:
    fake = FakeModel(REPLY, before_token=gate)
    backend = QueuedBackend(fake, queue_size=3)
    first, _ = _in_thread(lambda: backend.generate(_request("hold first")))
    assert gate.entered.wait(WAIT)
    waiting = []
    for i, name in enumerate(["second", "third", "fourth"], start=1):
        waiting.append(_in_thread(lambda n=name: backend.generate(_request(n)))[0])  # type: ignore[misc]
        _until(backend, lambda s, i=i: s.queued == i)  # type: ignore[misc]
    with pytest.raises(Overloaded) as refused:
        backend.generate(_request("fifth"))
    assert refused.value.retry_after_s >= 1 and refused.value.status_code == 429
    assert refused.value.to_dict()["field"] == "model"
    assert backend.queue_stats().rejected == 1
    gate.release.set()
    for thread in [first, *waiting]:
        thread.join(WAIT)
    assert fake.prompts == ["hold first", "second", "third", "fourth"]
    assert backend.queue_stats() == AdmissionStats(0, 0, 4, 1, 0, 0,
                                                   backend.queue_stats().mean_service_s)


def test_retry_after_grows_with_recent_service_times_and_queue() -> None:
    admission = Admission(name="m", queue_size=4)
    assert admission.retry_after_s() == 1  # idle, no history: at least one second
    assert admission.try_enter()
    admission.leave(3.0)
    assert admission.try_enter()
    assert admission.retry_after_s() == 3  # one generation ahead, 3 s each
    assert not admission.try_enter()  # busy: a probe does not wait
    admission.leave(5.0)
    assert admission.stats().mean_service_s == 4.0


def test_async_waiters_are_served_in_order(gate: Gate) -> None:
    fake = FakeModel(REPLY, before_token=gate)
    backend = QueuedBackend(fake, queue_size=3)

    async def main() -> list[str]:
        first = asyncio.ensure_future(backend.agenerate(_request("hold first")))
        assert await asyncio.to_thread(gate.entered.wait, WAIT)
        rest = []
        for i, name in enumerate(["b", "c", "d"], start=1):
            rest.append(asyncio.ensure_future(backend.agenerate(_request(name))))
            while backend.queue_stats().queued < i:  # yield until the task reaches the queue
                await asyncio.sleep(0)
        with pytest.raises(Overloaded):
            await backend.agenerate(_request("e"))
        gate.release.set()
        answers = await asyncio.gather(first, *rest)
        return [a.text for a in answers]

    texts = asyncio.run(main())
    assert fake.prompts == ["hold first", "b", "c", "d"]
    assert all(t == REPLY for t in texts)


@pytest.mark.parametrize("mode", ["generate", "stream"])
def test_cancel_stops_between_tokens(mode: str) -> None:
    def cancel_at_3(request: GenerationRequest, index: int) -> None:
        if index == 3:
            assert request.cancellation is not None
            request.cancellation.cancel()

    backend = QueuedBackend(FakeModel(REPLY, before_token=cancel_at_3))
    request = _request("go", cancellation=Cancellation())
    if mode == "generate":
        gen = backend.generate(request)
        text, finish, tokens = gen.text, gen.finish_reason, gen.usage.completion_tokens
    else:
        chunks = list(backend.stream(request))
        text = "".join(c.text for c in chunks).strip()
        finish, usage = chunks[-1].finish_reason, chunks[-1].usage
        assert usage is not None
        tokens = usage.completion_tokens
    assert (text, finish, tokens) == ("one two three", CANCELLED, 3)
    stops = backend.stop_stats()
    assert stops.count == {CANCELLED: 1} and stops.tokens == {CANCELLED: 3}
    assert backend.queue_stats().active == 0


def test_wall_clock_limit_stops_with_timeout() -> None:
    now = [100.0]

    def time_passes(request: GenerationRequest, index: int) -> None:
        if index == 2:
            now[0] += 61.0

    backend = QueuedBackend(FakeModel(REPLY, before_token=time_passes))
    gen = backend.generate(_request("go", cancellation=Cancellation(timeout_s=60,
                                                                     clock=lambda: now[0])))
    assert (gen.text, gen.finish_reason) == ("one two", TIMEOUT)
    assert backend.stop_stats().count == {TIMEOUT: 1}


def test_wrapper_gives_requests_without_a_token_its_limit() -> None:
    seen: list[Cancellation | None] = []
    backend = QueuedBackend(FakeModel(REPLY, before_token=lambda r, i: seen.append(
        r.cancellation)), timeout_s=5.0)
    backend.generate(_request("go"))
    token = seen[0]
    assert token is not None and token.deadline is not None


def test_cancelled_while_queued_never_reaches_the_model(gate: Gate) -> None:
    fake = FakeModel(REPLY, before_token=gate)
    backend = QueuedBackend(fake, queue_size=2)
    first, _ = _in_thread(lambda: backend.generate(_request("hold first")))
    assert gate.entered.wait(WAIT)
    token = Cancellation()
    second, out = _in_thread(lambda: backend.generate(_request("second", cancellation=token)))
    _until(backend, lambda s: s.queued == 1)
    token.cancel()
    second.join(WAIT)
    gen = out["value"]
    assert (gen.text, gen.finish_reason, gen.usage.completion_tokens) == ("", CANCELLED, 0)
    assert backend.queue_stats().left == 1 and backend.queue_stats().queued == 0
    gate.release.set()
    first.join(WAIT)
    assert fake.prompts == ["hold first"]


def test_deadline_passing_in_the_queue_is_overloaded(gate: Gate) -> None:
    backend = QueuedBackend(FakeModel(REPLY, before_token=gate), queue_size=2)
    first, _ = _in_thread(lambda: backend.generate(_request("hold first")))
    assert gate.entered.wait(WAIT)
    now = [0.0]
    token = Cancellation(timeout_s=10, clock=lambda: now[0])
    now[0] = 11.0  # its time is up before it could start
    with pytest.raises(Overloaded, match="busy"):
        backend.generate(_request("late", cancellation=token))
    assert backend.queue_stats().timed_out == 1
    gate.release.set()
    first.join(WAIT)


def test_stream_consumer_leaving_stops_generation_and_frees_the_slot() -> None:
    def wait_for_cancel(request: GenerationRequest, index: int) -> None:
        if index == 2:
            assert request.cancellation is not None and request.cancellation.wait(WAIT)

    backend = QueuedBackend(FakeModel(REPLY, before_token=wait_for_cancel))

    async def main() -> list[str]:
        stream = backend.astream(_request("go"))
        got = [(await anext(stream)).text, (await anext(stream)).text]
        await stream.aclose()  # the client went away
        return got

    assert asyncio.run(main()) == ["one ", "two "]
    _until(backend, lambda s: s.active == 0)
    stops = backend.stop_stats()
    assert stops.count == {CANCELLED: 1} and stops.tokens == {CANCELLED: 2}


def test_sync_stream_consumer_leaving_frees_the_slot(gate: Gate) -> None:
    backend = QueuedBackend(FakeModel(REPLY), queue_size=0)
    stream = backend.stream(_request("go"))
    assert next(stream).text == "one "
    assert backend.queue_stats().active == 1
    stream.close()
    assert backend.queue_stats().active == 0
    assert backend.generate(_request("next")).text == REPLY


def test_cancelled_task_stops_its_generation() -> None:
    entered = threading.Event()

    def wait_for_cancel(request: GenerationRequest, index: int) -> None:
        if index == 1:
            entered.set()
            assert request.cancellation is not None and request.cancellation.wait(WAIT)

    backend = QueuedBackend(FakeModel(REPLY, before_token=wait_for_cancel))

    async def main() -> None:
        task = asyncio.ensure_future(backend.agenerate(_request("go")))
        assert await asyncio.to_thread(entered.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    _until(backend, lambda s: s.active == 0)
    assert backend.stop_stats().tokens == {CANCELLED: 1}


def test_busy_model_probes_healthy_at_once(gate: Gate) -> None:
    backend = QueuedBackend(FakeModel(REPLY, before_token=gate))
    assert backend.probe().detail == "ok"  # idle: the real probe
    first, _ = _in_thread(lambda: backend.generate(_request("hold first")))
    assert gate.entered.wait(WAIT)
    result = backend.probe()  # would wait for the generation if it took the queue
    assert result.ok and result.detail == "busy"
    registry = ModelRegistry()
    registry.add(backend)
    monitor = HealthMonitor(registry, interval_s=60, timeout_s=5, unhealthy_after=1)
    try:
        results = monitor.check_once()
    finally:
        monitor.close()
    assert results[backend.name].ok and registry.available() == [backend.name]
    gate.release.set()
    first.join(WAIT)


def test_cache_key_ignores_the_token() -> None:
    plain = GenerationRequest(messages=(Message("user", "hi"),))
    with_token = plain.with_(cancellation=Cancellation(timeout_s=5))
    assert request_key("m", plain) is not None
    assert request_key("m", with_token) == request_key("m", plain)
    assert plain == with_token  # the token is not part of what is asked


def test_router_over_busy_models_answers_overloaded(gate: Gate) -> None:
    from cerebra.routing.router import Router

    backend = QueuedBackend(FakeModel(REPLY, name="local", before_token=gate), queue_size=0)
    router = Router([backend])
    first, _ = _in_thread(lambda: backend.generate(_request("hold first")))
    assert gate.entered.wait(WAIT)
    with pytest.raises(Overloaded) as busy:
        router.generate(_request("second"))
    assert busy.value.retry_after_s >= 1 and "busy" in busy.value.message
    gate.release.set()
    first.join(WAIT)
    router.close()
