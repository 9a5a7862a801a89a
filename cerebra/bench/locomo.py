"""LoCoMo-format recall benchmark: load a dataset, ingest each conversation, measure recall.

Semantics (issue 3): each conversation is its own scope; each turn is one memory whose
metadata carries speaker, session, turn, session date and dia_id; every question of
categories 1-4 whose evidence ids all look like D<n>:<n> is asked through the store's
hybrid recall, and recall@k = |evidence ∩ top-k| / |evidence|, hit@k = any evidence in
top-k. The LLM-written `observation` / `session_summary` / `event_summary` fields are
never read. Ingest goes through MemoryStore.put (one embedding batch and one transaction
per conversation) and is compared with the raw embedder rate on the same texts.

`ScopeStatsBackend` wraps a backend that lacks `term_stats` with an in-memory version of
that capability (exact per-scope BM25 statistics, recomputed when a scope's size changes),
so the benchmark can measure the retrieval method with it before a backend implements it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

from cerebra.errors import InvalidInput
from cerebra.memory.base import MemoryBackend, NewMemory, Scope, SearchCandidates
from cerebra.memory.retrieval import gather_candidates, hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import TermStats, content_hash, terms, terms_text

EVIDENCE_ID = re.compile(r"^D\d+:\d+$")
_SESSION = re.compile(r"^session_(\d+)$")
CATEGORIES = (1, 2, 3, 4)


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None
    session: int
    turn: int
    session_date: str

    def memory_text(self) -> str:
        """What is stored and embedded: who said it, what was said, what image was shared."""
        text = f"{self.speaker}: {self.text.strip()}"
        return f"{text} [image: {self.caption.strip()}]" if self.caption else text


@dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    turns: list[Turn]
    questions: list[Question]


def parse_session_date(value: str) -> float | None:
    """Epoch seconds of a LoCoMo date such as '1:56 pm on 8 May, 2023' (None if unparsable)."""
    for fmt in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(value.strip(), fmt).timestamp()
        except ValueError:
            continue
    return None


def _conversation(raw: Any, index: int) -> Conversation:
    field = f"dataset[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("conversation"), dict):
        raise InvalidInput(f"{field} has no 'conversation' object", field=field)
    conv = raw["conversation"]
    sessions = sorted(int(m.group(1)) for k in conv if (m := _SESSION.match(k)))
    turns: list[Turn] = []
    for s in sessions:
        items = conv[f"session_{s}"]
        if not isinstance(items, list):
            raise InvalidInput(f"{field}.session_{s} must be a list", field=field)
        date = str(conv.get(f"session_{s}_date_time", ""))
        for n, item in enumerate(items):
            if not isinstance(item, dict) or not str(item.get("text", "")).strip():
                continue  # an empty turn cannot be a memory
            caption = item.get("blip_caption")
            turns.append(
                Turn(
                    dia_id=str(item.get("dia_id", f"D{s}:{n + 1}")),
                    speaker=str(item.get("speaker", "")),
                    text=str(item["text"]),
                    caption=str(caption) if caption else None,
                    session=s,
                    turn=n,
                    session_date=date,
                )
            )
    questions = []
    for qa in raw.get("qa", []) or []:
        if not isinstance(qa, dict) or qa.get("category") not in CATEGORIES:
            continue
        evidence = qa.get("evidence") or []
        if not evidence or not all(isinstance(e, str) and EVIDENCE_ID.match(e) for e in evidence):
            continue
        if not str(qa.get("question", "")).strip():
            continue
        questions.append(Question(str(qa["question"]), frozenset(evidence), int(qa["category"])))
    return Conversation(str(raw.get("sample_id", index)), turns, questions)


def read_locomo_json(path: Path) -> list[Any]:
    """The raw list of a LoCoMo-format JSON file; an unreadable one raises InvalidInput."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read LoCoMo dataset {path}: {exc}", field="dataset") from exc
    if not isinstance(raw, list):
        raise InvalidInput("a LoCoMo dataset is a JSON list of conversations", field="dataset")
    return raw


def load_locomo(path: Path) -> list[Conversation]:
    """Conversations of a LoCoMo-format JSON file; a malformed file raises InvalidInput."""
    return [_conversation(item, i) for i, item in enumerate(read_locomo_json(path))]


def conversation_memories(store: MemoryStore, conv: Conversation) -> list[NewMemory]:
    """One memory per turn, in the conversation's scope, with its structure as metadata."""
    scope = store.scope(scope_id(conv))
    out = []
    for t in conv.turns:
        text = t.memory_text()
        out.append(
            NewMemory(
                text=text,
                scope=scope,
                terms=terms_text(text),
                content_hash=content_hash(text),
                metadata={
                    "speaker": t.speaker,
                    "session": t.session,
                    "turn": t.turn,
                    "session_date": t.session_date,
                    "dia_id": t.dia_id,
                },
                source="locomo",
                created_at=parse_session_date(t.session_date),
            )
        )
    return out


class ScopeStatsBackend:
    """A backend plus an in-memory `term_stats` (for backends that do not offer one)."""

    def __init__(self, inner: MemoryBackend) -> None:
        self._inner = inner
        self._cache: dict[tuple[str | None, ...], tuple[int, dict[int, list[str]]]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _scope_terms(self, scope: Scope) -> dict[int, list[str]]:
        count = self._inner.count(scope)
        cached = self._cache.get(scope.key())
        if cached is None or cached[0] != count:
            rows = self._inner.recent(scope, max(count, 1))
            cached = (count, {m.row_id: terms(m.text) for m in rows})
            self._cache[scope.key()] = cached
        return cached[1]

    def search_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        **_: Any,
    ) -> SearchCandidates:
        """The protocol's path, so that the emulated `term_stats` is the one used."""
        return gather_candidates(cast(MemoryBackend, self), scope, terms, vector, limit, tags)

    def term_stats(self, scope: Scope, terms: Sequence[str], row_ids: Sequence[int]) -> TermStats:
        docs = self._scope_terms(scope)
        wanted = set(terms)
        df = dict.fromkeys(wanted, 0)
        for doc in docs.values():
            for t in wanted.intersection(doc):
                df[t] += 1
        avg = sum(len(d) for d in docs.values()) / len(docs) if docs else 0.0
        return TermStats(len(docs), avg, df, {r: docs[r] for r in row_ids if r in docs})


