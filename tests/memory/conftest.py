"""Memory test fixtures: a `backend` fixture over SQLite (with its usearch or its FAISS vector
index), TinyDB and PostgreSQL (the PostgreSQL server and its per-test databases come from
tests/pg.py)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.memory.base import MemoryBackend

_counter = itertools.count()


def make_backend(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> MemoryBackend:
    if kind in ("sqlite", "sqlite-faiss"):
        from cerebra.memory.sqlite import SQLiteBackend

        index = "faiss" if kind == "sqlite-faiss" else "usearch"
        return SQLiteBackend(str(tmp_path / "memory.db"), index=index)
    if kind in ("tinydb", "tinydb-faiss"):
        from cerebra.memory.tinydb_backend import TinyDBBackend

        index = "faiss" if kind == "tinydb-faiss" else "numpy"
        return TinyDBBackend(tmp_path / "memory.json", index=index)
    from cerebra.memory.postgres import PostgresBackend

    return PostgresBackend(request.getfixturevalue("pg_url"))


BACKENDS = [
    "sqlite",
    "sqlite-faiss",
    "tinydb",
    "tinydb-faiss",
    pytest.param("postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryBackend]:
    if request.param == "sqlite-faiss":  # search the FAISS graph even in small stores
        from cerebra.memory import sqlite_search

        request.getfixturevalue("monkeypatch").setattr(sqlite_search, "EXACT_MAX", 0)
    made = make_backend(request.param, tmp_path, request)
    yield made
    made.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryBackend]:
    """The SQL backends only: for checks of their tables, migrations and query plans."""
    made = make_backend(request.param, tmp_path, request)
    yield made
    made.close()
