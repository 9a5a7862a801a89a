"""Concurrent callers' texts embedded in one model pass: `BatchingEmbedder` wraps an
embedder so that calls arriving while a pass runs wait for it and go together in the next.

Serving with memory on embeds every request's query (and, without write-behind, its
exchange). On CPU one MiniLM pass over a few short texts costs little more than a pass over
one — tokenisation, dispatch and thread start-up dominate — so concurrent requests that
each ran their own pass spent most of the cores on overhead. There is no timer: a call
that finds no pass running runs one at once (a lone request waits for nothing); calls that
arrive during it queue, and when it ends the first of them leads the next pass for all
of them (up to `max_texts` texts). Each call gets its own rows back, in order, and a
failed pass raises in every call it carried.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from cerebra.memory.embedders import Embedder


class _Call:
    __slots__ = ("done", "error", "lead", "result", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.lead = False  # woken to run the next pass rather than with a result
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """An Embedder whose concurrent calls share model passes (see the module)."""

    def __init__(self, inner: Embedder, *, max_texts: int = 64) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.max_texts = max(1, int(max_texts))
        self._lock = threading.Lock()
        self._queue: list[_Call] = []
        self._running = False
        self.passes = 0  # model passes run (fewer than calls when calls were batched)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        call = _Call(list(texts))
        if not call.texts:
            return self.inner.embed([])
        with self._lock:
            self._queue.append(call)
            lead = not self._running
            self._running = True
        while not lead:
            call.done.wait()
            if not call.lead:
                break
            call.done.clear()
            lead = True
        if lead:
            self._lead()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)

    def _take(self) -> list[_Call]:
        taken: list[_Call] = []
        count = 0
        while self._queue and (not taken or count + len(self._queue[0].texts) <= self.max_texts):
            call = self._queue.pop(0)
            taken.append(call)
            count += len(call.texts)
        return taken

    def _lead(self) -> None:
        """Run one pass for what is queued, then hand the lead to the next waiting call."""
        with self._lock:
            batch = self._take()
        try:
            vectors = self.inner.embed([t for call in batch for t in call.texts])
            self.passes += 1
            start = 0
            for call in batch:
                call.result = vectors[start:start + len(call.texts)]
                start += len(call.texts)
        except BaseException as exc:  # every call carried by the pass sees the failure
            for call in batch:
                call.error = exc
        finally:
            with self._lock:
                if self._queue:  # arrived during this pass: the first of them leads next
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._running = False
            for call in batch:
                call.lead = False
                call.done.set()

    def __getattr__(self, name: str) -> Any:  # the wrapped embedder's other attributes
        return getattr(self.inner, name)
