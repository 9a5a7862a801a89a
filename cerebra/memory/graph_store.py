"""The memory graph's SQL: write a memory's mentions and relations, read the graph of a scope.

Writes run on the caller's connection, inside the memory's own write transaction
(cerebra.memory.sqlbase calls `write_graph` after inserting a row, `clear_graph` +
`write_graph` when its text changes and `clear_graph` before deleting it), so a committed
memory always has its graph and a deleted one leaves none. Reads take a scope and join
`memories` for it, so other tenants' and users' entities never show.

Aliases are resolved when reading, not when writing (so the order memories arrive in does
not matter): a one-word person key ("caroline") stands for the one longer person key of
the scope that starts with it ("caroline smith"), when there is exactly one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, text

from cerebra.memory.base import Scope
from cerebra.memory.graph_extract import OPENER, extract
from cerebra.memory.sqlvocab import scope_sql

_CHUNK = 500
_KIND = "min({a}.kind)"


def _real(a: str) -> str:
    """Mentions that count: all but unconfirmed openers (see `write_graph`)."""
    return f"{a}.kind <> '{OPENER}'"


@dataclass(frozen=True)
class EntityCount:
    """An entity of a scope: key, the name it was first seen as, kind, memories mentioning it."""

    key: str
    name: str
    kind: str
    memories: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "kind": self.kind, "memories": self.memories}


def write_graph(conn: Connection, row_id: int, tenant_id: str, body: str) -> None:
    """Extract and store the mentions and relations of memory `row_id`.

    A lone capitalised sentence opener ("Dana lives in Paris") is stored as a person when
    the tenant already has the key as a name, else as an unconfirmed `opener` that reads
    ignore; a name written later confirms the tenant's openers of its key (and, for a
    full name, of its first word). All by (tenant_id, entity) index lookups."""
    found = extract(body)
    mentions = list(found.mentions)
    named = _named(conn, tenant_id, [x.key for x in mentions if x.kind == OPENER])
    for i, x in enumerate(mentions):
        if x.kind == OPENER and x.key in named:
            mentions[i] = replace(x, kind="person")
    confirm = {x.key for x in mentions if x.kind in ("person", "name")}
    confirm |= {x.key.split(" ", 1)[0] for x in mentions if x.kind == "person" and " " in x.key}
    if confirm:  # through the partial index of openers (migration 0027)
        eq, params = _marks("e", sorted(confirm))
        conn.execute(
            text(
                "UPDATE memory_mentions SET kind = 'person' WHERE tenant_id = :t "
                f"AND entity IN ({eq}) AND kind = '{OPENER}'"
            ),
            {"t": tenant_id, **params},
        )
    found = replace(found, mentions=tuple(mentions))
    if found.mentions:
        conn.execute(
            text(
                "INSERT INTO memory_mentions (memory_id, entity, tenant_id, name, kind, count) "
                "VALUES (:m, :e, :t, :n, :k, :c)"
            ),
            [
                {"m": row_id, "e": x.key, "t": tenant_id, "n": x.name, "k": x.kind, "c": x.count}
                for x in found.mentions
            ],
        )
    if found.relations:
        conn.execute(
            text(
                "INSERT INTO memory_relations (memory_id, tenant_id, subject, predicate, object) "
                "VALUES (:m, :t, :s, :p, :o)"
            ),
            [
                {"m": row_id, "t": tenant_id, "s": r.subject, "p": r.predicate, "o": r.object}
                for r in found.relations
            ],
        )


def _named(conn: Connection, tenant_id: str, keys: Sequence[str]) -> set[str]:
    """Those of `keys` the tenant has as a name (one confirmed mention each is enough)."""
    named: set[str] = set()
    for key in sorted(set(keys)):  # one index probe each, stopping at the first hit
        hit = conn.execute(
            text(
                "SELECT 1 FROM memory_mentions WHERE tenant_id = :t AND entity = :e "
                f"AND kind <> '{OPENER}' LIMIT 1"
            ),
            {"t": tenant_id, "e": key},
        ).first()
        if hit is not None:
            named.add(key)
    return named


def clear_graph(conn: Connection, ids: Sequence[int]) -> None:
    """Remove the mentions and relations of memories `ids`."""
    for start in range(0, len(ids), _CHUNK):
        marks = ", ".join(str(int(i)) for i in ids[start : start + _CHUNK])
        conn.execute(text(f"DELETE FROM memory_mentions WHERE memory_id IN ({marks})"))
        conn.execute(text(f"DELETE FROM memory_relations WHERE memory_id IN ({marks})"))


def _scope(scope: Scope, alias: str = "mm") -> tuple[str, dict[str, Any]]:
    """The scope's clause on `memories m`, and the tenant on the graph table (its index)."""
    where, params = scope_sql(scope)
    return f"{alias}.tenant_id = :s_tenant_id AND {where}", params


