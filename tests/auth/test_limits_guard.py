"""The limits guard on Brain's path: budgets reserved before dispatch and settled with the
answer's cost (what the ledger records) on every path — success, failure, refusal by a later
guard, cancellation, streams left early, async; key and tenant limits from the LimitStore;
the HTTP shape of the refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from cerebra.auth.limit_store import LimitStore
from cerebra.auth.limits import BudgetExhausted, InProcessLimiter, Limits, RateLimited
from cerebra.auth.limits_guard import LimitsGuard, registry_quoter
from cerebra.auth.principal import Principal, Role
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.db.schema import api_keys, interactions
from cerebra.errors import NotFound
from cerebra.exchange import Answer, Query
from cerebra.guards import BaseGuard, Refused
from cerebra.models.base import GenerationRequest
from cerebra.models.cancellation import Cancellation
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel

REPLY = "one two three four five six seven eight nine ten"
PER_ANSWER = 0.04  # 4 completion tokens at $0.01 (prompt tokens are free)


@pytest.fixture
def model() -> FakeModel:
    return FakeModel(REPLY, name="priced", cost_per_output_token=0.01)


@pytest.fixture
def brain(model: FakeModel) -> Iterator[Brain]:
    b = Brain.from_settings(Settings(limits={"enabled": False}), model=model,
                            embedder=FakeEmbedder())
    yield b
    b.close()


def guard_for(brain: Brain, **tenant: float) -> LimitsGuard:
    store = LimitStore(brain.engine, tenant_defaults=Limits(**tenant))  # type: ignore[arg-type]
    guard = LimitsGuard(InProcessLimiter(), store, registry_quoter(brain.models, brain.settings))
    brain.guards.append(guard)
    return guard


def ask(brain: Brain, prompt: str = "hello", **kw: object) -> Answer:
    return brain.ask(prompt, memory=False, max_tokens=4, **kw)  # type: ignore[arg-type]


def usage(guard: LimitsGuard, tenant: str = "default") -> tuple[int, int]:
    from cerebra.auth.limits import period_bounds

    day, _ = period_bounds(time.time(), "daily")
    return guard.limiter.usage(f"budget:tenant:{tenant}:{day}", now=time.time())


def ledger_cost(brain: Brain) -> float:
    brain.ledger.flush()
    with brain.engine.connect() as conn:
        return float(conn.execute(select(func.sum(interactions.c.cost_usd))).scalar() or 0)


def test_budget_allows_what_it_covers_and_the_ledger_matches(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=3 * PER_ANSWER)
    answers = [ask(brain) for _ in range(3)]
    assert all(a.cost_usd == pytest.approx(PER_ANSWER) for a in answers)
    with pytest.raises(BudgetExhausted) as refused:
        ask(brain)
    assert refused.value.extra["budget"] == "daily"
    assert round(ledger_cost(brain), 2) == round(3 * PER_ANSWER, 2)
    assert usage(guard) == (120_000_000, 0)  # $0.12 settled, nothing held


def test_a_failing_generation_releases_its_reservation(brain: Brain, model: FakeModel) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)

    def boom(request: GenerationRequest, i: int) -> None:
        raise RuntimeError("backend died")

    model._before_token = boom
    with pytest.raises(RuntimeError):
        ask(brain)
    assert usage(guard) == (0, 0)
    model._before_token = None
    ask(brain)  # the whole budget is still there
    assert usage(guard) == (40_000_000, 0)


def test_a_refusal_by_a_later_guard_releases(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)

    class No(BaseGuard):
        name = "no"

        def before(self, query: Query) -> Query:
            raise Refused("no", guard=self.name)

    brain.guards.append(No())
    with pytest.raises(Refused):
        ask(brain)
    assert usage(guard) == (0, 0)


def test_a_failure_while_preparing_releases(brain: Brain,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("memory is down")

    monkeypatch.setattr(brain.memory, "search", broken)
    with pytest.raises(RuntimeError):
        brain.ask("hello", max_tokens=4)  # recall fails after the reservation
    assert usage(guard) == (0, 0)


def test_a_cancelled_generation_spends_nothing(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)
    stop = Cancellation()
    stop.cancel()
    answer = ask(brain, cancellation=stop)
    assert answer.finish_reason == "cancelled"
    assert usage(guard) == (0, 0)
    assert ledger_cost(brain) == 0


def test_a_stream_left_early_releases_and_a_whole_one_settles(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)
    stream = brain.stream("hello", memory=False, max_tokens=4)
    assert isinstance(next(stream), str)
    assert usage(guard) == (0, 40_000_000)  # held while it streams
    stream.close()  # the client left
    assert usage(guard) == (0, 0)
    items = list(brain.stream("hello", memory=False, max_tokens=4))
    assert isinstance(items[-1], Answer)
    assert usage(guard) == (40_000_000, 0)


def test_async_paths_settle(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=2 * PER_ANSWER)

    async def both() -> None:
        await brain.aask("hello", memory=False, max_tokens=4)
        async for _ in brain.astream("hello", memory=False, max_tokens=4):
            pass

    asyncio.run(both())
    assert usage(guard) == (80_000_000, 0)
    with pytest.raises(BudgetExhausted):
        asyncio.run(brain.aask("hello", memory=False, max_tokens=4))


def _key(brain: Brain, key_id: str) -> RequestContext:
    with brain.engine.begin() as conn:
        conn.execute(insert(api_keys).values(
            id=key_id, tenant_id="default", user_id=f"key:{key_id}", name=key_id,
            prefix="ck-x", key_hash=key_id * 4, roles=["user"], scopes=["query"], agent_id="",
            created_at=time.time()))
    principal = Principal(tenant_id="default", user_id=f"key:{key_id}",
                          roles=frozenset({Role.USER}), kind="key", credential_id=key_id)
    return RequestContext(principal=principal)


def test_key_limits_apply_to_their_key_only(brain: Brain) -> None:
    guard = guard_for(brain)
    one, two = _key(brain, "k1"), _key(brain, "k2")
    guard.store.set_key_limits("default", "k1", {"requests_per_min": 2})
    ask(brain, context=one)
    ask(brain, context=one)
    with pytest.raises(RateLimited) as refused:
        ask(brain, context=one)
    assert refused.value.extra == {"retry_after_s": refused.value.retry_after_s,
                                   "limit": "requests_per_min", "subject": "key"}
    ask(brain, context=two)  # another key, and the tenant, are not limited
    ask(brain)


def test_tokens_per_minute_hold_the_worst_case(brain: Brain) -> None:
    guard_for(brain, tokens_per_min=60)
    ask(brain, "hi")  # holds prompt + 4, settles to the real count (fewer)
    with pytest.raises(RateLimited) as refused:
        brain.ask("hi", memory=False, max_tokens=60)
    assert refused.value.extra["limit"] == "tokens_per_min"


def test_limit_store_reads_through_a_short_cache(brain: Brain) -> None:
    now = [0.0]
    store = LimitStore(brain.engine, key_defaults=Limits(requests_per_min=100),
                       cache_s=5, clock=lambda: now[0])
    _key(brain, "k1")
    assert store.for_key("default", "k1") == Limits(requests_per_min=100)
    with brain.engine.begin() as conn:  # another process changes it
        conn.execute(update(api_keys).values(limits={"requests_per_min": 7,
                                                     "daily_budget": 1.5}))
    assert store.for_key("default", "k1").requests_per_min == 100
    now[0] = 5.1
    assert store.for_key("default", "k1") == Limits(requests_per_min=7, daily_budget=1.5)
    store.set_key_limits("default", "k1", {"requests_per_min": 0})  # 0: unlimited
    assert store.for_key("default", "k1").unlimited  # this process sees it at once
    store.set_tenant_limits("default", Limits(monthly_budget=10.0))
    assert store.tenant_limits("default") == Limits(monthly_budget=10.0)
    with pytest.raises(NotFound):
        store.set_key_limits("other-tenant", "k1", {"requests_per_min": 1})
    with pytest.raises(NotFound):
        store.set_tenant_limits("nobody", {})


def test_http_refusals_carry_retry_after_and_the_reset(brain: Brain) -> None:
    guard = guard_for(brain, daily_budget=PER_ANSWER)
    body = {"prompt": "hello", "memory": False, "max_tokens": 4}
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        assert client.post("/api/llm/query", json=body).status_code == 200
        spent = client.post("/api/llm/query", json=body)
        assert spent.status_code == 402
        error = spent.json()["error"]
        assert error["type"] == "budget_exhausted" and error["budget"] == "daily"
        assert spent.headers["X-Budget-Reset"] == error["resets_at"]
        assert int(spent.headers["Retry-After"]) == error["retry_after_s"] > 0
        guard.store.set_tenant_limits("default", {"requests_per_min": 1, "daily_budget": 1})
        assert client.post("/api/llm/query", json=body).status_code == 200
        limited = client.post("/api/llm/query", json=body)
        assert limited.status_code == 429
        assert limited.json()["error"]["type"] == "rate_limited"
        assert 0 < int(limited.headers["Retry-After"]) <= 60
