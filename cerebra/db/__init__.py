"""Database access: engine factory, table definitions and migrations."""

from cerebra.db.engine import make_engine
from cerebra.db.migrate import current_revision, head_revision, run_migrations, upgrade

__all__ = ["current_revision", "head_revision", "make_engine", "run_migrations", "upgrade"]
