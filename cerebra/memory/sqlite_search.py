"""SQLite's search path: both candidate pools, their rows and BM25 statistics in one go.

`hybrid_search` asks a backend for everything fusion needs (`SearchCandidates`). On SQLite
that is done on one connection, through the raw driver cursor (at a few hundred rows,
SQLAlchemy's row objects cost more than the queries):

1. full text: FTS5's best `2 x limit` matches for the query's affordable terms (below);
2. vectors: the best `2 x limit` keys of the whole store, from the HNSW index (stores over
   EXACT_MAX vectors) or scored exactly (smaller stores: ~0.3 ms for 5,000 from the
   index's float32 mirror, where a scope's allowed ids through SQLAlchemy and the scoring
   of those took ~14 % of a memory-on request's samples at a 2,000-memory scope);
3. one query reads the rows of both sets that the scope, tags and filter allow: the scope
   check and the fetch at once, so no row is read twice;
4. the scope's BM25 statistics (cerebra.memory.termstats), with the candidates' indexed
   terms read from FTS5 by rowid.

A pool that comes up short after the scope check (a small scope in a large store, or a
selective filter) falls back to that retriever's own exact query (`text_candidates` /
`vector_candidates`), so other scopes' rows never cut a pool short. (In a small store the
vector pool is then exactly the scope's best: the whole store's best, in exact order, of
which the first `limit` that pass the scope check are the scope's first `limit`.)

Affordable terms: FTS5 scores every document that matches any term of an OR query, so a
very common term costs milliseconds per ten thousand documents, and carries the least BM25
weight. Terms are taken rarest first (the scope's document frequencies, one key lookup each
in memory_scope_terms) while their postings fit TEXT_POSTINGS_BUDGET. Fusion still scores
every candidate on all query terms. At 10k, a prompt sharing one common word with every
memory spent ~12 ms a search in FTS5 (docs/performance.md, memory on); with the budget the
gateway's memory-on added p50 went 49.7 -> 35.5 ms. The cost is per posting, not per
document (~1.5 µs each here), so the budget applies to stores of any size
(TEXT_BUDGET_FROM_DOCS, 50,000 then 5,000, now 0): a 2,000-note store with 300 stored
exchanges spent 6.0 ms p50 in FTS5 on the gateway's prompts with every term and 1.4 ms
within the budget. Recall with the budget forced far tighter (every store, 165 postings on
LoCoMo dev's ~550-turn scopes, 90 on the long-turn set): R@10 0.8032 -> 0.8008 and 0.8596 ->
0.8571; at the default budget LoCoMo dev and both long-turn sets are unchanged (0.8032,
0.8593, 0.7739: their scopes' query terms stay within it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Connection, Engine

from cerebra.memory.base import Candidate, Scope, SearchCandidates
from cerebra.memory.filters import Node
from cerebra.memory.query_vectors import QueryVector, vector_now
from cerebra.memory.sqlvocab import COLUMNS, N_COLUMNS, memory_from_row, scope_sql, tag_sql
from cerebra.memory.termstats import (
    rarest_within,
    read_term_stats,
    scope_counts_raw,
    scope_where,
)
from cerebra.memory.vector_index import VectorIndex

EXACT_MAX = 5_000  # vector indexes up to this size are searched exactly
TEXT_POSTINGS_BUDGET = 3_000
TEXT_BUDGET_FROM_DOCS = 0  # stores this small get every query term (0: none; see above)


def affordable(unique: Sequence[str], df: Mapping[str, int]) -> list[str]:
    """The rarest of `unique` whose document frequencies fit TEXT_POSTINGS_BUDGET (>= 1)."""
    return rarest_within(unique, df, TEXT_POSTINGS_BUDGET)


def _below_budget_size(cursor: Any) -> bool:
    """Whether the store is under TEXT_BUDGET_FROM_DOCS documents (never asked at 0)."""
    if TEXT_BUDGET_FROM_DOCS <= 0:
        return False
    cursor.execute("SELECT max(rowid) FROM memories_fts")
    return bool((cursor.fetchone()[0] or 0) < TEXT_BUDGET_FROM_DOCS)


def fts_match(terms: Sequence[str]) -> str:
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


class SearchHost(Protocol):
    """What this path uses of its backend (cerebra.memory.sqlite.SQLiteBackend, which
    imports this module; this module does not import it back)."""

    engine: Engine

    def where_sql(self, where: Node | None, alias: str = "m") -> tuple[str, dict[str, Any]]: ...

    def vector_index(self, dim: int, conn: Connection) -> VectorIndex: ...

    def text_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]: ...

    def vector_candidates(
        self,
        scope: Scope,
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]: ...

    def _doc_terms(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]: ...


def _rows(
    backend: SearchHost,
    cursor: Any,
    ids: Sequence[int],
    scope: Scope | None,
    tags: Sequence[str] = (),
    where: Node | None = None,
) -> dict[int, tuple[Any, ...]]:
    """Rows among `ids` (all of them, or those `scope`, tags and filter allow), looked up
    by id (NOT INDEXED keeps SQLite from scanning the scope's index instead), each with its
    indexed terms last: joined from FTS5's content table (`memories_fts_content`, column
    c0), which costs next to nothing once the row's page is read."""
    if not ids:
        return {}
    clause, params = "", dict[str, Any]()
    if scope is not None:
        scope_where, params = scope_sql(scope)
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = backend.where_sql(where)
        clause = f"{scope_where}{tags_where}{filt} AND "
        params = {**params, **tag_params, **filt_params}
    marks = ", ".join(str(int(i)) for i in ids)
    cursor.execute(
        f"SELECT {COLUMNS}, f.c0 FROM memories m NOT INDEXED LEFT JOIN memories_fts_content f "
        f"ON f.id = m.id WHERE {clause}m.id IN ({marks})",
        params,
    )
    return {int(r[0]): r for r in cursor.fetchall()}


