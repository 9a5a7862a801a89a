"""Limits across restarts and outages: budgets seeded from the ledger when a server restarts
(in-process) or Redis loses its keys, per key (interactions.credential_id) and per signed-in
user (all its sign-in families); Redis down is a 503 `limits_unavailable` unless
`limits.redis_fail_open`; the guard's Redis connection closes with the Brain. Real SQLite
and PostgreSQL, a real redis-server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from cerebra.auth.limits import Budget, BudgetExhausted, InProcessLimiter, Limits
from cerebra.auth.limits_guard import LimitsGuard, Quote, checks_for
from cerebra.auth.limits_ledger import LedgerSpend
from cerebra.auth.principal import Principal, Role, scopes_of
from cerebra.auth.refresh import RefreshTokens
from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.db.schema import api_keys, interactions, tenants
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import running_redis

PER_ANSWER = 0.04  # 4 completion tokens at $0.01 (prompt tokens are free)
# Noon (UTC) of the day the tests run: Redis expires budget keys at the real clock (a day
# after their period ends), so a fixed date in the past would expire them on arrival.
T0 = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0).timestamp()


def make_brain(**groups: Any) -> Brain:
    model = FakeModel("one two three four five six", name="priced", cost_per_output_token=0.01)
    return Brain.from_settings(Settings(**groups), model=model, embedder=FakeEmbedder())


def guard_of(brain: Brain) -> LimitsGuard:
    return next(g for g in brain.guards if isinstance(g, LimitsGuard))


def ask(brain: Brain, context: RequestContext | None = None) -> None:
    brain.ask("hi", memory=False, max_tokens=4, context=context or RequestContext())


def key(brain: Brain, key_id: str) -> RequestContext:
    with brain.engine.begin() as conn:
        if conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first() is None:
            conn.execute(insert(api_keys).values(
                id=key_id, tenant_id="default", user_id=f"key:{key_id}", name=key_id,
                prefix="ck-x", key_hash=key_id * 8, roles=["user"], scopes=["query"],
                agent_id="", created_at=time.time()))
    return RequestContext(principal=Principal(
        tenant_id="default", user_id=f"key:{key_id}", roles=frozenset({Role.USER}),
        kind="key", credential_id=key_id))


def signed_in(brain: Brain, user_id: str, kind: str = "token") -> RequestContext:
    """A new sign-in (refresh family) of `user_id`, as its access token's principal."""
    _, grant = RefreshTokens(brain.engine).issue("default", user_id, kind=kind)
    roles = frozenset({Role.USER})
    return RequestContext(principal=Principal(
        tenant_id="default", user_id=user_id, roles=roles, scopes=scopes_of(roles),
        kind=kind, credential_id=grant.family_id))


def test_a_restarted_server_keeps_the_days_spend_per_tenant_and_key() -> None:
    limits = {"tenant_daily_budget": 3 * PER_ANSWER, "key_daily_budget": 2 * PER_ANSWER}
    first = make_brain(limits=limits)
    k1 = key(first, "k1")
    ask(first, k1)
    ask(first, k1)  # k1's day is spent, the tenant has one answer left
    first.close()  # the server stops (the ledger is flushed)

    again = make_brain(limits=limits)  # a new process: nothing in memory
    with pytest.raises(BudgetExhausted) as refused:
        ask(again, key(again, "k1"))
    assert refused.value.extra["subject"] == "key"
    ask(again, key(again, "k2"))  # another key; the tenant's last answer
    with pytest.raises(BudgetExhausted) as refused:
        ask(again)
    assert refused.value.extra["subject"] == "tenant"
    again.ledger.flush()
    with again.engine.connect() as conn:
        rows = conn.execute(select(interactions.c.credential_id, interactions.c.cost_usd)).all()
    assert sorted(r.credential_id for r in rows) == ["k1", "k1", "k2"]
    assert round(sum(r.cost_usd for r in rows), 6) == round(3 * PER_ANSWER, 6)
    again.close()


