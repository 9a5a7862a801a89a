"""Audit log: `audit_log` (one hash-chained entry per event, a chain per tenant),
`audit_checkpoints` (Ed25519-signed chain heads) and `audit_heads` (each chain's last seq and
hash, the row appends lock). The database refuses UPDATE and DELETE on the log and the
checkpoints, and DELETE on the heads (triggers on SQLite and PostgreSQL; TRUNCATE too on
PostgreSQL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_log", "audit_checkpoints")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION cerebra_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit: % on % is refused (the audit log is append-only)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("time", sa.Float, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(100), nullable=False),
        sa.Column("details", sa.Text, nullable=False),  # canonical JSON, exactly as hashed
        sa.Column("constitution_hash", sa.String(200), nullable=False),
        sa.Column("trace_id", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION cerebra_audit_refuse()")
        op.execute("CREATE TRIGGER audit_heads_kept BEFORE DELETE ON audit_heads "
                   "FOR EACH ROW EXECUTE FUNCTION cerebra_audit_refuse()")
        for table in (*APPEND_ONLY, "audit_heads"):
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION cerebra_audit_refuse()")
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'audit: {verb} on {table} is refused "
                    "(the audit log is append-only)'); END")
        op.execute("CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads "
                   "BEGIN SELECT RAISE(ABORT, 'audit: DELETE on audit_heads is refused'); END")


def downgrade() -> None:
    op.drop_table("audit_heads")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS cerebra_audit_refuse()")
