"""Context bundles (issue 12, item 5): `context_bundles` keeps each bundle handed to an
outside agent — who asked, the query, every memory with its score and the share of each
retrieval signal, the weights in force — and the agent's feedback on it (the score, the
memories that helped and those that did not), so online weight learning can replay it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_bundles",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("memories", sa.JSON, nullable=False),
        sa.Column("weights", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("helpful", sa.JSON, nullable=True),
        sa.Column("unhelpful", sa.JSON, nullable=True),
        sa.Column("feedback_at", sa.Float, nullable=True),
    )
    op.create_index("ix_context_bundles_tenant", "context_bundles", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_context_bundles_tenant", table_name="context_bundles")
    op.drop_table("context_bundles")
