"""Per-scope full-text statistics for BM25: document counts, lengths, document frequencies.

- `memory_scope_stats`: for each stored scope (tenant, agent, user, session), how many
  memories it holds (`docs`) and the sum of their term counts (`total_len`);
- `memory_scope_terms`: for each stored scope and term, how many of its memories contain
  the term (`df`); rows reaching 0 are deleted.

Both are written in the same transaction as the memories (cerebra.memory.termstats) and
include expired memories until they are pruned; readers subtract expired ones. Existing
memories are counted here, from the SQLite FTS5 rows or PostgreSQL's `terms` column.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _backfill() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        sql = "SELECT tenant_id, agent_id, user_id, session_id, terms FROM memories"
    else:
        sql = (
            "SELECT m.tenant_id, m.agent_id, m.user_id, m.session_id, f.terms FROM memories m "
            "JOIN memories_fts f ON f.rowid = m.id"
        )
    docs: Counter[tuple[str, ...]] = Counter()
    lengths: Counter[tuple[str, ...]] = Counter()
    df: Counter[tuple[str, ...]] = Counter()
    for row in bind.execute(sa.text(sql)):
        key = tuple(row[:4])
        tokens = str(row[4] or "").split()
        docs[key] += 1
        lengths[key] += len(tokens)
        for term in set(tokens):
            df[(*key, term)] += 1
    if docs:
        bind.execute(
            sa.text(
                "INSERT INTO memory_scope_stats (tenant_id, agent_id, user_id, session_id, "
                "docs, total_len) VALUES (:t, :a, :u, :s, :d, :n)"
            ),
            [
                {"t": k[0], "a": k[1], "u": k[2], "s": k[3], "d": n, "n": lengths[k]}
                for k, n in docs.items()
            ],
        )
    if df:
        bind.execute(
            sa.text(
                "INSERT INTO memory_scope_terms (tenant_id, agent_id, user_id, session_id, "
                "term, df) VALUES (:t, :a, :u, :s, :w, :d)"
            ),
            [
                {"t": k[0], "a": k[1], "u": k[2], "s": k[3], "w": k[4], "d": n}
                for k, n in df.items()
            ],
        )


def upgrade() -> None:
    op.create_table(
        "memory_scope_stats",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.String(200), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
        sa.Column("session_id", sa.String(200), primary_key=True),
        sa.Column("docs", sa.Integer, nullable=False),
        sa.Column("total_len", sa.BigInteger, nullable=False),
    )
    # The key leads with (tenant, agent, term): the usual query names an agent and a few
    # terms; a second index serves queries across all agents of a tenant.
    op.create_table(
        "memory_scope_terms",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("term", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("df", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "agent_id", "term", "user_id", "session_id"),
    )
    op.create_index("ix_memory_scope_terms_term", "memory_scope_terms", ["tenant_id", "term"])
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_memory_scope_terms_term", table_name="memory_scope_terms")
    op.drop_table("memory_scope_terms")
    op.drop_table("memory_scope_stats")
