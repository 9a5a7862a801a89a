"""Router state in the database: migration 0002, bandit state, policies, decisions, restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from cerebra.context import RequestContext
from cerebra.db import current_revision, head_revision, make_engine, upgrade
from cerebra.db.migrate import downgrade
from cerebra.models.base import GenerationRequest
from cerebra.routing import RoutePolicy, Router, RouterStore
from cerebra.testing import FakeModel

REQ = GenerationRequest(prompt="Write a python function",
                        context=RequestContext(tenant_id="acme"))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'router.db'}")
    upgrade(engine)
    return engine


def _router(engine: Engine, **kwargs: object) -> Router:
    backends = [FakeModel("good", name="p"), FakeModel("meh", name="q")]
    return Router(backends, store=RouterStore(engine, flush_interval_s=0.01), seed=4,
                  **kwargs)  # type: ignore[arg-type]


def test_migration_creates_router_tables_with_tenant_id(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in ("router_state", "router_decisions"):
        assert "tenant_id" in {c["name"] for c in inspector.get_columns(table)}
    downgrade(engine, "0001")
    assert "router_state" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert "router_decisions" in inspect(engine).get_table_names()


def test_bandit_state_and_decisions_survive_a_restart(engine: Engine) -> None:
    router = _router(engine, policy=RoutePolicy("linucb", {"discount": 0.99}))
    ids = []
    for _ in range(30):
        d = router.route(REQ).decision
        router.feedback(d.id, 0.9 if d.served_by == "p" else 0.3)
        ids.append(d.id)
    before = router.arm_stats("acme")
    router.close()

    restarted = _router(engine, policy=RoutePolicy("linucb", {"discount": 0.99}))
    after = restarted.arm_stats("acme")
    learned = [{k: v for k, v in a.items() if k != "health"} for a in after["arms"]]
    assert learned == [{k: v for k, v in a.items() if k != "health"} for a in before["arms"]]
    assert sum(a["pulls"] for a in after["arms"]) == 30
    listed = restarted.decisions(tenant_id="acme", limit=100)
    assert {d.id for d in listed} == set(ids)
    assert all(d.quality is not None and d.reward is not None for d in listed)
    assert listed[0].reason.startswith("linucb") and listed[0].features["task"] == "code"
    assert restarted.decisions(tenant_id="other") == []
    restarted.close()


def test_feedback_after_a_restart_reaches_the_right_bandit(engine: Engine) -> None:
    router = _router(engine, policy=RoutePolicy("thompson", {"by_task": True}))
    d = router.route(REQ).decision
    router.close()
    restarted = _router(engine, policy=RoutePolicy("thompson", {"by_task": True}))
    updated = restarted.feedback(d.id, 0.8)
    assert updated.quality == 0.8
    stats = {a["arm"]: a["pulls"] for a in restarted.arm_stats("acme")["arms"]}
    assert stats[d.served_by or ""] == 1
    restarted.flush()
    assert RouterStore(engine).get_decision(d.id).quality == 0.8  # type: ignore[union-attr]


def test_policies_persist_and_a_changed_strategy_starts_fresh(engine: Engine) -> None:
    router = _router(engine)
    router.set_policy({"strategy": "fixed", "params": {"arm": "q"}}, tenant_id="acme")
    d = router.route(REQ).decision
    router.feedback(d.id, 0.5)
    router.close()
    restarted = _router(engine)
    assert restarted.route(REQ).decision.served_by == "q"
    assert {(p["tenant_id"], p["agent_id"]) for p in restarted.policies()} == {
        ("*", "*"), ("acme", "*")}
    restarted.set_policy({"strategy": "ucb1"}, tenant_id="acme")
    stats = restarted.arm_stats("acme")
    assert stats["strategy"] == "ucb1" and all(a["pulls"] == 0 for a in stats["arms"])
    restarted.close()


def test_decision_writes_are_batched_off_the_request_path(engine: Engine) -> None:
    store = RouterStore(engine, flush_interval_s=0.05)
    router = Router([FakeModel(name="p")], store=store)
    for _ in range(200):
        router.generate(REQ)
    router.flush()
    assert len(store.list_decisions(tenant_id="acme", limit=1000)) == 200
    router.close()
