"""What the SQLite and PostgreSQL memory backends share: rows, tags, history, lifecycle SQL.

Subclasses add their own full-text and vector storage through three hooks (`_insert_row`,
`_reindex`, `_forget`) and their own candidate queries. Each public write runs in one
transaction that also writes those index entries, so a memory is never half-indexed.
The column list, scope and tag clauses and the row decoder are cerebra.memory.sqlvocab's.
"""

from __future__ import annotations

import json
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, Engine, text

from cerebra.errors import InvalidInput
from cerebra.memory.base import Memory, MemoryChange, MemoryVersion, NewMemory, Scope
from cerebra.memory.filters import Node, compile_filter
from cerebra.memory.graph import MemoryGraph
from cerebra.memory.graph_store import clear_graph, write_graph
from cerebra.memory.passage_store import clear_passages, read_passages, write_passages
from cerebra.memory.sqlvocab import (
    COLUMNS,
    loads_json,
    memory_from_row,
    scope_sql,
    stored_scope,
    tag_sql,
)
from cerebra.memory.supersession import FactState, Statement, forget, record, states
from cerebra.memory.termstats import StatsDelta, read_term_stats, scope_key
from cerebra.memory.text import TermStats

_CHUNK = 500


class SQLMemoryBackend(ABC):
    """Shared implementation; subclasses set `name` and implement the index hooks."""

    name = "sql"
    engine: Engine

    # -- hooks ------------------------------------------------------------------------
    @abstractmethod
    def _insert_row(self, conn: Connection, uid: str, item: NewMemory, now: float) -> int: ...

    @abstractmethod
    def _reindex(self, conn: Connection, row_id: int, change: MemoryChange) -> None: ...

    @abstractmethod
    def _forget(self, conn: Connection, ids: Sequence[int], tenant_id: str) -> None:
        """Remove index entries (full text, vectors) of rows about to be deleted."""

    @abstractmethod
    def _doc_terms(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        """The indexed full-text terms of rows by id (rows that do not exist are left out)."""

    def _json_param(self, name: str) -> str:
        return f":{name}"

    def memory_graph(self) -> MemoryGraph:
        """The knowledge graph of this backend's memories (written with them)."""
        return MemoryGraph(self.engine)

    def where_sql(self, where: Node | None, alias: str = "m") -> tuple[str, dict[str, Any]]:
        return compile_filter(where, self.engine.dialect.name, alias)

    # -- writes -----------------------------------------------------------------------
    def put(self, items: Sequence[NewMemory]) -> list[str]:
        now = time.time()
        uids: list[str] = []
        delta = StatsDelta()
        stated: list[Statement] = []
        with self.engine.begin() as conn:
            known = self._existing_hashes(conn, items)
            for item in items:
                key = (*stored_scope(item.scope).values(), item.content_hash)
                if key in known:
                    uids.append(known[key])
                    continue
                if item.merge_into is not None:
                    if item.merge_into.startswith("#"):  # an earlier item of this batch
                        item = replace(item, merge_into=uids[int(item.merge_into[1:])])
                    merged = self._merge(conn, item, now)
                    if merged is not None:
                        known[key] = merged
                        uids.append(merged)
                        continue
                uid = uuid.uuid4().hex
                row_id = self._insert_row(conn, uid, item, now)
                self._write_tags(conn, row_id, item.tags, item.scope.tenant_id)
                write_graph(conn, row_id, item.scope.tenant_id, item.text)
                if item.passages is not None:
                    write_passages(conn, row_id, item.scope.tenant_id, item.passages,
                                   item.embedding_model)
                delta.add(scope_key(item.scope), item.terms, 1)
                if item.facts:
                    stated.append(self._statement(row_id, item.scope, item, now))
                known[key] = uid
                uids.append(uid)
            record(conn, stated)
            delta.flush(conn)
        return uids

    def _existing_hashes(
        self, conn: Connection, items: Sequence[NewMemory]
    ) -> dict[tuple[str, ...], str]:
        found: dict[tuple[str, ...], str] = {}
        by_tenant: dict[str, set[str]] = {}
        for item in items:
            by_tenant.setdefault(item.scope.tenant_id, set()).add(item.content_hash)
        for tenant, hashes in by_tenant.items():
            ordered = sorted(hashes)
            for start in range(0, len(ordered), _CHUNK):
                chunk = ordered[start : start + _CHUNK]
                marks = ", ".join(f":h{i}" for i in range(len(chunk)))
                rows = conn.execute(
                    text(
                        "SELECT uid, tenant_id, user_id, agent_id, session_id, content_hash "
                        f"FROM memories WHERE tenant_id = :t AND content_hash IN ({marks})"
                    ),
                    {"t": tenant, **{f"h{i}": h for i, h in enumerate(chunk)}},
                )
                for r in rows:
                    key = (r.tenant_id, r.user_id, r.agent_id, r.session_id, r.content_hash)
                    found[key] = r.uid
        return found

    def _merge(self, conn: Connection, item: NewMemory, now: float) -> str | None:
        """Fold a near-duplicate into memory `item.merge_into`: newer text, union of tags."""
        assert item.merge_into is not None
        old = self._get(conn, Scope(**stored_scope(item.scope)), item.merge_into, live=True)
        if old is None:
            return None
        change = MemoryChange(
            text=item.text,
            terms=item.terms,
            content_hash=item.content_hash,
            embedding=item.embedding,
            embedding_model=item.embedding_model,
            tags=tuple(dict.fromkeys((*old.tags, *item.tags))),
            metadata={**old.metadata, **item.metadata},
            importance=max(old.importance, item.importance),
            facts=item.facts,
            passages=item.passages,
        )
        self._apply(conn, old, change, now, event="merge")
        return old.uid

    @staticmethod
    def _statement(row_id: int, scope: Scope, item: NewMemory, now: float) -> Statement:
        where = stored_scope(scope)
        at = item.created_at if item.created_at is not None else now
        return Statement(
            row_id, where["tenant_id"], where["user_id"], where["agent_id"], at, item.facts or ()
        )

    def fact_states(self, row_ids: Sequence[int]) -> dict[int, tuple[FactState, ...]]:
        """The statements each memory makes, with their validity (cerebra.memory.supersession)."""
        with self.engine.connect() as conn:
            return states(conn, row_ids)

    def _write_tags(
        self, conn: Connection, row_id: int, tags: Sequence[str], tenant_id: str
    ) -> None:
        unique = list(dict.fromkeys(tags))
        if unique:
            conn.execute(
                text("INSERT INTO memory_tags (memory_id, tag, tenant_id) VALUES (:m, :t, :x)"),
                [{"m": row_id, "t": t, "x": tenant_id} for t in unique],
            )

    def update(self, scope: Scope, uid: str, change: MemoryChange) -> Memory | None:
        now = time.time()
        with self.engine.begin() as conn:
            old = self._get(conn, scope, uid, live=False)
            if old is None:
                return None
            if change.content_hash is not None and change.content_hash != self._hash(conn, old):
                twin = conn.execute(
                    text(
                        "SELECT uid FROM memories WHERE tenant_id = :tenant_id AND "
                        "user_id = :user_id AND agent_id = :agent_id AND "
                        "session_id = :session_id AND content_hash = :h AND uid <> :uid"
                    ),
                    {**self._stored(old), "h": change.content_hash, "uid": uid},
                ).first()
                if twin is not None:
                    raise InvalidInput(
                        f"the new text duplicates memory {twin.uid} in the same scope",
                        field="text",
                    )
            self._apply(conn, old, change, now, event="update")
            return self._get(conn, scope, uid, live=False)

    @staticmethod
    def _stored(memory: Memory) -> dict[str, str]:
        return {
            "tenant_id": memory.tenant_id,
            "user_id": memory.user_id,
            "agent_id": memory.agent_id,
            "session_id": memory.session_id,
        }

    @staticmethod
    def _hash(conn: Connection, memory: Memory) -> str:
        return str(
            conn.execute(
                text("SELECT content_hash FROM memories WHERE id = :id"), {"id": memory.row_id}
            ).scalar_one()
        )

    def _apply(
        self, conn: Connection, old: Memory, change: MemoryChange, now: float, *, event: str
    ) -> None:
        """Copy the current version to history, then write `change` and reindex."""
        conn.execute(
            text(
                "INSERT INTO memory_history (memory_uid, tenant_id, version, text, tags, "
                "metadata, importance, event, valid_from, valid_to) SELECT uid, tenant_id, "
                "version, text, tags, metadata, importance, :event, updated_at, :now "
                "FROM memories WHERE id = :id"
            ),
            {"event": event, "now": now, "id": old.row_id},
        )
        sets = ["version = version + 1", "updated_at = :now"]
        params: dict[str, Any] = {"now": now, "id": old.row_id}
        if change.text is not None:
            sets += ["text = :text", "content_hash = :h"]
            params.update(text=change.text, h=change.content_hash)
        if change.tags is not None:
            sets.append(f"tags = {self._json_param('tags')}")
            params["tags"] = json.dumps(list(change.tags))
            conn.execute(text("DELETE FROM memory_tags WHERE memory_id = :id"), {"id": old.row_id})
            self._write_tags(conn, old.row_id, change.tags, old.tenant_id)
        if change.metadata is not None:
            sets.append(f"metadata = {self._json_param('meta')}")
            params["meta"] = json.dumps(change.metadata)
        if change.importance is not None:
            sets.append("importance = :importance")
            params["importance"] = change.importance
        if change.clear_expiry or change.expires_at is not None:
            sets.append("expires_at = :expires_at")
            params["expires_at"] = None if change.clear_expiry else change.expires_at
        if change.text is not None:
            key = (old.tenant_id, old.agent_id, old.user_id, old.session_id)
            delta = StatsDelta()
            delta.add(key, self._doc_terms(conn, [old.row_id]).get(old.row_id, ""), -1)
            delta.add(key, change.terms or "", 1)
            delta.flush(conn)
        conn.execute(text(f"UPDATE memories SET {', '.join(sets)} WHERE id = :id"), params)
        if change.text is not None:
            self._reindex(conn, old.row_id, change)
            clear_graph(conn, [old.row_id])  # the graph follows the text
            write_graph(conn, old.row_id, old.tenant_id, change.text)
            # so do the passages; none until write-behind fills them with the vector
            write_passages(conn, old.row_id, old.tenant_id, change.passages,
                           change.embedding_model)
        if change.facts is not None:
            statement = Statement(
                old.row_id, old.tenant_id, old.user_id, old.agent_id, old.created_at, change.facts
            )
            record(conn, [statement], replace=True)

    def delete(self, scope: Scope, uids: Sequence[str]) -> int:
        if not uids:
            return 0
        where, params = scope_sql(scope, live_only=False)
        marks = ", ".join(f":u{i}" for i in range(len(uids)))
        params.update({f"u{i}": u for i, u in enumerate(uids)})
        with self.engine.begin() as conn:
            return self._delete_where(conn, f"{where} AND m.uid IN ({marks})", params)

    def delete_scope(self, scope: Scope) -> int:
        where, params = scope_sql(scope, live_only=False)
        with self.engine.begin() as conn:
            return self._delete_where(conn, where, params)

    def prune(self, scope: Scope, *, threshold: float, older_than: float | None, now: float) -> int:
        where, params = scope_sql(scope, live_only=False)
        value = self._clamp("m.importance + m.salience / 2.0", 0.0, 1.0)
        low = f"{value} < :threshold"
        if older_than is not None:
            low += " AND m.created_at < :older"
            params["older"] = older_than
        params.update(threshold=threshold, now=now)
        cond = f"{where} AND ((m.expires_at IS NOT NULL AND m.expires_at <= :now) OR ({low}))"
        with self.engine.begin() as conn:
            return self._delete_where(conn, cond, params)

    def _clamp(self, expr: str, lo: float, hi: float) -> str:
        if self.engine.dialect.name == "postgresql":
            return f"GREATEST({lo}, LEAST({hi}, {expr}))"
        return f"max({lo}, min({hi}, {expr}))"

    def adjust_salience(self, scope: Scope, uids: Sequence[str], delta: float) -> int:
        if not uids:
            return 0
        where, params = scope_sql(scope, live_only=False)
        marks = ", ".join(f":u{i}" for i in range(len(uids)))
        params.update({f"u{i}": u for i, u in enumerate(uids)}, d=delta)
        value = self._clamp("salience + :d", -1.0, 1.0)
        with self.engine.begin() as conn:
            result = conn.execute(
                text(
                    f"UPDATE memories SET salience = {value} WHERE id IN "
                    f"(SELECT m.id FROM memories m WHERE {where} AND m.uid IN ({marks}))"
                ),
                params,
            )
            return int(result.rowcount or 0)

    def _delete_where(self, conn: Connection, where: str, params: dict[str, Any]) -> int:
        rows = conn.execute(
            text(
                "SELECT m.id, m.uid, m.tenant_id, m.agent_id, m.user_id, m.session_id "
                f"FROM memories m WHERE {where}"
            ),
            params,
        ).all()
        delta = StatsDelta()
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            ids = [int(r.id) for r in chunk]
            indexed = self._doc_terms(conn, ids)
            for r in chunk:
                key = (r.tenant_id, r.agent_id, r.user_id, r.session_id)
                delta.add(key, indexed.get(int(r.id), ""), -1)
            marks = ", ".join(str(i) for i in ids)
            umarks = ", ".join(f":u{i}" for i in range(len(chunk)))
            for tenant in {r.tenant_id for r in chunk}:
                self._forget(conn, [int(r.id) for r in chunk if r.tenant_id == tenant], tenant)
            conn.execute(
                text(f"DELETE FROM memory_history WHERE memory_uid IN ({umarks})"),
                {f"u{i}": r.uid for i, r in enumerate(chunk)},
            )
            conn.execute(text(f"DELETE FROM memory_tags WHERE memory_id IN ({marks})"))
            forget(conn, ids)
            clear_graph(conn, ids)
            clear_passages(conn, ids)
            conn.execute(text(f"DELETE FROM memories WHERE id IN ({marks})"))
        delta.flush(conn)
        return len(rows)

    # -- reads ------------------------------------------------------------------------
    def _get(self, conn: Connection, scope: Scope, uid: str, *, live: bool) -> Memory | None:
        where, params = scope_sql(scope, live_only=live)
        row = conn.execute(
            text(f"SELECT {COLUMNS} FROM memories m WHERE {where} AND m.uid = :uid"),
            {**params, "uid": uid},
        ).first()
        return None if row is None else memory_from_row(row)

    def get(self, scope: Scope, uid: str) -> Memory | None:
        with self.engine.connect() as conn:
            return self._get(conn, scope, uid, live=True)

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]:
        if not row_ids:
            return []
        by_id: dict[int, Memory] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(row_ids), _CHUNK):
                marks = ", ".join(str(int(i)) for i in row_ids[start : start + _CHUNK])
                rows = conn.execute(
                    text(f"SELECT {COLUMNS} FROM memories m WHERE m.id IN ({marks})")
                )
                by_id.update((int(r.id), memory_from_row(r)) for r in rows)
        return [by_id[i] for i in row_ids if i in by_id]

    def history(self, scope: Scope, uid: str) -> list[MemoryVersion]:
        with self.engine.connect() as conn:
            current = self._get(conn, scope, uid, live=False)
            if current is None:
                return []
            rows = conn.execute(
                text(
                    "SELECT version, text, tags, metadata, importance, event, valid_from, "
                    "valid_to FROM memory_history WHERE memory_uid = :uid AND tenant_id = :t "
                    "ORDER BY version"
                ),
                {"uid": uid, "t": current.tenant_id},
            ).all()
        versions = [
            MemoryVersion(
                uid,
                int(r.version),
                r.text,
                tuple(loads_json(r.tags, ())),
                loads_json(r.metadata, {}),
                float(r.importance),
                r.event,
                float(r.valid_from),
                float(r.valid_to),
            )
            for r in rows
        ]
        versions.append(
            MemoryVersion(
                uid,
                current.version,
                current.text,
                current.tags,
                current.metadata,
                current.importance,
                "current",
                current.updated_at,
                None,
            )
        )
        return versions

    def _listing(
        self, scope: Scope, limit: int, tags: Sequence[str], where: Node | None
    ) -> list[Memory]:
        scope_where, params = scope_sql(scope)
        tags_where, tag_params = tag_sql(tags)
        filt, filt_params = self.where_sql(where)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {COLUMNS} FROM memories m WHERE {scope_where}{tags_where}{filt} "
                    "ORDER BY m.created_at DESC, m.id DESC LIMIT :limit"
                ),
                {**params, **tag_params, **filt_params, "limit": limit},
            ).all()
        return [memory_from_row(r) for r in rows]

    def by_tag(self, scope: Scope, tag: str, limit: int, where: Node | None = None) -> list[Memory]:
        return self._listing(scope, limit, [tag], where)

    def recent(self, scope: Scope, limit: int, where: Node | None = None) -> list[Memory]:
        return self._listing(scope, limit, (), where)

    def term_stats(self, scope: Scope, terms: Sequence[str], row_ids: Sequence[int]) -> TermStats:
        """BM25 statistics of the live memories in `scope` (see cerebra.memory.termstats)."""
        with self.engine.connect() as conn:
            return read_term_stats(conn, scope, terms, row_ids, self._doc_terms, time.time())

    def count(self, scope: Scope) -> int:
        where, params = scope_sql(scope)
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    text(f"SELECT count(*) FROM memories m WHERE {where}"), params
                ).scalar_one()
            )

    # -- write-behind vectors (cerebra.memory.write_behind) ----------------------------
    _NO_VECTOR = "embedding IS NULL"  # the dialect's test for a row stored without one

    @abstractmethod
    def _set_vector(self, conn: Connection, row_id: int, tenant_id: str, vector: Any,
                    model: str) -> None:
        """Store a row's vector and make the vector index take it."""

    def pending_vectors(self, limit: int = 1000) -> list[tuple[str, str]]:
        """(uid, text) of memories stored without a vector, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT uid, text FROM memories WHERE {self._NO_VECTOR} "
                     "ORDER BY id LIMIT :n"), {"n": int(limit)})
            return [(str(r.uid), str(r.text)) for r in rows]

    def fill_vectors(self, items: Sequence[tuple[str, Any]], model: str,
                     passages: Sequence[Any] | None = None) -> int:
        """Give each memory still without a vector its vector (and its passage vectors,
        `passages[n]` for `items[n]`, None for a short text), in one transaction; one that
        has a vector by now (re-embedded by an update) or is gone is skipped."""
        filled = 0
        with self.engine.begin() as conn:
            for n, (uid, vector) in enumerate(items):
                row = conn.execute(
                    text(f"SELECT id, tenant_id FROM memories WHERE uid = :u AND "
                         f"{self._NO_VECTOR}"), {"u": uid}).first()
                if row is not None:
                    self._set_vector(conn, int(row.id), str(row.tenant_id), vector, model)
                    if passages is not None and passages[n] is not None:
                        write_passages(conn, int(row.id), str(row.tenant_id), passages[n],
                                       model)
                    filled += 1
        return filled

    def passage_vectors(self, row_ids: Sequence[int]) -> dict[int, Any]:
        """The passage matrices of those of `row_ids` that are long (cerebra.memory.passages)."""
        if not row_ids:
            return {}
        with self.engine.connect() as conn:
            return read_passages(conn, row_ids)

    def close(self) -> None:
        self.engine.dispose()
