"""The record of context bundles (cerebra.memory.bundle_store) on SQLite and PostgreSQL:
tenant- and user-scoped reads, feedback recorded once, rated bundles for weight learning."""

from __future__ import annotations

from sqlalchemy import Engine

from cerebra.memory.bundle_store import BundleRecord, BundleStore


def _record(bundle_id: str, tenant: str = "t1", user: str = "alice",
            at: float = 100.0) -> BundleRecord:
    return BundleRecord(
        id=bundle_id, tenant_id=tenant, user_id=user, agent_id="helper", session_id="s1",
        query="what does alice drink?",
        memories=[{"id": "m1", "score": 0.9, "signals": {"text": 0.5, "vector": 0.4}},
                  {"id": "m2", "score": 0.2, "signals": {"vector": 0.2}}],
        weights={"text": 0.5, "vector": 0.5}, created_at=at)


def test_bundles_are_scoped_rated_once_and_replayable(sql_engine: Engine) -> None:
    store = BundleStore(sql_engine)
    store.add(_record("b1"))
    store.add(_record("b2", at=200.0))
    store.add(_record("b3", tenant="t2"))
    got = store.get("t1", "b1")
    assert got is not None and got.memory_ids() == ["m1", "m2"]
    assert got.memories[0]["signals"] == {"text": 0.5, "vector": 0.4}
    assert store.get("t2", "b1") is None  # another tenant's id
    assert store.get("t1", "b1", user_id="bob") is None  # another user's
    assert store.get("t1", "b1", user_id="alice", agent_id="helper") is not None
    assert store.rated("t1") == []
    assert store.set_feedback("t1", "b1", 0.8, ["m1"], ["m2"])
    assert not store.set_feedback("t1", "b1", 0.1, [], [])  # once
    assert not store.set_feedback("t2", "b2", 1.0, [], [])  # not that tenant's
    assert store.set_feedback("t1", "b2", None, ["m2"], [])
    rated = store.rated("t1")
    assert [r.id for r in rated] == ["b2", "b1"]  # newest feedback first
    assert (rated[1].score, rated[1].helpful, rated[1].unhelpful) == (0.8, ["m1"], ["m2"])
    assert rated[1].feedback_at is not None and rated[0].score is None
    assert store.rated("t1", agent_id="other") == [] and store.rated("t2") == []
