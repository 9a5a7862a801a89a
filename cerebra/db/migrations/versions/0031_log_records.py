"""Logs: the `log_records` table of recent log lines (cerebra/db/log_tables.py) that
GET /logs and /api/system/logs read.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("logger", sa.String(200), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("fields", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_log_records_tenant", "log_records", ["tenant_id", "id"])
    op.create_index("ix_log_records_trace", "log_records", ["trace_id"])


def downgrade() -> None:
    op.drop_index("ix_log_records_trace", table_name="log_records")
    op.drop_index("ix_log_records_tenant", table_name="log_records")
    op.drop_table("log_records")
