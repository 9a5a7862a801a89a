"""SQLite memory backend: rows and tags in tables, FTS5 for full text, vectors as BLOBs.

Rows, tags, full-text entries and vectors are written in one transaction, so a batch is
either wholly searchable or absent. Vector search scans a per-scope float32 matrix kept in
memory and refreshed from the database when the scope's rows change.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Engine, text

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.memory.base import Candidate, Memory, NewMemory, Scope

_COLUMNS = (
    "id, uid, text, tenant_id, user_id, agent_id, session_id, tags, metadata, importance, "
    "salience, source, created_at, updated_at, expires_at"
)


def _scope_sql(
    scope: Scope, alias: str = "m", *, live_only: bool = True
) -> tuple[str, dict[str, Any]]:
    """WHERE clause for a scope; `live_only` hides memories past their expiry."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, value in scope.as_filters().items():
        clauses.append(f"{alias}.{name} = :s_{name}")
        params[f"s_{name}"] = value
    if live_only:
        clauses.append(f"({alias}.expires_at IS NULL OR {alias}.expires_at > :s_now)")
        params["s_now"] = time.time()
    return " AND ".join(clauses), params


def _tag_sql(tags: Sequence[str], alias: str = "m") -> tuple[str, dict[str, Any]]:
    if not tags:
        return "", {}
    names = [f":t{i}" for i in range(len(tags))]
    sql = (
        f" AND EXISTS (SELECT 1 FROM memory_tags mt WHERE mt.memory_id = {alias}.id "
        f"AND mt.tag IN ({', '.join(names)}))"
    )
    return sql, {f"t{i}": tag for i, tag in enumerate(tags)}


def row_to_memory(row: Any) -> Memory:
    import json

    tags = row.tags if isinstance(row.tags, list) else json.loads(row.tags or "[]")
    meta = row.metadata if isinstance(row.metadata, dict) else json.loads(row.metadata or "{}")
    return Memory(
        uid=row.uid,
        text=row.text,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        agent_id=row.agent_id,
        session_id=row.session_id,
        tags=tuple(tags),
        metadata=meta,
        importance=float(row.importance),
        salience=float(row.salience),
        source=row.source,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        expires_at=None if row.expires_at is None else float(row.expires_at),
        row_id=int(row.id),
    )


@dataclass
class _ScopeMatrix:
    stamp: tuple[int, int, float]
    ids: np.ndarray
    vectors: np.ndarray


