"""Memory test fixtures: a `backend` fixture over SQLite (with its usearch or its FAISS vector
index), TinyDB and PostgreSQL (the PostgreSQL server and its per-test databases come from
tests/pg.py), and `gated`: an embedder that holds write-behind's passes until told."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from cerebra.memory.base import MemoryBackend
from cerebra.testing import FakeEmbedder

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


class GatedEmbedder(FakeEmbedder):
    """FakeEmbedder that holds the backfill thread's calls until `gate` is set: its batch
    stays in flight, its rows still without vectors (searches embed their query at once)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.backfill_calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if threading.current_thread().name == "cerebra-vectors":
            self.gate.wait()
            self.backfill_calls += 1
        return super().embed(texts)


@pytest.fixture
def gated() -> Iterator[GatedEmbedder]:
    embedder = GatedEmbedder()
    yield embedder
    embedder.gate.set()  # never leave a backfill thread blocked
