"""Tables of the cost ledger (issue 13, item 2): spend pre-aggregated per tenant, UTC day and
one dimension (`cost_rollups`), and the budget alerts raised (`cost_alerts`), on the shared
metadata. Rollups are upserted in the ledger's own write transaction
(cerebra.observability.costs_rollup), so a chart reads a few rows per day instead of
scanning the interactions, and summed again per aligned block of days (`cost_blocks`), so a
long window reads a few rows per key; every row carries `tenant_id`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cerebra.db.metadata import metadata


def _sums() -> list[Column[Any]]:
    """The summed columns of a rollup row (the same in the daily rows and their blocks)."""
    return [
        Column("cost", Float, nullable=False, server_default="0"),  # USD
        Column("requests", BigInteger, nullable=False, server_default="0"),
        Column("prompt_tokens", BigInteger, nullable=False, server_default="0"),
        Column("completion_tokens", BigInteger, nullable=False, server_default="0"),
        Column("feedback_n", BigInteger, nullable=False, server_default="0"),
        Column("feedback_sum", Float, nullable=False, server_default="0"),
        Column("feedback_sq", Float, nullable=False, server_default="0"),  # sum of squares
    ]


# One row per (tenant, day, dimension, key): dim is "total" (key ""), "model", "key" (the
# credential), "user" or "agent". Feedback sums (interactions.quality, 0..1) ride along so
# recommendations can compare models without reading the interactions either.
cost_rollups = Table(
    "cost_rollups",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),  # "YYYY-MM-DD", UTC
    Column("dim", String(8), primary_key=True),
    Column("key", String(200), primary_key=True),
    *_sums(),
    Index("ix_cost_rollups_dim", "tenant_id", "dim", "day"),
)

# The rollups summed over aligned blocks of `span` UTC days (4, 16 or 64) starting on
# `first_day`, whose day index (days since 1970-01-01) is a multiple of `span`: a window's
# breakdown sums a few blocks and single days (cerebra.observability.costs_blocks), upserted
# with the rollups in the same transaction. Every column equals the sum of the block's daily
# rows. The primary key (tenant, span, first day, dim, key) makes each block of one dimension
# one contiguous range; on SQLite the table is WITHOUT ROWID, so that range is the rows
# themselves (no lookup per row).
cost_blocks = Table(
    "cost_blocks",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("span", Integer, primary_key=True),  # days
    Column("first_day", String(10), primary_key=True),  # "YYYY-MM-DD", UTC
    Column("dim", String(8), primary_key=True),
    Column("key", String(200), primary_key=True),
    *_sums(),
    sqlite_with_rowid=False,
)

# A budget threshold crossed: once per (tenant, budget scope, period, threshold) — the
# unique constraint is what makes "once" hold across processes.
cost_alerts = Table(
    "cost_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("scope", String(240), nullable=False),  # "tenant", "key:<id>", "user:<id>"
    Column("period", String(8), nullable=False),  # daily | monthly
    Column("period_id", String(10), nullable=False),  # "2026-12-01" | "2026-12"
    Column("threshold", Float, nullable=False),  # a fraction of the limit
    Column("limit_usd", Float, nullable=False),
    Column("spent", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("delivery", Text, nullable=False, server_default=""),  # what the notifier said
    UniqueConstraint("tenant_id", "scope", "period_id", "threshold",
                     name="uq_cost_alerts_once"),
    Index("ix_cost_alerts_tenant", "tenant_id", "created_at"),
)
