"""Facts in time (issue 12, item 2): `memory_facts` holds the (subject, attribute, value)
statements of each memory with the interval each is valid and the memory that superseded
it (see cerebra/db/fact_tables.py).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_facts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "memory_id",
            sa.Integer,
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("attribute", sa.String(200), nullable=False),
        sa.Column("value", sa.String(400), nullable=False),
        sa.Column("stated_at", sa.Float, nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("valid_to", sa.Float, nullable=True),
        sa.Column("superseded_by", sa.String(32), nullable=True),
        sa.Column("opens", sa.Integer, nullable=False),
    )
    op.create_index("ix_memory_facts_memory", "memory_facts", ["memory_id"])
    op.create_index(
        "ix_memory_facts_timeline",
        "memory_facts",
        ["tenant_id", "user_id", "agent_id", "subject", "attribute"],
    )


def downgrade() -> None:
    op.drop_index("ix_memory_facts_timeline", table_name="memory_facts")
    op.drop_index("ix_memory_facts_memory", table_name="memory_facts")
    op.drop_table("memory_facts")
