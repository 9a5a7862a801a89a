"""Tampering with the audit log in the database, as someone with the database file (or a
superuser) would: the triggers refuse UPDATE and DELETE; with the triggers dropped, every
single-entry change — any column modified, an entry re-hashed, deleted, inserted, two
entries swapped, a checkpoint altered — is found by verification, naming that entry."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import Engine, exc, text

from cerebra.governance.audit import AuditEvent, Signer, entry_hash
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verify import verify_source

SIGNER = Signer(bytes(range(32)))
N = 7  # entries per chain; checkpoints at 3 and 6
COLUMNS = {
    "actor": "'mallory'", "action": "'login'", "target": "'other'", "outcome": "'denied'",
    "details": "'[99]'", "time": "time + 1", "trace_id": "'forged'",
    "event_id": "event_id || 'x'", "constitution_hash": "'abc'", "prev_hash": f"'{'f' * 64}'",
    "hash": f"'{'e' * 64}'", "tenant_id": None,  # tenant: moves the entry (a deletion)
}


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    return sql_engine


def populate(engine: Engine, tenants: list[str]) -> None:
    events = [AuditEvent("request", actor="key:k1", target="m", tenant_id=t,
                         details={"i": i}, trace_id=f"{t}-{i}")
              for t in tenants for i in range(1, N + 1)]
    DatabaseAuditSink(engine, signer=SIGNER, checkpoint_every=3).append(events)


def drop_triggers(engine: Engine) -> None:
    """What an attacker with the database file or superuser rights does first."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("audit_log", "audit_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
        else:
            for table, verb in itertools.product(("audit_log", "audit_checkpoints"),
                                                 ("update", "delete")):
                conn.execute(text(f"DROP TRIGGER {table}_no_{verb}"))


def run(engine: Engine, *statements: str, **params: Any) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)


def rehash(engine: Engine, tenant: str, seq: int) -> None:
    """Change entry `seq` and store its correct new hash (the chain after it is left)."""
    source = DatabaseAuditSink(engine)
    entry = next(e for e in source.entries(tenant) if e.seq == seq)
    changed = entry.event.__class__(**{**entry.event.to_dict(), "actor": "mallory"})
    digest = entry_hash(seq, entry.prev_hash, changed)
    run(engine, "UPDATE audit_log SET actor = 'mallory', hash = :h "
        "WHERE tenant_id = :t AND seq = :s", h=digest, t=tenant, s=seq)


def insert(engine: Engine, tenant: str, seq: int, prev_hash: str) -> None:
    event = AuditEvent("login", actor="mallory", tenant_id=tenant).stamped()
    digest = entry_hash(seq, prev_hash, event)
    run(engine, "INSERT INTO audit_log (tenant_id, seq, event_id, time, actor, action, target,"
        " outcome, details, constitution_hash, trace_id, prev_hash, hash) VALUES (:t, :s, :e,"
        " :time, 'mallory', 'login', '', 'ok', '{}', '', '', :p, :h)",
        t=tenant, s=seq, e=event.event_id, time=event.time, p=prev_hash, h=digest)


def test_the_database_refuses_update_and_delete(engine: Engine) -> None:
    populate(engine, ["t"])
    refused = [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 7",
        "UPDATE audit_checkpoints SET hash = 'x'",
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_heads",
    ]
    if engine.dialect.name == "postgresql":
        refused += ["TRUNCATE audit_log", "TRUNCATE audit_checkpoints", "TRUNCATE audit_heads"]
    for statement in refused:
        with pytest.raises(exc.DBAPIError, match="refused"):
            run(engine, statement)
    (report,) = verify_source(DatabaseAuditSink(engine), [SIGNER.public_key])
    assert report.ok and report.entries == N


def test_every_single_entry_change_is_found_and_named(engine: Engine) -> None:
    cases: dict[str, tuple[str, int]] = {}  # tenant → (kind, seq) verification must name
    for k in range(1, N + 1):
        for column in COLUMNS:
            cases[f"mod-{column}-{k}"] = ("deleted" if column == "tenant_id" else "modified", k)
        cases[f"rehash-{k}"] = ("modified", k)
        cases[f"del-{k}"] = ("deleted", k)
        for j in range(k + 1, N + 1):
            cases[f"swap-{k}-{j}"] = ("reordered", k)
    cases.update({"ins-tail": ("inserted", N + 1), "ins-zero": ("inserted", 0),
                  "ins-gap": ("inserted", N + 3), "sig-3": ("bad checkpoint signature", 3),
                  "cp-hash-6": ("bad checkpoint signature", 6), "intact": ("", 0)})
    populate(engine, sorted(cases))
    drop_triggers(engine)
    source = DatabaseAuditSink(engine)
    head = {t: source.head(t) for t in cases}
    where = "WHERE tenant_id = :t AND seq = :s"
    for tenant in cases:
        kind, _, rest = tenant.partition("-")
        if kind == "mod":
            column, _, k = rest.rpartition("-")
            value = COLUMNS[column] or "'elsewhere'"
            run(engine, f"UPDATE audit_log SET {column} = {value} {where}", t=tenant, s=int(k))
        elif kind == "rehash":
            rehash(engine, tenant, int(rest))
        elif kind == "del":
            run(engine, f"DELETE FROM audit_log {where}", t=tenant, s=int(rest))
        elif kind == "swap":
            k, j = map(int, rest.split("-"))
            run(engine, f"UPDATE audit_log SET seq = -1 {where}",
                f"UPDATE audit_log SET seq = {k} WHERE tenant_id = :t AND seq = {j}",
                f"UPDATE audit_log SET seq = {j} WHERE tenant_id = :t AND seq = -1",
                t=tenant, s=k)
        elif tenant == "ins-tail":
            insert(engine, tenant, N + 1, head[tenant][1])  # a well-formed next entry
        elif tenant == "ins-zero":
            insert(engine, tenant, 0, "0" * 64)
        elif tenant == "ins-gap":
            insert(engine, tenant, N + 3, "a" * 64)
        elif tenant == "sig-3":
            run(engine, "UPDATE audit_checkpoints SET signature = :sig "
                "WHERE tenant_id = :t AND seq = 3", sig="00" * 64, t=tenant)
        elif tenant == "cp-hash-6":
            run(engine, "UPDATE audit_checkpoints SET hash = :h "
                "WHERE tenant_id = :t AND seq = 6", h="c" * 64, t=tenant)
    reports = {r.tenant_id: r for r in verify_source(source, [SIGNER.public_key])}
    found = {t: (r.problem.kind, r.problem.seq) if r.problem else ("", 0)
             for t, r in reports.items() if t in cases}
    assert found == cases
