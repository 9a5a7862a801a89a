"""Memory graph: a partial index on the unconfirmed sentence openers of `memory_mentions`
(kind 'opener'), so the write that confirms a name (cerebra.memory.graph_store) finds the
few openers of its key without visiting every mention of a popular entity.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_memory_mentions_openers",
        "memory_mentions",
        ["tenant_id", "entity"],
        sqlite_where=sa.text("kind = 'opener'"),
        postgresql_where=sa.text("kind = 'opener'"),
    )


def downgrade() -> None:
    op.drop_index("ix_memory_mentions_openers", table_name="memory_mentions")
