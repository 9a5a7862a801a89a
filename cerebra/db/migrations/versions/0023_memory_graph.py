"""Memory knowledge graph (issue 12, item 1): `memory_mentions` (the entities each memory
mentions) and `memory_relations` (subject, predicate, object stated by a memory). Memories
are linked through shared entities by a join on `memory_mentions`; no edge table.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "memory_mentions",
        sa.Column(
            "memory_id",
            sa.Integer,
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("entity", sa.String(200), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_memory_mentions_entity", "memory_mentions", ["tenant_id", "entity", "memory_id"]
    )
    op.create_table(
        "memory_relations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "memory_id",
            sa.Integer,
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("predicate", sa.String(200), nullable=False),
        sa.Column("object", sa.String(200), nullable=False),
    )
    op.create_index("ix_memory_relations_memory", "memory_relations", ["memory_id"])
    op.create_index("ix_memory_relations_subject", "memory_relations", ["tenant_id", "subject"])
    op.create_index("ix_memory_relations_object", "memory_relations", ["tenant_id", "object"])


def downgrade() -> None:
    op.drop_table("memory_relations")
    op.drop_table("memory_mentions")
