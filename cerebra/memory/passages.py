"""Passage vectors of long memories: how a long text is cut, embedded, stored and scored.

A sentence embedder reads a bounded number of word pieces (MiniLM: 256, about 190 words)
and averages what it reads, so one vector per memory loses a fact stated deep inside a
long memory (an assistant answer of 2,000 characters), and the fact's own sentence is
diluted by everything around it. A memory of more than `LONG_WORDS` words therefore also
gets passage vectors: overlapping windows of `WINDOW_WORDS` words, `STRIDE_WORDS` apart
(the last one ends with the text). Its dense score in retrieval is the best of its
whole-text vector and its passages (cerebra.memory.retrieval); full text stays per memory.

Backends store the passages of a memory beside its row, written, replaced and deleted
with it (`passage_vectors(row_ids)` reads them); they are derived data, rebuilt from the
text by integrity repair. Stored as float16 (halves the bytes; cosine error ~1e-3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from cerebra.memory.base import Candidate, MemoryBackend, SearchCandidates
from cerebra.memory.embedders import Embedder

WINDOW_WORDS = 64
STRIDE_WORDS = 32
LONG_WORDS = 96  # longer than this: passages (one window and a half)


def passage_texts(text: str) -> list[str]:
    """The overlapping windows of a long text; [] for a text that one vector covers."""
    words = text.split()
    if len(words) <= LONG_WORDS:
        return []
    starts = list(range(0, len(words) - WINDOW_WORDS + 1, STRIDE_WORDS))
    if starts[-1] + WINDOW_WORDS < len(words):
        starts.append(len(words) - WINDOW_WORDS)
    return [" ".join(words[s : s + WINDOW_WORDS]) for s in starts]


def embed_with_passages(
    embedder: Embedder, texts: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Whole-text vectors of `texts` and each one's passage matrix (None: not long), from
    one embedder batch."""
    windows = [passage_texts(t) for t in texts]
    flat = [w for ws in windows for w in ws]
    vectors = embedder.embed([*texts, *flat])
    whole, rest = vectors[: len(texts)], vectors[len(texts) :]
    out: list[np.ndarray | None] = []
    at = 0
    for ws in windows:
        out.append(rest[at : at + len(ws)] if ws else None)
        at += len(ws)
    return whole, out


def encode(matrix: np.ndarray) -> bytes:
    """A passage matrix as stored: float16 rows, row-major."""
    return np.ascontiguousarray(matrix, dtype=np.float16).tobytes()


def decode(blob: bytes | memoryview | None, dim: int) -> np.ndarray | None:
    """The float32 matrix of a stored blob of `dim`-wide rows (None if empty or malformed)."""
    if blob is None or dim <= 0:
        return None
    raw = np.frombuffer(bytes(blob), dtype=np.float16)
    if raw.size == 0 or raw.size % dim:
        return None
    return raw.reshape(-1, dim).astype(np.float32)


def best_passages(
    query: np.ndarray, matrices: Mapping[int, np.ndarray]
) -> dict[int, float]:
    """Each memory's best passage cosine with `query` (matrices of another width skipped)."""
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    return {
        row_id: float(np.max(m @ q))
        for row_id, m in matrices.items()
        if m.ndim == 2 and m.shape[0] and m.shape[1] == q.shape[0]
    }


def with_passages(
    backend: MemoryBackend, found: SearchCandidates, query_vector: np.ndarray
) -> list[Candidate]:
    """The vector pool with each long candidate's dense score raised to its best passage
    (cerebra.memory.passages), where the backend stores passages (`passage_vectors`)."""
    reader = getattr(backend, "passage_vectors", None)
    # only a long memory has passages (passage_texts): the others are not looked up
    long = [row_id for row_id, m in found.memories.items()
            if len(m.text) > 2 * LONG_WORDS and len(m.text.split()) > LONG_WORDS]
    if not callable(reader) or not long:
        return found.vector
    best = best_passages(query_vector, reader(long))
    if not best:
        return found.vector
    scores = {c.row_id: c.score for c in found.vector}
    floor = min(scores.values(), default=0.0)  # a row outside the pool scores at most this
    for row_id, score in best.items():
        scores[row_id] = max(scores.get(row_id, floor), score)
    return [Candidate(r, s) for r, s in sorted(scores.items(), key=lambda x: (-x[1], x[0]))]
