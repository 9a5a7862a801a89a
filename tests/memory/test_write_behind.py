"""Write-behind vectors (cerebra.memory.write_behind) on SQLite and PostgreSQL: a memory
stored with `vectors_later` is searchable by text at once and by vector once the backfill
thread has filled it; rows that already have a vector or are gone are left alone; a
restart (also after SIGKILL) fills what was pending, so every acknowledged memory ends up
searchable both ways."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cerebra.memory.base import MemoryBackend, Scope
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms
from cerebra.memory.write_behind import DeferredVectors, VectorBackfill, enable_write_behind
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import GatedEmbedder, make_backend


def vector_uids(backend: MemoryBackend, embedder: FakeEmbedder, text: str) -> set[str]:
    """The memories the vector pool reaches for `text` (the default tenant, any user)."""
    found = backend.vector_candidates(Scope(), embedder.embed([text])[0], 50)
    return {m.uid for m in backend.fetch([c.row_id for c in found])}


def text_uids(store: MemoryStore, query: str) -> set[str]:
    """The memories the full-text pool reaches (no wait for pending vectors)."""
    found = store.backend.text_candidates(Scope(), terms(query), 50)
    return {m.uid for m in store.backend.fetch([c.row_id for c in found])}


def test_sql_backends_fill_vectors_later(sql_backend: MemoryBackend, gated: GatedEmbedder) -> None:
    assert isinstance(sql_backend, DeferredVectors)
    store = MemoryStore(sql_backend, gated)
    backfill = enable_write_behind(store, linger_s=0)
    assert backfill is not None and store.backfill is backfill
    uid = store.add("a", "Alice keeps bees on a roof in Lisbon", vectors_later=True)
    assert [u for u, _ in sql_backend.pending_vectors()] == [uid]
    assert uid in text_uids(store, "bees Lisbon")  # by text at once
    assert uid not in vector_uids(sql_backend, gated, "Alice keeps bees on a roof in Lisbon")
    gated.gate.set()
    assert backfill.flush(timeout=30)
    assert sql_backend.pending_vectors() == []
    assert backfill.filled == 1 and backfill.failures == 0
    assert uid in vector_uids(sql_backend, gated, "Alice keeps bees on a roof in Lisbon")
    backfill.close()


def test_fill_skips_rows_with_a_vector_or_gone(sql_backend: MemoryBackend) -> None:
    embedder = FakeEmbedder()
    store = MemoryStore(sql_backend, embedder)
    embedded = store.add("a", "Bob repairs old radios")  # embedded on write
    later = store.add("a", "Bob sails on Sundays", vectors_later=True)  # no backfill: embeds
    assert sql_backend.pending_vectors() == []
    vector = embedder.embed(["anything"])[0]
    assert isinstance(sql_backend, DeferredVectors)
    assert sql_backend.fill_vectors([(embedded, vector), (later, vector)], "other") == 0
    assert sql_backend.fill_vectors([("no-such-memory", vector)], "other") == 0
    assert embedded in vector_uids(sql_backend, embedder, "Bob repairs old radios")


def test_update_while_pending_keeps_the_new_vector(sql_backend: MemoryBackend,
                                                    gated: GatedEmbedder) -> None:
    store = MemoryStore(sql_backend, gated)
    backfill = enable_write_behind(store, linger_s=0)
    assert backfill is not None
    uid = store.add("a", "Carol plays the cello", vectors_later=True)
    store.update(uid, text="Carol plays the viola")  # re-embedded now, while the fill waits
    gated.gate.set()
    assert backfill.flush(timeout=30)
    assert backfill.filled == 0  # the stale vector of the old text was not written
    assert uid in vector_uids(sql_backend, gated, "Carol plays the viola")
    backfill.close()


def test_restart_fills_what_was_pending(tmp_path: Path, request: pytest.FixtureRequest,
                                        gated: GatedEmbedder) -> None:
    first = make_backend("sqlite", tmp_path, request)
    store = MemoryStore(first, gated)
    assert enable_write_behind(store, linger_s=0) is not None
    uids = [store.add("a", f"note {n} about the harbour crane", vectors_later=True)
            for n in range(5)]
    # the process "stops" here: the batch never got its vectors
    second = make_backend("sqlite", tmp_path, request)
    assert isinstance(second, DeferredVectors)
    assert {u for u, _ in second.pending_vectors()} == set(uids)
    embedder = FakeEmbedder()
    recovered = MemoryStore(second, embedder)
    backfill = enable_write_behind(recovered, linger_s=0)
    assert backfill is not None and backfill.flush(timeout=30)
    assert second.pending_vectors() == []
    assert set(uids) <= vector_uids(second, embedder, "note about the harbour crane")
    gated.gate.set()
    assert store.backfill is not None and store.backfill.flush(timeout=30)
    assert store.backfill.filled == 0  # the restarted store had filled them
    backfill.close()
    store.backfill.close()
    first.close()
    second.close()


CHILD = textwrap.dedent("""
    import sys, threading
    from cerebra.memory.sqlite import SQLiteBackend
    from cerebra.memory.store import MemoryStore
    from cerebra.memory.write_behind import enable_write_behind
    from cerebra.testing import FakeEmbedder

    class Stuck(FakeEmbedder):
        def embed(self, texts):
            threading.Event().wait()  # the backfill never finishes: SIGKILL finds it here

    store = MemoryStore(SQLiteBackend(sys.argv[1]), Stuck())
    enable_write_behind(store, linger_s=0)
    for n in range(int(sys.argv[2])):
        uid = store.add("a", f"acknowledged note {n} on the lighthouse", vectors_later=True)
        print(uid, flush=True)  # acknowledged: the row and its text are committed
    print("done", flush=True)
    sys.stdin.read()
