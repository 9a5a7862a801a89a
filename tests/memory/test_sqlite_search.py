"""SQLite's one-connection search path gives what the protocol's separate calls give.

`SQLiteBackend.search_candidates` (cerebra.memory.sqlite_search) shortcuts the candidate
queries: pools cut before the scope check, rows and indexed terms read in one query,
statistics on the same connection. Here the shortcut is forced on a small store (HNSW path
and term budget on, or the exact path of small stores) and compared with
`gather_candidates`, which uses text_candidates, vector_candidates, term_stats and fetch
one by one, across scopes, tags, filters and expired rows.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cerebra.memory import MemoryStore, SQLiteBackend, sqlite_search
from cerebra.memory.base import MemoryBackend, Scope
from cerebra.memory.filters import parse_filter
from cerebra.memory.retrieval import gather_candidates
from cerebra.memory.text import terms
from cerebra.testing import FakeEmbedder

WORDS = ["river", "garden", "piano", "violin", "market"]
WORDS += ["harbour", "winter", "summer", "lantern", "meadow"]


@pytest.fixture(params=["hnsw", "exact"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> MemoryStore:
    # "exact": the store's vectors are scored exactly (a store of at most EXACT_MAX), where
    # scopes of at least half the store take the whole store's best and check their scope
    monkeypatch.setattr(sqlite_search, "EXACT_MAX", 30 if request.param == "hnsw" else 10_000)
    monkeypatch.setattr(sqlite_search, "TEXT_BUDGET_FROM_DOCS", 50)
    monkeypatch.setattr(sqlite_search, "TEXT_POSTINGS_BUDGET", 40)
    store = MemoryStore(SQLiteBackend(str(tmp_path / "m.db")), FakeEmbedder())
    for n in range(240):
        words = [WORDS[(n * k) % len(WORDS)] for k in (1, 3, 7)]
        store.add(
            "big" if n % 8 else "small",
            f"note {n}: the {words[0]} and the {words[1]} near the {words[2]}",
            user_id=f"u{n % 3}",
            tags=["even"] if n % 2 == 0 else [],
            metadata={"n": n},
            ttl=1 if n % 17 == 0 else None,
        )
    return store


def _same(backend: MemoryBackend, scope: Scope, query: str, limit: int, **kw: object) -> None:
    q_terms = terms(query)
    vector = FakeEmbedder().embed([query])[0]
    tags = kw.get("tags", ())
    where = kw.get("where")
    fast = backend.search_candidates(  # type: ignore[attr-defined]
        scope, q_terms, vector, limit, tags, where
    )
    view: MemoryBackend = backend
    if where is not None:
        from cerebra.memory.filtered import _Filtered

        view = _Filtered(backend, where)  # type: ignore[assignment]
    slow = gather_candidates(view, scope, q_terms, vector, limit, tags)  # type: ignore[arg-type]
    assert [c.row_id for c in fast.text] == [c.row_id for c in slow.text]
    assert [c.row_id for c in fast.vector] == [c.row_id for c in slow.vector]
    assert fast.memories == slow.memories
    assert fast.stats is not None and slow.stats is not None
    assert (fast.stats.docs, dict(fast.stats.df)) == (slow.stats.docs, dict(slow.stats.df))
    assert fast.stats.avg_len == pytest.approx(slow.stats.avg_len)
    assert {k: list(v) for k, v in fast.stats.doc_terms.items()} == {
        k: list(v) for k, v in slow.stats.doc_terms.items()
    }


@pytest.mark.parametrize("limit", [5, 20, 80])
def test_fast_path_matches_protocol_path(
    store: MemoryStore, limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = store.backend
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)  # some rows have expired
    queries = ["the river and the piano", "winter lantern", "meadow", "note 7 harbour market"]
    for query in queries:
        _same(backend, store.scope("big"), query, limit)
        _same(backend, store.scope("small"), query, limit)  # a small scope in a large store
        _same(backend, store.scope(None, user_id="u1"), query, limit)
        _same(backend, store.scope("big"), query, limit, tags=("even",))
        _same(backend, store.scope(None), query, limit, where=parse_filter({"n": {"lt": 30}}))
    hits = store.search("small", "the river and the piano", k=5)
    assert hits and all(h.memory.agent_id == "small" for h in hits)
    assert all(h.memory.expires_at is None for h in hits)  # expired rows are never returned
