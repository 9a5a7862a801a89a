"""The measurement behind the SQLite vector index choice: numpy vs sqlite-vec vs usearch vs hnswlib
vs FAISS flat (the `memory.vector_index=faiss` option).

Same data for all: n perturbed copies of real MiniLM embeddings (cerebra.bench.memory_scale),
queried with real embedded questions for the top 200 (retrieval's candidate pool) and the
top 10; latency per query and recall against exact search. sqlite-vec needs a SQLite that
can load extensions: the standard library's cannot here, so it runs through `apsw` when that
is installed and is reported as unavailable otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cerebra.bench.memory_scale import Bulk, corpus
from cerebra.memory.base import Scope


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 2),
        "p99_ms": round(float(np.percentile(samples, 99)), 2),
    }


def compare_vector_indexes(
    n: int,
    progress: Callable[[str], None] | None = None,
    *,
    queries: int = 50,
    base_texts: int = 1000,
    embedder: Any = None,
) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    if embedder is None:
        from cerebra.memory.embedders import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
    texts, questions = corpus(limit=base_texts)
    bulk = Bulk(texts, embedder.embed(texts))
    q = embedder.embed(questions[:queries])
    parts = [bulk.batch(s, min(20_000, n - s), Scope())[1] for s in range(0, n, 20_000)]
    data = np.concatenate(parts).astype(np.float32)
    dim = data.shape[1]
    truth = {
        k: [set(np.argpartition(-(data @ v), k - 1)[:k].tolist()) for v in q] for k in (10, 200)
    }
    out: dict[str, Any] = {"n": n, "dim": dim, "queries": len(q), "methods": {}}

    def measure(name: str, search: Callable[[np.ndarray, int], Any], build_s: float) -> None:
        row: dict[str, Any] = {"build_s": round(build_s, 1)}
        for k in (200, 10):
            times, recall = [], []
            for v, want in zip(q, truth[k], strict=True):
                t = time.perf_counter()
                got = search(v, k)
                times.append((time.perf_counter() - t) * 1000)
                recall.append(len({int(x) for x in got} & want) / k)
            row[f"top{k}"] = {**_stats(times), "recall": round(float(np.mean(recall)), 3)}
        out["methods"][name] = row
        say(f"{name}: {row}")

    measure("numpy_exact_f32", lambda v, k: np.argpartition(-(data @ v), k - 1)[:k], 0.0)

    from cerebra.memory.vector_graphs import usearch_index_class

    Index = usearch_index_class()  # loaded after ONNX Runtime: see there

    t = time.perf_counter()
    usearch = Index(ndim=dim, metric="ip", dtype="f16", connectivity=16, expansion_add=128)
    usearch.add(np.arange(n, dtype=np.uint64), data, threads=2)
    built = time.perf_counter() - t

    def usearch_search(v: np.ndarray, k: int) -> Any:
        usearch.expansion_search = max(128, k)
        return usearch.search(v, k).keys

    measure("usearch_hnsw_f16", usearch_search, built)
    out["methods"]["usearch_hnsw_f16"]["memory_mb"] = round(usearch.memory_usage / 2**20, 0)

    from cerebra.memory.vector_graphs import FaissFlatGraph  # memory.vector_index=faiss

    t = time.perf_counter()
    flat = FaissFlatGraph(dim)
    flat.add(np.arange(n, dtype=np.int64), data)
    measure("faiss_flat_f32", lambda v, k: flat.search(v, k)[0], time.perf_counter() - t)

    try:
        import hnswlib
    except ImportError:
        out["methods"]["hnswlib_f32"] = "unavailable: pip install hnswlib"
    else:
        t = time.perf_counter()
        h = hnswlib.Index(space="ip", dim=dim)
        h.init_index(max_elements=n, M=16, ef_construction=128)
        h.set_num_threads(2)
        h.add_items(data, np.arange(n))
        built = time.perf_counter() - t

        def hnsw_search(v: np.ndarray, k: int) -> Any:
            h.set_ef(max(128, k))
            return h.knn_query(v, k)[0][0]

        measure("hnswlib_f32", hnsw_search, built)

    try:
        import apsw
        import sqlite_vec
    except ImportError:
        out["methods"]["sqlite_vec_f32"] = (
            "unavailable: the standard sqlite3 module here cannot load extensions "
            "(pip install apsw sqlite-vec to measure it)"
        )
    else:
        conn = apsw.Connection(":memory:")
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{dim}])")
        t = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO v(rowid, embedding) VALUES (?, ?)",
            ((i, data[i].tobytes()) for i in range(n)),
        )
        conn.execute("COMMIT")
        built = time.perf_counter() - t
        sql = "SELECT rowid FROM v WHERE embedding MATCH ? AND k = ?"
        measure(
            "sqlite_vec_f32",
            lambda v, k: [r[0] for r in conn.execute(sql, (v.tobytes(), k))],
            built,
        )
    return out
