"""Incremental audit verification (cerebra.governance.audit_verified): it gives a whole
walk's answer over appended entries, finds tampering after its verified prefix, falls back to
a whole walk naming the entry when the prefix's last entry changed, and — its contract —
does not see a change inside the prefix that a whole walk (full=True) does. A failed
verification never moves the prefix; one tenant's prefix is never used for another's chain.
On SQLite and PostgreSQL; then the HTTP API and the periodic whole-chain job."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.governance.audit import AuditEvent
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verified import (
    load_state,
    verify_all_full,
    verify_tenant,
    walk,
)
from cerebra.governance.audit_verify import verify_source
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.governance.test_audit_tamper import SIGNER, drop_triggers, insert, rehash, run

KEYS = [SIGNER.public_key]
WHERE = "WHERE tenant_id = :t AND seq = :s"


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    return sql_engine


def append(engine: Engine, tenant: str, n: int) -> None:
    events = [AuditEvent("request", actor="key:k1", target="m", tenant_id=tenant,
                         details={"i": i}) for i in range(n)]
    DatabaseAuditSink(engine, signer=SIGNER, checkpoint_every=3).append(events)


def verify(engine: Engine, tenant: str, *, full: bool = False) -> tuple[str, bool, int, str]:
    """(mode, ok, entries, problem kind@seq) of a verification through the stored state."""
    done = verify_tenant(DatabaseAuditSink(engine), tenant, trusted_keys=KEYS, full=full)
    problem = done.report.problem
    return (done.mode, done.report.ok, done.report.entries,
            "" if problem is None else f"{problem.kind}@{problem.seq}")


def test_incremental_over_appended_entries_equals_a_whole_walk(engine: Engine) -> None:
    sink = DatabaseAuditSink(engine)
    first = verify_tenant(sink, "t", trusted_keys=KEYS)  # an empty chain: walked whole
    assert (first.mode, first.report.ok, first.report.entries) == ("full", True, 0)
    append(engine, "t", 7)
    done = verify_tenant(sink, "t", trusted_keys=KEYS)
    assert (done.mode, done.fell_back) == ("full", "no verified prefix yet")
    assert load_state(engine, "t").seq == 7
    for batch in (1, 4, 2):
        append(engine, "t", batch)
        before = load_state(engine, "t").seq
        step = verify_tenant(sink, "t", trusted_keys=KEYS)
        (whole,) = verify_source(sink, KEYS, "t")
        assert (step.mode, step.verified_from) == ("incremental", before)
        assert step.report == whole  # ok, entries, checkpoints (3, 6, …), head
        assert step.last_full is not None and step.last_full.entries == 7
        assert load_state(engine, "t").seq == whole.entries
    assert whole.entries == 14 and whole.checkpoints == 4
    assert verify(engine, "t") == ("incremental", True, 14, "")  # nothing new: still intact


def test_tampering_after_the_prefix_is_found_incrementally_and_keeps_the_prefix(
        engine: Engine) -> None:
    for tenant in ("mod", "rehash", "link", "del", "forged"):
        append(engine, tenant, 7)
        assert verify(engine, tenant)[:2] == ("full", True)
        append(engine, tenant, 5)
    drop_triggers(engine)
    run(engine, f"UPDATE audit_log SET actor = 'mallory' {WHERE}", t="mod", s=10)
    rehash(engine, "rehash", 8)
    run(engine, f"UPDATE audit_log SET prev_hash = :p {WHERE}", p="f" * 64, t="link", s=8)
    run(engine, f"DELETE FROM audit_log {WHERE}", t="del", s=9)
    insert(engine, "forged", 13, DatabaseAuditSink(engine).head("forged")[1])  # type: ignore[index]
    found = {t: verify(engine, t) for t in ("mod", "rehash", "link", "del", "forged")}
    assert found == {
        "mod": ("incremental", False, 9, "modified@10"),
        "rehash": ("incremental", False, 8, "modified@8"),
        "link": ("incremental", False, 7, "modified@8"),  # the prefix's end is intact
        "del": ("incremental", False, 8, "deleted@9"),
        "forged": ("incremental", False, 12, "inserted@13"),
    }
    for tenant in found:  # a failed verification moves nothing
        state = load_state(engine, tenant)
        assert (state.seq, state.last_full and state.last_full.entries) == (7, 7)
    assert verify(engine, "mod") == ("incremental", False, 9, "modified@10")  # again, found


def test_a_changed_prefix_end_forces_a_whole_walk_that_names_it(engine: Engine) -> None:
    for tenant in ("anchor", "anchor-rehash", "anchor-gone", "checkpoint-gone"):
        append(engine, tenant, 7)
        assert verify(engine, tenant)[:2] == ("full", True)
        append(engine, tenant, 2)
    drop_triggers(engine)
    run(engine, f"UPDATE audit_log SET actor = 'mallory' {WHERE}", t="anchor", s=7)
    rehash(engine, "anchor-rehash", 7)
    run(engine, f"DELETE FROM audit_log {WHERE}", t="anchor-gone", s=7)
    run(engine, "DELETE FROM audit_checkpoints WHERE tenant_id = :t AND seq = 3",
        t="checkpoint-gone")
    sink = DatabaseAuditSink(engine)
    done = {t: verify_tenant(sink, t, trusted_keys=KEYS)
            for t in ("anchor", "anchor-rehash", "anchor-gone", "checkpoint-gone")}
    assert {t: (v.mode, v.report.problem and (v.report.problem.kind, v.report.problem.seq))
            for t, v in done.items()} == {
        "anchor": ("full", ("modified", 7)),
        "anchor-rehash": ("full", ("modified", 7)),
        "anchor-gone": ("full", ("deleted", 7)),
        # a removed checkpoint is no broken link: walked whole, found intact
        "checkpoint-gone": ("full", None),
    }
    assert "entry 7" in (done["anchor"].fell_back or "")
    assert "checkpoints" in (done.pop("checkpoint-gone").fell_back or "")
    assert load_state(engine, "checkpoint-gone").checkpoints == 2
    for tenant, v in done.items():  # recorded as a failed full walk; the prefix is cleared
        assert v.last_full is not None and not v.last_full.ok
        state = load_state(engine, tenant)
        assert state.seq == 0 and state.last_full == v.last_full
        assert verify(engine, tenant)[:2] == ("full", False)  # and stays a whole walk


def test_a_change_inside_the_prefix_shows_only_in_a_whole_walk(engine: Engine) -> None:
    append(engine, "t", 7)
    assert verify(engine, "t")[:2] == ("full", True)
    append(engine, "t", 3)
    drop_triggers(engine)
    run(engine, f"UPDATE audit_log SET actor = 'mallory' {WHERE}", t="t", s=4)
    # the contract: an incremental check walks only what follows the verified prefix
    assert verify(engine, "t") == ("incremental", True, 10, "")
    assert verify(engine, "t", full=True) == ("full", False, 3, "modified@4")
    state = load_state(engine, "t")
    assert state.seq == 0 and state.last_full is not None and not state.last_full.ok
    assert verify(engine, "t") == ("full", False, 3, "modified@4")  # no stale prefix used


def test_a_move_from_inside_the_prefix_reads_as_modified(engine: Engine) -> None:
    append(engine, "t", 7)
    assert verify(engine, "t")[:2] == ("full", True)
    append(engine, "t", 3)
    drop_triggers(engine)
    for a, b in ((5, -1), (9, 5), (-1, 9)):  # entry 5 (in the prefix) swapped with entry 9
        run(engine, f"UPDATE audit_log SET seq = {b} {WHERE}", t="t", s=a)
    assert verify(engine, "t") == ("incremental", False, 8, "modified@9")
    assert verify(engine, "t", full=True) == ("full", False, 4, "reordered@5")


def test_one_tenants_prefix_is_never_used_for_another(engine: Engine) -> None:
    append(engine, "a", 7)
    append(engine, "b", 7)
    assert verify(engine, "a")[:2] == ("full", True)
    drop_triggers(engine)
    run(engine, f"UPDATE audit_log SET actor = 'mallory' {WHERE}", t="b", s=2)
    done = verify_tenant(DatabaseAuditSink(engine), "b", trusted_keys=KEYS)
    assert (done.mode, done.fell_back, done.last_full is not None) == (
        "full", "no verified prefix yet", True)
    assert done.report.problem is not None and done.report.problem.seq == 2
    a = load_state(engine, "a")
    assert a.seq == 7 and a.last_full is not None and a.last_full.ok
    assert verify(engine, "a") == ("incremental", True, 7, "")
    assert load_state(engine, "nobody").last_full is None


def test_entries_appended_during_a_walk_are_left_for_the_next(engine: Engine) -> None:
    append(engine, "t", 5)
    stale = DatabaseAuditSink(engine).head("t")

    class Racing(DatabaseAuditSink):
        """The head is read before an append lands, the entries after it."""
        reads = 0

        def head(self, tenant_id: str) -> tuple[int, str] | None:
            self.reads += 1
            return stale if self.reads == 1 else super().head(tenant_id)

    append(engine, "t", 4)  # entries 6-9 and the checkpoints at 6 and 9
    report = walk(Racing(engine), "t", trusted_keys=KEYS)
    assert (report.ok, report.entries, report.checkpoints) == (True, 5, 1)
    drop_triggers(engine)
    head = DatabaseAuditSink(engine).head("t")
    assert head is not None
    insert(engine, "t", 10, head[1])  # forged past the head: the head does not cover it
    assert walk(Racing(engine), "t", trusted_keys=KEYS).ok  # it stops at the stale head
    report = walk(DatabaseAuditSink(engine), "t", trusted_keys=KEYS)
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == (
        "inserted", 10)


def test_the_periodic_job_walks_every_chain_whole(engine: Engine) -> None:
    append(engine, "a", 4)
    append(engine, "b", 2)
    assert verify(engine, "a")[:2] == ("full", True)
    append(engine, "a", 2)
    done = verify_all_full(engine, KEYS, clock=lambda: 123.0)
    assert [(v.report.tenant_id, v.mode, v.report.entries) for v in done] == [
        ("a", "full", 6), ("b", "full", 2)]
    assert [load_state(engine, t).last_full for t in ("a", "b")] == [
        v.last_full for v in done]
    assert done[0].last_full is not None and done[0].last_full.at == 123.0


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    made = Brain.from_settings(Settings(home=tmp_path / "h", audit={"verify_interval_s": 60}),
                               model=FakeModel("ok", name="fake"), embedder=FakeEmbedder())
    yield made
    made.close()


def test_the_api_verifies_incrementally_and_whole_on_request(brain: Brain) -> None:
    assert brain.audit is not None
    assert brain.jobs is not None
    assert {s.name: s.every_s for s in brain.jobs.schedules()}["audit-verify"] == 60
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        for i in range(3):
            brain.audit.record(AuditEvent("login", actor=f"u{i}"))
        first = client.get("/api/audit/verify").json()
        assert (first["mode"], first["ok"], first["entries"], first["verified_from"]) == (
            "full", True, 3, 0)
        assert first["last_full"]["ok"] is True and first["last_full"]["entries"] == 3
        brain.audit.record(AuditEvent("login", actor="u3"))
        second = client.get("/api/audit/verify").json()
        assert (second["mode"], second["ok"], second["entries"], second["verified_from"]) == (
            "incremental", True, 4, 3)
        assert second["last_full"] == first["last_full"] and second["problem"] is None
        whole = client.get("/api/audit/verify?full=true").json()
        assert (whole["mode"], whole["ok"], whole["entries"]) == ("full", True, 4)
        assert whole["last_full"]["entries"] == 4 and whole["head"] == second["head"]
        assert client.get("/api/audit/verify?full=maybe").status_code == 422
