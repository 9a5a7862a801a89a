"""Jobs: resumption across restarts and structured progress (issue 11, part C). `jobs` gains
`attempt` (0 for the first run, +1 each time a job is resumed), `resumable` (its kind resumes
from its own checkpoint, so a runner re-queues it instead of failing it), `payload` (what a
registered kind is called with: target and arguments, so another process can run or resume
it), `metrics` (steps, total, loss, eta_s) and `cancel_requested` (the flag a job running in
another process polls).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("resumable", sa.Boolean, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("payload", sa.JSON, nullable=True))
        batch.add_column(sa.Column("metrics", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        for name in ("metrics", "payload", "cancel_requested", "resumable", "attempt"):
            batch.drop_column(name)
