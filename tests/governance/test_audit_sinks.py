"""AuditSink conformance: the database sink (SQLite and PostgreSQL) and the JSON-lines sink
chain events per tenant without gaps, store each event id once, sign checkpoints, keep the
chains whole when several writers append at once, and read back what verifies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.governance.audit import AuditEvent, Signer
from cerebra.governance.audit_jsonl import JsonlAuditSink, JsonlChainSource
from cerebra.governance.audit_sinks import AuditSink, DatabaseAuditSink
from cerebra.governance.audit_verify import ChainSource, verify_source

SIGNER = Signer(bytes(range(32)))


@dataclass
class Kit:
    make: Callable[[], AuditSink]  # a new sink over the same store (another "process")
    read: Callable[[], ChainSource]  # the store as it is now


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        "jsonl"])
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    if request.param == "jsonl":
        path = tmp_path / "audit.jsonl"
        yield Kit(lambda: JsonlAuditSink(path, signer=SIGNER, checkpoint_every=4),
                  lambda: JsonlChainSource(path))
        return
    url = (f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url").replace("postgresql://",
                                                          "postgresql+psycopg://", 1))
    engines: list[Any] = []

    def engine() -> Any:
        made = make_engine(url)
        engines.append(made)
        return made

    upgrade(engine())
    yield Kit(lambda: DatabaseAuditSink(engine(), signer=SIGNER, checkpoint_every=4),
              lambda: DatabaseAuditSink(engine()))
    for made in engines:
        made.dispose()


def events(n: int, tenant: str = "default", start: int = 0) -> list[AuditEvent]:
    return [AuditEvent("request", actor=f"key:k{i % 3}", target="m", tenant_id=tenant,
                       details={"i": i, "text": "é ✓", "nested": {"b": [1, 2.5], "a": None}},
                       trace_id=f"t{i}").stamped() for i in range(start, start + n)]


def test_chains_are_gap_free_per_tenant_and_verify(kit: Kit) -> None:
    sink = kit.make()
    assert sink.append(events(3, "a") + events(2, "b")) == 5
    assert sink.append(events(6, "a", start=3)) == 6
    source = kit.read()
    assert source.tenants() == ["a", "b"]
    assert [e.seq for e in source.entries("a")] == list(range(1, 10))
    assert [e.seq for e in source.entries("b")] == [1, 2]
    reports = {r.tenant_id: r for r in verify_source(source, [SIGNER.public_key])}
    assert all(r.ok for r in reports.values()), reports
    assert (reports["a"].entries, reports["a"].checkpoints) == (9, 2)  # at 4 and 8
    assert [c.seq for c in source.checkpoints("a")] == [4, 8]
    assert all(c.signature_ok() for c in source.checkpoints("a"))


def test_events_read_back_as_written(kit: Kit) -> None:
    written = events(3, "t")
    kit.make().append(written)
    assert [e.event for e in kit.read().entries("t")] == written


def test_each_event_id_is_stored_once(kit: Kit) -> None:
    batch = events(4)
    sink = kit.make()
    assert sink.append(batch) == 4
    assert sink.append(batch[2:] + events(1, start=9)) == 1  # a replay plus one new
    assert kit.make().append(batch) == 0  # another writer, same store
    assert [e.event.trace_id for e in kit.read().entries("default")] == [
        "t0", "t1", "t2", "t3", "t9"]


def test_writers_appending_at_once_keep_every_chain_whole(kit: Kit) -> None:
    sinks = [kit.make() for _ in range(4)]
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for b in range(6):
                sinks[w].append(events(5, f"t{b % 2}", start=1000 * w + 10 * b))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    reports = verify_source(kit.read(), [SIGNER.public_key])
    assert [r.ok for r in reports] == [True, True], reports
    assert sum(r.entries for r in reports) == 4 * 6 * 5


def test_a_checkpoint_by_another_key_is_refused(kit: Kit) -> None:
    kit.make().append(events(4))
    (report,) = verify_source(kit.read(), [Signer(bytes(32)).public_key])
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, "bad checkpoint signature")
