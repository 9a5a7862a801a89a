"""PostgreSQL memory backend: tsvector over the normalised terms, pgvector HNSW for vectors.

Rows carry their own full-text terms (`terms`, with a generated `tsv` column, copied by a
trigger into the narrow `memory_text` table that full-text search ranks from, with its GIN
index: revision 0036) and their vector (`embedding_vec`, with `embedding_dim`), so one
INSERT is the whole write and a transaction can never leave a memory half-indexed. Vectors
of any dimension share the column; each dimension gets its own partial HNSW expression
index (`embedding_vec::vector(d)` with `vector_ip_ops`), created on first use. Vector
queries run with `hnsw.iterative_scan = relaxed_order`, so scope, tag and metadata filters
are applied inside the index scan instead of after a top-k cut.

Full-text ranking (ts_rank) reads the tsvector of every match, so the query keeps its
rarest terms while their document frequencies (memory_scope_terms) fit
TEXT_POSTINGS_BUDGET, in scopes of any size (TEXT_BUDGET_FROM_DOCS, 0), as on SQLite.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, make_url, text

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.memory import postgres_search
from cerebra.memory.base import Candidate, MemoryChange, NewMemory, Scope, SearchCandidates
from cerebra.memory.filters import Node
from cerebra.memory.sqlbase import SQLMemoryBackend
from cerebra.memory.sqlvocab import scope_sql, stored_scope, tag_sql
from cerebra.memory.termstats import rarest_within, scope_counts

# A memory_text row that no longer mirrors its memory (cerebra.memory.integrity_sql too).
TEXT_DIFFERS = ("(x.tsv <> m.tsv OR x.tenant_id <> m.tenant_id OR x.user_id <> m.user_id "
                "OR x.agent_id <> m.agent_id OR x.session_id <> m.session_id "
                "OR x.expires_at IS DISTINCT FROM m.expires_at)")

TEXT_POSTINGS_BUDGET = 3_000
TEXT_BUDGET_FROM_DOCS = 0  # scopes this small get every query term (0: none, as SQLite)


def postgres_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def pg_engine(url: str) -> Engine:
    """An engine for `url`; a socket folder given as `?host=/path` moves to connect_args,
    keeping the URL free of %-escapes (Alembic's config would read them as interpolation)."""
    parsed = make_url(postgres_url(url))
    connect_args: dict[str, str] = {}
    host = parsed.query.get("host")
    if isinstance(host, str) and host.startswith("/"):
        connect_args["host"] = host
        parsed = parsed.difference_update_query(["host"])
    return make_engine(parsed.render_as_string(hide_password=False), connect_args=connect_args)


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a float32 vector (`tolist` makes the same Python floats as
    `float()` of each element, at a third of the cost: 384 of them per search)."""
    values = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
    return "[" + ",".join(map(repr, values)) + "]"


class PostgresBackend(SQLMemoryBackend):
    """MemoryBackend on PostgreSQL with the pgvector extension."""

    name = "postgres"

    def __init__(self, url_or_engine: str | Engine, *, create_vector_index: bool = True,
                 one_statement: bool = True) -> None:
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
        else:
            self.engine = pg_engine(url_or_engine)
        upgrade(self.engine)
        self.create_vector_index = create_vector_index
        self.one_statement = one_statement  # hybrid search in one round trip (postgres_search)
        self._dims: set[int] = set()
        self._lock = threading.Lock()

    def _json_param(self, name: str) -> str:
        return f"CAST(:{name} AS jsonb)"

    def ensure_vector_index(self, dim: int) -> None:
        """Create the HNSW index for `dim`-dimensional vectors if it does not exist."""
        with self._lock:
            if dim in self._dims:
                return
            with self.engine.begin() as conn:
                conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
                conn.execute(
                    text(
                        f"CREATE INDEX IF NOT EXISTS ix_memories_vec_{int(dim)} ON memories "
                        f"USING hnsw ((embedding_vec::vector({int(dim)})) vector_ip_ops) "
                        f"WHERE embedding_dim = {int(dim)}"
                    )
                )
                conn.execute(text("ANALYZE memories"))  # fresh statistics, so the index is used
            self._dims.add(dim)

    def put(self, items: Sequence[NewMemory]) -> list[str]:
        if self.create_vector_index:
            for dim in {len(i.embedding) for i in items if i.embedding is not None}:
                self.ensure_vector_index(int(dim))
        return super().put(items)

    # -- index hooks ------------------------------------------------------------------
    def _insert_row(self, conn: Connection, uid: str, item: NewMemory, now: float) -> int:
        created = item.created_at if item.created_at is not None else now
        vector = None if item.embedding is None else vector_literal(item.embedding)
        row_id = conn.execute(
            text(
                "INSERT INTO memories (uid, tenant_id, user_id, agent_id, session_id, text, "
                "tags, metadata, source, importance, salience, content_hash, created_at, "
                "updated_at, expires_at, embedding_model, version, terms, embedding_vec, "
                "embedding_dim) VALUES (:uid, :tenant_id, :user_id, :agent_id, :session_id, "
                ":text, CAST(:tags AS jsonb), CAST(:metadata AS jsonb), :source, :importance, "
                "0, :h, :created, :now, :expires_at, :embedding_model, 1, :terms, "
                "CAST(:vec AS vector), :dim) RETURNING id"
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
                "embedding_model": item.embedding_model,
                "terms": item.terms,
                "vec": vector,
                "dim": None if item.embedding is None else len(item.embedding),
            },
        ).scalar_one()
        return int(row_id)

    def _reindex(self, conn: Connection, row_id: int, change: MemoryChange) -> None:
        vector = None if change.embedding is None else vector_literal(change.embedding)
        conn.execute(
            text(
                "UPDATE memories SET terms = :terms, embedding_vec = CAST(:vec AS vector), "
                "embedding_dim = :dim, embedding_model = :em WHERE id = :id"
            ),
            {
                "terms": change.terms or "",
                "vec": vector,
                "dim": None if change.embedding is None else len(change.embedding),
                "em": change.embedding_model,
                "id": row_id,
            },
        )

    _NO_VECTOR = "embedding_vec IS NULL"

    def fill_vectors(self, items: Sequence[tuple[str, Any]], model: str,
                     passages: Sequence[Any] | None = None) -> int:
        if self.create_vector_index:
            for dim in {len(vector) for _, vector in items}:
                self.ensure_vector_index(int(dim))
        return super().fill_vectors(items, model, passages)

    def _set_vector(self, conn: Connection, row_id: int, tenant_id: str, vector: Any,
                    model: str) -> None:
        conn.execute(
            text("UPDATE memories SET embedding_vec = CAST(:vec AS vector), embedding_dim = :dim, "
                 "embedding_model = :em WHERE id = :id"),
            {"vec": vector_literal(vector), "dim": len(vector), "em": model, "id": row_id},
        )

    def _forget(self, conn: Connection, ids: Sequence[int], tenant_id: str) -> None:
        """Text and vector live in the row itself: deleting the row removes them."""

    def _doc_terms(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = conn.execute(
            text("SELECT id, terms FROM memories WHERE id = ANY(:ids)"), {"ids": list(ids)}
        )
        return {int(r[0]): str(r[1] or "") for r in rows}

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
            docs, _, df = scope_counts(conn, scope, unique)
        if docs >= TEXT_BUDGET_FROM_DOCS:  # ranking reads every match's tsvector: cap them
            unique = rarest_within(unique, df, TEXT_POSTINGS_BUDGET)
        query = " | ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in unique)
        scope_where, params = scope_sql(scope, "x")
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = self.where_sql(where)
        rows_join = " JOIN memories m ON m.id = x.id" if tags_where or filt else ""
        sql = (
            f"SELECT x.id, ts_rank(x.tsv, q, 1) AS rank FROM memory_text x{rows_join}, "
            "to_tsquery('simple', :q) q "
            f"WHERE x.tsv @@ q AND {scope_where}{tags_where}{filt} "
            f"ORDER BY rank DESC, x.id LIMIT {int(limit)}"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(sql), {**params, **tag_params, **filt_params, "q": query}
            ).all()
        return [Candidate(int(r.id), float(r.rank)) for r in rows]

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
        scope_where, params = scope_sql(scope)
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = self.where_sql(where)
        distance = f"(m.embedding_vec::vector({dim}) <#> CAST(:qv AS vector({dim})))"
        sql = (
            f"SELECT m.id, {distance} AS dist FROM memories m WHERE m.embedding_dim = {dim} "
            f"AND {scope_where}{tags_where}{filt} ORDER BY {distance} LIMIT {int(limit)}"
        )
        with self.engine.begin() as conn:
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(100, min(1000, 2 * limit))}"))
            conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            rows = conn.execute(
                text(sql),
                {
                    **params,
                    **tag_params,
                    **filt_params,
                    "qv": vector_literal(query),
                },
            ).all()
        hits = [Candidate(int(r.id), -float(r.dist)) for r in rows]
        hits.sort(key=lambda c: -c.score)  # relaxed order: re-sort the few rows returned
        return hits

    def search_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> SearchCandidates:
        """Everything hybrid search needs in one statement (cerebra.memory.postgres_search);
        with `one_statement` off, the protocol's methods one by one (for comparison)."""
        if not self.one_statement:
            from cerebra.memory.filtered import filtered
            from cerebra.memory.retrieval import gather_candidates

            return gather_candidates(filtered(self, where), scope, terms, vector, limit, tags)
        return postgres_search.search_candidates(
            self, scope, terms, vector, limit, tags, where,
            text_budget_from_docs=TEXT_BUDGET_FROM_DOCS,
            text_postings_budget=TEXT_POSTINGS_BUDGET,
            vector_literal=vector_literal,
        )

    # -- upkeep -----------------------------------------------------------------------
    def integrity(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE m.tsv IS NULL OR "
                    "(m.terms <> '' AND m.tsv = ''::tsvector) OR x.id IS NULL OR "
                    f"{TEXT_DIFFERS}), "
                    "count(*) FILTER (WHERE m.embedding_model IS NOT NULL AND "
                    "m.embedding_vec IS NULL) "
                    "FROM memories m LEFT JOIN memory_text x ON x.id = m.id"
                )
            ).one()
        return {
            "rows": int(row[0]),
            "missing_text": int(row[1]),
            "orphan_text": 0,
            "missing_vector": int(row[2]),
            "orphan_vector": 0,
        }
