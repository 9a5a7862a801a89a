"""Jobs: checkpoints and resumption across restarts (issue 11, part C).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
