"""TinyDB memory backend: every memory of a small store in one JSON file, no database needed.

Rows live in TinyDB tables (`memories`, keyed by row id, and `history`) on
AtomicJSONStorage (cerebra.memory.tinydb_storage): each public write is one transaction
that replaces the file atomically, or leaves it untouched. A row holds everything the SQL
backends spread over tables: tags, metadata, the indexed full-text terms (the output of
cerebra.memory.text.terms, as FTS5 and PostgreSQL index them) and the embedding (f32,
base64).

Queries scan the scope's rows in memory: full text is BM25 over the stored terms with the
scope's own statistics (`term_stats`, so ranking matches the SQL backends through
MemoryStore; cerebra.memory.tinydb_search), vectors are searched exactly among the rows the
scope, tags and filter allow (numpy, or a FAISS flat index with `index="faiss"`:
cerebra.memory.exact_vectors), and filters are evaluated by cerebra.memory.filter_match
before any top-k cut. Documents and rows: cerebra.memory.tinydb_rows; the decoded rows and
vectors are cached between writes (cerebra.memory.tinydb_view).

Sized for small stores (thousands of memories): every commit rewrites the whole file and
every query scans the scope. One process owns the file (a lock file refuses a second);
threads share the backend under one lock.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tinydb import Query, TinyDB

from cerebra.errors import InvalidInput
from cerebra.memory.base import (
    Candidate,
    Memory,
    MemoryChange,
    MemoryVersion,
    NewMemory,
    Scope,
    SearchCandidates,
)
from cerebra.memory.exact_vectors import ExactVectors
from cerebra.memory.filters import Node
from cerebra.memory.sqlvocab import stored_scope
from cerebra.memory.text import TermStats
from cerebra.memory.tinydb_rows import (
    SCOPE_FIELDS,
    Row,
    changed_fields,
    new_document,
    version_document,
    version_from_doc,
)
from cerebra.memory.tinydb_search import narrow, scope_stats, text_pool, unique_terms
from cerebra.memory.tinydb_view import RowView


class TinyDBBackend:
    """MemoryBackend on a TinyDB JSON file (`index`: "numpy" or "faiss" exact search)."""

    name = "tinydb"

    def __init__(self, path: str | Path = ".cerebra/memory.json", *, index: str = "numpy") -> None:
        from cerebra.memory.tinydb_storage import AtomicJSONStorage

        self.path = Path(path)
        self.db = TinyDB(self.path, storage=AtomicJSONStorage)
        self.storage: AtomicJSONStorage = self.db.storage  # type: ignore[assignment]
        self.memories = self.db.table("memories", cache_size=0)
        self.versions = self.db.table("history", cache_size=0)
        self.vectors = ExactVectors(index)
        self.view = RowView(self.memories, self.storage, self.vectors)
        self._lock = threading.RLock()

    def _write(self) -> Any:
        """One transaction: every TinyDB operation inside is committed once, or not at all."""
        return self.storage.transaction()

    # -- writes ---------------------------------------------------------------------------
    def put(self, items: Sequence[NewMemory]) -> list[str]:
        now = time.time()
        uids: list[str] = []
        with self._lock, self._write():
            known = {  # every stored memory (expired ones too) of the batch's tenants
                (*(getattr(r.memory, n) for n in SCOPE_FIELDS), r.content_hash): r.memory.uid
                for tenant in {item.scope.tenant_id for item in items}
                for r in self.view.select(Scope(tenant_id=tenant), live=False)
            }
            for item in items:
                key = (*stored_scope(item.scope).values(), item.content_hash)
                if key in known:
                    uids.append(known[key])
                    continue
                if item.merge_into is not None:
                    if item.merge_into.startswith("#"):  # an earlier item of this batch
                        item = replace(item, merge_into=uids[int(item.merge_into[1:])])
                    merged = self._merge(item, now)
                    if merged is not None:
                        known[key] = merged
                        uids.append(merged)
                        continue
                uid = uuid.uuid4().hex
                self.view.touch([self.memories.insert(new_document(uid, item, now))])
                known[key] = uid
                uids.append(uid)
        return uids

    def _find(self, scope: Scope, uid: str, *, live: bool) -> Row | None:
        found = self.view.select(scope, live=live, test=lambda r: r.memory.uid == uid)
        return found[0] if found else None

    def _merge(self, item: NewMemory, now: float) -> str | None:
        """Fold a near-duplicate into memory `item.merge_into`: newer text, union of tags."""
        assert item.merge_into is not None
        old = self._find(Scope(**stored_scope(item.scope)), item.merge_into, live=True)
        if old is None:
            return None
        change = MemoryChange(
            text=item.text,
            terms=item.terms,
            content_hash=item.content_hash,
            embedding=item.embedding,
            embedding_model=item.embedding_model,
            tags=tuple(dict.fromkeys((*old.memory.tags, *item.tags))),
            metadata={**old.memory.metadata, **item.metadata},
            importance=max(old.memory.importance, item.importance),
        )
        self._apply(old, change, now, event="merge")
        return old.memory.uid

    def update(self, scope: Scope, uid: str, change: MemoryChange) -> Memory | None:
        now = time.time()
        with self._lock:
            with self._write():
                old = self._find(scope, uid, live=False)
                if old is None:
                    return None
                self._refuse_twin(old, change)
                self._apply(old, change, now, event="update")
            found = self._find(scope, uid, live=False)
        return None if found is None else found.memory

    def _refuse_twin(self, old: Row, change: MemoryChange) -> None:
        """InvalidInput if the new text duplicates another memory of the same scope."""
        if change.content_hash is None or change.content_hash == old.content_hash:
            return
        m = old.memory
        twins = self.view.select(
            Scope(m.tenant_id, m.user_id, m.agent_id, m.session_id),
            live=False,
            test=lambda r: r.content_hash == change.content_hash and r.memory.uid != m.uid,
        )
        if twins:
            raise InvalidInput(
                f"the new text duplicates memory {twins[0].memory.uid} in the same scope",
                field="text",
            )

    def _apply(self, old: Row, change: MemoryChange, now: float, *, event: str) -> None:
        """Copy the current version to history, then write `change`."""
        m = old.memory
        self.versions.insert(version_document(m, event, now))
        self.memories.update(changed_fields(m, change, now), doc_ids=[m.row_id])
        self.view.touch([m.row_id])  # later reads in this transaction see the change

    def _remove(self, rows: Sequence[Row]) -> int:
        if rows:
            gone = {(r.memory.tenant_id, r.memory.uid) for r in rows}
            self.versions.remove(lambda d: (d["tenant_id"], d["memory_uid"]) in gone)
            ids = [r.memory.row_id for r in rows]
            self.memories.remove(doc_ids=ids)
            self.view.touch(ids)
        return len(rows)

    def delete(self, scope: Scope, uids: Sequence[str]) -> int:
        wanted = set(uids)
        with self._lock, self._write():
            return self._remove(
                self.view.select(scope, live=False, test=lambda r: r.memory.uid in wanted)
            )

    def delete_scope(self, scope: Scope) -> int:
        with self._lock, self._write():
            return self._remove(self.view.select(scope, live=False))

    def prune(self, scope: Scope, *, threshold: float, older_than: float | None, now: float) -> int:
        def doomed(r: Row) -> bool:
            m = r.memory
            if m.expires_at is not None and m.expires_at <= now:
                return True
            value = max(0.0, min(1.0, m.importance + m.salience / 2.0))
            return value < threshold and (older_than is None or m.created_at < older_than)

        with self._lock, self._write():
            return self._remove(self.view.select(scope, live=False, test=doomed))

    def adjust_salience(self, scope: Scope, uids: Sequence[str], delta: float) -> int:
        wanted = set(uids)
        with self._lock, self._write():
            rows = self.view.select(scope, live=False, test=lambda r: r.memory.uid in wanted)
            for r in rows:
                value = max(-1.0, min(1.0, r.memory.salience + delta))
                self.memories.update({"salience": value}, doc_ids=[r.memory.row_id])
            self.view.touch(r.memory.row_id for r in rows)
            return len(rows)

    # -- reads ----------------------------------------------------------------------------
    def get(self, scope: Scope, uid: str) -> Memory | None:
        with self._lock:
            found = self._find(scope, uid, live=True)
        return None if found is None else found.memory

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]:
        with self._lock:
            rows = self.view.rows()
            return [rows[int(i)].memory for i in row_ids if int(i) in rows]

    def history(self, scope: Scope, uid: str) -> list[MemoryVersion]:
        with self._lock:
            current = self._find(scope, uid, live=False)
            if current is None:
                return []
            m = current.memory
            version = Query()
            docs = self.versions.search(
                (version.memory_uid == uid) & (version.tenant_id == m.tenant_id)
            )
        versions = [version_from_doc(uid, d) for d in sorted(docs, key=lambda d: int(d["version"]))]
        versions.append(
            MemoryVersion(
                uid,
                m.version,
                m.text,
                m.tags,
                m.metadata,
                m.importance,
                "current",
                m.updated_at,
                None,
            )
        )
        return versions

    def _listing(
        self, scope: Scope, limit: int, tags: Sequence[str], where_: Node | None
    ) -> list[Memory]:
        with self._lock:
            rows = self.view.select(scope, tags=tags, where=where_)
        rows.sort(key=lambda r: (-r.memory.created_at, -r.memory.row_id))
        return [r.memory for r in rows[: max(limit, 0)]]

    def by_tag(self, scope: Scope, tag: str, limit: int, where: Node | None = None) -> list[Memory]:
        return self._listing(scope, limit, [tag], where)

    def recent(self, scope: Scope, limit: int, where: Node | None = None) -> list[Memory]:
        return self._listing(scope, limit, (), where)

    def count(self, scope: Scope) -> int:
        with self._lock:
            return len(self.view.select(scope))

    # -- candidates -----------------------------------------------------------------------
    def term_stats(self, scope: Scope, terms: Sequence[str], row_ids: Sequence[int]) -> TermStats:
        """BM25 statistics of the live memories in `scope`, counted from their rows."""
        with self._lock:
            return scope_stats(self.view.select(scope), terms, row_ids)

    def text_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]:
        """BM25 (with the scope's statistics) of the rows that scope, tags and filter allow."""
        with self._lock:
            rows = self.view.select(scope)
            allowed = narrow(rows, tags, where)
        return text_pool(allowed, scope_stats(rows, terms, ()), terms, limit)

    def search_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> SearchCandidates:
        """Both pools, their rows and the scope's statistics from one pass over the scope."""
        with self._lock:
            rows = self.view.select(scope)
            allowed = narrow(rows, tags, where)
            stats = scope_stats(rows, terms, ())
            text = text_pool(allowed, stats, terms, limit)
            near = self._nearest(allowed, vector, limit)
            ids = list(dict.fromkeys([c.row_id for c in text] + [c.row_id for c in near]))
            everything = self.view.rows()
        found = TermStats(
            stats.docs, stats.avg_len, stats.df, {i: everything[i].terms for i in ids}
        )
        memories = {i: everything[i].memory for i in ids}
        return SearchCandidates(text, near, memories, found if unique_terms(terms) else None)

    def _nearest(self, allowed: list[Row], vector: np.ndarray, limit: int) -> list[Candidate]:
        keys = np.asarray(sorted(r.memory.row_id for r in allowed), dtype=np.int64)
        found, sims = self.view.synced_vectors().search(
            np.asarray(vector, dtype=np.float32), keys, limit
        )
        return [Candidate(int(k), float(s)) for k, s in zip(found, sims, strict=True)]

    def vector_candidates(
        self,
        scope: Scope,
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]:
        """Exact inner products among the rows that scope, tags and filter allow."""
        if limit <= 0:
            return []
        with self._lock:
            return self._nearest(self.view.select(scope, tags=tags, where=where), vector, limit)

    # -- upkeep ---------------------------------------------------------------------------
    def integrity(self) -> dict[str, int]:
        """Rows; rows without indexed terms; rows whose vector is missing from the search
        structure, and keys in it without a row (after it is brought up to date)."""
        with self._lock:
            rows = self.view.rows()
            indexed = self.view.synced_vectors().ids()
        with_vec = {i for i, r in rows.items() if r.vector is not None}
        return {
            "rows": len(rows),
            "missing_text": sum(1 for r in rows.values() if not r.terms and r.memory.text),
            "orphan_text": 0,  # the terms live in the row: none can outlive it
            "missing_vector": len(with_vec - indexed),
            "orphan_vector": len(indexed - set(rows)),
        }

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - not picklable by design
        raise TypeError("TinyDBBackend cannot be pickled")
