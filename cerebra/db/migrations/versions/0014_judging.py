"""Judging: competitions with their verdicts, each contestant's entry, and the pairwise
comparisons Bradley–Terry ratings are fitted on, per tenant.

`competitions` holds one row per judged competition (prompt, the judge, the winner — null
for a tie —, rationale, position-swap agreement, a category, the judge's failures);
`competition_entries` one row per contestant (answer, model, score, error); `comparisons`
one row per pairwise result (a, b, outcome a|b|tie), from a competition or recorded alone
(arena votes, imports), with a category so leaderboards can be fitted per task kind.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("judge", sa.String(200), nullable=False),
        sa.Column("winner_id", sa.String(200), nullable=True),
        sa.Column("rationale", sa.Text, nullable=False),
        sa.Column("agreement", sa.Float, nullable=True),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("failures", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_competitions_time", "competitions", ["tenant_id", "created_at"])
    op.create_table(
        "competition_entries",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("competition_id", sa.String(64), primary_key=True),
        sa.Column("contestant_id", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "competition_id"],
                                ["competitions.tenant_id", "competitions.id"],
                                ondelete="CASCADE"),
    )
    op.create_index("ix_competition_entries_contestant", "competition_entries",
                    ["tenant_id", "contestant_id"])
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("a", sa.String(200), nullable=False),
        sa.Column("b", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("competition_id", sa.String(64), nullable=True),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_comparisons_category", "comparisons", ["tenant_id", "category", "id"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_category", table_name="comparisons")
    op.drop_table("comparisons")
    op.drop_index("ix_competition_entries_contestant", table_name="competition_entries")
    op.drop_table("competition_entries")
    op.drop_index("ix_competitions_time", table_name="competitions")
    op.drop_table("competitions")
