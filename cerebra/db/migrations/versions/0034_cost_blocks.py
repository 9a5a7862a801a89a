"""Cost rollup blocks (issue 13, dashboard at 1M interactions): `cost_blocks`, the daily
`cost_rollups` summed over aligned blocks of 4, 16 and 64 UTC days (a block of span s starts
on a day whose index since 1970-01-01 is a multiple of s), so a 90-day breakdown reads a few
rows per key instead of 90. Backfilled here from the rollups already there, one GROUP BY per
span; from now on the ledger upserts them with the rollups. On SQLite the table is WITHOUT
ROWID (its primary key is the table: a block's rows are one contiguous range).

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

SPANS = (4, 16, 64)  # cerebra.observability.costs_blocks.SPANS when written
_SUMS = ("cost", "requests", "prompt_tokens", "completion_tokens", "feedback_n",
         "feedback_sum", "feedback_sq")


def _first_day_sql(dialect: str, span: int) -> str:
    """SQL of the first day ("YYYY-MM-DD") of the span-day block holding cost_rollups.day."""
    if dialect == "postgresql":
        return (f"to_char(DATE '1970-01-01' + ((day::date - DATE '1970-01-01') / {span})"
                f" * {span}, 'YYYY-MM-DD')")
    return (f"date(((CAST(julianday(day) - 2440587.5 AS INTEGER)) / {span}) * {span} * 86400,"
            " 'unixepoch')")


def upgrade() -> None:
    op.create_table(
        "cost_blocks",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("span", sa.Integer, primary_key=True),
        sa.Column("first_day", sa.String(10), primary_key=True),
        sa.Column("dim", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("cost", sa.Float, nullable=False, server_default="0"),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("feedback_n", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("feedback_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column("feedback_sq", sa.Float, nullable=False, server_default="0"),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    sums = ", ".join(f"SUM({name})" for name in _SUMS)
    for span in SPANS:
        first_day = _first_day_sql(dialect, span)
        op.execute(
            f"INSERT INTO cost_blocks (tenant_id, span, first_day, dim, key, {', '.join(_SUMS)})"
            f" SELECT tenant_id, {span}, {first_day}, dim, key, {sums} FROM cost_rollups"
            f" GROUP BY tenant_id, {first_day}, dim, key"
        )


def downgrade() -> None:
    op.drop_table("cost_blocks")
