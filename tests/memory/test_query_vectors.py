"""A search's query embedding beside its full-text half (cerebra.memory.query_vectors), and
what a prompt's recall waits for with write-behind on (memory.recall_wait_s): on every
backend the overlapped search ranks exactly as the plain one; SQLite embeds the query on
the pool's thread, the others in the caller; an embedding failure is the search's error;
Brain's recall does not wait for the previous exchange's vector (found by its text
meanwhile) unless told to, while API searches do (read your writes); the backfill has its
own passes, apart from the store's batching embedder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.memory.base import MemoryBackend
from cerebra.memory.embed_batching import BatchingEmbedder
from cerebra.memory.query_vectors import embed_one, vector_now
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms
from cerebra.memory.write_behind import enable_write_behind
from cerebra.offload import Offload
from cerebra.testing import FakeEmbedder, FakeModel
from tests.helpers import note_flushes
from tests.memory.conftest import GatedEmbedder

FACTS = [
    "Alice keeps bees on a roof in Lisbon",
    "Bob repairs bicycles near the harbour",
    "Carol's sister teaches chemistry in Porto",
    "The team ships the billing release on Friday",
]


class ThreadNoting(FakeEmbedder):
    """FakeEmbedder that notes which thread embedded each single text."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:
            self.threads.append(threading.current_thread().name)
        return super().embed(texts)


class Failing(FakeEmbedder):
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1 and texts[0].startswith("boom"):
            raise RuntimeError("the embedder broke")
        return super().embed(texts)


def test_vector_now_takes_arrays_and_pending_vectors() -> None:
    v = np.arange(3, dtype=np.float32)
    assert vector_now(v) is v
    pending: Future[np.ndarray] = Future()
    pending.set_result(v)
    assert np.array_equal(vector_now(pending), v)
    failed: Future[np.ndarray] = Future()
    failed.set_exception(ValueError("no"))
    with pytest.raises(ValueError, match="no"):
        vector_now(failed)


def test_overlapped_search_ranks_as_the_plain_one(backend: MemoryBackend) -> None:
    embedder = ThreadNoting()
    store = MemoryStore(backend, embedder)
    for text in FACTS:
        store.add("a", text)
    embedder.threads.clear()
    query = "who keeps bees in Lisbon"
    hits = store.search("a", query, k=3)
    overlaps = getattr(backend, "overlaps_query_embedding", False)
    assert overlaps == (backend.name == "sqlite")
    on_pool = embedder.threads[-1].startswith("cerebra-query-embed")
    assert on_pool == overlaps  # SQLite: the pool's thread; the others: the caller's
    plain = hybrid_search(backend, store.scope("a"), terms(query), embedder.embed([query])[0],
                          k=3, weights=RetrievalWeights())
    assert [h.memory.uid for h in hits] == [h.memory.uid for h in plain]
    assert [h.score for h in hits] == pytest.approx([h.score for h in plain], abs=1e-6)
    assert hits[0].memory.text == FACTS[0] and hits[0].signals["vector"] > 0
    store.queries.close()


def test_an_embedding_failure_is_the_searchs_error(backend: MemoryBackend) -> None:
    store = MemoryStore(backend, Failing())
    store.add("a", FACTS[0])
    with pytest.raises(RuntimeError, match="the embedder broke"):
        store.search("a", "boom: bees", k=3)
    assert store.search("a", "bees", k=3)[0].memory.text == FACTS[0]  # the pool goes on
    store.queries.close()


def test_the_pool_starts_on_use_and_closes() -> None:
    queries = Offload(workers=4, name="cerebra-query-embed")
    assert queries._pool is None  # nothing built before a search needs it
    assert vector_now(queries.submit(embed_one, FakeEmbedder(), "x")).shape == (
        FakeEmbedder().dimension,)
    queries.close()
    assert queries._pool is None
    assert vector_now(queries.submit(embed_one, FakeEmbedder(), "y")).shape[0] > 0  # reopens
    queries.close()


def test_search_waits_for_pending_vectors_only_when_asked(sql_backend: MemoryBackend,
                                                          gated: GatedEmbedder) -> None:
    store = MemoryStore(sql_backend, gated)
    backfill = enable_write_behind(store, linger_s=0)
    assert backfill is not None
    waits = note_flushes(backfill)
    uid = store.add("a", FACTS[0], vectors_later=True)
    hits = store.search("a", "bees on a roof in Lisbon", k=3, vectors_wait_s=0)
    assert waits == [] and backfill.pending() == 1  # returned with the vector pending
    assert hits and hits[0].memory.uid == uid  # found by its text meanwhile
    gated.gate.set()
    hits = store.search("a", "bees on a roof in Lisbon", k=3)  # read your writes: waits
    assert waits == [5.0] and backfill.pending() == 0
    assert hits[0].memory.uid == uid and hits[0].signals["vector"] > 0
    backfill.close()
    store.queries.close()


@pytest.mark.parametrize("wait_s", [0.0, 2.5])
def test_brains_recall_waits_as_configured(tmp_path: Path, gated: GatedEmbedder,
                                           wait_s: float) -> None:
    settings = Settings(home=tmp_path)
    settings = settings.model_copy(update={"memory": settings.memory.model_copy(
        update={"recall_wait_s": wait_s, "top_k": 5})})
    brain = Brain.from_settings(settings, model=FakeModel(reply="Noted: the bees."),
                                embedder=gated)
    try:
        backfill = brain.memory.backfill
        assert backfill is not None
        # the store batches concurrent queries; the backfill runs its own passes
        assert isinstance(brain.memory.embedder, BatchingEmbedder)
        assert backfill.embedder is gated
        waits = note_flushes(backfill)
        if wait_s == 0:  # the first exchange's vector stays pending through the second ask
            brain.ask("Alice keeps bees on a roof in Lisbon", user_id="u1")
            answer = brain.ask("Where does Alice keep bees?", user_id="u1")
            assert waits == [] and backfill.pending() >= 1
            assert any("Lisbon" in h.memory.text for h in answer.memories)  # by its text
            gated.gate.set()
        else:
            gated.gate.set()
            brain.ask("Alice keeps bees on a roof in Lisbon", user_id="u1")
            answer = brain.ask("Where does Alice keep bees?", user_id="u1")
            assert waits and set(waits) == {wait_s}
            assert any("Lisbon" in h.memory.text for h in answer.memories)
    finally:
        gated.gate.set()
        brain.close()
