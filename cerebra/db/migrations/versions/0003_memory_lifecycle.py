"""Memory lifecycle: versions (history), a vector change log, dedup index; PostgreSQL search.

- `memories.version` counts edits; `memory_history` keeps every replaced version.
- `memory_vec_log` (SQLite) is the ordered list of vector changes written in the same
  transaction as the rows; the external vector index replays it to catch up after a crash.
- one row per (scope, content hash): identical content in a scope is stored once.
- SQLite only: `memories_fts_vocab` (fts5vocab) exposes each term's document frequency.
- PostgreSQL only: pgvector, `terms` + a generated `tsv` tsvector with a GIN index,
  `embedding_vec vector` + `embedding_dim` (HNSW indexes are created per dimension by the
  backend, as expression indexes), JSON columns as jsonb.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("memories", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_index(
        "ux_memories_scope_hash",
        "memories",
        ["tenant_id", "user_id", "agent_id", "session_id", "content_hash"],
        unique=True,
    )
    op.create_index("ix_memories_expires", "memories", ["expires_at"])
    # Covers "which rows of this scope are live" without reading rows (vector candidates).
    op.create_index(
        "ix_memories_scope_live",
        "memories",
        ["tenant_id", "agent_id", "user_id", "session_id", "expires_at"],
    )
    op.create_table(
        "memory_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("memory_uid", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("importance", sa.Float, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.Float, nullable=False),
        sa.Column("valid_to", sa.Float, nullable=False),
    )
    op.create_index("ix_memory_history_uid", "memory_history", ["memory_uid", "version"])
    op.create_table(
        "memory_vec_log",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("memory_id", sa.Integer, nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sqlite_autoincrement=True,
    )
    # Rows stored before this revision enter the vector index through the log.
    op.execute(
        "INSERT INTO memory_vec_log (memory_id, op, tenant_id) SELECT id, 'add', tenant_id "
        "FROM memories WHERE embedding IS NOT NULL ORDER BY id"
    )
    if not postgres:  # document frequencies of full-text terms, for query planning
        op.execute("CREATE VIRTUAL TABLE memories_fts_vocab USING fts5vocab(memories_fts, 'row')")
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute("ALTER TABLE memories ALTER COLUMN metadata TYPE jsonb USING metadata::jsonb")
        op.execute("ALTER TABLE memories ALTER COLUMN tags TYPE jsonb USING tags::jsonb")
        op.execute("ALTER TABLE memories ADD COLUMN terms text NOT NULL DEFAULT ''")
        op.execute(
            "ALTER TABLE memories ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', terms)) STORED"
        )
        op.execute("CREATE INDEX ix_memories_tsv ON memories USING gin (tsv)")
        op.execute("ALTER TABLE memories ADD COLUMN embedding_vec vector")
        op.execute("ALTER TABLE memories ADD COLUMN embedding_dim integer")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP INDEX IF EXISTS ix_memories_tsv")
        for column in ("tsv", "terms", "embedding_vec", "embedding_dim"):
            op.execute(f"ALTER TABLE memories DROP COLUMN IF EXISTS {column} CASCADE")
        op.execute("ALTER TABLE memories ALTER COLUMN metadata TYPE json USING metadata::json")
        op.execute("ALTER TABLE memories ALTER COLUMN tags TYPE json USING tags::json")
    if not postgres:
        op.execute("DROP TABLE IF EXISTS memories_fts_vocab")
    op.drop_table("memory_vec_log")
    op.drop_index("ix_memory_history_uid", table_name="memory_history")
    op.drop_table("memory_history")
    op.drop_index("ix_memories_scope_live", table_name="memories")
    op.drop_index("ix_memories_expires", table_name="memories")
    op.drop_index("ux_memories_scope_hash", table_name="memories")
    op.execute("ALTER TABLE memories DROP COLUMN version")  # SQLite >= 3.35 and PostgreSQL
