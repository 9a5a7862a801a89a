"""The search structure inside a VectorIndex: usearch HNSW (f16) or a FAISS flat index.

`memory.vector_index` chooses it. Both map memory row ids (int64 keys) to vectors and answer
inner-product top-k queries:

- `usearch` (the default): an HNSW graph storing f16 vectors; approximate (recall ~0.87 at
  top-200 on 100k MiniLM vectors) and sub-millisecond at 100k (cerebra.memory.sqlite).
- `faiss`: `IndexIDMap2(IndexFlatIP)` from faiss-cpu: every query scores every vector in
  f32 with FAISS's SIMD kernels, so results are exact (the same as numpy), at a cost that
  grows with the index like numpy's. `python benchmarks/memory_scale.py --n 100000
  --compare-indexes` (100k x 384 MiniLM-derived vectors, 50 real questions; this 2-core
  machine, busy with other work, so absolute times are inflated): top-200 p50 65 ms,
  recall 1.0 (numpy 80 ms; usearch 0.49 ms at recall 0.91); built in 1.1 s (usearch
  176 s). It suits stores whose queries mostly take the exact path anyway (small, or
  filtered). Deletion compacts the flat array (`remove_ids`).

A graph is saved to one file (`save(path)`) that `load(path)` reads back; VectorIndex names
the file with the graph's `suffix`, so files of another kind are never loaded. The native
libraries are imported when a graph is built, never at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol

import numpy as np

IndexKind = Literal["usearch", "faiss"]
KINDS: tuple[IndexKind, ...] = ("usearch", "faiss")


class Graph(Protocol):
    """Keyed vectors with inner-product top-k search, saved to and loaded from one file."""

    suffix: str

    def __len__(self) -> int: ...

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under int64 `keys` that are not present."""

    def remove(self, keys: np.ndarray) -> None:
        """Remove those of `keys` that are present."""

    def search(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """At most `count` (keys, inner products), best first."""
        ...

    def ids(self) -> np.ndarray: ...

    def save(self, path: str) -> None: ...

    def load(self, path: str) -> None: ...


def usearch_index_class() -> Any:
    """usearch's Index, loaded after ONNX Runtime when that is installed: usearch loads
    NumKong's library with RTLD_GLOBAL, and ONNX Runtime loaded after that segfaults in its
    own initialisation (libstdc++'s codecvt; usearch 2.26, onnxruntime 1.31). Loaded first,
    both work. The one place this process loads usearch; costs one import (~0.15 s)."""
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


class USearchGraph:
    """usearch HNSW at M=16, ef_construction=128, ef=max(256, k), f16 storage."""

    suffix = ".usearch"

    def __init__(self, dim: int) -> None:
        self.index: Any = usearch_index_class()(
            ndim=dim,
            metric="ip",
            dtype="f16",
            connectivity=16,
            expansion_add=128,
            expansion_search=128,
        )

    def __len__(self) -> int:
        return len(self.index)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add(keys.astype(np.uint64), vectors, threads=2)

    def remove(self, keys: np.ndarray) -> None:
        keys = keys.astype(np.uint64)
        present = np.asarray(self.index.contains(keys), dtype=bool).reshape(-1)
        if present.any():
            self.index.remove(keys[present])

    def search(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        self.index.expansion_search = max(256, count)
        found = self.index.search(query, count)
        keys = np.asarray(found.keys, dtype=np.int64)
        return keys, 1.0 - np.asarray(found.distances, dtype=np.float32)

    def ids(self) -> np.ndarray:
        return np.asarray(self.index.keys, dtype=np.int64)

    def save(self, path: str) -> None:
        self.index.save(path)

    def load(self, path: str) -> None:
        self.index.load(path)


class FaissFlatGraph:
    """faiss `IndexIDMap2(IndexFlatIP)`: exact f32 inner products over every vector."""

    suffix = ".faiss"

    def __init__(self, dim: int) -> None:
        faiss = load_faiss()
        self._faiss: Any = faiss
        self.dim = dim
        self.index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), keys.astype(np.int64)
        )

    def remove(self, keys: np.ndarray) -> None:
        if len(keys):
            self.index.remove_ids(np.ascontiguousarray(keys, dtype=np.int64))

    def search(self, query: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with one_thread(self._faiss):
            sims, ids = self.index.search(q, count)
        keep = ids[0] >= 0  # FAISS pads a short result with -1
        return ids[0][keep].astype(np.int64), sims[0][keep].astype(np.float32)

    def ids(self) -> np.ndarray:
        return np.asarray(self._faiss.vector_to_array(self.index.id_map), dtype=np.int64)

    def save(self, path: str) -> None:
        self._faiss.write_index(self.index, path)

    def load(self, path: str) -> None:
        loaded = self._faiss.read_index(path)
        if not isinstance(loaded, self._faiss.IndexIDMap2) or loaded.d != self.dim:
            raise ValueError(f"{path} is not a {self.dim}-dimensional IndexIDMap2")
        self.index = loaded


def load_faiss() -> Any:
    """The faiss module (imported when first needed)."""
    import faiss

    return faiss


@contextmanager
def one_thread(faiss: Any) -> Iterator[None]:
    """Run a search on one OpenMP thread: one query vector is scanned on one core (at 100k x
    384 on the busy 2-core machine: 73 ms on 1 thread, 240 ms on 2; numpy 62 ms), and
    concurrent requests use the other. OpenMP's thread count is per calling thread and
    shared with torch (the embedder), so it is restored afterwards."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def new_graph(kind: str, dim: int) -> Graph:
    """An empty graph of `kind` ("usearch" or "faiss") for `dim`-dimensional vectors."""
    if kind == "faiss":
        return FaissFlatGraph(dim)
    if kind == "usearch":
        return USearchGraph(dim)
    raise ValueError(f"unknown vector index {kind!r}; use one of {', '.join(KINDS)}")
