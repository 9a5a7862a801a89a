"""The query's embedding computed beside the full-text half of a search.

A memory search needs the query's vector only for its vector half; the full-text half (the
scope's term counts, the FTS query, catching the vector index up) needs just the words. On
CPU the embedding is the larger part (~2-3 ms of MiniLM with ONNX Runtime, more with torch),
and both the model runtime and SQLite release the GIL while they work, so on two cores the
two halves can overlap. `QueryEmbedding.start` runs the embedding on a small thread pool
and returns at once with a `PendingVector` (a `concurrent.futures.Future`); a backend that
declares `overlaps_query_embedding` (SQLite) takes the pending vector and waits for it
(`vector_now`) only when its vector half begins. Every other backend gets the finished
vector, as before.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from cerebra.memory.embedders import Embedder


class PendingVector(Protocol):
    """A query vector still being computed."""

    def result(self, timeout: float | None = None) -> np.ndarray: ...


QueryVector: TypeAlias = "np.ndarray | PendingVector"


def vector_now(vector: QueryVector) -> np.ndarray:
    """The vector itself, waiting for it if it is still being computed (its embedding's
    error, if it failed, is raised here)."""
    if isinstance(vector, np.ndarray):
        return vector
    return np.asarray(vector.result(), dtype=np.float32)


class QueryEmbedding:
    """A small thread pool that embeds queries while their full-text half runs (see the
    module); built on first use, shut down by `close`."""

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self, embedder: Embedder, text: str) -> Future[np.ndarray]:
        """The vector of `text`, being computed."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers,
                                                thread_name_prefix="cerebra-query-embed")
            pool = self._pool
        return pool.submit(_first_row, embedder, text)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _first_row(embedder: Embedder, text: str) -> np.ndarray:
    return np.asarray(embedder.embed([text])[0], dtype=np.float32)
