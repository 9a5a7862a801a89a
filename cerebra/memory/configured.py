"""The memory backend on the configured database (PostgreSQL with pgvector, or SQLite),
migrated first: what `MemoryStore()` without a backend uses."""

from __future__ import annotations

from cerebra.memory.base import MemoryBackend


def configured_backend() -> MemoryBackend:
    """The backend on the configured database: PostgreSQL (pgvector) or SQLite."""
    from cerebra.db.migrate import run_migrations

    engine = run_migrations()
    if engine.dialect.name == "postgresql":
        from cerebra.memory.postgres import PostgresBackend

        return PostgresBackend(engine)
    from cerebra.memory.sqlite import SQLiteBackend

    return SQLiteBackend(engine)
