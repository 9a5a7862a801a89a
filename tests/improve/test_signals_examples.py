"""training_examples: SFT rows and preference pairs from signals and the interactions they
point at — good ratings, corrections, judge verdicts between answers to the same prompt,
RLAIF labels — with source, trace id and task (lineage); conflicting signals resolved by
trust, then time; the user's prompt, not the rendered one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.improve.rows import PrefPair, SftRow
from cerebra.improve.signals import Signal, SignalStore, record_verdict, training_examples
from cerebra.judging.base import Verdict
from tests.improve.test_signals_store import ACME, GLOBEX, seed


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(made)
    yield made
    made.dispose()


def add(store: SignalStore, kind: str, trace: str, value: float | None = None,
        text: str | None = None, source: str = "user:ann", at: float = 0.0,
        **extra: object) -> None:
    store.add(ACME, Signal(kind, trace, value, text, source, created_at=at,
                           **extra))  # type: ignore[arg-type]


def test_ratings_and_corrections_become_rows_with_their_lineage(engine: Engine) -> None:
    store = SignalStore(engine)
    good, bad, fixed, plain = seed(engine, ACME, [
        ("2+2?", "4"), ("3+3?", "7"), ("capital of France?", "Lyon"), ("hi", "hey")])
    add(store, "label", good, text="math", at=1)
    add(store, "thumbs", good, 1.0, at=2)
    add(store, "score", bad, 0.1, at=3)  # bad, no correction: nothing to learn
    add(store, "score", fixed, 0.0, at=4)
    add(store, "correction", fixed, text="Paris", at=5)
    add(store, "label", plain, text="chat", at=6)  # a label alone is no rating
    sft, pairs = training_examples(engine, ACME)
    assert sorted(sft, key=lambda r: r.prompt) == [
        SftRow("2+2?", "4", "user:ann", good, "math"),
        SftRow("capital of France?", "Paris", "user:ann", fixed, None),
    ]
    # the training prompt is the user's, not the rendered one with memories
    assert pairs == [PrefPair("capital of France?", "Paris", "Lyon", "user:ann", fixed, None)]
    assert training_examples(engine, ACME, task="math") == (
        [SftRow("2+2?", "4", "user:ann", good, "math")], [])
    assert training_examples(engine, ACME, since=4.5) == (
        [SftRow("capital of France?", "Paris", "user:ann", fixed, None)], pairs)
    # min_score: 0.1 counts as good when the bar is lower
    sft_low, _ = training_examples(engine, ACME, min_score=0.05)
    assert SftRow("3+3?", "7", "user:ann", bad, None) in sft_low
    assert training_examples(engine, GLOBEX) == ([], [])


def test_the_most_trusted_then_latest_signal_wins(engine: Engine) -> None:
    store = SignalStore(engine)
    a, b, c = seed(engine, ACME, [("q1", "a1"), ("q2", "a2"), ("q3", "a3")])
    # a: a user's thumbs down (trust 1.0) beats a judge's high score (0.7), whatever the time
    add(store, "thumbs", a, 0.0, at=1)
    add(store, "checker", a, 1.0, source="checker:exact", trust=0.7, at=2)
    # b: equal trust, the later wins: a checker pass after a thumbs down
    add(store, "thumbs", b, 0.0, at=1)
    add(store, "checker", b, 1.0, source="checker:exact", at=2)
    # c: a correction and a later thumbs up of equal trust: the thumbs up wins
    add(store, "correction", c, text="better a3", at=1)
    add(store, "thumbs", c, 1.0, at=2)
    sft, pairs = training_examples(engine, ACME)
    assert {(r.prompt, r.completion, r.source) for r in sft} == {
        ("q2", "a2", "checker:exact"), ("q3", "a3", "user:ann")}
    assert pairs == []


def test_judge_verdicts_and_rlaif_labels_give_pairs(engine: Engine) -> None:
    store = SignalStore(engine)
    four, five, other = seed(engine, ACME, [("2+2?", "4"), ("2+2?", "5"), ("3+3?", "6")])
    verdict = Verdict("x", {"x": 1.0, "y": 0.0}, "4 is right", "model:judge", agreement=1.0)
    record_verdict(store, ACME, verdict, {"x": four, "y": five}, task="math")
    # a verdict across different prompts pairs nothing
    record_verdict(store, ACME, Verdict("x", {"x": 1.0, "y": 0.0}, "", "model:judge"),
                   {"x": four, "y": other})
    add(store, "rlaif", other, 1.0, source="rlaif:panel",
        payload={"prompt": "3+3?", "chosen": "6", "rejected": "9"}, task="math")
    sft, pairs = training_examples(engine, ACME)
    assert sft == []  # judge scores make pairs, not SFT rows
    assert sorted(pairs, key=lambda p: p.prompt) == [
        PrefPair("2+2?", "4", "5", "judge:model:judge", four, "math"),
        PrefPair("3+3?", "6", "9", "rlaif:panel", other, "math"),
    ]
