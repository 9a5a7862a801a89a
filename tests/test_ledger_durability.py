"""The ledger never drops a row on a database error: retries, the spill file, its replay (once,
on start and after recovery), torn lines, and one bad row among good ones. Real SQLite; faults
come from the database itself (a lock held by another connection) or from an engine event
that fails INSERTs the way a locked database does, after the transaction has begun."""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.db import make_engine, upgrade
from cerebra.db.schema import interactions
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.observability.spill import SpillFile, frame, unframe
from cerebra.testing import FakeEmbedder, FakeModel


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite"


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def spill_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "spill" / "ledger.jsonl"


def _rec(i: int = 0, **over: Any) -> InteractionRecord:
    values: dict[str, Any] = dict(
        trace_id=uuid.uuid4().hex, tenant_id="default", endpoint="test", model="fake",
        prompt=f"prompt {i}", rendered_prompt=f"rendered {i}", response=f"answer {i}",
        prompt_tokens=3, completion_tokens=4, latency_ms=1.5,
        memories_used=[{"id": f"m{i}", "score": 0.5}],
    )
    values.update(over)
    return InteractionRecord(**values)


def _ledger(engine: Engine, spill_path: Path, **kw: Any) -> Ledger:
    kw.setdefault("backoff_s", 0.0)  # no real waiting in tests
    return Ledger(engine, spill_path=spill_path, **kw)


def _trace_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(interactions.c.trace_id)).scalars())


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines() if path.exists() else []


