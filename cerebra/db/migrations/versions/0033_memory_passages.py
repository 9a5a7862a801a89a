"""Passage vectors of long memories: `memory_passages` (cerebra/db/passage_tables.py), one
row per memory longer than cerebra.memory.passages.LONG_WORDS words, with its passages'
vectors as one float16 matrix. Existing long memories get theirs from
`cerebra memory repair` (integrity check `passages`); until then they rank by their
whole-text vector, as before.

Revision ID: 0033
Revises: 0031
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_passages",
        sa.Column(
            "memory_id",
            sa.Integer,
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("vectors", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_memory_passages_tenant", "memory_passages", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_memory_passages_tenant", table_name="memory_passages")
    op.drop_table("memory_passages")
