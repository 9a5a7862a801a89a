"""PostgreSQL only: full-text search ranks from a narrow table, not from the memories' rows.

`memory_text` holds, per memory, what the full-text pool of a search reads: the scope
columns, the expiry and the tsvector (copied from the row's generated `tsv`). ts_rank reads
the tsvector of every match; from the wide `memories` rows (text, metadata, the vector's
TOAST pointer: an 86 MB heap at 110k memories) that was a heap page per match — 635 pages
for 734 matches in a 100k scope, 2.4 ms with every page in shared buffers, more when not.

A trigger on `memories` keeps it in the same transaction as every write (insert, a change
of terms, scope or expiry; a deleted memory's row goes by the foreign key's cascade), so no
write path can forget it and no committed memory is ever missing from it. The GIN index
moves here (`ix_memory_text_tsv`); `memories.tsv` stays as the row's own record (the
integrity check compares the two). SQLite is unchanged: FTS5 is already its own table.

The GIN index is built with `fastupdate = off`: with it on, new entries wait in a pending
list (up to 4 MB) that every search scans linearly until a vacuum merges it. Measured on a
100k scope: 3,000 inserts left searches at p50 44.3 ms with it on against 34.7 ms off, and
the inserts cost the same (10.8 vs 9.2 ms each, the HNSW index's share dominating).

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None

_COLUMNS = "id, tenant_id, user_id, agent_id, session_id, expires_at, tsv"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE memory_text ("
        " id integer PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,"
        " tenant_id varchar(64) NOT NULL, user_id varchar(200) NOT NULL,"
        " agent_id varchar(200) NOT NULL, session_id varchar(200) NOT NULL,"
        " expires_at double precision, tsv tsvector NOT NULL)"
    )
    op.execute(
        "CREATE FUNCTION memory_text_sync() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"INSERT INTO memory_text ({_COLUMNS}) VALUES (NEW.id, NEW.tenant_id, NEW.user_id, "
        "NEW.agent_id, NEW.session_id, NEW.expires_at, coalesce(NEW.tsv, ''::tsvector)) "
        "ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, "
        "user_id = EXCLUDED.user_id, agent_id = EXCLUDED.agent_id, "
        "session_id = EXCLUDED.session_id, expires_at = EXCLUDED.expires_at, tsv = EXCLUDED.tsv; "
        "RETURN NULL; "
        "END $$"
    )
    op.execute(
        "CREATE TRIGGER memories_text_sync AFTER INSERT OR UPDATE OF "
        "tenant_id, user_id, agent_id, session_id, expires_at, terms ON memories "
        "FOR EACH ROW EXECUTE FUNCTION memory_text_sync()"
    )
    op.execute(
        f"INSERT INTO memory_text ({_COLUMNS}) SELECT id, tenant_id, user_id, agent_id, "
        "session_id, expires_at, coalesce(tsv, ''::tsvector) FROM memories"
    )
    op.execute("CREATE INDEX ix_memory_text_tsv ON memory_text USING gin (tsv) "
               "WITH (fastupdate = off)")
    op.execute("DROP INDEX IF EXISTS ix_memories_tsv")
    op.execute("ANALYZE memory_text")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX IF NOT EXISTS ix_memories_tsv ON memories USING gin (tsv)")
    op.execute("DROP TRIGGER IF EXISTS memories_text_sync ON memories")
    op.execute("DROP FUNCTION IF EXISTS memory_text_sync()")
    op.execute("DROP TABLE IF EXISTS memory_text")
