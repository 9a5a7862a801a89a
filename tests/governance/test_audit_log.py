"""AuditLog: every recorded event reaches every sink; while a sink is down the events wait in
the journal; a journal left by a closed or killed process (SIGKILL included) is replayed once
by the next AuditLog, a live process's journal never; the Brain records a "request" event per
interaction and exposes the log as `brain.audit`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.governance.audit import AuditEvent
from cerebra.governance.audit_jsonl import JsonlAuditSink, JsonlChainSource
from cerebra.governance.audit_log import AuditLog, read_journal
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verify import verify_source


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(made)
    return made


class Switchable:
    """A database sink that can be switched off (it then fails as a lost database does)."""

    name = "switchable"

    def __init__(self, engine: Engine) -> None:
        self.inner = DatabaseAuditSink(engine)
        self.up = threading.Event()
        self.up.set()

    def append(self, events: Sequence[AuditEvent]) -> int:
        if not self.up.is_set():
            raise OperationalError("INSERT", {}, Exception("database is gone"))
        return self.inner.append(events)

    def close(self) -> None:
        pass


def stored(engine: Engine, tenant: str = "default") -> list[str]:
    return [e.event.trace_id for e in DatabaseAuditSink(engine).entries(tenant)]


def ev(i: int) -> AuditEvent:
    return AuditEvent("key.create", actor="key:admin", target=f"k{i}", trace_id=f"t{i}")


def test_recorded_events_reach_every_sink_and_the_journal_empties(
        engine: Engine, tmp_path: Path) -> None:
    audit = AuditLog([DatabaseAuditSink(engine), JsonlAuditSink(tmp_path / "a.jsonl")],
                     journal_dir=tmp_path / "journal")
    for i in range(50):
        audit.record(ev(i))
    assert audit.flush()
    assert audit.journal is not None and audit.journal.stat().st_size == 0
    assert stored(engine) == [f"t{i}" for i in range(50)]
    (report,) = verify_source(JsonlChainSource(tmp_path / "a.jsonl"))
    assert report.ok and report.entries == 50
    audit.close()
    assert list((tmp_path / "journal").iterdir()) == []


def test_events_wait_in_the_journal_while_a_sink_is_down(engine: Engine, tmp_path: Path) -> None:
    sink = Switchable(engine)
    sink.up.clear()
    audit = AuditLog([sink], journal_dir=tmp_path / "journal", max_backoff_s=0.01)
    recorded = [audit.record(ev(i)) for i in range(5)]
    assert audit.journal is not None
    assert read_journal(audit.journal) == recorded
    assert stored(engine) == []
    sink.up.set()
    assert audit.flush()
    assert stored(engine) == [f"t{i}" for i in range(5)]
    assert read_journal(audit.journal) == []
    audit.close()


def test_a_closed_log_with_a_sink_down_is_replayed_by_the_next_one(
        engine: Engine, tmp_path: Path) -> None:
    sink = Switchable(engine)
    sink.up.clear()
    first = AuditLog([sink], journal_dir=tmp_path / "journal", max_backoff_s=0.01)
    for i in range(3):
        first.record(ev(i))
    first.close(timeout=0.2)
    assert first.journal is not None and first.journal.exists()  # kept for the next start
    second = AuditLog([DatabaseAuditSink(engine)], journal_dir=tmp_path / "journal")
    assert second.flush()
    assert stored(engine) == ["t0", "t1", "t2"]
    assert not first.journal.exists()
    third = AuditLog([DatabaseAuditSink(engine)], journal_dir=tmp_path / "journal")
    assert third.flush()  # nothing left to replay: each event stored once
    assert stored(engine) == ["t0", "t1", "t2"]
    second.close()
    third.close()


def test_a_live_process_journal_is_not_replayed(engine: Engine, tmp_path: Path) -> None:
    sink = Switchable(engine)
    sink.up.clear()
    alive = AuditLog([sink], journal_dir=tmp_path / "journal", max_backoff_s=0.01)
    alive.record(ev(1))
    other = AuditLog([DatabaseAuditSink(engine)], journal_dir=tmp_path / "journal")
    assert other.flush()
    assert stored(engine) == []  # its owner holds the lock: still its own business
    sink.up.set()
    assert alive.flush()
    assert stored(engine) == ["t1"]
    alive.close()
    other.close()


def test_the_active_constitution_hash_goes_into_events(engine: Engine) -> None:
    audit = AuditLog([DatabaseAuditSink(engine)])
    audit.constitution_hash = "sha3-512:abc"
    audit.record(ev(1))
    audit.record(AuditEvent("policy.decision", constitution_hash="explicit"))
    assert audit.flush()
    hashes = [e.event.constitution_hash for e in DatabaseAuditSink(engine).entries("default")]
    assert hashes == ["sha3-512:abc", "explicit"]
    audit.close()


CHILD = r"""
import sys
from pathlib import Path
from cerebra.db.engine import make_engine
from cerebra.governance.audit import AuditEvent
from cerebra.governance.audit_log import AuditLog
from cerebra.governance.audit_sinks import DatabaseAuditSink
audit = AuditLog([DatabaseAuditSink(make_engine(sys.argv[1]))], journal_dir=Path(sys.argv[2]))
n = 0
while True:
    event = audit.record(AuditEvent("request", trace_id=f"{sys.argv[3]}-{n}"))
    print(event.trace_id, flush=True)  # the acknowledgement
    n += 1
"""


def test_sigkill_loses_no_acknowledged_event(engine: Engine, tmp_path: Path) -> None:
    url = str(engine.url)
    rng = random.Random(9)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    acked: list[str] = []
    for run in range(3):
        child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path / "journal"),
                                  f"r{run}"], stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        for _ in range(rng.randint(50, 400)):
            acked.append(child.stdout.readline().decode().strip())
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    audit = AuditLog([DatabaseAuditSink(engine)], journal_dir=tmp_path / "journal")
    assert audit.flush()
    audit.close()
    found = stored(engine)
    assert set(acked) <= set(found)
    assert len(found) == len(set(found))
    (report,) = verify_source(DatabaseAuditSink(engine))
    assert report.ok, report.problem
    assert list((tmp_path / "journal").iterdir()) == []


def test_the_brain_records_a_request_event_per_interaction(
        fake_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.brain import Brain
    from cerebra.config import get_settings

    brain = Brain.from_settings()
    try:
        assert brain.audit is not None
        answers = [brain.ask(f"question {i}", memory=False) for i in range(2)]
        assert brain.audit.flush()
        entries = list(DatabaseAuditSink(brain.engine).entries("default"))
        assert [e.event.trace_id for e in entries] == [a.trace_id for a in answers]
        event = entries[0].event
        assert (event.action, event.actor, event.outcome, event.target) == (
            "request", "anonymous", "ok", answers[0].model)
        details = json.loads(json.dumps(event.details))
        assert details["prompt_tokens"] == answers[0].usage.prompt_tokens
        assert details["completion_tokens"] == answers[0].usage.completion_tokens
    finally:
        brain.close()
    monkeypatch.setenv("CEREBRA_AUDIT__ENABLED", "false")
    get_settings.cache_clear()
    off = Brain.from_settings()
    assert off.audit is None
    off.close()
