"""The TinyDB backend's view of its rows: decoded once, cached between writes, by tenant.

Decoding a document (metadata copy, base64 vector, term set) costs more than a query's scan,
so `RowView` keeps every row decoded. Writes name the rows they touched (`touch`), and only
those are decoded again; a dropped transaction (the storage's `discards` count moved)
decodes everything from the committed file. `select` is the one scan every query makes: a
tenant's rows, narrowed by scope, expiry, tags, filter and an optional test. The exact
vector search structure (cerebra.memory.exact_vectors) is rebuilt after any write, when a
vector query next needs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from tinydb.table import Table

from cerebra.memory.base import Scope
from cerebra.memory.exact_vectors import ExactVectors
from cerebra.memory.filter_match import matches
from cerebra.memory.filters import Node
from cerebra.memory.tinydb_rows import Row, in_scope, is_live, row_from_doc, scope_test
from cerebra.memory.tinydb_storage import AtomicJSONStorage


class RowView:
    """Decoded rows of one memories table; callers hold the backend's lock."""

    def __init__(self, table: Table, storage: AtomicJSONStorage, vectors: ExactVectors) -> None:
        self.table = table
        self.storage = storage
        self.vectors = vectors
        self._by_id: dict[int, Row] | None = None
        self._by_tenant: dict[str, list[Row]] | None = None
        self._dirty: set[int] = set()  # rows written since they were decoded
        self._discards = storage.discards
        self._vectors_stale = True
        # per scope: (rows that never expire, rows with an expiry), until the next write
        self._scopes: dict[tuple[str | None, ...], tuple[list[Row], list[Row]]] = {}

    def touch(self, row_ids: Iterable[int]) -> None:
        """Mark rows written (inside the current transaction) for decoding again."""
        self._dirty.update(row_ids)
        self._vectors_stale = True

    def _view(self) -> tuple[dict[int, Row], dict[str, list[Row]]]:
        if self._by_id is None or self._discards != self.storage.discards:
            self._by_id = {int(d.doc_id): row_from_doc(int(d.doc_id), d) for d in self.table.all()}
            self._discards = self.storage.discards
            self._dirty.clear()
            self._by_tenant = None
            self._vectors_stale = True
        elif self._dirty:
            for row_id in self._dirty:
                doc = self.table.get(doc_id=row_id)
                if doc is None:
                    self._by_id.pop(row_id, None)
                else:
                    self._by_id[row_id] = row_from_doc(row_id, doc)
            self._dirty.clear()
            self._by_tenant = None
        if self._by_tenant is None:
            self._scopes.clear()
            self._by_tenant = {}
            for r in self._by_id.values():
                self._by_tenant.setdefault(r.memory.tenant_id, []).append(r)
        return self._by_id, self._by_tenant

    def rows(self) -> dict[int, Row]:
        """Every row by id, as of the last write."""
        return self._view()[0]

    def select(
        self,
        scope: Scope,
        *,
        live: bool = True,
        tags: Sequence[str] = (),
        where: Node | None = None,
        test: Callable[[Row], bool] | None = None,
    ) -> list[Row]:
        """The rows of `scope` (live ones only unless `live` is False) carrying one of
        `tags` (any, without tags), passing the filter `where` and `test`."""
        lasting, expiring = self._scope_rows(scope)
        now = time.time()
        rows = lasting + [r for r in expiring if not live or is_live(r.memory, now)]
        if not tags and where is None and test is None:
            return rows
        wanted = set(tags)
        return [
            r
            for r in rows
            if (not wanted or not wanted.isdisjoint(r.memory.tags))
            and matches(where, r.memory)
            and (test is None or test(r))
        ]

    def _scope_rows(self, scope: Scope) -> tuple[list[Row], list[Row]]:
        """A scope's rows without and with an expiry (cached until the next write)."""
        by_tenant = self._view()[1]  # first: a changed view empties the scope cache
        found = self._scopes.get(scope.key())
        if found is None:
            pairs = scope_test(scope)
            rows = [r for r in by_tenant.get(scope.tenant_id, ()) if in_scope(r.memory, pairs)]
            found = (
                [r for r in rows if r.memory.expires_at is None],
                [r for r in rows if r.memory.expires_at is not None],
            )
            if len(self._scopes) >= 256:
                self._scopes.clear()
            self._scopes[scope.key()] = found
        return found

    def synced_vectors(self) -> ExactVectors:
        """The exact search structure over every row's vector, rebuilt if a write came after."""
        rows = self.rows()
        if self._vectors_stale:
            self.vectors.replace({i: r.vector for i, r in rows.items() if r.vector is not None})
            self._vectors_stale = False
        return self.vectors
