"""Signal ablation on a LoCoMo-format file: one ingest, recall@k under several rankings.

`cerebra bench memory` measures the default ranking; deciding which signals suit a kind
of data needs the same data ranked several ways: the fused default, dense only, BM25 only,
reciprocal-rank fusion of the two (k=60), each with and without passage vectors, and any
named weight set. Ingest happens once (SQLite in a temp dir, per-scope BM25 statistics);
embeddings can be cached in an .npz file between runs (keyed by text), so a second run
re-ranks without re-embedding. Passages are kept in memory by `PassageBackend` here (the
benchmark measures the ranking, not the storage), computed as cerebra.memory.passages does.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cerebra.bench.locomo import conversation_memories, load_locomo, recall_at, scope_id
from cerebra.memory.base import MemoryBackend, NewMemory, Scope
from cerebra.memory.embedders import Embedder
from cerebra.memory.passages import passage_texts
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms

SOLO = {"importance": 0.0, "salience": 0.0, "recency": 0.0, "neighbours": 0.0, "context": 0.0,
        "session": 0.0, "speaker": 0.0, "date": 0.0, "facts": 0.0}
DENSE = RetrievalWeights(**{**SOLO, "text": 0.0, "vector": 1.0})  # type: ignore[arg-type]
BM25 = RetrievalWeights(**{**SOLO, "text": 1.0, "vector": 0.0})  # type: ignore[arg-type]


class CachedEmbedder:
    """An embedder that remembers what it embedded (optionally in an .npz file)."""

    def __init__(self, inner: Embedder, path: Path | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.path = path
        self._cache: dict[str, np.ndarray] = {}
        if path is not None and path.is_file():
            with np.load(path) as data:
                self._cache = {k: data[k] for k in data.files}

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if self._key(t) not in self._cache))
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[self._key(text)] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._cache[self._key(t)] for t in texts]).astype(np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)

    def save(self) -> None:
        if self.path is not None:
            np.savez(self.path, **self._cache)  # type: ignore[arg-type]


class PassageBackend:
    """A backend plus in-memory passage vectors that can be switched off."""

    def __init__(self, inner: MemoryBackend) -> None:
        self._inner = inner
        self.passages: dict[int, np.ndarray] = {}
        self.enabled = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def passage_vectors(self, row_ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not self.enabled:
            return {}
        return {r: self.passages[r] for r in row_ids if r in self.passages}


def _rrf(rankings: Sequence[Sequence[str]], k: int = 60) -> list[str]:
    score: dict[str, float] = {}
    for ranking in rankings:
        for n, uid in enumerate(ranking):
            score[uid] = score.get(uid, 0.0) + 1.0 / (k + n + 1)
    return sorted(score, key=lambda u: -score[u])


def run_ablation(
    dataset: Path,
    embedder: Embedder,
    variants: Mapping[str, RetrievalWeights],
    *,
    ks: Sequence[int] = (5, 10),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Recall@k (overall and R@10 per category) of each variant, with and without passages,
    plus dense, BM25 and their RRF."""
    convs = load_locomo(dataset)
    variants = {"fused": RetrievalWeights(), **variants, "dense": DENSE, "bm25": BM25}
    depth = max(200, *ks)
    with tempfile.TemporaryDirectory(prefix="cerebra-signals-") as tmp:
        from cerebra.memory.sqlite import SQLiteBackend

        backend = PassageBackend(SQLiteBackend(str(Path(tmp) / "memory.db")))
        store = MemoryStore(backend, embedder)
        ranked: dict[str, list[list[str]]] = {}
        questions = []
        for conv in convs:
            batch = conversation_memories(store, conv)
            vectors = embedder.embed([m.text for m in batch])
            ready = [NewMemory(**{**m.__dict__, "embedding": vectors[n],
                                  "embedding_model": embedder.model_id})
                     for n, m in enumerate(batch)]
            uids = backend.put(ready)
            dia = {uid: {str(m.metadata["dia_id"])} for uid, m in zip(uids, batch, strict=True)}
            rows = {m.uid: m.row_id for m in backend.recent(store.scope(scope_id(conv)),
                                                            len(uids) + 1)}
            for uid, m in zip(uids, batch, strict=True):
                windows = passage_texts(m.text)
                if windows:
                    backend.passages[rows[uid]] = embedder.embed(windows)
            scope = store.scope(scope_id(conv))
            for q in conv.questions:
                vector = embedder.embed([q.text])[0]
                questions.append(q)
                for name, weights in variants.items():
                    for passages in (False, True):
                        backend.enabled = passages
                        deep = depth if name in ("dense", "bm25") else max(ks)
                        hits = _search(backend, scope, q.text, vector, weights, deep)
                        key = f"{name}+passages" if passages else name
                        ranked.setdefault(f"{key}#dia", []).append(
                            [",".join(sorted(dia.get(h, set()))) for h in hits])
            if progress is not None:
                progress(f"{conv.sample_id}: {len(batch)} memories, {len(conv.questions)} q")
    for suffix in ("", "+passages"):
        ranked[f"rrf{suffix}#dia"] = [
            _rrf([d, b]) for d, b in zip(ranked[f"dense{suffix}#dia"],
                                         ranked[f"bm25{suffix}#dia"], strict=True)]
    report: dict[str, Any] = {"dataset": str(dataset), "questions": len(questions)}
    for key, rankings in ranked.items():
        if not key.endswith("#dia"):
            continue
        name = key[: -len("#dia")]
        sets = [[set(x.split(",")) - {""} for x in r] for r in rankings]
        row: dict[str, Any] = {}
        for k in ks:
            row[f"R@{k}"] = round(float(np.mean(
                [recall_at(q.evidence, s, k)[0] for q, s in zip(questions, sets, strict=True)])), 4)
        cats: dict[int, list[float]] = {}
        for q, s in zip(questions, sets, strict=True):
            cats.setdefault(q.category, []).append(recall_at(q.evidence, s, 10)[0])
        row["R@10_by_category"] = {str(c): round(float(np.mean(v)), 4)
                                   for c, v in sorted(cats.items())}
        report[name] = row
    return report


def _search(backend: PassageBackend, scope: Scope, query: str, vector: np.ndarray,
            weights: RetrievalWeights, depth: int) -> list[str]:
    hits = hybrid_search(backend, scope, terms(query), vector, k=depth,
                         weights=weights)
    return [h.memory.uid for h in hits]
