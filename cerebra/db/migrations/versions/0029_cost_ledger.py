"""Cost ledger (issue 13, item 2): `cost_rollups` (spend per tenant, UTC day and dimension —
total, model, key, user, agent — with token and feedback sums) and `cost_alerts` (budget
thresholds crossed, once each per period). The rollups are backfilled here from the
interactions already recorded, with one GROUP BY per dimension; from now on the ledger keeps
them in its write batch.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

# dimension -> the interactions column it groups by ("total": one row per tenant and day)
_DIMS = {"total": "''", "model": "model", "key": "credential_id", "user": "user_id",
         "agent": "agent_id"}


def _day_sql(dialect: str) -> str:
    if dialect == "postgresql":
        return "to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return "strftime('%Y-%m-%d', created_at, 'unixepoch')"


def upgrade() -> None:
    op.create_table(
        "cost_rollups",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("dim", sa.String(8), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("cost", sa.Float, nullable=False, server_default="0"),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("feedback_n", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("feedback_sum", sa.Float, nullable=False, server_default="0"),
        sa.Column("feedback_sq", sa.Float, nullable=False, server_default="0"),
    )
    op.create_index("ix_cost_rollups_dim", "cost_rollups", ["tenant_id", "dim", "day"])
    op.create_table(
        "cost_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(240), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("period_id", sa.String(10), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("limit_usd", sa.Float, nullable=False),
        sa.Column("spent", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False, server_default=""),
        sa.UniqueConstraint("tenant_id", "scope", "period_id", "threshold",
                            name="uq_cost_alerts_once"),
    )
    op.create_index("ix_cost_alerts_tenant", "cost_alerts", ["tenant_id", "created_at"])
    day = _day_sql(op.get_bind().dialect.name)
    for dim, column in _DIMS.items():
        op.execute(
            "INSERT INTO cost_rollups (tenant_id, day, dim, key, cost, requests, prompt_tokens,"
            " completion_tokens, feedback_n, feedback_sum, feedback_sq)"
            f" SELECT tenant_id, {day}, '{dim}', {column}, SUM(cost_usd), COUNT(*),"
            " SUM(prompt_tokens), SUM(completion_tokens), COUNT(quality),"
            " COALESCE(SUM(quality), 0), COALESCE(SUM(quality * quality), 0)"
            f" FROM interactions GROUP BY tenant_id, {day}"
            + ("" if dim == "total" else f", {column}")
        )


def downgrade() -> None:
    op.drop_index("ix_cost_alerts_tenant", table_name="cost_alerts")
    op.drop_table("cost_alerts")
    op.drop_index("ix_cost_rollups_dim", table_name="cost_rollups")
    op.drop_table("cost_rollups")
