"""Passage vectors of long memories (cerebra.memory.passages) on SQLite and PostgreSQL: a
long memory is found by a passage deep inside it that its whole-text vector misses; its
passages are written with it, replaced by a text edit, dropped by a delete, filled by
write-behind, checked and rebuilt by integrity repair; migration 0033 adds and removes the
table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from cerebra.bench.signals import DENSE
from cerebra.db import make_engine, upgrade
from cerebra.db.migrate import alembic_config, downgrade
from cerebra.memory.base import MemoryBackend
from cerebra.memory.integrity import repair, verify
from cerebra.memory.passages import LONG_WORDS, STRIDE_WORDS, WINDOW_WORDS, passage_texts
from cerebra.memory.retrieval import hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms
from cerebra.memory.write_behind import enable_write_behind
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import make_backend

NEEDLE = "the spare key hides under the blue flowerpot near the garden gate"
QUERY = "where does the spare key hide, under which flowerpot by the garden gate?"


def long_text(needle_at: int = 200, words: int = 320) -> str:
    filler = [f"filler{i % 97}" for i in range(words)]
    return " ".join([*filler[:needle_at], NEEDLE, *filler[needle_at:]])


SHORT = ["the blue car has a spare tyre", "a shed in the garden", "gate opens at nine"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    backend = make_backend(request.param, tmp_path, request)
    yield MemoryStore(backend, FakeEmbedder(dimension=256), supersession=False)
    backend.close()


def _passages(store: MemoryStore, uid: str) -> int:
    memory = store.get(uid)
    assert memory is not None
    found = store.backend.passage_vectors([memory.row_id])  # type: ignore[attr-defined]
    return 0 if memory.row_id not in found else int(found[memory.row_id].shape[0])


class NoPassages:
    """The same backend as if it stored no passages (ranking by whole-text vectors)."""

    def __init__(self, inner: MemoryBackend) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def passage_vectors(self, row_ids: list[int]) -> dict[int, object]:
        return {}


def test_windows_overlap_and_reach_the_end() -> None:
    assert passage_texts("a few words") == []
    assert passage_texts(" ".join(["w"] * LONG_WORDS)) == []
    words = [f"w{i}" for i in range(300)]
    windows = passage_texts(" ".join(words))
    assert all(len(w.split()) == WINDOW_WORDS for w in windows)
    assert windows[1].split()[0] == words[STRIDE_WORDS]
    assert windows[-1].split()[-1] == words[-1]


def test_a_deep_passage_finds_what_the_whole_vector_misses(store: MemoryStore) -> None:
    uid = store.add("a", long_text())
    store.add_many("a", SHORT)
    scope = store.scope("a")
    vector = store.embedder.embed([QUERY])[0]
    weights = replace(DENSE, candidates=10)

    def top(backend: object) -> str:
        hits = hybrid_search(backend, scope, terms(QUERY), vector, k=4,  # type: ignore[arg-type]
                             weights=weights)
        return hits[0].memory.uid

    assert _passages(store, uid) == len(passage_texts(long_text()))
    assert top(NoPassages(store.backend)) != uid  # the whole-text vector misses it
    assert top(store.backend) == uid
    assert store.search("a", QUERY, k=1)[0].memory.uid == uid  # the default ranking too


def test_passages_follow_update_and_delete(store: MemoryStore) -> None:
    uid = store.add("a", long_text())
    before = _passages(store, uid)
    assert before > 0
    store.update(uid, text=long_text(words=600))
    assert _passages(store, uid) == len(passage_texts(long_text(words=600))) > before
    store.update(uid, text="now a short note")
    assert _passages(store, uid) == 0
    store.update(uid, text=long_text())
    assert _passages(store, uid) == before
    row_id = store.get(uid).row_id  # type: ignore[union-attr]
    store.delete(uid)
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        left = conn.execute(text("SELECT count(*) FROM memory_passages WHERE memory_id = :i"),
                            {"i": row_id}).scalar_one()
    assert left == 0
    other = store.add("a", long_text(needle_at=10))
    store.delete_all("a")
    with store.backend.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(text("SELECT count(*) FROM memory_passages")).scalar_one() == 0
    assert other


def test_write_behind_fills_passages_with_the_vector(store: MemoryStore) -> None:
    backfill = enable_write_behind(store, linger_s=0.0)
    assert backfill is not None
    try:
        uid = store.add("a", long_text(), vectors_later=True)
        assert backfill.flush(10)
        assert _passages(store, uid) == len(passage_texts(long_text()))
        assert store.search("a", QUERY, k=1)[0].memory.uid == uid
    finally:
        backfill.close()


def test_integrity_names_and_rebuilds_passages(store: MemoryStore) -> None:
    uid = store.add("a", long_text())
    short = store.add("a", "a short note")
    assert verify(store.backend, store.embedder).ok
    row_id = store.get(uid).row_id  # type: ignore[union-attr]
    short_row = store.get(short).row_id  # type: ignore[union-attr]
    with store.backend.engine.begin() as conn:  # type: ignore[attr-defined]
        blob = conn.execute(text("SELECT vectors FROM memory_passages WHERE memory_id = :i"),
                            {"i": row_id}).scalar_one()
        conn.execute(text("DELETE FROM memory_passages WHERE memory_id = :i"), {"i": row_id})
        conn.execute(text("INSERT INTO memory_passages (memory_id, tenant_id, dim, count, "
                          "model, vectors) VALUES (:i, 'default', 256, 1, 'x', :v)"),
                     {"i": short_row, "v": bytes(blob)[: 256 * 2]})
    report = verify(store.backend, store.embedder)
    kinds = {(p.kind, p.memory_id or str(p.row_id)) for p in report.problems}
    assert ("missing_passages", uid) in kinds
    assert ("orphan_passages", str(short_row)) in kinds
    fixed = repair(store.backend, store.embedder)
    assert fixed.ok and fixed.repaired.get("passages") == 2
    assert _passages(store, uid) == len(passage_texts(long_text()))
    assert store.search("a", QUERY, k=1)[0].memory.uid == uid


def test_migration_0033_adds_and_removes_the_table(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    assert "memory_passages" in inspect(engine).get_table_names()
    revision = ScriptDirectory.from_config(alembic_config(engine)).get_revision("0033")
    assert revision is not None
    downgrade(engine, str(revision.down_revision))
    assert "memory_passages" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "memory_passages" in inspect(engine).get_table_names()
