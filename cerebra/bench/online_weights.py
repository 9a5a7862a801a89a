"""Weights that learn, measured on replayed traffic (issue 12, item 6).

A LoCoMo-format dataset's conversations are split in two halves (alternating by position).
The questions of one half are replayed as feedback, one at a time in a seeded random
order: each is searched with the weights learned so far, the memories holding its
evidence among the top `pool` are the helpful ones and the other memories of the top `k`
the unhelpful ones, and the learner (cerebra.memory.learned_weights, the same code the
server runs, on a scratch database) takes one step. The other half's questions then
measure recall@k with the weights learned against the static defaults; the gain is the
mean per-question difference, with a paired bootstrap 95 % interval. Both directions are
run (A→B, B→A), each from the defaults, and pooled (every question measured once).
Embeddings of the turns and the questions are computed once per run.

Measured on locomo_dev.json (5 conversations, 757 questions, MiniLM, rate 0.2 decaying as
1/√t, bound 2, k 10, pool 30): pooled R@10 0.8032 static → 0.8035 learned, gain +0.0002
(95 % CI −0.0083..+0.0089; seed 1: −0.0017, −0.0107..+0.0069); A→B −0.0072, B→A +0.0045,
none outside noise. With a constant rate 0.2: −0.0063 (−0.0156..+0.0015). The defaults
were tuned on this file, which leaves a linear reweighting little to gain here.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cerebra.bench.locomo import (
    Conversation,
    Question,
    conversation_memories,
    load_locomo,
    recall_at,
    scope_id,
)
from cerebra.memory.embedders import Embedder
from cerebra.memory.learned_weights import LearnedWeights
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms
from cerebra.memory.weight_learning import LearningRule, weights_dict


@dataclass(frozen=True)
class Asked:
    """A question of the replay, with where its answer lives."""

    conv: int
    question: Question
    vector: np.ndarray


class CachedEmbedder:
    """An embedder that embeds each distinct text once per run."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self._seen: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if new:
            for text, vector in zip(new, self.inner.embed(new), strict=True):
                self._seen[text] = vector
        if not texts:
            return self.inner.embed([])
        return np.stack([self._seen[t] for t in texts])

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)


def bootstrap_ci(diffs: Sequence[float], *, resamples: int = 2000, seed: int = 0
                 ) -> tuple[float, float]:
    """Paired bootstrap 95 % interval of the mean of per-question differences."""
    arr = np.asarray(diffs, dtype=float)
    if arr.size == 0:
        return 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(resamples, arr.size))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


class Replay:
    """The store of every conversation, and the feedback and measurement over it."""

    def __init__(self, convs: list[Conversation], store: MemoryStore, learned: LearnedWeights,
                 *, k: int, pool: int, now: float) -> None:
        self.convs, self.store, self.learned = convs, store, learned
        self.k, self.pool, self.now = k, pool, now
        self.dia: dict[str, set[str]] = {}
        for conv in convs:
            batch = conversation_memories(store, conv)
            for uid, item in zip(store.put(batch), batch, strict=True):
                self.dia.setdefault(uid, set()).add(str(item.metadata["dia_id"]))
        questions = [(n, q) for n, c in enumerate(convs) for q in c.questions]
        vectors = store.embedder.embed([q.text for _, q in questions])
        self.asked = [Asked(n, q, v) for (n, q), v in zip(questions, vectors, strict=True)]

    def ranked(self, a: Asked, weights: RetrievalWeights, depth: int) -> list[Any]:
        scope = self.store.scope(scope_id(self.convs[a.conv]))
        return hybrid_search(self.store.backend, scope, terms(a.question.text), a.vector,
                             k=depth, weights=weights, now=self.now)

    def recall(self, a: Asked, weights: RetrievalWeights) -> float:
        hits = self.ranked(a, weights, self.k)
        return recall_at(a.question.evidence, [self.dia.get(h.memory.uid, set()) for h in hits],
                         self.k)[0]

    def feed(self, tenant: str, a: Asked) -> bool:
        """One question as feedback; True when the weights took a step."""
        weights = self.learned.weights_for(tenant, None)
        hits = self.ranked(a, weights, max(self.pool, self.k))
        good = [h.memory.uid for h in hits if self.dia.get(h.memory.uid, set())
                & a.question.evidence]
        bad = [h.memory.uid for h in hits[:self.k] if h.memory.uid not in good]
        ranked = [(h.memory.uid, h.signals) for h in hits]
        in_force = weights_dict(weights)
        return self.learned.learn(tenant, None, ranked, good, bad, in_force) is not None