""")


def test_sigkill_during_write_behind_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), "12"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged = []
    for line in child.stdout:
        if line.strip() == "done":
            break
        acknowledged.append(line.strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait(30)
    assert len(acknowledged) == 12
    from cerebra.memory.sqlite import SQLiteBackend

    backend = SQLiteBackend(str(db))
    embedder = FakeEmbedder()
    store = MemoryStore(backend, embedder)
    assert text_uids(store, "acknowledged lighthouse note") >= set(
        acknowledged)  # by text before any vector
    backfill = enable_write_behind(store, linger_s=0)
    assert backfill is not None and backfill.flush(timeout=30)
    assert set(acknowledged) <= vector_uids(backend, embedder,
                                             "acknowledged note on the lighthouse")
    backfill.close()
    backend.close()


def test_batches_what_arrives_together(sql_backend: MemoryBackend, gated: GatedEmbedder) -> None:
    store = MemoryStore(sql_backend, gated)
    backfill = VectorBackfill(sql_backend, gated, batch=8, linger_s=0)  # type: ignore[arg-type]
    store.backfill = backfill
    store.add("a", "first note to hold the thread at the gate", vectors_later=True)
    for n in range(8):  # queued while the first batch is in flight: one batch after it
        store.add("a", f"queued note {n}", vectors_later=True)
    gated.gate.set()
    assert backfill.flush(timeout=30)
    assert backfill.filled == 9
    assert gated.backfill_calls == 2  # the one in flight, then the eight queued behind it
    backfill.close()


def test_a_search_reads_the_writes_acknowledged_before_it(sql_backend: MemoryBackend,
                                                          gated: GatedEmbedder) -> None:
    store = MemoryStore(sql_backend, gated)
    backfill = enable_write_behind(store, linger_s=10.0)  # a long linger: the search cuts it
    assert backfill is not None
    uid = store.add("a", "Dora keeps a telescope on the balcony", vectors_later=True)
    gated.gate.set()
    hits = store.search("a", "Dora telescope balcony", k=3, explain=True)
    assert hits and hits[0].memory.uid == uid
    assert hits[0].signals.get("vector", 0.0) > 0  # its vector was filled before the search
    assert backfill.pending() == 0
    backfill.close()
