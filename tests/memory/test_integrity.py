"""Integrity verify and repair on SQLite and PostgreSQL: a deleted vector, a missing
full-text entry and an orphan (or unreachable) vector are each named by `verify`, and after
`repair` the memory is found again by full text and by vector and `verify` passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cerebra.errors import InvalidInput
from cerebra.memory.base import MemoryBackend, Scope
from cerebra.memory.integrity import repair, verify
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import make_backend

NOTES = ("Alice keeps the green tea in the blue tin",
         "Bob parks his bicycle behind the library",
         "The quarterly report is due on Friday")
SQL_BACKENDS = ["sqlite", "sqlite-faiss", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=SQL_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    backend = make_backend(request.param, tmp_path, request)
    made = MemoryStore(backend, FakeEmbedder())
    yield made
    backend.close()


def _ids(store: MemoryStore) -> list[str]:
    return store.add_many("a", list(NOTES))


def _sql(store: MemoryStore, statement: str, **params: object) -> None:
    with store.backend.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(statement), params)


def _found_by_vector(store: MemoryStore, uid: str) -> bool:
    memory = store.get(uid)
    assert memory is not None
    vector = store.embedder.embed([memory.text])[0]
    hits = store.backend.vector_candidates(Scope(agent_id="a"), vector, 3)
    return memory.row_id in {c.row_id for c in hits}


def _found_by_text(store: MemoryStore, uid: str) -> bool:
    memory = store.get(uid)
    assert memory is not None
    hits = store.backend.text_candidates(Scope(agent_id="a"), terms(memory.text), 3)
    return memory.row_id in {c.row_id for c in hits}


def _kinds(backend: MemoryBackend, uid: str) -> set[str]:
    report = verify(backend, FakeEmbedder())
    return {p.kind for p in report.problems if p.memory_id == uid}


def test_a_healthy_store_verifies(store: MemoryStore) -> None:
    _ids(store)
    report = verify(store.backend, store.embedder)
    assert report.ok and report.rows == 3, report.to_dict()
    assert report.checks == ["memory", "graph", "facts", "passages"]


def test_deleted_vector_is_named_and_restored(store: MemoryStore) -> None:
    uid = _ids(store)[1]
    column = "embedding_vec" if store.backend.name == "postgres" else "embedding"
    _sql(store, f"UPDATE memories SET {column} = NULL WHERE uid = :u", u=uid)
    assert "missing_vector" in _kinds(store.backend, uid)
    assert not verify(store.backend).ok  # named even without an embedder
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok, fixed.to_dict()
    assert fixed.repaired["memory"] >= 1
    assert _found_by_vector(store, uid)
    assert verify(store.backend, store.embedder).ok


def test_wrong_dimension_is_re_embedded(store: MemoryStore) -> None:
    uid = _ids(store)[0]
    other = MemoryStore(store.backend, FakeEmbedder(dimension=16))
    other.update(uid, text=NOTES[0] + " today")  # re-embedded by another embedder
    assert _kinds(store.backend, uid) == {"wrong_dimension"}
    assert repair(store.backend, store.embedder).ok
    assert _found_by_vector(store, uid)


def test_missing_full_text_is_named_and_reindexed(store: MemoryStore) -> None:
    uid = _ids(store)[2]
    row = store.get(uid)
    assert row is not None
    if store.backend.name != "postgres":
        _sql(store, "DELETE FROM memories_fts WHERE rowid = :i", i=row.row_id)
    else:
        _sql(store, "UPDATE memories SET terms = '' WHERE id = :i", i=row.row_id)
    assert not _found_by_text(store, uid)
    report = verify(store.backend, store.embedder)
    assert {p.kind for p in report.problems if p.memory_id == uid} == {"missing_text"}
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok, fixed.to_dict()
    assert _found_by_text(store, uid)


def test_stale_full_text_is_reindexed(store: MemoryStore) -> None:
    uid = _ids(store)[0]
    row = store.get(uid)
    assert row is not None
    if store.backend.name != "postgres":
        _sql(store, "UPDATE memories_fts SET terms = 'unrelated' WHERE rowid = :i", i=row.row_id)
    else:
        _sql(store, "UPDATE memories SET terms = 'unrelated' WHERE id = :i", i=row.row_id)
    assert "stale_text" in _kinds(store.backend, uid)
    assert repair(store.backend, store.embedder).ok
    assert _found_by_text(store, uid)


@pytest.mark.parametrize("kind", ["sqlite", "sqlite-faiss"])
def test_orphan_vector_and_text_are_dropped(kind: str, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    store = MemoryStore(make_backend(kind, tmp_path, request), FakeEmbedder())
    uids = _ids(store)
    gone = store.get(uids[1])
    assert gone is not None
    store.backend.vector_candidates(Scope(agent_id="a"), store.embedder.embed(["x"])[0], 1)
    _sql(store, "DELETE FROM memories WHERE id = :i", i=gone.row_id)  # behind the index's back
    report = verify(store.backend, store.embedder)
    orphans = {(p.kind, p.row_id) for p in report.problems}
    assert ("orphan_vector", gone.row_id) in orphans and ("orphan_text", gone.row_id) in orphans
    assert "term_stats" in {p.kind for p in report.problems}  # the row is still counted
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok, fixed.to_dict()
    vector = store.embedder.embed([NOTES[1]])[0]
    found = store.backend.vector_candidates(Scope(agent_id="a"), vector, 3)
    assert gone.row_id not in {c.row_id for c in found} and len(found) == 2
    store.backend.close()


def test_vector_missing_from_the_sqlite_index_is_requeued(tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    store = MemoryStore(make_backend("sqlite", tmp_path, request), FakeEmbedder())
    uid = _ids(store)[0]
    row = store.get(uid)
    assert row is not None
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        index = store.backend.vector_index(64, conn)  # type: ignore[attr-defined]
    import numpy as np

    keys = np.asarray([row.row_id], dtype=np.int64)
    index.index.remove(keys.astype(np.uint64))
    index.mirror.remove(keys)
    assert not _found_by_vector(store, uid)
    assert _kinds(store.backend, uid) == {"unindexed_vector"}
    assert repair(store.backend, store.embedder).ok
    assert _found_by_vector(store, uid)
    store.backend.close()


@pytest.mark.postgres
def test_unreachable_postgres_vector_is_named_and_fixed(tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    """PostgreSQL keeps each vector in its row (no orphan can exist); a vector whose
    `embedding_dim` disagrees is the index's orphan: stored, never found."""
    store = MemoryStore(make_backend("postgres", tmp_path, request), FakeEmbedder())
    uid = _ids(store)[1]
    _sql(store, "UPDATE memories SET embedding_dim = NULL WHERE uid = :u", u=uid)
    assert not _found_by_vector(store, uid)
    assert _kinds(store.backend, uid) == {"unindexed_vector"}
    assert repair(store.backend, store.embedder).ok
    assert _found_by_vector(store, uid)
    store.backend.close()