def test_a_signed_in_user_has_key_limits_over_all_its_sign_ins() -> None:
    limits = {"key_daily_budget": 2 * PER_ANSWER}
    first = make_brain(limits=limits)
    ask(first, signed_in(first, "usr_a"))
    ask(first, signed_in(first, "usr_a", kind="wallet"))  # another sign-in, the same user
    with pytest.raises(BudgetExhausted) as refused:
        ask(first, signed_in(first, "usr_a"))  # signing in again starts nothing afresh
    assert refused.value.extra["subject"] == "user"
    ask(first, signed_in(first, "usr_b"))
    first.close()

    again = make_brain(limits=limits)  # restarted: the user's spend comes from the ledger
    with pytest.raises(BudgetExhausted):
        ask(again, signed_in(again, "usr_a"))
    ask(again, signed_in(again, "usr_b"))  # usr_b has spent one answer of two
    with pytest.raises(BudgetExhausted):
        ask(again, signed_in(again, "usr_b"))
    again.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def test_a_flushed_redis_is_seeded_from_the_ledger(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushall()
    brain = make_brain(redis={"url": redis_url},
                       limits={"tenant_daily_budget": 3 * PER_ANSWER,
                               "key_daily_budget": 1 * PER_ANSWER})
    ask(brain, key(brain, "k1"))
    ask(brain)
    brain.ledger.flush()  # rows still queued in a writer are not in the ledger's sum yet
    client.flushall()  # Redis restarted or lost its keys
    with pytest.raises(BudgetExhausted) as refused:
        ask(brain, key(brain, "k1"))
    assert refused.value.extra["subject"] == "key"
    ask(brain)  # the tenant's third answer
    with pytest.raises(BudgetExhausted):
        ask(brain)
    guard = guard_of(brain)
    day = datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")
    assert guard.limiter.usage(f"budget:tenant:default:{day}", now=time.time()) == (
        120_000_000, 0)
    assert len(client.client_list()) == 2  # this test's client and the guard's
    brain.close()
    assert len(client.client_list()) == 1  # Brain.close closed the guard's connection


@pytest.mark.parametrize("fail_open", [False, True])
def test_redis_down(tmp_path: Path, fail_open: bool) -> None:
    body = {"prompt": "hi", "memory": False, "max_tokens": 4}
    (tmp_path / "redis").mkdir()
    with running_redis(tmp_path / "redis") as url:
        brain = make_brain(redis={"url": url}, limits={"tenant_requests_per_min": 100,
                                                       "redis_fail_open": fail_open})
        client = TestClient(create_app(brain.settings, brain=brain))
        client.__enter__()
        assert client.post("/api/llm/query", json=body).status_code == 200
    # redis-server has stopped
    try:
        answer = client.post("/api/llm/query", json=body)
        if fail_open:
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 503, answer.text
            error = answer.json()["error"]
            assert error["type"] == "limits_unavailable"
            assert "limits store (Redis at 127.0.0.1:" in error["message"]
            assert answer.headers["Retry-After"] == "5"
    finally:
        client.__exit__(None, None, None)
        brain.close()


# -- the ledger's sums, SQLite and PostgreSQL ------------------------------------------------
@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    with sql_engine.begin() as conn:
        conn.execute(insert(tenants).values(id="other", name="other", created_at=T0))
    return sql_engine


def budget(subject: str, owner: str, period: str = "daily", tenant: str = "default") -> Budget:
    usd = {"daily_budget": 1.0} if period == "daily" else {"monthly_budget": 1.0}
    (check,) = checks_for(subject, f"{tenant}:{owner}", Limits(**usd), Quote(0, 0), T0,
                          tenant_id=tenant, owner=owner)
    assert isinstance(check, Budget)
    return check


def test_ledger_spend_per_tenant_key_and_user(engine: Engine) -> None:
    family = RefreshTokens(engine).issue("default", "usr_a")[1].family_id
    ledger = Ledger(engine)
    spent = [  # (tenant, credential, usd, when)
        ("default", "k1", 0.01, T0 - 3600), ("default", "k2", 0.02, T0),
        ("default", family, 0.04, T0 - 60), ("default", "k1", 1.0, T0 - 86400),  # yesterday
        ("default", "k1", 100.0, T0 - 40 * 86400),  # last month
        ("other", "k1", 2.0, T0),  # another tenant
    ]
    for n, (tenant, credential, usd, when) in enumerate(spent):
        ledger.record(InteractionRecord(
            trace_id=f"t{n}", tenant_id=tenant, endpoint="query", model="m", prompt="p",
            rendered_prompt="p", response="r", prompt_tokens=1, completion_tokens=1,
            latency_ms=1.0, created_at=when, cost_usd=usd, credential_id=credential))
    ledger.close()
    seed = LedgerSpend(engine)
    assert seed(budget("tenant", "")) == 70_000_000  # nano-dollars: $0.07 today
    assert seed(budget("key", "k1")) == 10_000_000
    assert seed(budget("key", "k1", "monthly")) == 1_010_000_000
    assert seed(budget("user", "usr_a")) == 40_000_000
    assert seed(budget("user", "usr_b")) == 0
    assert seed(budget("tenant", "", tenant="other")) == 2_000_000_000
    nano = 1_000_000_000
    # a new process's limiter starts from there: $0.07 of $0.08 spent, $0.02 does not fit
    limiter = InProcessLimiter(seeder=seed)
    day = budget("tenant", "")
    tight = Budget(day.key, int(0.08 * nano), int(0.02 * nano), day.period, day.resets_at,
                   day.subject, day.starts_at, day.tenant_id, day.owner)
    with pytest.raises(BudgetExhausted):
        limiter.reserve([tight], now=T0, hold_s=60)
    assert limiter.usage(day.key, now=T0) == (70_000_000, 0)
