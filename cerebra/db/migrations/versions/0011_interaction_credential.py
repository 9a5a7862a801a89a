"""Interactions record the credential that made them (`credential_id`: the API key, or the
sign-in family of an access token or wallet sign-in), so a key's or a user's budget can be
summed from the ledger after a restart; indexed with the tenant and the time for those sums.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column("credential_id", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_interactions_credential", "interactions",
                    ["tenant_id", "credential_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_interactions_credential", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("credential_id")
