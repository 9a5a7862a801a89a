"""GateStore on SQLite and PostgreSQL (migrated, so migration 0021 and the table agree):
reports saved with their decision, listed newest first with filters, read in full, and
another tenant's reports out of reach."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.errors import NotFound
from cerebra.improve.gate import GateStore, evaluate_gate
from tests.improve.test_gate import BASE, GUARD, TASK, answerer

ACME = RequestContext(tenant_id="acme")
GLOBEX = RequestContext(tenant_id="globex")


@pytest.fixture
def store(sql_engine: Engine) -> GateStore:
    return GateStore(sql_engine)


def test_reports_are_saved_listed_and_read_per_tenant(store: GateStore) -> None:
    good = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.6})
    bad = answerer([TASK, GUARD], {}, seed=5, shuffle=True)
    promoted = evaluate_gate(TASK, [GUARD], BASE, good, candidate_name="gemma-3-270m:tickets",
                             baseline_name="gemma-3-270m")
    refused = evaluate_gate(TASK, [GUARD], BASE, bad, candidate_name="gemma-3-270m:shuffled",
                            baseline_name="gemma-3-270m",
                            ppl=(lambda _t: 20.0, lambda _t: math.inf))
    first = store.save(ACME, promoted)
    second = store.save(ACME, refused)
    store.save(GLOBEX, promoted)
    listed = store.list(ACME)
    assert {r["id"] for r in listed} == {first, second} and store.count(ACME) == 2
    assert [r["decision"] for r in store.list(ACME, decision="refuse")] == ["refuse"]
    assert store.list(ACME, task="nothing") == []
    full = store.get(ACME, second)
    assert full["candidate"] == "gemma-3-270m:shuffled" and full["task"] == "tickets"
    assert full["decision"] == "refuse" and full["reasons"] == refused.reasons
    body = full["report"]
    assert body["id"] == second and body["ppl"]["relative_change"] is None  # inf as null
    assert len(body["task"]["items"]) == 200 and body["guards"][0]["kit"] == "dates"
    top = store.get(ACME, first)
    assert top["gain"] == pytest.approx(40.0) and top["p_value"] < 1e-10
    with pytest.raises(NotFound):
        store.get(GLOBEX, first)
    with pytest.raises(NotFound):
        store.get(ACME, "no-such-report")
