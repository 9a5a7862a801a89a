"""The cost rollups stay equal to a direct GROUP BY over the interactions — written by the
ledger's batches, with feedback given afterwards, after a batch is written twice (a retry
after a commit that reported an error) and after the spill file is replayed with rows that
are already in — on SQLite and PostgreSQL; and the migration backfills them."""

from __future__ import annotations

import time
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, text

from cerebra.db.engine import make_engine
from cerebra.db.migrate import alembic_config, upgrade
from cerebra.db.schema import interactions, tenants
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.observability.spill import SpillFile
from tests.observability.costs_world import direct, records, rolled

TENANTS = ("default", "acme")


def _tenants(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(tenants), [{"id": "acme", "name": "acme",
                                        "created_at": time.time()}])


def test_rollups_equal_a_direct_aggregate(sql_engine: Engine) -> None:
    _tenants(sql_engine)
    ledger = Ledger(sql_engine, batch_size=37)
    recs = records(500, seed=1, tenants=TENANTS)
    for rec in recs:
        ledger.record(rec)
    assert ledger.flush()
    for i, rec in enumerate(recs[:120]):  # feedback arrives later, once each
        assert ledger.set_feedback(rec.trace_id, (i % 5) / 4, None, rec.tenant_id)
    assert not ledger.set_feedback(recs[0].trace_id, 1.0, None, recs[0].tenant_id)
    ledger.close()
    want = direct(sql_engine)
    assert len(want) > 40
    assert rolled(sql_engine) == want
    assert {k[2] for k in want} == {"total", "model", "key", "user", "agent"}


def test_a_batch_written_twice_counts_once(sql_engine: Engine) -> None:
    ledger = Ledger(sql_engine)
    batch = records(50, seed=2)
    ledger._insert(batch)
    ledger._insert(batch[:30] + records(10, seed=3))  # the retry, with new rows after it
    assert rolled(sql_engine) == direct(sql_engine)
    with sql_engine.connect() as conn:
        assert conn.execute(text("SELECT SUM(requests) FROM cost_rollups WHERE dim = 'total'")
                            ).scalar() == 60
    ledger.close()


def test_spill_replay_does_not_double_count(sql_engine: Engine, tmp_path: Path) -> None:
    spill_path = tmp_path / "spill" / "ledger.jsonl"
    first = Ledger(sql_engine)
    written = records(80, seed=4)
    first._insert(written[:50])  # these made it to the database; the spill holds them too
    first.close()
    spill = SpillFile(spill_path, InteractionRecord.to_dict, InteractionRecord.from_dict)
    spill.append([spill.encode(r) for r in written])
    replaying = Ledger(sql_engine, spill_path=spill_path)  # replays on start
    assert replaying.flush()
    assert replaying.stats().replayed == 80
    replaying.close()
    assert rolled(sql_engine) == direct(sql_engine)
    with sql_engine.connect() as conn:
        assert conn.execute(text("SELECT SUM(requests) FROM cost_rollups WHERE dim = 'model'")
                            ).scalar() == 80


def test_the_migration_backfills_the_rollups(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    script = ScriptDirectory.from_config(alembic_config(engine))
    before = script.get_revision("0029").down_revision
    assert isinstance(before, str)
    upgrade(engine, before)
    _tenants(engine)
    rows = [r.to_dict() for r in records(300, seed=5, tenants=TENANTS)]
    with engine.begin() as conn:
        conn.execute(insert(interactions), rows)
        conn.execute(text("UPDATE interactions SET quality = 0.5 WHERE id % 3 = 0"))
    upgrade(engine)
    want = direct(engine)
    assert len(want) > 40 and rolled(engine) == want
    engine.dispose()


def test_two_writers_at_once_keep_the_rollups_exact(sql_engine: Engine) -> None:
    """Two ledgers (two servers) writing the same rollup rows concurrently: the upserts
    serialise on the rows (taken in key order: no deadlock) and nothing is lost."""
    first, second = Ledger(sql_engine, batch_size=25), Ledger(sql_engine, batch_size=25)
    now = time.time()
    for i, rec in enumerate(records(400, seed=6, days=0.01, start=now)):
        (first if i % 2 else second).record(rec)
    assert first.flush() and second.flush()
    first.close()
    second.close()
    assert rolled(sql_engine) == direct(sql_engine)
    with sql_engine.connect() as conn:
        assert conn.execute(text("SELECT SUM(requests) FROM cost_rollups WHERE dim = 'user'")
                            ).scalar() == 400