class SQLiteBackend:
    """MemoryBackend on a SQLite file (or any engine whose schema has the FTS5 table)."""

    name = "sqlite"

    def __init__(self, path_or_url: str | Engine = ".cerebra/cerebra.db") -> None:
        if isinstance(path_or_url, Engine):
            self.engine = path_or_url
        else:
            url = path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"
            self.engine = make_engine(url)
        upgrade(self.engine)
        self._matrices: dict[tuple[Any, ...], _ScopeMatrix] = {}
        self._lock = threading.Lock()

    # -- writes -----------------------------------------------------------------------
    def put(self, items: Sequence[NewMemory]) -> list[str]:
        import json

        uids: list[str] = []
        now = time.time()
        with self.engine.begin() as conn:
            for item in items:
                scope = item.scope
                values = {
                    "tenant_id": scope.tenant_id,
                    "user_id": scope.user_id or "",
                    "agent_id": scope.agent_id or "",
                    "session_id": scope.session_id or "",
                }
                existing = conn.execute(
                    text(
                        "SELECT uid FROM memories WHERE tenant_id=:tenant_id AND "
                        "user_id=:user_id AND agent_id=:agent_id AND session_id=:session_id "
                        "AND content_hash=:h"
                    ),
                    {**values, "h": item.content_hash},
                ).first()
                if existing is not None:
                    uids.append(existing.uid)
                    continue
                uid = uuid.uuid4().hex
                created = item.created_at if item.created_at is not None else now
                row_id = conn.execute(
                    text(
                        "INSERT INTO memories (uid, tenant_id, user_id, agent_id, session_id, "
                        "text, tags, metadata, source, importance, salience, content_hash, "
                        "created_at, updated_at, expires_at, embedding, embedding_model) VALUES "
                        "(:uid, :tenant_id, :user_id, :agent_id, :session_id, :text, :tags, "
                        ":metadata, :source, :importance, 0, :h, :created, :created, "
                        ":expires_at, :embedding, :embedding_model) RETURNING id"
                    ),
                    {
                        **values,
                        "uid": uid,
                        "text": item.text,
                        "tags": json.dumps(list(item.tags)),
                        "metadata": json.dumps(item.metadata),
                        "source": item.source,
                        "importance": item.importance,
                        "h": item.content_hash,
                        "created": created,
                        "expires_at": item.expires_at,
                        "embedding": None
                        if item.embedding is None
                        else np.asarray(item.embedding, dtype=np.float32).tobytes(),
                        "embedding_model": item.embedding_model,
                    },
                ).scalar_one()
                for tag in dict.fromkeys(item.tags):
                    conn.execute(
                        text(
                            "INSERT INTO memory_tags (memory_id, tag, tenant_id) "
                            "VALUES (:m, :t, :tenant)"
                        ),
                        {"m": row_id, "t": tag, "tenant": scope.tenant_id},
                    )
                conn.execute(
                    text("INSERT INTO memories_fts (rowid, terms) VALUES (:id, :terms)"),
                    {"id": row_id, "terms": item.terms},
                )
                uids.append(uid)
        return uids

    def _delete_rows(self, conn: Any, where: str, params: dict[str, Any]) -> int:
        ids = [
            r[0] for r in conn.execute(text(f"SELECT m.id FROM memories m WHERE {where}"), params)
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join(str(int(i)) for i in chunk)
            conn.execute(text(f"DELETE FROM memories_fts WHERE rowid IN ({marks})"))
            conn.execute(text(f"DELETE FROM memory_tags WHERE memory_id IN ({marks})"))
            conn.execute(text(f"DELETE FROM memories WHERE id IN ({marks})"))
        return len(ids)

    def delete(self, scope: Scope, uids: Sequence[str]) -> int:
        if not uids:
            return 0
        where, params = _scope_sql(scope, live_only=False)
        marks = ", ".join(f":u{i}" for i in range(len(uids)))
        params.update({f"u{i}": u for i, u in enumerate(uids)})
        with self.engine.begin() as conn:
            return self._delete_rows(conn, f"{where} AND m.uid IN ({marks})", params)

    def delete_scope(self, scope: Scope) -> int:
        where, params = _scope_sql(scope, live_only=False)
        with self.engine.begin() as conn:
            return self._delete_rows(conn, where, params)

    # -- reads ------------------------------------------------------------------------
    def get(self, scope: Scope, uid: str) -> Memory | None:
        where, params = _scope_sql(scope)
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_COLUMNS} FROM memories m WHERE {where} AND m.uid = :uid"),
                {**params, "uid": uid},
            ).first()
        return None if row is None else row_to_memory(row)

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]:
        if not row_ids:
            return []
        marks = ", ".join(str(int(i)) for i in row_ids)
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT {_COLUMNS} FROM memories WHERE id IN ({marks})"))
            by_id = {int(r.id): row_to_memory(r) for r in rows}
        return [by_id[i] for i in row_ids if i in by_id]

    def text_candidates(
        self, scope: Scope, terms: Sequence[str], limit: int, tags: Sequence[str] = ()
    ) -> list[Candidate]:
        unique = [t for t in dict.fromkeys(terms) if t]
        if not unique or limit <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in unique)
        where, params = _scope_sql(scope)
        tag_sql, tag_params = _tag_sql(tags)
        sql = (
            "SELECT m.id, bm25(memories_fts) AS rank FROM memories_fts "
            "JOIN memories m ON m.id = memories_fts.rowid "
            f"WHERE memories_fts MATCH :match AND {where}{tag_sql} ORDER BY rank LIMIT :limit"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(sql), {**params, **tag_params, "match": match, "limit": limit}
            ).all()
        # FTS5's bm25() is lower-is-better; flip it so every candidate score is higher-better.
        return [Candidate(int(r.id), -float(r.rank)) for r in rows]

    def _matrix(self, scope: Scope, tags: Sequence[str]) -> _ScopeMatrix:
        where, params = _scope_sql(scope)
        tag_sql, tag_params = _tag_sql(tags)
        params.update(tag_params)
        key = (*scope.key(), tuple(sorted(tags)))
        with self.engine.connect() as conn:
            stamp_row = conn.execute(
                text(
                    "SELECT count(*), coalesce(max(m.id), 0), coalesce(max(m.updated_at), 0) "
                    f"FROM memories m WHERE {where}{tag_sql} AND m.embedding IS NOT NULL"
                ),
                params,
            ).one()
            stamp = (int(stamp_row[0]), int(stamp_row[1]), float(stamp_row[2]))
            with self._lock:
                cached = self._matrices.get(key)
            if cached is not None and cached.stamp == stamp:
                return cached
            rows = conn.execute(
                text(
                    f"SELECT m.id, m.embedding FROM memories m WHERE {where}{tag_sql} "
                    "AND m.embedding IS NOT NULL ORDER BY m.id"
                ),
                params,
            ).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = (
            np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
            if rows
            else np.zeros((0, 0), dtype=np.float32)
        )
        matrix = _ScopeMatrix(stamp, ids, vectors)
        with self._lock:
            self._matrices[key] = matrix
        return matrix

    def vector_candidates(
        self, scope: Scope, vector: np.ndarray, limit: int, tags: Sequence[str] = ()
    ) -> list[Candidate]:
        matrix = self._matrix(scope, tags)
        if len(matrix.ids) == 0 or limit <= 0:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if matrix.vectors.shape[1] != query.shape[0]:
            return []  # stored with another embedder: no comparable vectors
        sims = matrix.vectors @ query
        k = min(limit, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [Candidate(int(matrix.ids[i]), float(sims[i])) for i in top]

    def by_tag(self, scope: Scope, tag: str, limit: int) -> list[Memory]:
        where, params = _scope_sql(scope)
        tag_sql, tag_params = _tag_sql([tag])
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM memories m WHERE {where}{tag_sql} "
                    "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit"
                ),
                {**params, **tag_params, "limit": limit},
            ).all()
        return [row_to_memory(r) for r in rows]

    def recent(self, scope: Scope, limit: int) -> list[Memory]:
        where, params = _scope_sql(scope)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM memories m WHERE {where} "
                    "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit"
                ),
                {**params, "limit": limit},
            ).all()
        return [row_to_memory(r) for r in rows]

    def count(self, scope: Scope) -> int:
        where, params = _scope_sql(scope)
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text(f"SELECT count(*) FROM memories m WHERE {where}"), params
                ).scalar_one()
            )

    def close(self) -> None:
        self.engine.dispose()