@pytest.mark.postgres
@pytest.mark.parametrize("damage", [
    "DELETE FROM memory_text WHERE id = :i",
    "UPDATE memory_text SET tsv = ''::tsvector WHERE id = :i",
    "UPDATE memory_text SET agent_id = 'someone-else' WHERE id = :i",
    "UPDATE memory_text SET expires_at = 1 WHERE id = :i",
])
def test_postgres_full_text_mirror_is_named_and_rebuilt(damage: str, tmp_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    """Searches rank from `memory_text`: a row missing there, or one that no longer mirrors
    the memory's terms, scope or expiry, hides the memory from full text until repaired."""
    store = MemoryStore(make_backend("postgres", tmp_path, request), FakeEmbedder())
    uid = _ids(store)[2]
    row = store.get(uid)
    assert row is not None and _found_by_text(store, uid)
    _sql(store, damage, i=row.row_id)
    assert not _found_by_text(store, uid)
    assert store.backend.integrity()["missing_text"] == 1
    assert _kinds(store.backend, uid) == {"missing_text"}
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok, fixed.to_dict()
    assert _found_by_text(store, uid)
    assert store.backend.integrity()["missing_text"] == 0
    store.backend.close()


@pytest.mark.postgres
def test_postgres_full_text_mirror_follows_every_write(tmp_path: Path,
                                                       request: pytest.FixtureRequest) -> None:
    """The trigger copies inserts and changes of text into `memory_text` in the same
    transaction, and a deleted memory's row goes with it."""
    store = MemoryStore(make_backend("postgres", tmp_path, request), FakeEmbedder())
    uids = _ids(store)

    def mirrored() -> dict[int, str]:
        with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
            return {int(r[0]): str(r[1]) for r in conn.execute(text(
                "SELECT x.id, x.tsv::text FROM memory_text x JOIN memories m ON m.id = x.id "
                "WHERE x.tsv = m.tsv AND x.agent_id = m.agent_id"))}

    assert len(mirrored()) == 3
    store.update(uids[0], text="Alice moved the green tea to the kitchen shelf")
    row = store.get(uids[0])
    assert row is not None and "kitchen" in mirrored()[row.row_id]
    assert _found_by_text(store, uids[0])
    store.delete(uids[1])
    assert len(mirrored()) == 2
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT count(*) FROM memory_text")).scalar_one() == 2
    assert verify(store.backend, store.embedder).ok
    store.backend.close()


def test_report_serialises_each_problem(store: MemoryStore) -> None:
    uid = _ids(store)[0]
    column = "embedding_vec" if store.backend.name == "postgres" else "embedding"
    _sql(store, f"UPDATE memories SET {column} = NULL WHERE uid = :u", u=uid)
    data = verify(store.backend, store.embedder).to_dict()
    assert data["ok"] is False and data["counts"]["missing_vector"] == 1
    assert any(p["memory_id"] == uid and p["kind"] == "missing_vector" for p in data["problems"])


def test_a_backend_no_check_covers_is_refused(tmp_path: Path,
                                              request: pytest.FixtureRequest) -> None:
    backend = make_backend("tinydb", tmp_path, request)
    with pytest.raises(InvalidInput, match="no integrity checks cover the tinydb"):
        verify(backend, FakeEmbedder())
    backend.close()


def _entities(store: MemoryStore, uid: str) -> set[str]:
    row = store.get(uid)
    assert row is not None
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        return set(conn.execute(text("SELECT entity FROM memory_mentions WHERE memory_id = :i"),
                                {"i": row.row_id}).scalars())


def test_missing_and_stale_graph_are_rewritten_from_the_text(store: MemoryStore) -> None:
    uids = _ids(store)
    before = _entities(store, uids[0])
    assert "alice" in before
    for table in ("memory_mentions", "memory_relations"):
        _sql(store, f"DELETE FROM {table} WHERE memory_id = (SELECT id FROM memories "
             "WHERE uid = :u)", u=uids[0])
    _sql(store, "UPDATE memory_mentions SET entity = 'nobody' WHERE memory_id = (SELECT id "
         "FROM memories WHERE uid = :u) AND entity = 'bob'", u=uids[1])
    report = verify(store.backend, store.embedder)
    named = {(p.check, p.kind, p.memory_id) for p in report.problems}
    assert named == {("graph", "missing_graph", uids[0]), ("graph", "stale_graph", uids[1])}
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok and fixed.repaired == {"graph": 2}, fixed.to_dict()
    assert _entities(store, uids[0]) == before and "bob" in _entities(store, uids[1])


def test_graph_rows_of_a_deleted_memory_are_dropped(tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    store = MemoryStore(make_backend("sqlite", tmp_path, request), FakeEmbedder())
    gone = store.get(_ids(store)[0])
    assert gone is not None
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as an old or foreign writer might
        conn.execute(text("DELETE FROM memories WHERE id = :i"), {"i": gone.row_id})
        conn.commit()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    report = verify(store.backend, store.embedder)
    assert ("orphan_graph", gone.row_id) in {(p.kind, p.row_id) for p in report.problems}
    assert repair(store.backend, store.embedder).ok
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT count(*) FROM memory_mentions WHERE memory_id = :i"),
                            {"i": gone.row_id}).scalar_one() == 0
    store.backend.close()
