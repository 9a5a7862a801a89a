"""Initial schema: tenants, memories (+ tags, SQLite FTS5), interactions.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.bulk_insert(tenants, [{"id": "default", "name": "Default", "created_at": time.time()}])

    op.create_table(
        "memories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("agent_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("session_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("source", sa.String(32), nullable=False, server_default="user"),
        sa.Column("importance", sa.Float, nullable=False, server_default="0.5"),
        sa.Column("salience", sa.Float, nullable=False, server_default="0"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("embedding", sa.LargeBinary, nullable=True),
        sa.Column("embedding_model", sa.String(200), nullable=True),
    )
    op.create_index(
        "ix_memories_scope", "memories", ["tenant_id", "agent_id", "user_id", "session_id"]
    )
    op.create_index("ix_memories_hash", "memories", ["tenant_id", "content_hash"])
    op.create_index("ix_memories_created", "memories", ["tenant_id", "created_at"])

    op.create_table(
        "memory_tags",
        sa.Column(
            "memory_id",
            sa.Integer,
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tag", sa.String(200), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_memory_tags_tag", "memory_tags", ["tenant_id", "tag"])

    if op.get_bind().dialect.name == "sqlite":
        # Full text over our own normalised terms (stemmed, stop words removed), so the
        # same text pipeline serves SQLite and PostgreSQL.
        op.execute("CREATE VIRTUAL TABLE memories_fts USING fts5(terms, tokenize='unicode61')")

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("trace_id", sa.String(32), nullable=False, unique=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("agent_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("session_id", sa.String(200), nullable=False, server_default=""),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("rendered_prompt", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("memories_used", sa.JSON, nullable=False),
        sa.Column("stored_memory_uid", sa.String(32), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_interactions_created", "interactions", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_table("interactions")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS memories_fts")
    op.drop_table("memory_tags")
    op.drop_table("memories")
    op.drop_table("tenants")
