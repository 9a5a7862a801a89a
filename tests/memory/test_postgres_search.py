"""PostgreSQL's one-statement search path gives what the protocol's separate calls give.

`PostgresBackend.search_candidates` (cerebra.memory.postgres_search) answers both candidate
pools, their rows and the scope's BM25 statistics in one statement. Here it is compared with
`gather_candidates`, which uses text_candidates, vector_candidates, term_stats and fetch one
by one, across scopes, tags, metadata filters, expired rows and the rarest-terms budget of
large scopes (forced on a small store), and searched through the store end to end.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cerebra.memory import MemoryStore, postgres
from cerebra.memory.base import Candidate, MemoryBackend, Scope
from cerebra.memory.filtered import filtered
from cerebra.memory.filters import parse_filter
from cerebra.memory.postgres import PostgresBackend
from cerebra.memory.retrieval import gather_candidates
from cerebra.memory.text import terms
from cerebra.testing import FakeEmbedder

pytestmark = pytest.mark.postgres

WORDS = ["river", "garden", "piano", "violin", "market"]
WORDS += ["harbour", "winter", "summer", "lantern", "meadow"]


@pytest.fixture
def store(pg_url: str) -> Iterator[MemoryStore]:
    store = MemoryStore(PostgresBackend(pg_url), FakeEmbedder())
    for n in range(120):
        words = [WORDS[(n * k) % len(WORDS)] for k in (1, 3, 7)]
        store.add(
            "big" if n % 8 else "small",
            f"note {n}: the {words[0]} and the {words[1]} near the {words[2]}",
            user_id=f"u{n % 3}",
            tags=["even"] if n % 2 == 0 else [],
            metadata={"n": n},
            ttl=1 if n % 17 == 0 else None,
        )
    yield store
    store.backend.engine.dispose()  # type: ignore[attr-defined]


def _same_pool(fast: list[Candidate], slow: list[Candidate], query: str) -> set[int]:
    """The same scores in the same order, and the same rows at each score; rows of exactly
    equal score come in no defined order, and where such a tie is cut by the limit (the
    lowest score in the pool) either path may keep any of them. Returns the rows that may
    differ so (that tie's, from both pools)."""
    assert [c.score for c in fast] == pytest.approx([c.score for c in slow]), query

    def groups(pool: list[Candidate]) -> dict[float, set[int]]:
        out: dict[float, set[int]] = {}
        for c in pool:
            out.setdefault(round(c.score, 6), set()).add(c.row_id)
        return out

    got, want = groups(fast), groups(slow)
    assert got.keys() == want.keys(), query
    lowest = min(want, default=None)
    for score, rows in want.items():
        if score != lowest:
            assert got[score] == rows, query
        else:
            assert len(got[score]) == len(rows), query
    return set() if lowest is None else got[lowest] ^ want[lowest]


def _same(backend: PostgresBackend, scope: Scope, query: str, limit: int, **kw: object) -> None:
    q_terms = terms(query)
    vector = FakeEmbedder().embed([query])[0]
    tags: tuple[str, ...] = kw.get("tags", ())  # type: ignore[assignment]
    where = kw.get("where")
    fast = backend.search_candidates(scope, q_terms, vector, limit, tags, where)  # type: ignore[arg-type]
    view: MemoryBackend = filtered(backend, where)  # type: ignore[arg-type]
    slow = gather_candidates(view, scope, q_terms, vector, limit, tags)
    loose = _same_pool(fast.text, slow.text, query) | _same_pool(fast.vector, slow.vector, query)
    shared = fast.memories.keys() & slow.memories.keys()
    assert (fast.memories.keys() | slow.memories.keys()) - shared <= loose, query
    assert {i: fast.memories[i] for i in shared} == {i: slow.memories[i] for i in shared}
    if not q_terms:
        assert fast.stats is None and slow.stats is None
        return
    assert fast.stats is not None and slow.stats is not None
    assert (fast.stats.docs, dict(fast.stats.df)) == (slow.stats.docs, dict(slow.stats.df))
    assert fast.stats.avg_len == pytest.approx(slow.stats.avg_len)
    assert {k: list(v) for k, v in fast.stats.doc_terms.items() if k in shared} == {
        k: list(v) for k, v in slow.stats.doc_terms.items() if k in shared
    }
    assert set(fast.stats.doc_terms) - shared <= loose


@pytest.mark.parametrize("budget", [False, True])
@pytest.mark.parametrize("limit", [5, 40])
def test_one_statement_matches_protocol_path(
    store: MemoryStore, limit: int, budget: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if budget:  # the rarest-terms cut of large scopes, on this small one
        monkeypatch.setattr(postgres, "TEXT_BUDGET_FROM_DOCS", 20)
        monkeypatch.setattr(postgres, "TEXT_POSTINGS_BUDGET", 30)
    backend = store.backend
    assert isinstance(backend, PostgresBackend)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)  # some rows have expired
    queries = ["the river and the piano", "winter lantern", "meadow", "note 7 harbour market",
               "o'brien's \\ piano", ""]
    for query in queries:
        _same(backend, store.scope("big"), query, limit)
        _same(backend, store.scope("small"), query, limit)  # a small scope in a large store
        _same(backend, store.scope(None, user_id="u1"), query, limit)
        _same(backend, store.scope("big"), query, limit, tags=("even",))
        _same(backend, store.scope(None), query, limit, where=parse_filter({"n": {"lt": 30}}))
    hits = store.search("small", "the river and the piano", k=5)
    assert hits and all(h.memory.agent_id == "small" for h in hits)
    assert all(h.memory.expires_at is None for h in hits)  # expired rows are never returned


def test_search_is_one_statement(store: MemoryStore) -> None:
    """One search, one statement to the server (after the connection's one-time settings)."""
    from sqlalchemy import event

    backend = store.backend
    assert isinstance(backend, PostgresBackend)
    store.search("big", "the river", k=5)  # the pooled connection gets its settings
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(backend.engine, "before_cursor_execute", count)
    try:
        hits = store.search("big", "the river and the piano", k=5)
    finally:
        event.remove(backend.engine, "before_cursor_execute", count)
    assert hits
    searches = [s for s in seen if "ts_rank" in s or "<#>" in s]
    assert len(searches) == 1, seen
    backend.one_statement = False  # the protocol path, for comparison: several statements
    seen.clear()
    event.listen(backend.engine, "before_cursor_execute", count)
    try:
        slow = store.search("big", "the river and the piano", k=5)
    finally:
        event.remove(backend.engine, "before_cursor_execute", count)
    assert [h.memory.uid for h in slow] == [h.memory.uid for h in hits]
    assert len(seen) > 3, seen


def test_a_ten_thousand_memory_scope_searches_its_vectors_through_the_index(
        pg_url: str) -> None:
    """At PostgreSQL's default random_page_cost (4) a 10k scope's vector pool was planned as
    a sequential scan computing every row's distance; the search's connection settings make
    it the HNSW index's scan (the rows are made in SQL: only their numbers matter here)."""
    from sqlalchemy import text

    from cerebra.memory import postgres_search

    backend = PostgresBackend(pg_url)
    dim = 384
    with backend.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO memories (uid, tenant_id, user_id, agent_id, session_id, text, tags, "
            "metadata, source, importance, salience, content_hash, created_at, updated_at, "
            "embedding_model, version, terms, embedding_vec, embedding_dim) "
            "SELECT 'u' || g, 'default', '', 'scale', '', 'note ' || g, '[]', '{}', 'test', "
            "0.5, 0, md5(g::text), 1.7e9 + g, 1.7e9 + g, 'random', 1, 'note', "
            "CAST('[' || array_to_string(ARRAY(SELECT random() - 0.5 + g * 0 "
            f"FROM generate_series(1, {dim})), ',') || ']' AS vector), {dim} "
            "FROM generate_series(1, 10000) AS g"))
    backend.ensure_vector_index(dim)  # and ANALYZE
    scope = Scope(agent_id="scale", user_id="", session_id="")
    sql, params = postgres_search.statement(
        backend, scope, dim, 200, (), None, time.time(), postgres.TEXT_BUDGET_FROM_DOCS,
        postgres.TEXT_POSTINGS_BUDGET)
    params.update(words=["note"], qv=postgres.vector_literal(
        FakeEmbedder(dimension=dim).embed(["note"])[0]))
    try:
        with backend.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            postgres_search._session_settings(conn, postgres_search.ef_search(200))
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql), params))
        vectors = plan[plan.index("CTE v"):plan.index("CTE ex")]
        assert f"ix_memories_vec_{dim}" in vectors, vectors
        assert "Seq Scan" not in vectors
    finally:
        backend.engine.dispose()
