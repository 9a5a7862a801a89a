"""SQLite memory backend: rows and tags in tables, FTS5 for full text, a usearch vector index.

One transaction writes a batch's rows, tags, FTS5 entries, embedding BLOBs and vector-log
entries, so after a crash a memory is either wholly present or absent. The HNSW index
(cerebra.memory.vector_index) is derived from the BLOBs and the log and catches up before
each vector query, so it can never hold less than what was acknowledged.

Index choice, measured on this 2-core machine (`python benchmarks/memory_scale.py
--compare-indexes --n 100000`: 100k perturbed copies of real MiniLM embeddings, 50 real
questions; HNSW at M=16, ef_construction=128, ef=max(128, k)):

    100k x 384        top-200 p50 / recall    top-10 p50 / recall    build    memory
    numpy exact f32   7.2 ms / 1.0            7.5 ms / 1.0           -        154 MB
    sqlite-vec f32    40.6 ms / 1.0           26.0 ms / 1.0          0.5 s    (vec0 scan)
    hnswlib f32       0.13 ms / 0.895         0.07 ms / 0.892        5.4 s    (not measured)
    usearch f16       0.20 ms / 0.874         0.11 ms / 0.81         6.3 s    145 MB

Exact scans grow linearly with the scope (extrapolated: numpy ~75 ms, sqlite-vec ~400 ms at
1M), so only HNSW leaves room for p50 <= 10 ms at 100k and <= 50 ms at 1M once full text,
fetching and fusion are added. usearch and hnswlib are equally fast; usearch stores f16 (half the
vector memory: ~0.8 GB instead of 1.5 GB at 1M) and saves atomically to one file; the search uses
ef = 256 (recall rises with it at ~1 ms per query). The standard library's sqlite3 here
cannot load extensions, so sqlite-vec was measured through apsw.

Vector queries: when the index is small (<= EXACT_MAX = 5000) or a filter is selective, the rows
allowed by scope, tags and filter are selected in SQL and scored exactly; otherwise HNSW
proposes 2x the wanted count and SQL keeps those the scope and filter allow, widening once
and then falling back to the exact path if too few survive. Filters are thus applied
before the top-k cut.

Full-text queries: FTS5 ranks every document matching any query term, so a few very common
terms dominate the cost. Terms are taken rarest first (the scope's document frequencies
from memory_scope_terms) while their postings fit TEXT_POSTINGS_BUDGET; the dropped ones are
the lowest-IDF terms. Queries under the budget keep every term, so ranking there is plain
BM25 (stores under TEXT_BUDGET_FROM_DOCS documents, 0 by default, keep every term too).
The top matches by full text alone are then checked against scope and filter by id; if too
few survive, the exact joined query runs instead.
`search_candidates` (cerebra.memory.sqlite_search) does all of this for hybrid search on one
connection, reading each candidate row once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, event, text

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.memory import sqlite_search as search
from cerebra.memory.base import (
    Candidate,
    Memory,
    MemoryChange,
    NewMemory,
    Scope,
    SearchCandidates,
)
from cerebra.memory.filters import Node
from cerebra.memory.query_vectors import QueryVector
from cerebra.memory.sqlbase import SQLMemoryBackend
from cerebra.memory.sqlvocab import COLUMNS, memory_from_row, scope_sql, stored_scope, tag_sql
from cerebra.memory.termstats import scope_counts
from cerebra.memory.vector_graphs import KINDS
from cerebra.memory.vector_index import VectorIndex

MMAP_BYTES = 2**31  # SQLite's default ceiling on Linux


def _memory_mapped(dbapi_conn: Any, _record: Any) -> None:
    """Read the database file through a memory map: a search reads a few hundred rows at
    random, and mapped pages skip one read() system call and one copy each (measured:
    380 random rows in 1.2 ms instead of 1.7 ms at 100k memories). The mapped pages are
    the operating system's file cache, shared, not process heap."""
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


def _blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


