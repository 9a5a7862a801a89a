"""What the server records in the audit log besides requests: memory deletions and catalog
changes (add, hot swap, refused entry, remove) through the HTTP API, each naming its target;
and `cerebra audit verify` / `export` / `key` from the command line, on a tampered database
and on an export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from cerebra.brain import Brain
from cerebra.config import Settings, get_settings
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.governance.audit import AuditEvent
from cerebra.governance.audit_setup import build_audit_log
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import run_cli


@pytest.fixture
def brain(tmp_path: Path) -> Iterator[Brain]:
    made = Brain.from_settings(Settings(home=tmp_path / "h"),
                               model=FakeModel("ok", name="fake"), embedder=FakeEmbedder())
    yield made
    made.close()


def test_deletions_and_catalog_changes_are_recorded(brain: Brain) -> None:
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        added = client.post("/api/memory", json={"text": "a fact", "agent_id": "a"}).json()
        memory_id = added.get("id") or added["memory_id"]
        assert client.delete(f"/api/memory/{memory_id}").status_code == 200
        body = {"confirm_all": True}
        assert client.post("/api/memory/delete_all", json=body).status_code == 200
        spec = {"name": "gamma", "kind": "fake", "options": {"reply": "g"}}
        assert client.post("/api/models", json=spec).status_code == 201
        assert client.post("/api/models", json=spec).status_code == 201  # a hot swap
        assert client.post("/api/models", json={"name": "x", "kind": "warp"}).status_code == 422
        assert client.delete("/api/models/gamma").status_code == 200
    assert brain.audit is not None and brain.audit.flush()
    recorded = [(e.event.action, e.event.target, e.event.outcome)
                for e in DatabaseAuditSink(brain.engine).entries("default")
                if e.event.action != "request"]
    assert recorded == [
        ("memory.delete", memory_id, "ok"),
        ("memory.delete", "all", "ok"),
        ("catalog.change", "gamma", "ok"),
        ("model.swap", "gamma", "ok"),
        ("catalog.change", "x", "refused"),
        ("catalog.change", "gamma", "ok"),
    ]


def test_cli_verify_names_the_tampered_entries_and_export_verifies() -> None:
    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    audit = build_audit_log(settings, engine)
    for tenant in ("ok", "mod", "del", "ins", "swap"):
        for i in range(5):
            audit.record(AuditEvent("login", actor=f"user{i}", tenant_id=tenant))
    audit.close()

    done = run_cli("audit", "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: 25 entries, 0 checkpoints in 5 chains")

    with engine.begin() as conn:
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            conn.execute(text(f"DROP TRIGGER {trigger}"))
        conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE tenant_id = 'mod' AND seq = 4"))
        conn.execute(text("DELETE FROM audit_log WHERE tenant_id = 'del' AND seq = 2"))
        conn.execute(text("INSERT INTO audit_log SELECT 'ins', 6, 'forged', time, actor, action,"
                          " target, outcome, details, constitution_hash, trace_id, hash, hash "
                          "FROM audit_log WHERE tenant_id = 'ins' AND seq = 5"))
        for a, b in ((3, -1), (4, 3), (-1, 4)):
            conn.execute(text(f"UPDATE audit_log SET seq = {b} "
                              f"WHERE tenant_id = 'swap' AND seq = {a}"))
    engine.dispose()
    done = run_cli("audit", "verify")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "TAMPERED: tenant del: entry 2: deleted: it is missing: the chain jumps from entry 1 "
        "to 3",
        "TAMPERED: tenant ins: entry 6: inserted: it lies beyond the recorded head (entry 5)",
        "TAMPERED: tenant mod: entry 4: modified: its content does not match its hash",
        "TAMPERED: tenant swap: entry 3: reordered: it links to the entry now at 4, not to "
        "entry 2",
    ]

    out = Path("ok.jsonl")
    done = run_cli("audit", "export", "--tenant", "ok", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert [line for line in out.read_text().splitlines() if '"tenant_id":"mod"' in line] == []
    done = run_cli("audit", "verify", "--file", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: 5 entries, 0 checkpoints, head ")
    key = run_cli("audit", "key")
    assert key.stdout.strip() in done.stdout  # verified against the signing key's public key


def test_cli_misuse_is_one_line_and_exit_2() -> None:
    done = run_cli("audit", "verify", "--file", "missing.jsonl")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "missing.jsonl" in done.stderr


def test_the_audit_api_shows_the_callers_tenant_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.auth.identity import IdentityStore

    monkeypatch.setenv("CEREBRA_AUTH__MODE", "on")
    monkeypatch.setenv("CEREBRA_MODEL__FAKE", "true")
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    monkeypatch.setenv("CEREBRA_AUDIT__CHECKPOINT_EVERY", "2")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as client:
        brain = client.app.state.brain  # type: ignore[attr-defined]
        identity = IdentityStore(brain.engine)
        identity.create_tenant("other")
        mine, _ = identity.create_key("default", role="admin")
        theirs, _ = identity.create_key("other", role="admin")
        user, _ = identity.create_key("default", role="user")
        for i in range(5):
            brain.audit.record(AuditEvent("login", actor=f"u{i}", tenant_id="default"))
        brain.audit.record(AuditEvent("login", actor="secret-other", tenant_id="other"))
        assert brain.audit.flush()

        def get(path: str, key: str) -> Any:
            return client.get(path, headers={"Authorization": f"Bearer {key}"})

        assert client.get("/api/audit/verify").status_code == 401
        assert get("/api/audit/verify", user).status_code == 403
        report = get("/api/audit/verify", mine).json()
        assert (report["ok"], report["entries"], report["checkpoints"]) == (True, 5, 2)
        first = get("/api/audit/entries?limit=3", mine).json()
        assert [e["seq"] for e in first["entries"]] == [1, 2, 3] and first["next"] == 3
        assert [c["seq"] for c in first["checkpoints"]] == [2]
        rest = get(f"/api/audit/entries?after={first['next']}&limit=3", mine).json()
        assert [e["seq"] for e in rest["entries"]] == [4, 5] and rest["next"] is None
        assert rest["head"] == {"seq": 5, "hash": report["head"]}
        other = get("/api/audit/entries", theirs).json()
        assert [e["actor"] for e in other["entries"]] == ["secret-other"]
        assert "secret-other" not in str(first) + str(rest)


def test_record_offline_chains_before_returning() -> None:
    from cerebra.governance.audit_setup import record_offline

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    record_offline(settings, engine, AuditEvent("key.create", actor="cli", target="key_1"))
    (entry,) = DatabaseAuditSink(engine).entries("default")
    assert (entry.event.action, entry.event.target) == ("key.create", "key_1")


def test_a_request_event_counts_the_cost_the_ledger_counts(tmp_path: Path) -> None:
    priced = FakeModel("a priced answer", name="priced", cost_per_input_token=2e-6,
                       cost_per_output_token=5e-6)
    brain = Brain.from_settings(Settings(home=tmp_path / "p"), model=priced,
                                embedder=FakeEmbedder())
    try:
        answer = brain.ask("what does it cost?", memory=False)
        assert answer.cost_usd > 0
        assert brain.audit is not None and brain.audit.flush()
        (event,) = [e.event for e in DatabaseAuditSink(brain.engine).entries("default")
                    if e.event.action == "request"]
        assert event.details["cost"] == round(answer.cost_usd, 8)
        assert event.trace_id == answer.trace_id
        row = brain.ledger.get(answer.trace_id)
        assert row is not None and row["cost_usd"] == pytest.approx(answer.cost_usd)
    finally:
        brain.close()
