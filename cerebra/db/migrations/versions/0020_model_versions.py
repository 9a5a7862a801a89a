"""Model versions, adapters, promotions and rollbacks (issue 11, part E).

Reserved revision: filled in by the part that owns it (no-op until then).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from __future__ import annotations

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
