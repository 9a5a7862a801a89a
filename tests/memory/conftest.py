"""Memory test fixtures: a `backend` fixture over SQLite and PostgreSQL (the PostgreSQL server
and its per-test databases come from tests/pg.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.memory.base import MemoryBackend

_counter = itertools.count()


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> MemoryBackend:
    if kind == "sqlite":
        from cerebra.memory.sqlite import SQLiteBackend

        return SQLiteBackend(str(tmp_path / "memory.db"))
    from cerebra.memory.postgres import PostgresBackend

    return PostgresBackend(request.getfixturevalue("pg_url"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryBackend]:
    made = make_backend(request.param, tmp_path, request)
    yield made
    made.close()
