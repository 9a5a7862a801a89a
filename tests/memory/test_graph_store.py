"""The memory graph on SQLite and a real PostgreSQL: written in the memory's transaction,
kept right by updates, merges and deletes, scoped, and read by retrieval's graph view."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cerebra.errors import InvalidInput, NotFound
from cerebra.memory import MemoryStore
from cerebra.memory.base import Scope
from cerebra.memory.graph import MemoryGraph
from cerebra.memory.retrieval import RetrievalWeights
from cerebra.memory.sqlbase import SQLMemoryBackend
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import make_backend


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    backend = make_backend(request.param, tmp_path, request)
    yield MemoryStore(backend, FakeEmbedder())
    backend.close()


def _graph(store: MemoryStore) -> MemoryGraph:
    assert isinstance(store.backend, SQLMemoryBackend)
    return store.backend.memory_graph()


def _rows(store: MemoryStore, table: str) -> int:
    assert isinstance(store.backend, SQLMemoryBackend)
    with store.backend.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _keys(store: MemoryStore, scope: Scope, **kw: Any) -> dict[str, int]:
    return {e["key"]: e["memories"] for e in _graph(store).entities(scope, **kw)}


def test_written_with_the_memory_and_read_by_scope(store: MemoryStore) -> None:
    store.add("a", "Caroline's dog Bo loves the beach in Sweden.", user_id="u1")
    store.add("a", "Caroline Smith moved to Sweden in May 2023.", user_id="u1")
    store.add("a", "Bob works at Acme Corp.", user_id="u2")
    mine = store.scope("a", user_id="u1")
    keys = _keys(store, mine)
    assert keys["sweden"] == 2 and keys["caroline smith"] == 1 and "acme corp" not in keys
    found = _graph(store).entity(mine, "Caroline Smith")
    assert found["aliases"] == ["caroline"] and len(found["memory_ids"]) == 2
    assert {n["key"] for n in found["neighbours"]} >= {"sweden", "bo", "2023-05"}
    assert {(r["subject"], r["predicate"], r["object"]) for r in found["relations"]} >= {
        ("caroline smith", "moved to", "sweden")
    }
    assert _graph(store).path(mine, "Bo", "May 2023") == ["bo", "sweden", "2023-05"]
    with pytest.raises(NotFound):
        _graph(store).entity(mine, "Acme Corp")  # another user's entity
    with pytest.raises(NotFound):
        _graph(store).entity(Scope("other-tenant"), "Sweden")
    with pytest.raises(InvalidInput):
        _graph(store).path(mine, "Bo", "Sweden", max_hops=0)


def test_update_merge_and_delete_keep_the_graph_right(store: MemoryStore) -> None:
    scope = store.scope("a")
    uid = store.add("a", "My friend Dana lives in Paris.")
    keep = store.add("a", "I heard Evan visited Paris.")
    store.update(uid, text="My friend Dana lives in Berlin.")
    keys = _keys(store, scope)
    assert keys["paris"] == 1 and keys["berlin"] == 1 and keys["dana"] == 1
    store.update(uid, tags=["moved"])  # no text change: graph untouched
    assert _keys(store, scope)["berlin"] == 1
    store.delete(uid)
    assert set(_keys(store, scope)) == {"evan", "paris"}
    store.delete_all("a")
    assert _keys(store, scope) == {} and _rows(store, "memory_mentions") == 0
    assert _rows(store, "memory_relations") == 0 and keep


def test_sentence_openers_count_once_the_tenant_names_them(store: MemoryStore) -> None:
    scope = store.scope("a")
    store.add("a", "Painting is fun.")
    store.add("a", "Ivy went to Oslo.")
    assert set(_keys(store, scope)) == {"oslo"}  # "Painting", "Ivy": unconfirmed openers
    store.add("a", "Yesterday I called Ivy.")  # a name now: the earlier opener counts
    assert _keys(store, scope) == {"oslo": 1, "ivy": 2}
    store.add("a", "Ivy loves jazz.")  # confirmed when written
    assert _keys(store, scope)["ivy"] == 3 and "painting" not in _keys(store, scope)


def test_a_failed_batch_leaves_no_graph(store: MemoryStore, monkeypatch: Any) -> None:
    backend = store.backend
    assert isinstance(backend, SQLMemoryBackend)
    calls = {"n": 0}
    original = backend._write_tags

    def failing(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        original(*args)

    monkeypatch.setattr(backend, "_write_tags", failing)
    with pytest.raises(RuntimeError):
        store.add_many("a", ["Frank met Grace in Rome.", "Grace flew to Lima."])
    assert store.count() == 0 and _rows(store, "memory_mentions") == 0


def test_expansion_reaches_a_memory_no_pool_found(store: MemoryStore) -> None:
    store.add("a", "Hannah adopted a greyhound named Quixote.")
    store.add("a", "Quixote won the Brighton race.")
    for i in range(30):
        store.add("a", f"note {i} about the quarterly budget spreadsheet")
    plain = RetrievalWeights(candidates=2, graph_hop=0.0)
    graph = replace(plain, graph_hop=0.5, graph_entity=0.2)
    query = "Which dog did Hannah adopt?"

    def texts(weights: RetrievalWeights) -> list[str]:
        store.weights = weights
        return [h.memory.text for h in store.search("a", query, k=3)]

    assert "Quixote won the Brighton race." not in texts(plain)
    hits = texts(graph)
    assert hits[0].startswith("Hannah") and "Quixote won the Brighton race." in hits
    store.weights = graph
    explained = store.search("a", query, k=3, explain=True)
    assert any("graph_hop" in h.signals for h in explained)
    # with a tag filter nothing is brought in from outside the pools
    assert all("Brighton" not in h.memory.text for h in store.search("a", query, k=3, tags=["x"]))


def test_the_graph_is_there_after_a_restart(tmp_path: Path) -> None:
    from cerebra.memory.sqlite import SQLiteBackend

    path = str(tmp_path / "m.db")
    first = MemoryStore(SQLiteBackend(path), FakeEmbedder())
    first.add("a", "I met Olga in Kyiv.")
    first.backend.close()  # a new process on the same file
    again = MemoryStore(SQLiteBackend(path), FakeEmbedder())
    try:
        assert _keys(again, again.scope("a")) == {"olga": 1, "kyiv": 1}
    finally:
        again.backend.close()