class SQLiteBackend(SQLMemoryBackend):
    """MemoryBackend on a SQLite file (or an engine whose schema has the FTS5 table)."""

    name = "sqlite"
    # search_candidates runs its full-text half while the query is still being embedded
    overlaps_query_embedding = True

    def __init__(
        self, path_or_url: str | Engine = ".cerebra/cerebra.db", *, index: str = "usearch"
    ) -> None:
        """`index`: the vector index's graph, "usearch" (HNSW) or "faiss" (exact flat)."""
        if isinstance(path_or_url, Engine):
            self.engine = path_or_url
        else:
            url = path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"
            self.engine = make_engine(url)
        upgrade(self.engine)
        database = self.engine.url.database or ""
        self._folder = (
            None if database in ("", ":memory:") else Path(database + ".vectors").resolve()
        )
        self._indexes: dict[int, VectorIndex] = {}
        if index not in KINDS:
            raise ValueError(f"unknown vector index {index!r}; use one of {', '.join(KINDS)}")
        self.index_kind = index
        self._lock = threading.Lock()
        if self._folder is not None:
            event.listen(self.engine, "connect", _memory_mapped)
            self.engine.dispose()  # idle connections reopen with the pragma

    # -- index hooks ------------------------------------------------------------------
    def _insert_row(self, conn: Connection, uid: str, item: NewMemory, now: float) -> int:
        created = item.created_at if item.created_at is not None else now
        row_id = conn.execute(
            text(
                "INSERT INTO memories (uid, tenant_id, user_id, agent_id, session_id, text, "
                "tags, metadata, source, importance, salience, content_hash, created_at, "
                "updated_at, expires_at, embedding, embedding_model, version) VALUES "
                "(:uid, :tenant_id, :user_id, :agent_id, :session_id, :text, :tags, :metadata, "
                ":source, :importance, 0, :h, :created, :now, :expires_at, :embedding, "
                ":embedding_model, 1) RETURNING id"
            ),
            {
                **stored_scope(item.scope),
                "uid": uid,
                "text": item.text,
                "tags": json.dumps(list(dict.fromkeys(item.tags))),
                "metadata": json.dumps(item.metadata),
                "source": item.source,
                "importance": item.importance,
                "h": item.content_hash,
                "created": created,
                "now": now,
                "expires_at": item.expires_at,
                "embedding": _blob(item.embedding),
                "embedding_model": item.embedding_model,
            },
        ).scalar_one()
        conn.execute(
            text("INSERT INTO memories_fts (rowid, terms) VALUES (:id, :terms)"),
            {"id": row_id, "terms": item.terms},
        )
        if item.embedding is not None:
            self._log(conn, [int(row_id)], "add", item.scope.tenant_id)
        return int(row_id)

    @staticmethod
    def _log(conn: Connection, ids: Sequence[int], op: str, tenant_id: str) -> None:
        conn.execute(
            text("INSERT INTO memory_vec_log (memory_id, op, tenant_id) VALUES (:m, :op, :t)"),
            [{"m": i, "op": op, "t": tenant_id} for i in ids],
        )

    def _reindex(self, conn: Connection, row_id: int, change: MemoryChange) -> None:
        conn.execute(text("DELETE FROM memories_fts WHERE rowid = :id"), {"id": row_id})
        conn.execute(
            text("INSERT INTO memories_fts (rowid, terms) VALUES (:id, :terms)"),
            {"id": row_id, "terms": change.terms or ""},
        )
        conn.execute(
            text("UPDATE memories SET embedding = :e, embedding_model = :em WHERE id = :id"),
            {"e": _blob(change.embedding), "em": change.embedding_model, "id": row_id},
        )
        tenant = conn.execute(
            text("SELECT tenant_id FROM memories WHERE id = :id"), {"id": row_id}
        ).scalar_one()
        self._log(conn, [row_id], "add", tenant)

    def _set_vector(self, conn: Connection, row_id: int, tenant_id: str, vector: Any,
                    model: str) -> None:
        conn.execute(
            text("UPDATE memories SET embedding = :e, embedding_model = :em WHERE id = :id"),
            {"e": _blob(vector), "em": model, "id": row_id},
        )
        self._log(conn, [row_id], "add", tenant_id)

    def _forget(self, conn: Connection, ids: Sequence[int], tenant_id: str) -> None:
        marks = ", ".join(str(int(i)) for i in ids)
        conn.execute(text(f"DELETE FROM memories_fts WHERE rowid IN ({marks})"))
        self._log(conn, ids, "del", tenant_id)

    def _doc_terms(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        """Indexed terms by rowid from FTS5, through the driver cursor (a search reads
        hundreds of them)."""
        out: dict[int, str] = {}
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, len(ids), 500):
                marks = ", ".join(str(int(i)) for i in ids[start : start + 500])
                cursor.execute(f"SELECT rowid, terms FROM memories_fts WHERE rowid IN ({marks})")
                out.update((int(r[0]), str(r[1] or "")) for r in cursor.fetchall())
        finally:
            cursor.close()
        return out

    # -- candidates -------------------------------------------------------------------
    def text_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]:
        unique = [t for t in dict.fromkeys(terms) if t]
        if not unique or limit <= 0:
            return []
        with self.engine.connect() as conn:
            unique = self._affordable_terms(conn, scope, unique)
        match = search.fts_match(unique)
        scope_where, params = scope_sql(scope)
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = self.where_sql(where)
        params = {**params, **tag_params, **filt_params, "match": match}
        with self.engine.connect() as conn:
            # Fast path: the best matches by full text alone, kept if scope and filter
            # allow enough of them; otherwise the exact query joins before ranking.
            over = limit * 2
            ranked = conn.execute(
                text(
                    "SELECT rowid, rank FROM memories_fts WHERE memories_fts MATCH :match "
                    "ORDER BY rank LIMIT :over"
                ),
                {"match": match, "over": over},
            ).all()
            if ranked:
                ok = set(self._allowed(conn, scope, tags, where, [r[0] for r in ranked]).tolist())
                hits = [Candidate(int(r[0]), -float(r[1])) for r in ranked if int(r[0]) in ok]
                if len(hits) >= limit or len(ranked) < over:
                    return hits[:limit]
            rows = conn.execute(
                text(
                    "SELECT m.id, bm25(memories_fts) AS rank FROM memories_fts "
                    "JOIN memories m ON m.id = memories_fts.rowid "
                    f"WHERE memories_fts MATCH :match AND {scope_where}{tags_where}{filt} "
                    "ORDER BY rank LIMIT :limit"
                ),
                {**params, "limit": limit},
            ).all()
        # FTS5's bm25() is lower-is-better; flip it so every candidate score is higher-better.
        return [Candidate(int(r.id), -float(r.rank)) for r in rows]

    @staticmethod
    def _affordable_terms(conn: Connection, scope: Scope, unique: list[str]) -> list[str]:
        """The query's rarest terms whose postings fit TEXT_POSTINGS_BUDGET (at least one).

        FTS5 scores every document matching any term of an OR query, so one very common
        term costs milliseconds per ten thousand documents; such terms also carry the least
        BM25 weight (lowest IDF). Document frequencies are the scope's (memory_scope_terms:
        one key lookup per term; fts5vocab walks each term's postings to count them). Stores
        under TEXT_BUDGET_FROM_DOCS documents, and queries under the budget, are unchanged."""
        if search.TEXT_BUDGET_FROM_DOCS > 0:  # (0, the default: no store is asked its size)
            docs = conn.execute(text("SELECT max(rowid) FROM memories_fts")).scalar()
            if (docs or 0) < search.TEXT_BUDGET_FROM_DOCS:
                return unique
        return search.affordable(unique, scope_counts(conn, scope, unique)[2])

    def vector_index(self, dim: int, conn: Connection) -> VectorIndex:
        """The index for `dim`-dimensional vectors, caught up with the database."""
        with self._lock:
            index = self._indexes.get(dim)
            if index is None:
                index = self._indexes[dim] = VectorIndex(dim, self._folder, self.index_kind)
        index.catch_up(conn)
        index.maybe_save()
        return index

    def _allowed(
        self,
        conn: Connection,
        scope: Scope,
        tags: Sequence[str],
        where: Node | None,
        keys: Sequence[int] | None,
    ) -> np.ndarray:
        scope_where, params = scope_sql(scope)
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = self.where_sql(where)
        among, hint = "", ""
        if keys is not None:  # look the few keys up by id, never scan the scope's index
            among = f" AND m.id IN ({', '.join(str(int(k)) for k in keys)})"
            hint = " NOT INDEXED"
        rows = conn.execute(
            text(f"SELECT m.id FROM memories m{hint} WHERE {scope_where}{tags_where}{filt}{among}"),
            {**params, **tag_params, **filt_params},
        ).scalars()  # rows with no vector of this dimension are dropped by the index
        return np.fromiter(rows, dtype=np.int64)

    def vector_candidates(
        self,
        scope: Scope,
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]:
        if limit <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        dim = int(query.shape[0])
        with self.engine.connect() as conn:
            index = self.vector_index(dim, conn)
            if len(index) > search.EXACT_MAX:
                want = max(limit * 2, 64)
                for _ in range(2):
                    keys, sims = index.search(query, want)
                    ok = set(self._allowed(conn, scope, tags, where, keys.tolist()).tolist())
                    hits = [
                        Candidate(int(k), float(s))
                        for k, s in zip(keys, sims, strict=True)
                        if int(k) in ok
                    ]
                    if len(hits) >= limit or len(keys) < want:
                        return hits[:limit]
                    share = max(len(hits), 1) / max(len(keys), 1)
                    want = int(limit / share * 1.5)
                    if share < 0.05 or want > 20_000:
                        break
            allowed = self._allowed(conn, scope, tags, where, None)
        keys, sims = index.exact(query, allowed, limit)
        return [Candidate(int(k), float(s)) for k, s in zip(keys, sims, strict=True)]

    def search_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        vector: QueryVector,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> SearchCandidates:
        """Both candidate pools, their rows and BM25 statistics (cerebra.memory.sqlite_search)."""
        return search.search_candidates(self, scope, terms, vector, limit, tags, where)

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]:
        """Rows by id through the raw driver cursor."""
        if not row_ids:
            return []
        by_id: dict[int, Memory] = {}
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                for start in range(0, len(row_ids), 500):
                    marks = ", ".join(str(int(i)) for i in row_ids[start : start + 500])
                    cursor.execute(f"SELECT {COLUMNS} FROM memories m WHERE m.id IN ({marks})")
                    by_id.update((int(r[0]), memory_from_row(r)) for r in cursor.fetchall())
            finally:
                cursor.close()
        return [by_id[i] for i in row_ids if i in by_id]

    # -- upkeep -----------------------------------------------------------------------
    def integrity(self) -> dict[str, int]:
        """Rows, and rows missing from FTS5 or (after catch-up) from the vector index."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, length(embedding) FROM memories")).all()
            fts = set(conn.execute(text("SELECT rowid FROM memories_fts")).scalars())
            dims = {int(n) // 4 for _, n in rows if n}
            indexed: set[int] = set()
            anywhere: set[int] = set()
            for dim in dims:
                both, either = self.vector_index(dim, conn).keys()
                indexed |= both
                anywhere |= either
        ids = {int(r[0]) for r in rows}
        with_vec = {int(r[0]) for r in rows if r[1]}
        return {
            "rows": len(ids),
            "missing_text": len(ids - fts),
            "orphan_text": len(fts - ids),
            "missing_vector": len(with_vec - indexed),
            "orphan_vector": len(anywhere - ids),
        }

    def save_index(self) -> None:
        """Persist the vector indexes now (also done every SAVE_EVERY changes and on close)."""
        with self.engine.begin() as conn:
            for index in list(self._indexes.values()):
                index.catch_up(conn)
                index.save(conn)

    def close(self) -> None:
        try:
            if self._indexes:
                self.save_index()
        finally:
            self.engine.dispose()

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - not picklable by design
        raise TypeError("SQLiteBackend cannot be pickled")
