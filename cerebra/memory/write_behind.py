"""Write-behind vectors: a memory is acknowledged when its row and full text commit; its
vector follows from a background thread that embeds what is pending in batches.

Embedding is the slow part of storing a memory on CPU (one MiniLM pass per exchange, tens of
milliseconds under load), and an answer should not wait for it. With write-behind the
request's transaction writes the row, its full-text entry and everything derived from the
text (facts, graph) — so the memory is searchable by text at once and nothing acknowledged
can be lost — and `VectorBackfill` gives it its vector within a bounded delay: it gathers
what arrives within `linger_s` (up to `batch` memories, so concurrent requests share one
embedder pass) and hands the vectors to the backend, which fills only rows that still have
none (a row updated meanwhile was re-embedded by its update; a deleted one is gone).

After a crash or restart, `resume()` queues every row the database still holds without a
vector, so a restart finishes what was pending. Backends opt in by implementing
`DeferredVectors`; MemoryStore embeds on write for those that do not (TinyDB).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from cerebra.memory.embedders import Embedder
from cerebra.memory.passages import embed_with_passages

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore

log = logging.getLogger(__name__)


@runtime_checkable
class DeferredVectors(Protocol):
    """A backend that stores rows without a vector and fills the vectors in later."""

    def pending_vectors(self, limit: int = 1000) -> list[tuple[str, str]]:
        """(uid, text) of memories stored without a vector, oldest first."""
        ...

    def fill_vectors(self, items: Sequence[tuple[str, np.ndarray]], model: str,
                     passages: Sequence[np.ndarray | None] | None = None) -> int:
        """Give each memory still without a vector its vector and, for a long one, its
        passage vectors (cerebra.memory.passages; one transaction); returns how many were
        filled (a memory that has one by now, or is gone, is skipped)."""
        ...


class VectorBackfill:
    """The background thread that embeds pending memories and fills their vectors."""

    def __init__(self, backend: DeferredVectors, embedder: Embedder, *, batch: int = 32,
                 linger_s: float = 0.02) -> None:
        self.backend = backend
        self.embedder = embedder
        self.batch = max(1, int(batch))
        self.linger_s = max(0.0, float(linger_s))
        self._queue: deque[tuple[str, str]] = deque()
        self._cond = threading.Condition()
        self._busy = 0  # memories taken off the queue and not yet filled
        self._waiting = 0  # flush() calls waiting: no lingering for more then
        self._closed = False
        self._thread: threading.Thread | None = None
        self.filled = 0  # vectors filled since start
        self.failures = 0  # batches that failed (left pending; resume() retries them)

    def submit(self, items: Iterable[tuple[str, str]]) -> None:
        """Queue (uid, text) pairs; the thread starts on the first submission."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the vector backfill is closed")
            self._queue.extend(items)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cerebra-vectors",
                                                daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def resume(self, limit: int = 100_000) -> int:
        """Queue every memory the backend holds without a vector (after a restart)."""
        pending = self.backend.pending_vectors(limit)
        if pending:
            self.submit(pending)
        return len(pending)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued so far has its vector (or failed); False on timeout."""
        with self._cond:
            if not self._queue and not self._busy:
                return True
            self._waiting += 1
            self._cond.notify_all()  # no lingering while someone waits
            try:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
            finally:
                self._waiting -= 1

    def close(self, timeout: float | None = 30.0) -> None:
        """Fill what is queued, then stop; what is left stays pending in the database."""
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[tuple[str, str]]:
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._closed)
            if not self._queue:
                return []
            if len(self._queue) < self.batch and self.linger_s and not self._closed:
                # gather the requests arriving alongside into one embedder pass
                self._cond.wait_for(
                    lambda: len(self._queue) >= self.batch or self._closed or self._waiting,
                    self.linger_s)
            taken = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            self._busy = len(taken)
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if not taken:
                return  # closed and drained
            try:
                vectors, passages = embed_with_passages(
                    self.embedder, [text for _, text in taken])
                self.filled += self.backend.fill_vectors(
                    [(uid, vectors[n]) for n, (uid, _) in enumerate(taken)],
                    self.embedder.model_id, passages)
            except Exception:  # the rows stay without vectors: resume() or repair retries
                self.failures += 1
                log.exception("filling %d memory vectors failed; they stay pending",
                              len(taken))
            finally:
                with self._cond:
                    self._busy = 0
                    self._cond.notify_all()


def enable_write_behind(store: MemoryStore, *, batch: int = 32, linger_s: float = 0.02,
                        embedder: Embedder | None = None) -> VectorBackfill | None:
    """Turn write-behind on for `store` where its backend can fill vectors later, and queue
    what an earlier run left without one; None (embedding on write) where it cannot.
    `embedder` (the same model as the store's) lets the backfill run its passes apart from
    the store's own: the runtime hands it the embedder its BatchingEmbedder wraps, so a
    request's query embedding is never queued behind a batch of exchanges."""
    if not isinstance(store.backend, DeferredVectors):
        return None
    embedder = embedder or store.embedder
    if embedder.model_id != store.embedder.model_id:
        raise ValueError(f"write-behind embedder {embedder.model_id!r} is not the store's "
                         f"({store.embedder.model_id!r})")
    backfill = VectorBackfill(store.backend, embedder, batch=batch, linger_s=linger_s)
    store.backfill = backfill
    backfill.resume()
    return backfill
