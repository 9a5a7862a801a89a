"""Refresh tokens remember their grant: `kind` (token: the password flow; wallet: a wallet
sign-in, whose token gate is checked again at each refresh) and `scopes` (what the login
granted, so a refresh never widens a narrowed grant; null: the user's role scopes).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="token"))
        batch.add_column(sa.Column("scopes", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("scopes")
        batch.drop_column("kind")
