"""The query's embedding computed beside the full-text half of a search.

A memory search needs the query's vector only for its vector half; the full-text half (the
scope's term counts, the FTS query, catching the vector index up) needs just the words. On
CPU the embedding is the larger part (~2-3 ms of MiniLM with ONNX Runtime, more with torch),
and both the model runtime and SQLite release the GIL while they work, so on two cores the
two halves can overlap. MemoryStore submits `embed_one` to a small thread pool of its own
(cerebra.offload.Offload) and goes on with a `PendingVector` (its future); a backend that
declares `overlaps_query_embedding` (SQLite) takes the pending vector and waits for it
(`vector_now`) only when its vector half begins. Every other backend gets the finished
vector, as before.
"""

from __future__ import annotations

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


def embed_one(embedder: Embedder, text: str) -> np.ndarray:
    """The vector of `text` (what MemoryStore submits to its query pool)."""
    return np.asarray(embedder.embed([text])[0], dtype=np.float32)
