"""FallbackBackend: a chain tried in order, retries when asked, attempts reported as data on
the answer, one clean error naming every backend; and the WrapperBackend base closing what it
wraps."""

from __future__ import annotations

import asyncio

import pytest

from cerebra.errors import BackendError, InvalidInput, Overloaded, PromptTooLong
from cerebra.models.base import Attempt, GenerationRequest
from cerebra.models.cache import CachedBackend
from cerebra.models.fallback import ChainFailed, FallbackBackend, StreamBroken
from cerebra.models.queued import QueuedBackend
from cerebra.models.wrapper import WrapperBackend
from cerebra.observability.metrics import MeteredBackend, Metrics
from cerebra.testing import FakeModel
from tests.routing.doubles import BrokenStream, Failing

REQ = GenerationRequest(prompt="Hello there", max_tokens=16)


def down(name: str, **kwargs: object) -> Failing:
    return Failing(name, BackendError(f"{name} is down", retryable=False), **kwargs)  # type: ignore[arg-type]


def test_the_first_that_answers_serves_and_the_failures_are_data() -> None:
    chain = FallbackBackend([down("a"), down("b"), FakeModel("c answers", name="c")])
    gen = chain.generate(REQ)
    routing = gen.routing
    assert gen.text == "c answers" and routing is not None
    assert routing.served_by == "c" and routing.chosen == "a" and routing.decision_id is None
    assert [(a.backend, a.ok) for a in routing.attempts] == [("a", False), ("b", False),
                                                              ("c", True)]
    assert "a is down" in routing.attempts[0].error
    assert routing.reason == "fallback after a, b failed"
    assert routing.to_dict()["attempts"][2] == routing.attempts[2].to_dict()
    assert FallbackBackend([FakeModel(name="x")]).generate(REQ).routing.reason == "first in chain"  # type: ignore[union-attr]


def test_every_failure_is_one_error_naming_each_backend() -> None:
    chain = FallbackBackend([down("a"), Failing("b", TimeoutError("slow")), down("c")])
    with pytest.raises(ChainFailed) as info:
        chain.generate(REQ)
    err = info.value
    assert isinstance(err, BackendError) and err.message.startswith("all backends failed")
    assert all(f"{n}: " in err.message for n in "abc") and err.retryable  # a timeout may pass
    assert [a.backend for a in err.attempts] == ["a", "b", "c"]
    busy = Failing("q", Overloaded("queue full", retry_after_s=3))
    with pytest.raises(Overloaded) as full:
        FallbackBackend([busy, Failing("r", Overloaded("full", retry_after_s=2))]).generate(REQ)
    assert full.value.retry_after_s == 2
    with pytest.raises(PromptTooLong):
        FallbackBackend([FakeModel(name="tiny", max_context=2)]).generate(
            GenerationRequest(prompt="word " * 20))


def test_a_wrong_request_is_raised_at_once_and_the_predicate_decides() -> None:
    bad = Failing("a", InvalidInput("temperature out of range", field="temperature"))
    second = FakeModel(name="b")
    with pytest.raises(InvalidInput):
        FallbackBackend([bad, second]).generate(REQ)
    assert bad.attempts == 1 and not second.calls
    strict = FallbackBackend([down("a"), second], should_fallback=lambda exc: False)
    with pytest.raises(BackendError, match="a is down"):
        strict.generate(REQ)


def test_retry_delay_retries_the_same_backend_and_observe_sees_every_attempt() -> None:
    slept: list[float] = []
    seen: list[tuple[Attempt, Exception | None]] = []
    flaky = Failing("a", BackendError("503", retryable=True), failures=2)
    chain = FallbackBackend(
        [flaky, FakeModel(name="b")],
        retry_delay=lambda name, exc, n: 0.5 * n if n < 3 else None,
        observe=lambda attempt, exc: seen.append((attempt, exc)),
        sleep=slept.append,
    )
    routing = chain.generate(REQ).routing
    assert routing is not None and routing.served_by == "a" and flaky.attempts == 3
    assert slept == [0.5, 1.0] and [a.waited_s for a in routing.attempts] == [0.0, 0.5, 1.0]
    assert [(a.ok, exc is None) for a, exc in seen] == [(False, False), (False, False),
                                                         (True, True)]


def test_streams_fall_back_before_the_first_chunk_and_break_cleanly_after() -> None:
    chain = FallbackBackend([down("a"), FakeModel("one two three", name="b")])
    chunks = list(chain.stream(REQ))
    assert "".join(c.text for c in chunks).strip() == "one two three"
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.usage is not None
    assert last.routing is not None and last.routing.served_by == "b"
    assert all(c.routing is None for c in chunks[:-1])
    broken = FallbackBackend([BrokenStream(name="p"), FakeModel(name="q")])
    got = []
    with pytest.raises(StreamBroken, match="broke after 1 chunks") as info:
        for chunk in broken.stream(REQ):
            got.append(chunk.text)
    assert got == ["partial "] and not info.value.retryable


async def test_async_pair_and_attempt_timeout() -> None:
    class Slow(FakeModel):
        async def agenerate(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
            await asyncio.sleep(30)
            return await super().agenerate(request)

    chain = FallbackBackend([Slow(name="slow"), FakeModel("fast", name="fast")],
                            attempt_timeout_s=0.05)
    gen = await chain.agenerate(REQ)
    assert gen.text == "fast" and gen.routing is not None
    assert "TimeoutError" in gen.routing.attempts[0].error
    chunks = [c async for c in FallbackBackend([down("a"), FakeModel("x y", name="b")])
              .astream(REQ)]
    assert chunks[-1].routing is not None and chunks[-1].routing.served_by == "b"


class Closable(FakeModel):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.closed = 0
        self.aclosed = 0

    def close(self) -> None:
        self.closed += 1

    async def aclose(self) -> None:
        self.aclosed += 1


async def test_wrappers_delegate_and_close_what_they_wrap() -> None:
    bottom = Closable("deep answer", name="m")
    stack = MeteredBackend(CachedBackend(QueuedBackend(WrapperBackend(bottom))), Metrics())
    assert isinstance(stack, WrapperBackend) and stack.name == "m"
    assert stack.capabilities == bottom.capabilities and stack.count_tokens("a b") == 2
    assert stack.generate(REQ).text == "deep answer" and stack.probe().ok
    assert stack.calls is bottom.calls  # extras of the wrapped backend are reachable
    stack.close()
    await stack.aclose()
    assert (bottom.closed, bottom.aclosed) == (1, 1)
    chain = FallbackBackend([Closable(name="a"), Closable(name="b")])
    chain.close()
    assert [b.closed for b in chain.backends] == [1, 1]  # type: ignore[attr-defined]
