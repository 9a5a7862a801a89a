"""Router behaviour: retries, fallback, cooldown, clean failure, streaming, async, feedback."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from cerebra.context import RequestContext
from cerebra.errors import BackendError, InvalidInput, NotFound, PromptTooLong
from cerebra.models.base import Generation, GenerationRequest, ModelBackend
from cerebra.routing import CooldownPolicy, RetryPolicy, RoutePolicy, Router
from cerebra.testing import FakeModel
from tests.routing.doubles import BrokenStream, Failing, rate_limited

REQ = GenerationRequest(prompt="Hello there", max_tokens=16)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def make_router(*backends: ModelBackend, clock: Clock | None = None, **kwargs: Any) -> Router:
    clock = clock or Clock()
    kwargs.setdefault("policy", RoutePolicy("fixed", {"arm": backends[0].name}))
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay_s=0.1, jitter=0.0))
    return Router(list(backends), clock=clock, sleep=clock.sleep,
                  async_sleep=clock.asleep, **kwargs)


def test_router_is_a_model_backend_and_records_its_decision() -> None:
    primary = FakeModel("hi", name="p", cost_per_input_token=0.001, cost_per_output_token=0.002)
    router = make_router(primary, FakeModel(name="q", max_context=9000))
    assert isinstance(router, ModelBackend)
    assert router.capabilities.max_context == 9000
    routed = router.route(REQ)
    d = routed.decision
    assert routed.generation.text == "hi" and d.served_by == "p" and d.ok
    assert routed.generation.routing == d.result()  # the decision travels on the answer
    assert routed.generation.routing.decision_id == d.id
    assert d.reason == "fixed: p" and d.candidates[0] == "p"
    assert d.cost_usd == pytest.approx(0.001 * d.prompt_tokens + 0.002 * d.completion_tokens)
    assert router.decisions()[0].id == d.id and router.get_decision(d.id) is d
    assert router.probe().ok


def test_retries_with_exponential_backoff_then_succeeds() -> None:
    clock = Clock()
    flaky = Failing("p", BackendError("503 upstream"), failures=2)
    router = make_router(flaky, FakeModel(name="q"), clock=clock)
    d = router.route(REQ).decision
    assert d.served_by == "p" and flaky.attempts == 3
    assert clock.sleeps == pytest.approx([0.1, 0.2])
    assert [a.ok for a in d.attempts] == [False, False, True]


def test_retry_after_is_honoured_when_short_and_falls_back_when_long() -> None:
    clock = Clock()
    short = Failing("p", rate_limited(0.7), failures=1)
    router = make_router(short, FakeModel(name="q"), clock=clock)
    assert router.route(REQ).decision.served_by == "p"
    assert clock.sleeps == [0.7]

    clock2 = Clock()
    long_wait = Failing("p", rate_limited(60.0), failures=1)
    router2 = make_router(long_wait, FakeModel(name="q"), clock=clock2)
    d = router2.route(REQ).decision
    assert d.served_by == "q" and clock2.sleeps == [] and long_wait.attempts == 1
    assert router2.health.is_cooling("p")  # told to stay away for 60 s
    assert router2.route(REQ).decision.served_by == "q" and long_wait.attempts == 1
    clock2.now += 61
    assert router2.route(REQ).decision.served_by == "p"


@pytest.mark.parametrize("error", [TimeoutError("read timed out"),
                                   BackendError("bad gateway", retryable=False),
                                   RuntimeError("driver crashed")])
def test_fallback_chain_serves_when_primary_fails(error: Exception) -> None:
    primary = Failing("p", error)
    router = make_router(primary, Failing("q", BackendError("down", retryable=False)),
                         FakeModel(name="r"),
                         policy=RoutePolicy("fixed", {"arm": "p"}, fallback=("q", "r")))
    d = router.route(REQ).decision
    assert d.served_by == "r" and d.arm == "p"
    assert [a.backend for a in d.attempts if not a.ok][-1] == "q"
    expected = 3 if isinstance(error, TimeoutError) else 1  # only timeouts are retried
    assert primary.attempts == expected


def test_cooldown_removes_a_failing_backend_and_brings_it_back() -> None:
    clock = Clock()
    broken = Failing("p", BackendError("500"), failures=-1)
    router = make_router(broken, FakeModel(name="q"), clock=clock,
                         retry=RetryPolicy(max_attempts=1),
                         cooldown=CooldownPolicy(failure_threshold=2, base_s=30, max_s=120))
    for _ in range(2):
        assert router.route(REQ).decision.served_by == "q"
    assert broken.attempts == 2 and router.health.is_cooling("p")
    d = router.route(REQ).decision
    assert broken.attempts == 2 and "cooling down: p" in d.reason
    assert router.arm_stats()["arms"][0]["health"]["cooling"] is True
    clock.now += 31  # cooldown over: half-open, one failure sends it back for longer
    router.route(REQ)
    assert broken.attempts == 3 and router.health.is_cooling("p")
    clock.now += 31
    assert router.health.is_cooling("p")  # second cooldown is 60 s
    clock.now += 30
    broken.failures = 0  # repaired
    assert router.route(REQ).decision.served_by == "p"
    assert not router.health.is_cooling("p")


def test_clean_error_when_every_backend_fails() -> None:
    router = make_router(Failing("p", rate_limited(30)), Failing("q", rate_limited(10)),
                         Failing("r", TimeoutError("slow")), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(BackendError) as err:
        router.generate(REQ)
    message = str(err.value)
    assert message.startswith("all backends failed")
    assert all(name in message for name in ("p:", "q:", "r:"))
    assert err.value.retry_after == 10 and err.value.retryable
    d = router.decisions()[0]
    assert not d.ok and d.served_by is None and len(d.attempts) == 3
    with pytest.raises(InvalidInput):
        router.feedback(d.id, 0.5)


def test_caller_errors_are_not_retried_and_too_long_prompts_move_on() -> None:
    bad = Failing("p", InvalidInput("temperature out of range", field="temperature"))
    router = make_router(bad, FakeModel(name="q"))
    with pytest.raises(InvalidInput):
        router.generate(REQ)
    assert bad.attempts == 1

    long_req = GenerationRequest(prompt="word " * 50)
    router2 = make_router(FakeModel(name="tiny", max_context=10), FakeModel(name="big"))
    assert router2.route(long_req).decision.served_by == "big"
    assert not router2.health.snapshot().get("tiny", {}).get("failures")
    router3 = make_router(FakeModel(name="tiny", max_context=10))
    with pytest.raises(PromptTooLong):
        router3.generate(long_req)


def test_sync_stream_falls_back_before_first_chunk_and_fails_cleanly_mid_stream() -> None:
    router = make_router(Failing("p", BackendError("down", retryable=False)),
                         FakeModel("one two three", name="q"))
    chunks = list(router.stream(REQ))
    text = "".join(c.text for c in chunks)
    routing = chunks[-1].routing
    assert routing is not None and all(c.routing is None for c in chunks[:-1])
    assert text.strip() == "one two three" and routing.served_by == "q" and routing.chosen == "p"
    assert [(a.backend, a.ok) for a in routing.attempts] == [("p", False), ("q", True)]
    decision = router.get_decision(routing.decision_id or "")
    assert decision is not None and decision.served_by == "q"
    assert decision.completion_tokens == 3

    broken = make_router(BrokenStream(name="p"), FakeModel(name="q"))
    received = []
    with pytest.raises(BackendError, match="broke after 1 chunks"):
        for chunk in broken.stream(REQ):
            received.append(chunk.text)
    decision = broken.decisions()[0]
    assert received == ["partial "] and not decision.ok and "broke" in decision.error
    assert decision.served_by is None and broken.health.snapshot()["p"]["failures"] == 1


class Gated(FakeModel):
    """Answers only after `release` is set (waiting at most a minute, so that a broken test
    cannot hang); `finished` is set once it has answered."""

    def __init__(self, name: str) -> None:
        super().__init__("slow answer", name=name)
        self.release = threading.Event()
        self.finished = threading.Event()

    def generate(self, request: GenerationRequest) -> Generation:
        self.release.wait(60)
        try:
            return super().generate(request)
        finally:
            self.finished.set()


async def test_async_generate_falls_back_and_enforces_attempt_timeout() -> None:
    slow = Gated("slow")
    router = make_router(slow, FakeModel("fast answer", name="fast"),
                         retry=RetryPolicy(max_attempts=1, attempt_timeout_s=0.5))
    try:
        routed = await router.aroute(REQ)
        assert routed.generation.text == "fast answer" and routed.decision.served_by == "fast"
        assert "TimeoutError" in routed.decision.attempts[0].error
        assert not slow.finished.is_set()  # the answer came without waiting for the slow one
        assert (await router.agenerate(REQ)).model in ("slow", "fast")
    finally:
        slow.release.set()


async def test_async_stream_fallback_retry_and_total_failure() -> None:
    clock = Clock()
    router = make_router(Failing("p", rate_limited(0.3), failures=1),
                         FakeModel("a b", name="q"), clock=clock)
    chunks = [c async for c in router.astream(REQ)]
    assert "".join(c.text for c in chunks).strip() == "answer from p"
    assert clock.sleeps == [0.3] and chunks[-1].usage is not None

    dead = make_router(Failing("p", BackendError("x", retryable=False)),
                       Failing("q", BackendError("y", retryable=False)))
    with pytest.raises(BackendError, match="all backends failed"):
        async for _ in dead.astream(REQ):
            pass
    results = await asyncio.gather(*(router.agenerate(REQ) for _ in range(8)))
    assert len(results) == 8


def test_feedback_updates_the_bandit_once() -> None:
    router = make_router(FakeModel(name="p"), FakeModel(name="q"),
                         policy=RoutePolicy("thompson", {"seed": 1}))
    d = router.route(REQ).decision
    assert router.arm_stats()["arms"][0]["pulls"] + router.arm_stats()["arms"][1]["pulls"] == 0
    updated = router.feedback(d.id, 0.9)
    assert updated.quality == 0.9 and 0.0 < (updated.reward or 0) <= 1.0
    stats = {a["arm"]: a for a in router.arm_stats()["arms"]}
    assert stats[d.served_by or ""]["pulls"] == 1
    with pytest.raises(InvalidInput):
        router.feedback(d.id, 0.5)
    with pytest.raises(NotFound):
        router.feedback("nope", 0.5)
    d2 = router.route(REQ).decision
    with pytest.raises(InvalidInput) as err:
        router.feedback(d2.id, 3.0)
    assert err.value.field == "quality"


def test_quality_fn_learns_immediately_and_router_prefers_the_better_backend() -> None:
    router = make_router(FakeModel("bad", name="p"), FakeModel("good", name="q"),
                         policy=RoutePolicy("thompson", {"seed": 3}),
                         quality_fn=lambda req, gen: 0.9 if gen.text == "good" else 0.2)
    served = [router.route(REQ).decision.served_by for _ in range(200)]
    assert served[-50:].count("q") >= 45


def test_policies_per_tenant_and_agent() -> None:
    router = make_router(FakeModel(name="p"), FakeModel(name="q"), FakeModel(name="r"))
    router.set_policy({"strategy": "fixed", "params": {"arm": "q"}}, tenant_id="acme")
    router.set_policy(RoutePolicy("fixed", {"arm": "r"}), tenant_id="acme", agent_id="coder")
    router.set_policy(RoutePolicy("fixed", {"arm": "p"}, arms=("p",)), agent_id="coder")

    def served(tenant: str, agent: str = "") -> str | None:
        req = REQ.with_(context=RequestContext(tenant_id=tenant, agent_id=agent))
        return router.route(req).decision.served_by

    assert served("acme") == "q"
    assert served("acme", "coder") == "r"
    assert served("other", "coder") == "p"
    assert served("other") == "p"  # default policy: fixed on the first backend
    assert router.arm_stats("acme", "coder")["scope"] == "coder"
    assert len(router.policies()) == 4
    assert router.decisions(tenant_id="acme", agent_id="coder")[0].served_by == "r"
    router.delete_policy(tenant_id="acme", agent_id="coder")
    assert served("acme", "coder") == "q"
    with pytest.raises(InvalidInput) as err:
        router.set_policy({"strategy": "fixed", "arms": ["nope"]})
    assert err.value.field == "arms"
    with pytest.raises(InvalidInput) as err:
        router.set_policy({"strategy": "magic"})
    assert err.value.field == "strategy"
    with pytest.raises(InvalidInput):
        router.set_policy({"strategy": "ucb1", "colour": "red"})
