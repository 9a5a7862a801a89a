"""Migrations: upgrade from empty, idempotence, downgrade, WAL, tenant on every owned row."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from cerebra.db import current_revision, head_revision, make_engine, upgrade
from cerebra.db.migrate import downgrade


def test_upgrade_from_empty_and_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # no-op
    tables = set(inspect(engine).get_table_names())
    assert {"tenants", "memories", "memory_tags", "interactions"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("SELECT id FROM tenants")).scalars().all() == ["default"]


def test_owned_tables_carry_tenant(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    insp = inspect(engine)
    for table in insp.get_table_names():
        if table in ("alembic_version", "tenants") or table.startswith("memories_fts"):
            continue
        columns = {c["name"] for c in insp.get_columns(table)}
        assert "tenant_id" in columns, table


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    downgrade(engine, "base")
    assert "memories" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_schema_module_matches_migrations(tmp_path: Path) -> None:
    """Every table and column the code's Core tables name exists after migrating."""
    from cerebra.db.schema import metadata

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    insp = inspect(engine)
    for table in metadata.sorted_tables:
        columns = {c["name"] for c in insp.get_columns(table.name)}
        assert {c.name for c in table.columns} <= columns, table.name
