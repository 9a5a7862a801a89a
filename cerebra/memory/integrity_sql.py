"""The integrity checks of the SQL memory backends (cerebra.memory.integrity): SQLite
(FTS5 table, embedding BLOBs, the usearch/FAISS index replayed from `memory_vec_log`) and
PostgreSQL (`terms`/`tsv` and `embedding_vec`/`embedding_dim` in the row itself, the row's
mirror in `memory_text`, which a rewrite of the row's terms restores through its trigger).

Repairs write through the same paths ordinary writes use: SQLite vector changes are
appended to `memory_vec_log`, so every process's index (this one's and a running server's)
catches up from the log; the per-scope statistics are rebuilt from the indexed terms in one
transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from cerebra.memory.embedders import Embedder
from cerebra.memory.integrity_report import IntegrityCheck, Problem
from cerebra.memory.termstats import StatsDelta
from cerebra.memory.text import terms_text

TEXT_KINDS = ("missing_text", "stale_text")
VECTOR_KINDS = ("missing_vector", "wrong_dimension")


def core_check(backend: Any) -> IntegrityCheck | None:
    """The check for a SQLite or PostgreSQL backend; None for any other."""
    from cerebra.memory.postgres import PostgresBackend
    from cerebra.memory.sqlite import SQLiteBackend

    if isinstance(backend, SQLiteBackend):
        return SQLiteCheck()
    if isinstance(backend, PostgresBackend):
        return PostgresCheck()
    return None


def _text_problems(rows: Sequence[Any], indexed: dict[int, str]) -> list[Problem]:
    out = []
    for r in rows:
        want = terms_text(r.text)
        have = indexed.get(int(r.id))
        if have is None or (not have and want):
            out.append(Problem("missing_text", int(r.id), r.uid, "no full-text entry"))
        elif have != want:
            out.append(Problem("stale_text", int(r.id), r.uid,
                               "indexed terms differ from the text's"))
    return out


def _vector_problems(rows: Sequence[Any], dimension: int | None) -> list[Problem]:
    out = []
    for r in rows:
        if not r.dim:
            out.append(Problem("missing_vector", int(r.id), r.uid, "no embedding"))
        elif dimension is not None and int(r.dim) != dimension:
            out.append(Problem("wrong_dimension", int(r.id), r.uid,
                               f"{int(r.dim)} dimensions, the embedder has {dimension}"))
    return out


def _stats_problems(conn: Connection, expected: StatsDelta) -> list[Problem]:
    """Differences between the stored per-scope statistics and those of the indexed terms."""
    docs = {(r[0], r[1], r[2], r[3]): (int(r[4]), int(r[5])) for r in conn.execute(text(
        "SELECT tenant_id, agent_id, user_id, session_id, docs, total_len "
        "FROM memory_scope_stats"))}
    df = {((r[0], r[1], r[2], r[3]), r[4]): int(r[5]) for r in conn.execute(text(
        "SELECT tenant_id, agent_id, user_id, session_id, term, df FROM memory_scope_terms"))}
    want_docs = {k: (v[0], v[1]) for k, v in expected.docs.items() if v[0] or v[1]}
    want_df = {k: v for k, v in expected.df.items() if v}
    out = []
    for key in sorted(set(docs) | set(want_docs)):
        if docs.get(key) != want_docs.get(key):
            out.append(Problem("term_stats", 0, "", f"scope {'/'.join(key)}: documents and "
                               f"length {docs.get(key)} stored, {want_docs.get(key)} indexed"))
    wrong_terms = {k for k in set(df) | set(want_df) if df.get(k) != want_df.get(k)}
    for key in sorted({k[0] for k in wrong_terms}):
        count = sum(1 for k in wrong_terms if k[0] == key)
        out.append(Problem("term_stats", 0, "", f"scope {'/'.join(key)}: {count} term "
                           "frequencies differ from the indexed terms"))
    return out


def _expected_stats(rows: Sequence[Any], indexed: dict[int, str]) -> StatsDelta:
    delta = StatsDelta()
    for r in rows:
        delta.add((r.tenant_id, r.agent_id, r.user_id, r.session_id),
                  indexed.get(int(r.id), ""), 1)
    return delta


def _rebuild_stats(conn: Connection, expected: StatsDelta) -> None:
    conn.execute(text("DELETE FROM memory_scope_terms"))
    conn.execute(text("DELETE FROM memory_scope_stats"))
    expected.flush(conn)


class _SQLCheck(ABC):
    """What both dialects share: reading rows, the order of repairs."""

    name = "memory"

    @abstractmethod
    def _rows(self, conn: Connection) -> list[Any]:
        """Every row: id, uid, scope, text and `dim` (its vector's dimension, or None)."""

    @abstractmethod
    def _indexed(self, conn: Connection) -> dict[int, str]:
        """The indexed full-text terms by row id."""

    def _reembed(self, conn: Connection, backend: Any, rows: Sequence[Any],
                 vectors: np.ndarray, model: str) -> None:
        """Store fresh vectors for `rows` (and make the index take them): the backend's own
        vector write, the one write-behind fills with."""
        for r, vector in zip(rows, vectors, strict=True):
            backend._set_vector(conn, int(r.id), str(r.tenant_id), vector, model)

    @abstractmethod
    def _reindex_text(self, conn: Connection, rows: Sequence[Any]) -> None:
        """Index each row's text afresh."""

    def _index_problems(self, conn: Connection, backend: Any,
                        rows: Sequence[Any]) -> list[Problem]:
        return []

    @abstractmethod
    def _requeue(self, conn: Connection, backend: Any, problems: Sequence[Problem]) -> None:
        """Make the index agree with the rows for these row ids (unindexed / orphan)."""

    def verify(self, backend: Any, dimension: int | None) -> tuple[int, list[Problem]]:
        with backend.engine.connect() as conn:
            rows = self._rows(conn)
            indexed = self._indexed(conn)
            problems = _text_problems(rows, indexed)
            live = {int(r.id) for r in rows}
            problems += [Problem("orphan_text", i, "", "full-text entry without a row")
                         for i in sorted(set(indexed) - live)]
            problems += _vector_problems(rows, dimension)
            problems += self._index_problems(conn, backend, rows)
            problems += _stats_problems(conn, _expected_stats(rows, indexed))
        return len(rows), problems

    def repair(self, backend: Any, problems: Sequence[Problem], embedder: Embedder) -> int:
        handled = 0
        ids = {k: {p.row_id for p in problems if p.kind == k} for k in {p.kind for p in problems}}
        with backend.engine.begin() as conn:  # text first: the statistics follow from it
            rows = [r for r in self._rows(conn)
                    if int(r.id) in ids.get("missing_text", set()) | ids.get("stale_text", set())]
            self._reindex_text(conn, rows)
            orphans = sorted(ids.get("orphan_text", set()))
            if orphans:
                self._drop_text(conn, orphans)
            handled += len(rows) + len(orphans)
        wanted = set().union(*(ids.get(k, set()) for k in VECTOR_KINDS))
        if wanted:
            with backend.engine.begin() as conn:
                rows = [r for r in self._rows(conn) if int(r.id) in wanted]
                vectors = embedder.embed([r.text for r in rows])
                self._reembed(conn, backend, rows, vectors, embedder.model_id)
                handled += len(rows)
        requeue = [p for p in problems if p.kind in ("unindexed_vector", "orphan_vector")]
        if requeue:
            with backend.engine.begin() as conn:
                self._requeue(conn, backend, requeue)
            handled += len(requeue)
        with backend.engine.begin() as conn:
            expected = _expected_stats(self._rows(conn), self._indexed(conn))
            if _stats_problems(conn, expected):
                _rebuild_stats(conn, expected)
                handled += sum(1 for p in problems if p.kind == "term_stats")
        return handled

    @abstractmethod
    def _drop_text(self, conn: Connection, ids: Sequence[int]) -> None:
        """Remove full-text entries that have no row."""


class SQLiteCheck(_SQLCheck):
    def _rows(self, conn: Connection) -> list[Any]:
        return list(conn.execute(text(
            "SELECT id, uid, tenant_id, agent_id, user_id, session_id, text, "
            "length(embedding) / 4 AS dim FROM memories ORDER BY id")).all())

    def _indexed(self, conn: Connection) -> dict[int, str]:
        return {int(r[0]): str(r[1] or "") for r in conn.execute(
            text("SELECT rowid, terms FROM memories_fts"))}

    def _index_problems(self, conn: Connection, backend: Any,
                        rows: Sequence[Any]) -> list[Problem]:
        dims = {int(r.dim) for r in rows if r.dim} | set(backend._indexes)
        out = []
        for dim in sorted(dims):
            both, either = backend.vector_index(dim, conn).keys()
            having = {int(r.id): r.uid for r in rows if r.dim and int(r.dim) == dim}
            out += [Problem("unindexed_vector", i, having[i],
                            f"{dim}-dimensional vector missing from the vector index")
                    for i in sorted(set(having) - both)]
            uids = {int(r.id): r.uid for r in rows}
            out += [Problem("orphan_vector", i, uids.get(i, ""),
                            f"{dim}-dimensional index entry without a row vector")
                    for i in sorted(either - set(having))]
        return out

    def _reindex_text(self, conn: Connection, rows: Sequence[Any]) -> None:
        for r in rows:
            conn.execute(text("DELETE FROM memories_fts WHERE rowid = :id"), {"id": r.id})
            conn.execute(text("INSERT INTO memories_fts (rowid, terms) VALUES (:id, :t)"),
                         {"id": r.id, "t": terms_text(r.text)})

    def _drop_text(self, conn: Connection, ids: Sequence[int]) -> None:
        conn.execute(text(f"DELETE FROM memories_fts WHERE rowid IN "
                          f"({', '.join(str(int(i)) for i in ids)})"))

    def _requeue(self, conn: Connection, backend: Any, problems: Sequence[Problem]) -> None:
        # Replaying a logged change puts the row's current vector in (or takes it out of)
        # every index, this process's and others'; the tenant names the row's, or "".
        tenants = {int(r[0]): r[1] for r in conn.execute(text(
            "SELECT id, tenant_id FROM memories WHERE id IN "
            f"({', '.join(str(p.row_id) for p in problems)})"))}
        for p in problems:
            backend._log(conn, [p.row_id], "add" if p.kind == "unindexed_vector" else "del",
                         tenants.get(p.row_id, ""))


class PostgresCheck(_SQLCheck):
    def _rows(self, conn: Connection) -> list[Any]:
        return list(conn.execute(text(
            "SELECT id, uid, tenant_id, agent_id, user_id, session_id, text, "
            "vector_dims(embedding_vec) AS dim, embedding_dim FROM memories ORDER BY id")).all())

    def _indexed(self, conn: Connection) -> dict[int, str]:
        # Searches rank from memory_text (revision 0036): a row missing there, or one that
        # no longer mirrors the memory's terms, scope or expiry, is not indexed.
        from cerebra.memory.postgres import TEXT_DIFFERS

        return {int(r[0]): str(r[1]) for r in conn.execute(text(
            "SELECT m.id, m.terms FROM memories m JOIN memory_text x ON x.id = m.id "
            f"WHERE m.terms IS NOT NULL AND m.tsv IS NOT NULL AND NOT {TEXT_DIFFERS}"))}

    def _index_problems(self, conn: Connection, backend: Any,
                        rows: Sequence[Any]) -> list[Problem]:
        # Vector queries and the partial HNSW indexes select rows by `embedding_dim`: a
        # vector whose dimension column disagrees is stored but never found.
        return [Problem("unindexed_vector", int(r.id), r.uid,
                        f"embedding_dim is {r.embedding_dim}, the vector has {int(r.dim)}")
                for r in rows if r.dim and r.embedding_dim != r.dim]

    def _reindex_text(self, conn: Connection, rows: Sequence[Any]) -> None:
        for r in rows:
            conn.execute(text("UPDATE memories SET terms = :t WHERE id = :id"),
                         {"id": r.id, "t": terms_text(r.text)})

    def _drop_text(self, conn: Connection, ids: Sequence[int]) -> None:
        """The terms live in the row: verify never finds full text without a row here."""
        return None

    def _reembed(self, conn: Connection, backend: Any, rows: Sequence[Any],
                 vectors: np.ndarray, model: str) -> None:
        for dim in {int(v.shape[0]) for v in vectors}:
            backend.ensure_vector_index(dim)
        super()._reembed(conn, backend, rows, vectors, model)

    def _requeue(self, conn: Connection, backend: Any, problems: Sequence[Problem]) -> None:
        ids = [p.row_id for p in problems]
        conn.execute(text("UPDATE memories SET embedding_dim = vector_dims(embedding_vec) "
                          "WHERE id = ANY(:ids)"), {"ids": ids})
