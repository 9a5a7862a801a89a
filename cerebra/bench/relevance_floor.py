"""Calibration of the relevance floor: injection precision and evidence recall by threshold.

Test sets (each query is asked through hybrid recall for the top `k` memories, the number
a prompt gets, and the hits' absolute evidence is recorded — cerebra.memory.relevance):

- `own`: a LoCoMo-format question against its own conversation; a hit is relevant when it
  is one of the question's evidence turns;
- `cross`: the same question against another conversation's memories: nothing is relevant
  (the irrelevant case of issue 12: a question whose answer the store does not hold);
- `notes`: a small hand-written set (NOTES, QUESTIONS below): one user's notes, questions
  about them (relevant: the notes each names) and questions about other things entirely.

Injection precision = relevant injected / injected; evidence recall = relevant injected
with the floor / relevant injected without it (how often evidence still gets in). The floor
is chosen on the calibration conversations (even indexes) as the highest one that keeps
`min_recall` of the evidence, for each coverage weight of a small grid, and then reported
on the held-out conversations (odd indexes) and on `notes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cerebra.bench.locomo import Conversation, conversation_memories, scope_id
from cerebra.memory.relevance import COSINE, COVERAGE, RelevanceFloor
from cerebra.memory.retrieval import hybrid_search
from cerebra.memory.store import MemoryStore
from cerebra.memory.text import terms

NOTES = (
    "Alice prefers green tea to coffee in the morning.",
    "Alice's sister Maria lives in Lisbon and works as an architect.",
    "The team standup moved to 9:30 on Tuesdays and Thursdays.",
    "Alice is allergic to peanuts; she carries an epinephrine pen.",
    "The staging database password is rotated every 30 days by the ops team.",
    "Alice's cat is called Pixel and is nine years old.",
    "Alice runs the Berlin half marathon every April.",
    "The quarterly report is due on the first Friday after the quarter ends.",
    "Alice drives a blue 2016 Honda Civic.",
    "Alice's favourite author is Ursula K. Le Guin.",
    "Alice is learning Japanese on Sunday evenings.",
    "The office wifi network is called cerebra-guest.",
)
QUESTIONS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("What does Alice drink in the morning?", (0,)),
    ("Where does Alice's sister live?", (1,)),
    ("When is the standup meeting?", (2,)),
    ("Is Alice allergic to anything?", (3,)),
    ("How often is the staging password rotated?", (4,)),
    ("What is the name of Alice's cat?", (5,)),
    ("Which race does Alice run in spring?", (6,)),
    ("When is the quarterly report due?", (7,)),
    ("What car does Alice drive?", (8,)),
    ("Who is Alice's favourite writer?", (9,)),
    ("What language is Alice studying?", (10,)),
    ("What is the wifi called at the office?", (11,)),
    ("Explain quantum chromodynamics.", ()),
    ("How do I reverse a linked list in Python?", ()),
    ("What is the capital of Australia?", ()),
    ("Summarise the causes of the French Revolution.", ()),
    ("How does photosynthesis work?", ()),
    ("Write a haiku about autumn leaves.", ()),
    ("What is the derivative of x squared?", ()),
    ("Recommend a good sci-fi movie from the 1980s.", ()),
    ("How many moons does Jupiter have?", ()),
    ("What is the boiling point of water at altitude?", ()),
)
COVERAGE_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Injected:
    """One hit as the floor would see it: its evidence and whether it is relevant."""

    cosine: float
    coverage: float
    relevant: bool


Query = list[Injected]  # the top-k hits of one query


def _asked(store: MemoryStore, scope: Any, question: str, k: int,
           relevant: Callable[[str], bool]) -> Query:
    vector = store.embedder.embed([question])[0]
    hits = hybrid_search(store.backend, scope, terms(question), vector, k=k,
                         weights=store.weights)
    return [Injected(h.evidence.get(COSINE, 0.0), h.evidence.get(COVERAGE, 0.0),
                     relevant(h.memory.uid)) for h in hits]


def locomo_queries(store: MemoryStore, convs: Sequence[Conversation], k: int
                   ) -> tuple[list[list[Query]], list[list[Query]]]:
    """(own, cross) queries per conversation; cross asks conversation i's questions of
    conversation i+1's memories."""
    dia: list[dict[str, str]] = []
    for conv in convs:
        batch = conversation_memories(store, conv)
        uids = store.put(batch)
        dia.append({u: str(m.metadata["dia_id"]) for u, m in zip(uids, batch, strict=True)})
    own: list[list[Query]] = []
    cross: list[list[Query]] = []
    for i, conv in enumerate(convs):
        other = convs[(i + 1) % len(convs)]
        mine, theirs = [], []
        for q in conv.questions:
            evidence = {u for u, d in dia[i].items() if d in q.evidence}
            mine.append(_asked(store, store.scope(scope_id(conv)), q.text, k,
                               evidence.__contains__))
            theirs.append(_asked(store, store.scope(scope_id(other)), q.text, k,
                                 set[str]().__contains__))
        own.append(mine)
        cross.append(theirs)
    return own, cross


def note_queries(store: MemoryStore, k: int) -> list[Query]:
    """The hand-written set: NOTES in one scope, every QUESTION asked of them."""
    scope = store.scope("relevance-notes")
    uids = store.add_many("relevance-notes", list(NOTES))
    out = []
    for question, wanted in QUESTIONS:
        good = {uids[i] for i in wanted}
        out.append(_asked(store, scope, question, k, good.__contains__))
    return out


def measure(queries: Sequence[Query], floor: RelevanceFloor) -> dict[str, float]:
    """Precision of what is injected, evidence recall against no floor, and how many
    memories an irrelevant query (one with nothing relevant) still gets on average."""
    injected = relevant = kept_relevant = total_relevant = 0
    empty_injected: list[int] = []
    for hits in queries:
        kept = [h for h in hits
                if floor.floor <= 0 or floor.relevance({COSINE: h.cosine,
                                                        COVERAGE: h.coverage}) >= floor.floor]
        injected += len(kept)
        relevant += sum(h.relevant for h in kept)
        kept_relevant += sum(h.relevant for h in kept)
        total_relevant += sum(h.relevant for h in hits)
        if not any(h.relevant for h in hits):
            empty_injected.append(len(kept))
    return {
        "injected": injected,
        "precision": round(relevant / injected, 4) if injected else 1.0,
        "evidence_recall": round(kept_relevant / total_relevant, 4) if total_relevant else 1.0,
        "per_irrelevant_query": round(float(np.mean(empty_injected)), 3)
        if empty_injected else 0.0,
    }


def calibrate(queries: Sequence[Query], min_recall: float) -> RelevanceFloor:
    """The highest floor (per coverage weight) keeping `min_recall` of the evidence; of
    those, the one with the best precision."""
    best: tuple[float, RelevanceFloor] | None = None
    for weight in COVERAGE_WEIGHTS:
        scores = sorted(h.cosine + weight * h.coverage for q in queries for h in q
                        if h.relevant)
        if not scores:
            continue
        cut = scores[int(np.floor((1.0 - min_recall) * len(scores)))]
        floor = RelevanceFloor(floor=float(np.floor(cut * 1000) / 1000), coverage_weight=weight)
        precision = measure(queries, floor)["precision"]
        if best is None or precision > best[0]:
            best = (precision, floor)
    return best[1] if best is not None else RelevanceFloor()
