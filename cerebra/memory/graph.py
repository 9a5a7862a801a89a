"""MemoryGraph: the read side of the memory knowledge graph of one SQL memory backend.

Entities with their counts, an entity's neighbours, relations and memories, a path between
two entities (the `GET /api/memory/graph` route and `cerebra memory graph`), and what
retrieval's graph view reads (mentions of candidates, document frequencies, memories
sharing an entity). Every call takes a scope and sees only that scope's memories; the SQL
is cerebra.memory.graph_store's. SQL backends hand one out through `memory_graph()`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from cerebra.errors import InvalidInput, NotFound
from cerebra.memory import graph_store as sql
from cerebra.memory.base import Scope
from cerebra.memory.graph_extract import extract, name_key

MAX_LIMIT = 500
_DATE_KEY = re.compile(r"^\d{4}(-\d{2}){0,2}$")
MAX_HOPS = 6


def _limit(limit: int, field: str = "limit") -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"{field} must be an integer from 1 to {MAX_LIMIT}", field=field)
    return limit


def entity_key(value: str, field: str = "entity") -> str:
    """The key of an entity named by a caller ("Caroline's" → "caroline")."""
    if isinstance(value, str) and _DATE_KEY.match(value):  # already a date's key
        return value
    if isinstance(value, str):  # a date or an amount is keyed as extraction keys it
        found = extract(value).mentions
        if len(found) == 1 and found[0].kind in ("date", "number"):
            return found[0].key
    key = name_key(value) if isinstance(value, str) else ""
    if not key or len(value) > 200:
        raise InvalidInput(f"{field} must name an entity (1 to 200 characters)", field=field)
    return key


class MemoryGraph:
    """Reads of the graph over `engine` (the memory backend's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- for callers ------------------------------------------------------------------
    def entities(
        self, scope: Scope, *, limit: int = 50, kind: str | None = None, like: str | None = None
    ) -> list[dict[str, Any]]:
        """The scope's entities, most mentioned first (`like`: key contains it)."""
        with self.engine.connect() as conn:
            rows = sql.scope_entities(conn, scope, limit=_limit(limit), kind=kind, like=like)
        return [r.to_dict() for r in rows]

    def entity(self, scope: Scope, name: str, *, limit: int = 20) -> dict[str, Any]:
        """One entity: its neighbours (co-mentioned entities), relations and memory ids."""
        key = entity_key(name)
        limit = _limit(limit)
        with self.engine.connect() as conn:
            found = sql.entity(conn, scope, key)
            if found is None:
                raise NotFound(f"no entity {name!r} in this scope")
            keys = sorted(sql.aliases(conn, scope, [key])[key])
            return {
                **found.to_dict(),
                "aliases": [k for k in keys if k != key],
                "neighbours": [n.to_dict() for n in sql.neighbours(conn, scope, keys, limit)],
                "relations": sql.relations_of(conn, scope, keys, limit),
                "memory_ids": sql.entity_memory_uids(conn, scope, keys, limit),
            }

    def path(self, scope: Scope, source: str, target: str, *, max_hops: int = 4) -> list[str]:
        """Entity keys linking `source` to `target` through shared memories, shortest first."""
        a, b = entity_key(source, "source"), entity_key(target, "target")
        if not isinstance(max_hops, int) or not 1 <= max_hops <= MAX_HOPS:
            raise InvalidInput(
                f"max_hops must be an integer from 1 to {MAX_HOPS}", field="max_hops"
            )
        with self.engine.connect() as conn:
            for key, field in ((a, "source"), (b, "target")):
                if sql.entity(conn, scope, key) is None:
                    raise NotFound(f"no entity {key!r} in this scope", field=field)
            names = sql.aliases(conn, scope, [a, b])
            if names[a] & names[b]:
                return [a] if a == b else [a, b]
            found = sql.shortest_path(conn, scope, a, b, max_hops)
            if found is None:  # through the aliases, if the plain keys do not connect
                for x in sorted(names[a]):
                    for y in sorted(names[b]):
                        found = found or sql.shortest_path(conn, scope, x, y, max_hops)
        if found is None:
            raise NotFound(f"no path from {a!r} to {b!r} within {max_hops} hops")
        return found

    # -- for retrieval ----------------------------------------------------------------
    def mentions(self, row_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        with self.engine.connect() as conn:
            return sql.mentions_of(conn, row_ids)

    def document_frequency(self, scope: Scope, keys: Sequence[str]) -> dict[str, int]:
        with self.engine.connect() as conn:
            return sql.document_frequency(conn, scope, keys)

    def sharing(self, scope: Scope, keys: Sequence[str], limit: int) -> dict[int, set[str]]:
        with self.engine.connect() as conn:
            return sql.memories_mentioning(conn, scope, keys, limit)


def graph_of(backend: object) -> MemoryGraph:
    """The graph of a memory backend; NotFound (a feature that is off) for backends
    that keep none (TinyDB)."""
    make = getattr(backend, "memory_graph", None)
    if not callable(make):
        raise NotFound("this memory backend keeps no knowledge graph")
    graph = make()
    assert isinstance(graph, MemoryGraph)
    return graph
