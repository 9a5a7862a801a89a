"""RLAIF: differing answers to a repeated prompt are judged in both orders; a preference that
survives the swap becomes an `rlaif` signal (prompt, chosen, rejected) with trust scaled by
the judge's agreement; position-only and tied verdicts are skipped and counted; a pair is
labelled once per judge; the checker judge works as one; the pairs reach training_examples."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.errors import BackendError, InvalidInput
from cerebra.improve.rlaif import label_pairs
from cerebra.improve.rows import PrefPair
from cerebra.improve.signals import Signal, SignalStore, training_examples
from cerebra.judging.base import Verdict
from cerebra.judging.checker import Check, CheckerJudge
from tests.improve.test_signals_store import ACME, GLOBEX, seed


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(made)
    yield made
    made.dispose()


class Prefers:
    """A deterministic judge: the answer containing `good` wins, wherever it is shown."""

    def __init__(self, good: str, agreement: float | None = None) -> None:
        self.name, self.good, self.agreement = "prefers", good, agreement
        self.seen: list[tuple[str, ...]] = []

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        self.seen.append(tuple(answers.values()))
        scores = {k: 1.0 if self.good in v else 0.0 for k, v in answers.items()}
        top = [k for k, s in scores.items() if s == 1.0]
        return Verdict(top[0] if len(top) == 1 else None, scores, f"{self.good} is right",
                       self.name, self.agreement)


class FirstWins:
    """A judge that only ever picks the answer shown first."""

    name = "first"

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        first = next(iter(answers))
        return Verdict(first, {k: float(k == first) for k in answers}, "first", self.name)


class Broken:
    name = "broken"

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        raise BackendError("the judge model is down")


def test_a_consistent_preference_becomes_an_rlaif_signal(engine: Engine) -> None:
    _, five = seed(engine, ACME, [("2+2?", "4"), ("2+2?", "5")])
    # the same answer again (its newest trace stands for it) and a prompt asked once
    four, _ = seed(engine, ACME, [("2+2?", "4"), ("hi", "hello")])
    judge = Prefers("4", agreement=0.5)
    report = label_pairs(engine, ACME, judge)
    assert (report.pairs, report.labelled, report.position_only, report.ties) == (1, 1, 0, 0)
    # both orders were shown
    assert sorted(judge.seen) == [("4", "5"), ("5", "4")]
    (signal,) = SignalStore(engine).list(ACME, kind="rlaif")
    assert signal.id == report.signal_ids[0] and signal.source == "rlaif:prefers"
    assert signal.trace_id == four and signal.payload["rejected_trace"] == five
    assert signal.payload["chosen"] == "4" and signal.payload["rejected"] == "5"
    assert signal.payload["prompt"] == "2+2?" and signal.trust == pytest.approx(0.3)
    assert signal.text == "4 is right"
    # asked again: the pair is not shown twice
    again = label_pairs(engine, ACME, judge)
    assert (again.pairs, again.already, again.labelled) == (0, 1, 0)
    _, pairs = training_examples(engine, ACME)
    assert [(p.prompt, p.chosen, p.rejected, p.source) for p in pairs] == [
        ("2+2?", "4", "5", "rlaif:prefers")]
    # another tenant has no repeated prompts of its own
    assert label_pairs(engine, GLOBEX, judge).pairs == 0


def test_position_only_and_tied_verdicts_are_skipped_and_counted(engine: Engine) -> None:
    seed(engine, ACME, [("2+2?", "4"), ("2+2?", "5"), ("3+3?", "7"), ("3+3?", "8")])
    biased = label_pairs(engine, ACME, FirstWins())
    assert (biased.pairs, biased.position_only, biased.labelled) == (2, 2, 0)
    tied = label_pairs(engine, ACME, Prefers("4"))  # neither answer to 3+3 has a 4: a tie
    assert (tied.pairs, tied.labelled, tied.ties) == (2, 1, 1)
    failed = label_pairs(engine, ACME, Broken())
    assert (failed.pairs, failed.failed, failed.labelled) == (2, 2, 0)
    assert [s.source for s in SignalStore(engine).list(ACME, kind="rlaif")] == [
        "rlaif:prefers"]
    assert label_pairs(engine, ACME, Prefers("7"), limit=1).pairs == 1
    with pytest.raises(InvalidInput) as exc:
        label_pairs(engine, ACME, FirstWins(), limit=0)
    assert exc.value.field == "limit"


def test_the_checker_judge_labels_pairs_of_a_task(engine: Engine) -> None:
    four, five, other, again = seed(engine, ACME, [
        ("2+2?", "4"), ("2+2?", "five"), ("capital?", "Paris"), ("capital?", "Lyon")])
    store = SignalStore(engine)
    store.add(ACME, Signal("label", four, text="math"))
    store.add(ACME, Signal("label", five, text="math"))
    judge = CheckerJudge(Check.exact("4"), name="exact-4")
    report = label_pairs(engine, ACME, judge, task="math")
    assert (report.pairs, report.labelled) == (1, 1)  # the capital pair is not of the task
    (signal,) = store.list(ACME, kind="rlaif")
    assert (signal.trace_id, signal.task, signal.trust) == (four, "math", 0.6)
    assert signal.source == "rlaif:exact-4"
    _, pairs = training_examples(engine, ACME, task="math")
    assert pairs == [PrefPair("2+2?", "4", "five", "rlaif:exact-4", four, "math")]
    assert {other, again}.isdisjoint({p.trace_id for p in pairs})
