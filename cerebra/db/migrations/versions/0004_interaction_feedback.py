"""Interactions remember the routing decision behind them and the feedback they received.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("decision_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("quality", sa.Float, nullable=True))
        batch.add_column(sa.Column("feedback_at", sa.Float, nullable=True))
        batch.add_column(sa.Column("feedback_comment", sa.Text, nullable=True))
    op.create_index("ix_interactions_trace", "interactions", ["tenant_id", "trace_id"])


def downgrade() -> None:
    op.drop_index("ix_interactions_trace", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("feedback_comment")
        batch.drop_column("feedback_at")
        batch.drop_column("quality")
        batch.drop_column("decision_id")