class FailingInserts:
    """Fails INSERTs into interactions (`next_n` of them, or all while `down`), raising what
    sqlite3 raises for a locked database, after the transaction's SELECT has run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.next_n = 0
        self.down = False
        self.failed = 0
        event.listen(engine, "before_cursor_execute", self._hook)

    def _hook(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("INSERT INTO INTERACTIONS"):
            return
        if self.down or self.next_n > 0:
            self.next_n -= 1
            self.failed += 1
            raise sqlite3.OperationalError("database is locked")

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hook)


def test_transient_failures_are_retried_and_every_row_lands_once(
    engine: Engine, spill_path: Path
) -> None:
    faults = FailingInserts(engine)
    faults.next_n = 3
    ledger = _ledger(engine, spill_path, retries=4)
    recs = [_rec(i) for i in range(25)]
    for rec in recs:
        ledger.record(rec)
    assert ledger.flush()
    ids = _trace_ids(engine)
    assert sorted(ids) == sorted(r.trace_id for r in recs)  # all there, none twice
    stats = ledger.stats()
    assert faults.failed == 3
    assert stats.retried == 3
    assert (stats.written, stats.spilled, stats.dropped, stats.rejected) == (25, 0, 0, 0)
    assert not spill_path.exists()
    ledger.close()


def test_a_real_lock_held_by_another_connection_is_waited_out(
    engine: Engine, db_path: Path, spill_path: Path
) -> None:
    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=20")  # fail fast instead of waiting 30 s

    engine.dispose()
    locker = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process writing: our INSERT gets SQLITE_BUSY
    waits: list[float] = []

    def backoff(delay: float) -> None:  # the fault clears during the first backoff
        waits.append(delay)
        if locker.in_transaction:
            locker.execute("ROLLBACK")

    ledger = _ledger(engine, spill_path, retries=3, sleep=backoff)
    recs = [_rec(i) for i in range(10)]
    for rec in recs:
        ledger.record(rec)
    assert ledger.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in recs)
    assert waits, "the lock should have failed at least one write"
    assert ledger.stats().spilled == 0 and ledger.dropped == 0
    ledger.close()
    locker.close()


def test_rows_spill_when_the_database_stays_down_and_replay_on_start_once(
    engine: Engine, spill_path: Path
) -> None:
    faults = FailingInserts(engine)
    faults.down = True
    ledger = _ledger(engine, spill_path, retries=2)
    recs = [_rec(i) for i in range(7)]
    for rec in recs:
        ledger.record(rec)
    assert ledger.flush()  # flushed means: in the database or on disk
    stats = ledger.stats()
    assert (stats.spilled, stats.written, stats.dropped) == (7, 0, 0)
    assert stats.retried >= 2
    assert len(_lines(spill_path)) == 7
    assert _trace_ids(engine) == []
    ledger.close()
    saved = spill_path.read_bytes()

    faults.remove()  # the database is back; a new process starts on the same home
    again = _ledger(engine, spill_path)
    assert again.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in recs)
    assert again.stats().replayed == 7
    assert spill_path.read_bytes() == b""
    again.close()

    # a crash between the commit and the truncation replays the same lines again: no doubles
    spill_path.write_bytes(saved)
    third = _ledger(engine, spill_path)
    assert third.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in recs)
    assert spill_path.read_bytes() == b""
    third.close()


def test_spilled_rows_are_replayed_once_the_database_answers_again(
    engine: Engine, spill_path: Path
) -> None:
    faults = FailingInserts(engine)
    faults.down = True
    ledger = _ledger(engine, spill_path, retries=1)
    early = [_rec(i) for i in range(4)]
    for rec in early:
        ledger.record(rec)
    assert ledger.flush()
    assert ledger.stats().spilled == 4
    faults.down = False
    late = _rec(99)
    ledger.record(late)  # its commit shows the database is back: the spill follows it
    assert ledger.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in [*early, late])
    assert ledger.stats().replayed == 4
    assert spill_path.read_bytes() == b""
    assert ledger.get(early[0].trace_id) is not None
    ledger.close()


def test_a_torn_last_line_is_skipped_with_a_warning_and_the_rest_replays(
    engine: Engine, spill_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill = SpillFile(spill_path, InteractionRecord.to_dict, InteractionRecord.from_dict)
    recs = [_rec(i) for i in range(3)]
    spill.append([spill.encode(r) for r in recs])
    torn = spill.encode(_rec(3))
    with open(spill_path, "ab") as fh:  # the process died halfway through this append
        fh.write(torn[: len(torn) // 2])

    with caplog.at_level(logging.WARNING, logger="cerebra.spill"):
        ledger = _ledger(engine, spill_path)
        assert ledger.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in recs)
    assert any("torn" in r.getMessage() for r in caplog.records)
    assert spill_path.read_bytes() == b""
    kept = [unframe(line) for line in _lines(spill.rejected_path)]
    assert len(kept) == 1 and kept[0]["raw"] == torn[: len(torn) // 2].decode()
    ledger.close()


def test_an_append_after_a_torn_line_is_not_glued_to_it(spill_path: Path) -> None:
    spill = SpillFile(spill_path, InteractionRecord.to_dict, InteractionRecord.from_dict)
    first, second = _rec(1), _rec(2)
    spill.append([spill.encode(first)])
    with open(spill_path, "ab") as fh:
        fh.write(b"0badc0de {\"record\": {\"trace")
    spill.append([spill.encode(second)])
    records, bad = spill.read()
    assert [r.trace_id for r in records] == [first.trace_id, second.trace_id]
    assert len(bad) == 1
    # damage in the middle of the file is caught by the checksum too
    lines = _lines(spill_path)
    lines[0] = lines[0].replace(b"prompt 1", b"prompt X")
    spill_path.write_bytes(b"\n".join(lines) + b"\n")
    records, bad = spill.read()
    assert [r.trace_id for r in records] == [second.trace_id]
    assert len(bad) == 2


def test_one_permanently_bad_row_does_not_sink_its_batch(
    engine: Engine, spill_path: Path
) -> None:
    good = [_rec(i) for i in range(4)]
    bad = _rec(9, tenant_id="no-such-tenant")  # a foreign key the database refuses for good
    # one batch of exactly these five rows (it fills before the long interval ends)
    ledger = _ledger(engine, spill_path, batch_size=5, interval_s=600)
    for rec in [*good[:2], bad, *good[2:]]:
        ledger.record(rec)
    assert ledger.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in good)
    stats = ledger.stats()
    assert (stats.written, stats.rejected, stats.spilled, stats.dropped) == (4, 1, 0, 0)
    assert stats.retried == 0  # a constraint is not worth retrying
    kept = [unframe(line) for line in _lines(spill_path.with_name("ledger.rejected.jsonl"))]
    assert len(kept) == 1
    assert kept[0]["record"]["trace_id"] == bad.trace_id
    assert "FOREIGN KEY" in kept[0]["error"]
    ledger.close()
    # the rejected row is set aside, not replayed at the next start
    again = _ledger(engine, spill_path)
    assert again.flush()
    assert again.stats().replayed == 0
    assert len(_trace_ids(engine)) == 4
    again.close()


def test_a_bad_row_in_the_spill_file_is_set_aside_and_the_rest_replays(
    engine: Engine, spill_path: Path
) -> None:
    spill = SpillFile(spill_path, InteractionRecord.to_dict, InteractionRecord.from_dict)
    good = [_rec(i) for i in range(3)]
    bad = _rec(9, tenant_id="no-such-tenant")
    spill.append([spill.encode(r) for r in [good[0], bad, *good[1:]]])
    ledger = _ledger(engine, spill_path, batch_size=10)
    assert ledger.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in good)
    stats = ledger.stats()
    assert (stats.replayed, stats.rejected, stats.dropped) == (3, 1, 0)
    assert spill_path.read_bytes() == b""
    kept = [unframe(line) for line in _lines(spill.rejected_path)]
    assert [k["record"]["trace_id"] for k in kept] == [bad.trace_id]
    ledger.close()


def test_close_spills_what_the_database_has_not_taken(
    engine: Engine, spill_path: Path
) -> None:
    faults = FailingInserts(engine)
    faults.down = True
    in_backoff = threading.Event()
    ledger: Ledger

    def backoff(delay: float) -> None:  # wait as the default does: until close() gives up
        in_backoff.set()
        ledger.writer.closing.wait()

    ledger = _ledger(engine, spill_path, retries=1000, sleep=backoff)
    first = _rec(0)
    ledger.record(first)
    assert in_backoff.wait(30)
    rest = [_rec(i) for i in range(1, 4)]
    for rec in rest:
        ledger.record(rec)
    assert not ledger.flush(timeout=0)  # the writer is stuck on a database that is down
    ledger.close(timeout=0)
    assert ledger.stats().spilled == 4 and ledger.dropped == 0
    faults.remove()
    again = _ledger(engine, spill_path)
    assert again.flush()
    assert sorted(_trace_ids(engine)) == sorted(r.trace_id for r in [first, *rest])
    again.close()


def test_insert_is_idempotent_by_trace_id(engine: Engine, spill_path: Path) -> None:
    ledger = _ledger(engine, spill_path)
    rec = _rec(1)
    ledger._insert([rec, rec])  # a duplicate in one batch
    ledger._insert([rec, _rec(2)])  # a retry after a commit that reported an error
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(interactions)).scalar_one() == 2
    ledger.close()


def test_frame_round_trip_and_checksum() -> None:
    line = frame({"record": {"a": 1, "b": "ü"}})
    assert line.endswith(b"\n")
    assert unframe(line[:-1]) == {"record": {"a": 1, "b": "ü"}}
    with pytest.raises(ValueError):
        unframe(line[:-1].replace(b"1", b"2"))
    with pytest.raises(ValueError):
        unframe(b"not framed")


def test_brain_spills_into_its_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"})
    brain = Brain.from_settings(settings, model=FakeModel("ok", name="fake"),
                                embedder=FakeEmbedder())
    try:
        spill = brain.ledger.writer.spill
        assert spill is not None
        assert spill.path == settings.home / "spill" / "ledger.jsonl"
    finally:
        brain.close()