def _marks(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
    return (
        ", ".join(f":{prefix}{i}" for i in range(len(values))),
        {f"{prefix}{i}": v for i, v in enumerate(values)},
    )


def aliases(conn: Connection, scope: Scope, keys: Iterable[str]) -> dict[str, set[str]]:
    """For each key, the stored keys that denote the same entity in `scope` (itself
    included): a full person name and its first name, when that first name is unique."""
    wanted = [k for k in dict.fromkeys(keys) if k]
    out = {k: {k} for k in wanted}
    firsts = sorted({k.split(" ", 1)[0] for k in wanted})
    if not firsts:
        return out
    where, params = _scope(scope)
    likes = " OR ".join(f"mm.entity LIKE :l{i}" for i in range(len(firsts)))
    eq, eq_params = _marks("f", firsts)
    rows = conn.execute(
        text(
            "SELECT DISTINCT mm.entity FROM memory_mentions mm JOIN memories m "
            f"ON m.id = mm.memory_id WHERE {where} AND mm.kind = 'person' AND "
            f"(mm.entity IN ({eq}) OR {likes})"
        ),
        {**params, **eq_params, **{f"l{i}": f"{f} %" for i, f in enumerate(firsts)}},
    ).scalars()
    full: dict[str, list[str]] = {}
    singles: set[str] = set()
    for entity in rows:
        if " " in entity:
            full.setdefault(entity.split(" ", 1)[0], []).append(entity)
        else:
            singles.add(entity)
    for key in wanted:
        first = key.split(" ", 1)[0]
        if len(full.get(first, [])) != 1:
            continue
        if " " in key and first in singles and full[first][0] == key:
            out[key].add(first)
        elif " " not in key:
            out[key].add(full[first][0])
    return out


def mentions_of(conn: Connection, row_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """The entity keys (with counts) each of `row_ids` mentions."""
    out: dict[int, dict[str, int]] = {}
    for start in range(0, len(row_ids), _CHUNK):
        marks = ", ".join(str(int(i)) for i in row_ids[start : start + _CHUNK])
        for r in conn.execute(
            text(
                "SELECT mm.memory_id, mm.entity, mm.count FROM memory_mentions mm WHERE "
                f"mm.memory_id IN ({marks}) AND {_real('mm')}"
            )
        ):
            out.setdefault(int(r[0]), {})[str(r[1])] = int(r[2])
    return out


def document_frequency(conn: Connection, scope: Scope, keys: Sequence[str]) -> dict[str, int]:
    """How many memories of `scope` mention each key."""
    if not keys:
        return {}
    where, params = _scope(scope)
    eq, eq_params = _marks("e", list(keys))
    rows = conn.execute(
        text(
            "SELECT mm.entity, count(*) FROM memory_mentions mm JOIN memories m "
            f"ON m.id = mm.memory_id WHERE {where} AND mm.entity IN ({eq}) AND {_real('mm')} "
            "GROUP BY mm.entity"
        ),
        {**params, **eq_params},
    )
    return {str(r[0]): int(r[1]) for r in rows}


def memories_mentioning(
    conn: Connection, scope: Scope, keys: Sequence[str], limit: int
) -> dict[int, set[str]]:
    """Up to `limit` memories of `scope` mentioning any of `keys`, newest first, with which."""
    if not keys or limit <= 0:
        return {}
    where, params = _scope(scope)
    eq, eq_params = _marks("e", list(keys))
    rows = conn.execute(
        text(
            "SELECT mm.memory_id, mm.entity FROM memory_mentions mm JOIN memories m "
            f"ON m.id = mm.memory_id WHERE {where} AND mm.entity IN ({eq}) AND {_real('mm')} "
            f"ORDER BY m.created_at DESC, m.id DESC LIMIT {int(limit)}"
        ),
        {**params, **eq_params},
    )
    out: dict[int, set[str]] = {}
    for r in rows:
        out.setdefault(int(r[0]), set()).add(str(r[1]))
    return out


def scope_entities(
    conn: Connection, scope: Scope, *, limit: int, kind: str | None = None, like: str | None = None
) -> list[EntityCount]:
    """The scope's entities by how many memories mention them (most first)."""
    where, params = _scope(scope)
    where += f" AND {_real('mm')}"
    if kind:
        where += " AND mm.kind = :kind"
        params["kind"] = kind
    if like:
        where += " AND mm.entity LIKE :like"
        params["like"] = f"%{like.lower()}%"
    rows = conn.execute(
        text(
            f"SELECT mm.entity, min(mm.name), {_KIND.format(a='mm')}, count(*) AS n "
            "FROM memory_mentions mm "
            f"JOIN memories m ON m.id = mm.memory_id WHERE {where} GROUP BY mm.entity "
            f"ORDER BY n DESC, mm.entity LIMIT {int(limit)}"
        ),
        params,
    )
    return [EntityCount(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def entity(conn: Connection, scope: Scope, key: str) -> EntityCount | None:
    """One entity of the scope (its aliases counted with it), or None if it has no mention."""
    keys = sorted(aliases(conn, scope, [key]).get(key, {key}))
    where, params = _scope(scope)
    eq, eq_params = _marks("e", keys)
    row = conn.execute(
        text(
            f"SELECT min(mm.name), {_KIND.format(a='mm')}, count(DISTINCT mm.memory_id) FROM "
            f"memory_mentions mm JOIN memories m ON m.id = mm.memory_id WHERE {where} "
            f"AND mm.entity IN ({eq}) AND {_real('mm')}"
        ),
        {**params, **eq_params},
    ).first()
    if row is None or not row[2]:
        return None
    return EntityCount(key, str(row[0]), str(row[1]), int(row[2]))


def neighbours(
    conn: Connection, scope: Scope, keys: Sequence[str], limit: int
) -> list[EntityCount]:
    """Entities mentioned together with any of `keys` in a memory of the scope, with how
    many such memories (most first)."""
    if not keys:
        return []
    where, params = _scope(scope)
    eq, eq_params = _marks("e", list(keys))
    rows = conn.execute(
        text(
            f"SELECT o.entity, min(o.name), {_KIND.format(a='o')}, "
            "count(DISTINCT o.memory_id) AS n "
            "FROM memory_mentions mm JOIN memories m ON m.id = mm.memory_id "
            "JOIN memory_mentions o ON o.memory_id = mm.memory_id "
            f"WHERE {where} AND mm.entity IN ({eq}) AND o.entity NOT IN ({eq}) "
            f"AND {_real('mm')} AND {_real('o')} "
            f"GROUP BY o.entity ORDER BY n DESC, o.entity LIMIT {int(limit)}"
        ),
        {**params, **eq_params},
    )
    return [EntityCount(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def relations_of(
    conn: Connection, scope: Scope, keys: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """Relations of the scope with any of `keys` as subject or object, with their memory."""
    if not keys:
        return []
    where, params = _scope(scope, "r")
    eq, eq_params = _marks("e", list(keys))
    rows = conn.execute(
        text(
            "SELECT r.subject, r.predicate, r.object, m.uid FROM memory_relations r "
            f"JOIN memories m ON m.id = r.memory_id WHERE {where} AND "
            f"(r.subject IN ({eq}) OR r.object IN ({eq})) ORDER BY m.created_at, r.id "
            f"LIMIT {int(limit)}"
        ),
        {**params, **eq_params},
    )
    return [{"subject": r[0], "predicate": r[1], "object": r[2], "memory_id": r[3]} for r in rows]


def entity_memory_uids(
    conn: Connection, scope: Scope, keys: Sequence[str], limit: int
) -> list[str]:
    """Uids of the scope's memories mentioning any of `keys`, newest first."""
    found = memories_mentioning(conn, scope, keys, limit * 4)
    if not found:
        return []
    marks = ", ".join(str(i) for i in found)
    rows = conn.execute(
        text(
            f"SELECT uid FROM memories WHERE id IN ({marks}) ORDER BY created_at DESC, id DESC "
            f"LIMIT {int(limit)}"
        )
    )
    return [str(r[0]) for r in rows]


def shortest_path(
    conn: Connection, scope: Scope, source: str, target: str, max_hops: int
) -> list[str] | None:
    """Entity keys from `source` to `target` through co-mentions (breadth first), or None."""
    if source == target:
        return [source]
    parent: dict[str, str | None] = {source: None}
    frontier = [source]
    for _ in range(max_hops):
        nxt: list[str] = []
        where, params = _scope(scope)
        for start in range(0, len(frontier), _CHUNK):
            eq, eq_params = _marks("e", frontier[start : start + _CHUNK])
            rows = conn.execute(
                text(
                    "SELECT DISTINCT mm.entity, o.entity FROM memory_mentions mm JOIN memories m "
                    "ON m.id = mm.memory_id JOIN memory_mentions o ON o.memory_id = mm.memory_id "
                    f"WHERE {where} AND mm.entity IN ({eq}) AND {_real('mm')} AND {_real('o')} "
                    "ORDER BY mm.entity, o.entity"
                ),
                {**params, **eq_params},
            )
            for a, b in rows:
                if b not in parent:
                    parent[b] = a
                    nxt.append(b)
        if target in parent:
            path = [target]
            while (step := parent[path[-1]]) is not None:
                path.append(step)
            return path[::-1]
        if not nxt:
            return None
        frontier = nxt
    return None
