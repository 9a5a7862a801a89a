"""Run Alembic migrations programmatically (on start, and from `cerebra db upgrade`)."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_lock = threading.Lock()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%"; URLs may carry it (escaped socket paths, passwords)
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is already there."""
    with _lock:
        if revision == "head" and current_revision(engine) == head_revision():
            return
        command.upgrade(alembic_config(engine), revision)


def run_migrations(engine: Engine | None = None) -> Engine:
    """Bring the configured database (or `engine`) to the newest schema; returns the engine.

    The library's one-line setup (`run_migrations()` before `AgentRegistry()`, …): the
    database is settings' `db_url`, its folder made when it is a SQLite file.
    """
    if engine is None:
        from cerebra.config import get_settings
        from cerebra.db.engine import make_engine

        settings = get_settings()
        settings.ensure_home()
        engine = make_engine(settings.db_url)
    upgrade(engine)
    return engine


def downgrade(engine: Engine, revision: str) -> None:
    with _lock:
        command.downgrade(alembic_config(engine), revision)
