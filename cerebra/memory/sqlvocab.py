"""The SQL vocabulary the memory backends share: columns, scope and tag clauses, row decoding.

`COLUMNS` is the one select list of a memory row; `memory_from_row` is the one decoder of
it, by position, for SQLAlchemy rows and raw driver rows alike (SQLite's hot search path
reads rows through the driver cursor). JSON columns arrive as text from SQLite and decoded
from PostgreSQL (jsonb); `loads_json` accepts both. `scope_sql` and `tag_sql` build the
WHERE fragments every query of a scope uses; `stored_scope` is how a scope is written
(None stored as "").

Used by cerebra.memory.sqlbase (the shared backend), sqlite, sqlite_search, postgres and the
store; it imports no backend, so none of them import each other for these names.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from cerebra.json_codec import loads
from cerebra.memory.base import Memory, Scope

COLUMNS = (
    "m.id, m.uid, m.text, m.tenant_id, m.user_id, m.agent_id, m.session_id, m.tags, "
    "m.metadata, m.importance, m.salience, m.source, m.created_at, m.updated_at, "
    "m.expires_at, m.version"
)
N_COLUMNS = 16  # a query may select more after COLUMNS (sqlite_search: the indexed terms)


def loads_json(value: Any, empty: Any) -> Any:
    """A tags / metadata value: text (SQLite) or decoded (PostgreSQL jsonb); NULL, "null"
    and the common empty values give `empty` (the parser is skipped for those)."""
    if not value or value in ("{}", "[]"):
        return empty
    if isinstance(value, str | bytes):
        loaded = loads(value)
        return empty if loaded is None else loaded
    return value


_new = object.__new__


def memory_from_row(r: Sequence[Any]) -> Memory:
    """A Memory from a row whose first columns are COLUMNS, in that order.

    Every search decodes a few hundred candidate rows, so the instance is filled directly:
    a frozen dataclass's generated __init__ sets its 17 fields one `object.__setattr__` at a
    time (5.3 µs a memory, measured), while one `__dict__` update costs 0.75 µs. Every
    field is given here (tests/memory/test_sqlvocab.py holds the result equal to
    `Memory(...)` with the same values and with no field left out)."""
    memory: Memory = _new(Memory)
    memory.__dict__.update(
        uid=r[1],
        text=r[2],
        tenant_id=r[3],
        user_id=r[4],
        agent_id=r[5],
        session_id=r[6],
        tags=tuple(loads_json(r[7], ())),
        metadata=loads_json(r[8], {}),
        importance=float(r[9]),
        salience=float(r[10]),
        source=r[11],
        created_at=float(r[12]),
        updated_at=float(r[13]),
        expires_at=None if r[14] is None else float(r[14]),
        row_id=int(r[0]),
        version=int(r[15] or 1),
        validity=None,
    )
    return memory


def scope_sql(
    scope: Scope, alias: str = "m", *, live_only: bool = True, now: float | None = None
) -> tuple[str, dict[str, Any]]:
    """WHERE clause for a scope; `live_only` hides memories past their expiry."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for name, value in scope.as_filters().items():
        clauses.append(f"{alias}.{name} = :s_{name}")
        params[f"s_{name}"] = value
    if live_only:
        clauses.append(f"({alias}.expires_at IS NULL OR {alias}.expires_at > :s_now)")
        params["s_now"] = time.time() if now is None else now
    return " AND ".join(clauses), params


def tag_sql(tags: Sequence[str], alias: str = "m") -> tuple[str, dict[str, Any]]:
    """Memories carrying any of `tags` (an AND clause to append; empty without tags)."""
    if not tags:
        return "", {}
    names = [f":t{i}" for i in range(len(tags))]
    sql = (
        f" AND EXISTS (SELECT 1 FROM memory_tags mt WHERE mt.memory_id = {alias}.id "
        f"AND mt.tag IN ({', '.join(names)}))"
    )
    return sql, {f"t{i}": tag for i, tag in enumerate(tags)}


def stored_scope(scope: Scope) -> dict[str, str]:
    """The scope columns of a memory written with `scope` (None stored as "")."""
    return {
        "tenant_id": scope.tenant_id,
        "user_id": scope.user_id or "",
        "agent_id": scope.agent_id or "",
        "session_id": scope.session_id or "",
    }