def _expired(cursor: Any, scope: Scope, now: float) -> set[int]:
    """Ids of the scope's expired rows (not yet pruned), through the expiry index: most
    memories never expire, and SQLite's planner would rather walk the scope's index over
    every row of the scope (0.56 ms at 10k against 0.003 ms)."""
    where, params = scope_where(scope, "m")
    cursor.execute(
        "SELECT m.id FROM memories m INDEXED BY ix_memories_expires "
        f"WHERE m.expires_at IS NOT NULL AND m.expires_at <= :now{' AND ' if where else ''}"
        f"{where}",
        {**params, "now": now},
    )
    return {int(r[0]) for r in cursor.fetchall()}


def search_candidates(
    backend: SearchHost,
    scope: Scope,
    query_terms: Sequence[str],
    vector: QueryVector,
    limit: int,
    tags: Sequence[str] = (),
    where: Node | None = None,
) -> SearchCandidates:
    """Both pools (at most `limit` each, best first), their rows and the scope's stats.
    The full-text half runs first: a `vector` still being computed (its embedding on
    another thread, cerebra.memory.query_vectors) is waited for only after it."""
    unique = [t for t in dict.fromkeys(query_terms) if t]
    over = max(limit * 2, 64)
    now = time.time()
    with backend.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            counts = scope_counts_raw(cursor, scope, unique) if unique else None
            ranked: list[tuple[int, float]] = []
            if counts is not None:
                kept = unique if _below_budget_size(cursor) else affordable(unique, counts[2])
                cursor.execute(
                    "SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH ? "
                    "ORDER BY rank LIMIT ?",
                    (fts_match(kept), over),
                )
                ranked = cursor.fetchall()
            # The first `limit` of each pool are read (and scope-checked), the text pool's
            # (and decoded) while the query may still be embedding; the rest only if too
            # few of those pass (a small scope in a large store, a filter).
            text_ids = [int(r[0]) for r in ranked]
            rows = _rows(backend, cursor, text_ids[:limit], scope, tags, where)
            decoded = {i: memory_from_row(r) for i, r in rows.items()}
            query = np.asarray(vector_now(vector), dtype=np.float32).reshape(-1)
            index = backend.vector_index(int(query.shape[0]), conn)
            # the vector pool's best `over` keys in the whole store, scope-checked below
            # with the text pool's: from the graph, or scored exactly in a small store
            # where the scope holds at least half of it (else the scope's own query)
            small = len(index) <= EXACT_MAX
            keys: list[int] = []
            sims: list[float] = []
            if not small or counts is None or 2 * counts[0] >= len(index):
                found_keys, found_sims = (index.exact(query, None, over) if small
                                          else index.search(query, over))
                keys, sims = found_keys.tolist(), found_sims.tolist()
            first = [*dict.fromkeys(text_ids[:limit] + keys[:limit])]
            asked = set(text_ids[:limit])
            rows.update(_rows(backend, cursor, [k for k in first if k not in asked], scope,
                              tags, where))
            if (len(text_ids) > limit and sum(i in rows for i in text_ids[:limit]) < limit) or (
                len(keys) > limit and sum(k in rows for k in keys[:limit]) < limit
            ):
                rest = set(first)
                more = [i for i in dict.fromkeys(text_ids + keys) if i not in rest]
                rows.update(_rows(backend, cursor, more, scope, tags, where))
            text_hits = [Candidate(int(i), -float(r)) for i, r in ranked if i in rows][:limit]
            if len(text_hits) < limit and len(ranked) >= over:
                text_hits = backend.text_candidates(scope, unique, limit, tags, where)
            vec_hits = [Candidate(k, s) for k, s in zip(keys, sims, strict=True) if k in rows]
            vec_hits = vec_hits[:limit]
            if (small and not keys) or (len(vec_hits) < limit and len(keys) >= over):
                vec_hits = backend.vector_candidates(scope, query, limit, tags, where)
            ids = [*dict.fromkeys([c.row_id for c in text_hits] + [c.row_id for c in vec_hits])]
            rows.update(_rows(backend, cursor, [i for i in ids if i not in rows], None))
            stats = None
            if counts is not None:

                def doc_terms(conn: Connection, wanted: Sequence[int]) -> dict[int, str]:
                    out = {i: str(rows[i][N_COLUMNS] or "") for i in wanted if i in rows}
                    missing = [i for i in wanted if i not in rows]
                    return {**out, **backend._doc_terms(conn, missing)} if missing else out

                stats = read_term_stats(conn, scope, unique, ids, doc_terms, now, counts,
                                        gone=_expired(cursor, scope, now))
        finally:
            cursor.close()
    memories = {i: decoded.get(i) or memory_from_row(rows[i]) for i in ids if i in rows}
    return SearchCandidates(text_hits, vec_hits, memories, stats)