def _summary(diffs: list[float], static: list[float], learned: list[float], seed: int
             ) -> dict[str, Any]:
    low, high = bootstrap_ci(diffs, seed=seed)
    return {
        "questions": len(diffs),
        "static": round(float(np.mean(static)), 4) if static else 0.0,
        "learned": round(float(np.mean(learned)), 4) if learned else 0.0,
        "gain": round(float(np.mean(diffs)), 4) if diffs else 0.0,
        "ci95": [round(low, 4), round(high, 4)],
    }


def run_online_weights(
    dataset: Path,
    embedder: Embedder,
    *,
    rule: LearningRule | None = None,
    k: int = 10,
    pool: int = 30,
    seed: int = 0,
    conversations: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay one half's questions as feedback, measure the other half; both ways."""
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade
    from cerebra.memory.sqlite import SQLiteBackend

    convs = load_locomo(dataset)
    if conversations is not None:
        convs = [convs[i] for i in conversations if 0 <= i < len(convs)]
    rule = rule or LearningRule()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cerebra-online-weights-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'weights.db'}")
        upgrade(engine)
        store = MemoryStore(SQLiteBackend(str(Path(tmp) / "memory.db")),
                            CachedEmbedder(embedder))
        learned = LearnedWeights.on(engine, store.weights, rule)
        defaults = {s: v for s, v in weights_dict(store.weights).items() if v > 0}
        replay = Replay(convs, store, learned, k=k, pool=pool, now=time.time())
        halves = {"A": list(range(0, len(convs), 2)), "B": list(range(1, len(convs), 2))}
        static = {id(a): replay.recall(a, store.weights) for a in replay.asked}
        splits: list[dict[str, Any]] = []
        pooled: dict[str, list[float]] = {"diffs": [], "static": [], "learned": []}
        for train, test in (("A", "B"), ("B", "A")):
            tenant = f"replay-{train}"
            feed = [a for a in replay.asked if a.conv in halves[train]]
            random.Random(seed).shuffle(feed)
            steps = sum(replay.feed(tenant, a) for a in feed)
            weights = learned.weights_for(tenant, None)
            measured = [a for a in replay.asked if a.conv in halves[test]]
            after = [replay.recall(a, weights) for a in measured]
            before = [static[id(a)] for a in measured]
            diffs = [x - y for x, y in zip(after, before, strict=True)]
            by_cat: dict[int, list[float]] = {}
            for a, d in zip(measured, diffs, strict=True):
                by_cat.setdefault(a.question.category, []).append(d)
            last = learned.in_force(tenant, None)
            splits.append({
                "train": [convs[i].sample_id for i in halves[train]],
                "test": [convs[i].sample_id for i in halves[test]],
                "feedback_questions": len(feed), "updates": steps,
                "pairs": last.pairs if last else 0,
                f"R@{k}": _summary(diffs, before, after, seed),
                f"gain_by_category_R@{k}": {str(c): round(float(np.mean(v)), 4)
                                            for c, v in sorted(by_cat.items())},
                "weights": {s: round(v, 4) for s, v in weights_dict(weights).items()
                            if s in defaults},
            })
            pooled["diffs"] += diffs
            pooled["static"] += before
            pooled["learned"] += after
            if progress is not None:
                progress(f"{train}→{test}: {steps} updates")
        store.backend.close()
        engine.dispose()
    return {
        "dataset": str(dataset),
        "embedder": embedder.model_id,
        "conversations": len(convs),
        "questions": len(replay.asked),
        "rule": asdict(rule), "k": k, "pool": pool, "seed": seed,
        "defaults": defaults,
        "splits": splits,
        f"pooled_R@{k}": _summary(pooled["diffs"], pooled["static"], pooled["learned"], seed),
        "seconds": round(time.perf_counter() - started, 1),
    }
