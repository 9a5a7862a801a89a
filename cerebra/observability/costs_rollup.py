"""The cost rollups' write path: the ledger's new interaction rows folded into
`cost_rollups` (tenant × UTC day × dimension) inside the ledger's own write transaction, so
the rollups commit or roll back with the rows they count and a replayed batch (rows already
there are skipped by trace id) adds nothing twice.

A batch is aggregated in Python first (a batch of 200 interactions of one tenant and day is
a handful of upserts, not 1,000), then written with one executemany of
`INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x` (SQLite and PostgreSQL alike), in
primary-key order so two writers never wait on each other's rows in opposite orders. The same
increments, summed per aligned block of days (cerebra.observability.costs_blocks), go to
`cost_blocks` right after, in its primary-key order: the daily rows first, then the blocks,
for every writer (interactions and feedback alike), so the blocks always equal the sum of
their days on every column.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

from cerebra.db.cost_tables import cost_blocks, cost_rollups
from cerebra.observability.costs_blocks import block_increments

DIMS = ("total", "model", "key", "user", "agent")
# dimension -> the interaction field it groups by (None: the tenant's total, key "")
_FIELD: dict[str, str | None] = {"total": None, "model": "model", "key": "credential_id",
                                 "user": "user_id", "agent": "agent_id"}
SUMS = ("cost", "requests", "prompt_tokens", "completion_tokens", "feedback_n",
        "feedback_sum", "feedback_sq")
_KEY_LEN = 200  # cost_rollups.key's width


@functools.lru_cache(maxsize=4096)
def _day_of(index: int) -> str:
    return datetime.fromtimestamp(index * 86400, UTC).strftime("%Y-%m-%d")


def utc_day(ts: float) -> str:
    """The UTC calendar day ("YYYY-MM-DD") holding the epoch time `ts`."""
    return _day_of(int(ts // 86400))


def _keys(row: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for dim in DIMS:
        name = _FIELD[dim]
        yield dim, ("" if name is None else str(row.get(name) or ""))[:_KEY_LEN]


def aggregate(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rollup increments of interaction rows (the ledger's row dicts), one per
    (tenant, day, dimension, key), sorted by that key."""
    sums: dict[tuple[str, str, str, str], list[float]] = {}
    for row in rows:
        day = utc_day(float(row["created_at"]))
        quality = row.get("quality")
        fb = (0, 0.0, 0.0) if quality is None else (1, float(quality), float(quality) ** 2)
        add = (float(row.get("cost_usd") or 0.0), 1, int(row["prompt_tokens"]),
               int(row["completion_tokens"]), *fb)
        for dim, key in _keys(row):
            acc = sums.get((row["tenant_id"], day, dim, key))
            if acc is None:
                sums[(row["tenant_id"], day, dim, key)] = list(add)
            else:
                for i, value in enumerate(add):
                    acc[i] += value
    return [{"tenant_id": t, "day": d, "dim": dim, "key": k,
             **{name: (int(v) if name not in ("cost", "feedback_sum", "feedback_sq") else v)
                for name, v in zip(SUMS, acc, strict=True)}}
            for (t, d, dim, k), acc in sorted(sums.items())]


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with ON CONFLICT clauses for the connection's dialect (PostgreSQL or SQLite)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


_PRIMARY_KEYS = {"cost_rollups": ("tenant_id", "day", "dim", "key"),
                 "cost_blocks": ("tenant_id", "span", "first_day", "dim", "key")}


@functools.cache
def _upsert_statement(dialect: str, table_name: str) -> Any:
    """The rollups' (or blocks') upsert for one dialect, built once: building it (the
    `excluded` alias and its column proxies) per batch cost the ledger's writer more Python
    than running it."""
    table = cost_rollups if table_name == "cost_rollups" else cost_blocks
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(table)
    else:
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(_PRIMARY_KEYS[table_name]),
        set_={name: table.c[name] + stmt.excluded[name] for name in SUMS},
    )


def upsert(conn: Connection, increments: list[dict[str, Any]]) -> None:
    """Add `increments` (from `aggregate`, sorted by the rollups' key) to the rollups and
    to their blocks, in the caller's transaction."""
    if increments:
        conn.execute(_upsert_statement(conn.dialect.name, "cost_rollups"), increments)
        conn.execute(_upsert_statement(conn.dialect.name, "cost_blocks"),
                     block_increments(increments))


def add_interactions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Count newly inserted interaction rows in the rollups (same transaction)."""
    upsert(conn, aggregate(rows))


def add_feedback(conn: Connection, row: Mapping[str, Any], quality: float) -> None:
    """Count one interaction's feedback (given once, after the row) in its rollups."""
    increments = [{"tenant_id": row["tenant_id"], "day": utc_day(float(row["created_at"])),
                   "dim": dim, "key": key, "cost": 0.0, "requests": 0, "prompt_tokens": 0,
                   "completion_tokens": 0, "feedback_n": 1, "feedback_sum": quality,
                   "feedback_sq": quality * quality}
                  for dim, key in _keys(row)]
    upsert(conn, sorted(increments, key=lambda r: (r["dim"], r["key"])))
