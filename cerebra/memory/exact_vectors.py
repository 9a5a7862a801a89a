"""Exact inner-product search over a small set of keyed vectors: numpy, or FAISS flat.

The TinyDB backend keeps every embedding in its JSON rows; `ExactVectors` holds them decoded
(one f32 matrix per dimension) for brute-force search restricted to the keys a query's
scope and filter allow. With kind "faiss" the matrix is also loaded into a FAISS
`IndexIDMap2(IndexFlatIP)` and searched with an `IDSelectorBatch` of the allowed keys; both
kinds give the same (exact) results. Nothing is persisted: the rows are the only state,
and the matrix is rebuilt from them when they change (`replace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cerebra.memory.vector_graphs import load_faiss, one_thread

KINDS = ("numpy", "faiss")


class ExactVectors:
    """Keyed vectors of one or more dimensions with exact top-k among allowed keys."""

    def __init__(self, kind: str = "numpy") -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown vector index {kind!r}; use one of {', '.join(KINDS)}")
        self.kind = kind
        self._keys: dict[int, np.ndarray] = {}  # dim -> sorted int64 keys
        self._mats: dict[int, np.ndarray] = {}  # dim -> f32 rows in key order
        self._faiss: dict[int, Any] = {}

    def replace(self, vectors: Mapping[int, np.ndarray]) -> None:
        """Index exactly `vectors` (key -> 1-D f32 vector), dropping everything before."""
        by_dim: dict[int, list[int]] = {}
        for key, vector in vectors.items():
            by_dim.setdefault(int(vector.shape[0]), []).append(key)
        self._keys, self._mats, self._faiss = {}, {}, {}
        for dim, keys in by_dim.items():
            keys.sort()
            self._keys[dim] = np.asarray(keys, dtype=np.int64)
            self._mats[dim] = np.stack([vectors[k] for k in keys]).astype(np.float32)
            if self.kind == "faiss":
                faiss = load_faiss()
                index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
                index.add_with_ids(self._mats[dim], self._keys[dim])
                self._faiss[dim] = index

    def ids(self) -> set[int]:
        return {int(k) for keys in self._keys.values() for k in keys}

    def search(
        self, query: np.ndarray, allowed: np.ndarray, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact top `count` (keys, inner products) among `allowed` keys, best first;
        keys without a vector of the query's dimension are skipped."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        keys = self._keys.get(int(q.shape[0]))
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if keys is None or count <= 0 or len(allowed) == 0:
            return empty
        pos = np.searchsorted(keys, allowed)
        ok = pos < len(keys)
        ok[ok] = keys[pos[ok]] == allowed[ok]
        if not ok.any():
            return empty
        if self.kind == "faiss":
            return self._faiss_search(q, allowed[ok], count)
        found = keys[pos[ok]]
        sims = self._mats[int(q.shape[0])][pos[ok]] @ q
        k = min(count, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.lexsort((found[top], -sims[top]))]
        return found[top], sims[top].astype(np.float32)

    def _faiss_search(
        self, q: np.ndarray, allowed: np.ndarray, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = load_faiss()
        index = self._faiss[int(q.shape[0])]
        k = min(count, len(allowed))
        with one_thread(faiss):
            if len(allowed) == index.ntotal:
                sims, ids = index.search(q.reshape(1, -1), k)
            else:
                selector = faiss.IDSelectorBatch(allowed)
                params = faiss.SearchParameters()
                params.sel = selector
                sims, ids = index.search(q.reshape(1, -1), k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), sims[0][keep].astype(np.float32)
