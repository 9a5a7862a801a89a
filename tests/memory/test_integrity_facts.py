"""The facts-in-time integrity check on SQLite and PostgreSQL: a statement whose validity
no longer matches its timeline, one filed under another person's scope and one left by a
deleted memory are each named by `verify`, and `repair` rebuilds them so that the timeline
is again the one writes keep (the older place superseded by the newer)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cerebra.memory.integrity import repair, verify
from cerebra.memory.store import MemoryStore
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import make_backend

DAY = 86_400.0
T0 = 1_700_000_000.0
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=SQL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    backend = make_backend(request.param, tmp_path, request)
    made = MemoryStore(backend, FakeEmbedder())
    yield made
    backend.close()


def _moves(store: MemoryStore) -> tuple[str, str]:
    paris = store.add("bot", "I live in Paris", user_id="ann", created_at=T0)
    berlin = store.add("bot", "I moved to Berlin", user_id="ann", created_at=T0 + 9 * DAY)
    return paris, berlin


def _sql(store: MemoryStore, statement: str, **params: object) -> None:
    with store.backend.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(statement), params)


def _validity(store: MemoryStore, uid: str) -> list[tuple[object, ...]]:
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(text(
            "SELECT f.user_id, f.value, f.valid_from, f.valid_to, f.superseded_by, f.opens "
            "FROM memory_facts f JOIN memories m ON m.id = f.memory_id WHERE m.uid = :u "
            "ORDER BY f.id"), {"u": uid}).all()
    return [tuple(r) for r in rows]


def test_a_store_with_superseded_facts_verifies(store: MemoryStore) -> None:
    paris, berlin = _moves(store)
    report = verify(store.backend, store.embedder)
    assert "facts" in report.checks and report.ok, report.to_dict()
    assert _validity(store, paris)[0][3:5] == (T0 + 9 * DAY, berlin)  # superseded by Berlin


def test_a_broken_timeline_is_named_and_recomputed(store: MemoryStore) -> None:
    paris, _berlin = _moves(store)
    before = _validity(store, paris)
    _sql(store, "UPDATE memory_facts SET valid_to = NULL, superseded_by = NULL WHERE "
         "memory_id = (SELECT id FROM memories WHERE uid = :u)", u=paris)
    report = verify(store.backend, store.embedder)
    assert {(p.check, p.kind, p.memory_id) for p in report.problems} == {
        ("facts", "facts_timeline", paris)}
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok and fixed.repaired == {"facts": 1}, fixed.to_dict()
    assert _validity(store, paris) == before


def test_a_statement_in_the_wrong_scope_is_moved_back(store: MemoryStore) -> None:
    paris, berlin = _moves(store)
    before = _validity(store, paris)
    _sql(store, "UPDATE memory_facts SET user_id = 'mallory' WHERE memory_id = (SELECT id "
         "FROM memories WHERE uid = :u)", u=berlin)
    _sql(store, "UPDATE memory_facts SET valid_to = NULL, superseded_by = NULL WHERE "
         "memory_id = (SELECT id FROM memories WHERE uid = :u)", u=paris)  # as a recompute
    report = verify(store.backend, store.embedder)  # without Berlin in ann's timeline would
    assert {(p.kind, p.memory_id) for p in report.problems} == {("facts_scope", berlin)}
    assert repair(store.backend, store.embedder).ok
    assert _validity(store, berlin)[0][0] == "ann"
    assert _validity(store, paris) == before  # Berlin supersedes Paris again


def test_statements_of_a_deleted_memory_are_dropped(tmp_path: Path,
                                                    request: pytest.FixtureRequest) -> None:
    store = MemoryStore(make_backend("sqlite", tmp_path, request), FakeEmbedder())
    paris, berlin = _moves(store)
    gone = store.get(berlin)
    assert gone is not None
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as an old or foreign writer might
        conn.execute(text("DELETE FROM memories WHERE id = :i"), {"i": gone.row_id})
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    report = verify(store.backend, store.embedder)
    assert ("orphan_facts", gone.row_id) in {(p.kind, p.row_id) for p in report.problems}
    assert repair(store.backend, store.embedder).ok
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT count(*) FROM memory_facts WHERE memory_id = :i"),
                            {"i": gone.row_id}).scalar_one() == 0
    assert _validity(store, paris)[0][3:5] == (None, None)  # current again
    store.backend.close()