def scope_id(conv: Conversation) -> str:
    return f"locomo:{conv.sample_id}"


def term_stats_source(backend: Any) -> str:
    """How BM25 statistics were obtained: per scope (native or emulated) or per table."""
    if isinstance(backend, ScopeStatsBackend):
        return "per-scope (emulated in memory)"
    if callable(getattr(backend, "term_stats", None)):
        return "per-scope (backend)"
    return "backend-native BM25 (per-table statistics)"


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    arr = np.asarray(samples) * 1000.0
    return {f"p{p}": round(float(np.percentile(arr, p)), 3) for p in (50, 95, 99)}


def recall_at(evidence: frozenset[str], ranked: Sequence[set[str]], k: int) -> tuple[float, bool]:
    """(|evidence ∩ top-k| / |evidence|, any evidence in top-k) for ranked dia_id sets."""
    found: set[str] = set()
    for ids in ranked[:k]:
        found |= ids
    overlap = len(evidence & found)
    return overlap / len(evidence), overlap > 0


def run_locomo_benchmark(
    dataset: Path,
    ks: list[int],
    store_factory: Callable[[], MemoryStore],
    progress: Callable[[int, int], None] | None = None,
    *,
    conversations: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Ingest and query every conversation of `dataset`; return the JSON-ready report."""
    if not ks or any(k <= 0 for k in ks):
        raise InvalidInput("k values must be positive integers", field="k")
    ks = sorted(set(ks))
    convs = load_locomo(dataset)
    if conversations is not None:
        convs = [convs[i] for i in conversations if 0 <= i < len(convs)]
    store = store_factory()
    embedder = store.embedder
    batches = [conversation_memories(store, c) for c in convs]
    all_texts = [m.text for b in batches for m in b]
    embedder.embed(all_texts[:32] or ["warm up"])  # load weights outside both timings

    # Raw embedding and ingest of each conversation alternate, so a change in machine load
    # during the run hits both rates alike.
    raw_s = ingest_s = 0.0
    dia_of_uid: list[dict[str, set[str]]] = []
    for batch in batches:
        started = time.perf_counter()
        embedder.embed([m.text for m in batch])
        raw_s += time.perf_counter() - started
        started = time.perf_counter()
        uids = store.put(batch)
        ingest_s += time.perf_counter() - started
        mapping: dict[str, set[str]] = {}
        for uid, item in zip(uids, batch, strict=True):
            mapping.setdefault(uid, set()).add(str(item.metadata["dia_id"]))
        dia_of_uid.append(mapping)

    total = sum(len(c.questions) for c in convs)
    hit_ks = sorted({*ks, 10})
    depth = max(hit_ks)
    recalls: dict[int, list[float]] = {k: [] for k in ks}
    hits: dict[int, list[bool]] = {k: [] for k in hit_ks}
    by_category: dict[int, list[float]] = {}
    embed_t: list[float] = []
    search_t: list[float] = []
    done = 0
    for conv, mapping in zip(convs, dia_of_uid, strict=True):
        scope = store.scope(scope_id(conv))
        for q in conv.questions:
            t0 = time.perf_counter()
            vector = embedder.embed([q.text])[0]
            t1 = time.perf_counter()
            found = hybrid_search(
                store.backend, scope, terms(q.text), vector, k=depth, weights=store.weights
            )
            search_t.append(time.perf_counter() - t1)
            embed_t.append(t1 - t0)
            ranked = [mapping.get(h.memory.uid, set()) for h in found]
            for k in hit_ks:
                r, h = recall_at(q.evidence, ranked, k)
                hits[k].append(h)
                if k in recalls:
                    recalls[k].append(r)
            by_category.setdefault(q.category, []).append(recall_at(q.evidence, ranked, 10)[0])
            done += 1
            if progress is not None:
                progress(done, total)

    memories = len(all_texts)
    ingest_rate = memories / ingest_s if ingest_s > 0 else 0.0
    raw_rate = memories / raw_s if raw_s > 0 else 0.0
    return {
        "dataset": str(dataset),
        "backend": store.backend.name,
        "term_stats": term_stats_source(store.backend),
        "embedder": embedder.model_id,
        "conversations": len(convs),
        "memories": memories,
        "questions": total,
        "recall": {f"R@{k}": round(float(np.mean(recalls[k])), 4) if total else 0.0 for k in ks},
        "hit": {f"hit@{k}": round(float(np.mean(hits[k])), 4) if total else 0.0 for k in hit_ks},
        "recall_at_10_by_category": {
            str(c): round(float(np.mean(v)), 4) for c, v in sorted(by_category.items())
        },
        "ingest": {
            "memories_per_s": round(ingest_rate, 2),
            "raw_embedder_per_s": round(raw_rate, 2),
            "ratio": round(ingest_rate / raw_rate, 3) if raw_rate else 0.0,
        },
        "latency_ms": {
            "query_embedding": percentiles_ms(embed_t),
            "search": percentiles_ms(search_t),
            "total": percentiles_ms([a + b for a, b in zip(embed_t, search_t, strict=True)]),
        },
        "weights": asdict(store.weights),
    }
