"""The evaluation gate on answerer doubles: a clear improvement is promoted; a candidate
with shuffled labels, a guard regression, a perplexity rise or a gain too small to be
significant is refused with its reasons; kits without a checker are judged in both orders."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from cerebra.improve.gate import GateError, PromotionRule, evaluate_gate
from cerebra.judging.base import Verdict

LABELS = ["billing", "shipping", "refund", "account"]


@dataclass(frozen=True)
class Item:
    id: str
    input: str
    reference: str | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Passed:
    passed: bool
    score: float


@dataclass
class Kit:
    """A kit double exposing what the contract gives the gate (cerebra.kits.kit.Kit)."""

    name: str
    eval: list[Item]
    checker: object | None = "exact"

    def prompt(self, item: Item) -> str:
        return f"[{self.name}] {item.input}"

    def check(self, item: Item, answer: str) -> Passed:
        ok = answer.strip() == item.reference
        return Passed(ok, float(ok))


def kit(name: str, n: int, seed: int = 0) -> Kit:
    rng = random.Random(seed)
    return Kit(name, [Item(f"{name}-{i}", f"{name} question {i}", rng.choice(LABELS))
                      for i in range(n)])


def answerer(kits: list[Kit], right: Mapping[str, float], seed: int = 0,
             shuffle: bool = False) -> Any:
    """Answers each kit's prompt correctly on the first `right[kit]` share of its items."""
    truth: dict[str, str] = {}
    good: set[str] = set()
    rng = random.Random(seed)
    for k in kits:
        refs = [it.reference or "" for it in k.eval]
        if shuffle:
            rng.shuffle(refs)
        for i, (item, ref) in enumerate(zip(k.eval, refs, strict=True)):
            truth[k.prompt(item)] = ref
            if i < right.get(k.name, 0.0) * len(k.eval):
                good.add(k.prompt(item))

    def answer(prompts: list[str]) -> list[str]:
        return [truth[p] if p in good or shuffle else "no idea" for p in prompts]

    return answer


TASK, GUARD = kit("tickets", 200, 1), kit("dates", 100, 2)
BASE = answerer([TASK, GUARD], {"tickets": 0.4, "dates": 0.6})


def test_a_clear_improvement_is_promoted() -> None:
    seen: list[float] = []
    cand = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.6})
    report = evaluate_gate(TASK, [GUARD], BASE, cand, PromotionRule(),
                           progress=lambda f, _m: seen.append(f))
    assert report.decision == "promote" and report.reasons == []
    assert report.task.baseline == pytest.approx(40.0)
    assert report.task.candidate == pytest.approx(80.0)
    assert report.gain == pytest.approx(40.0) and report.p_value < 1e-10
    boot = report.task.bootstrap
    assert boot is not None and boot["low"] > 30 and boot["high"] < 50
    assert report.guards[0].gain == 0.0 and report.guards[0].n == 100
    assert seen == sorted(seen) and seen[-1] == 1.0
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["decision"] == "promote" and len(payload["task"]["items"]) == 200


def test_shuffled_labels_are_refused() -> None:
    cand = answerer([TASK, GUARD], {}, seed=5, shuffle=True)
    report = evaluate_gate(TASK, [GUARD], BASE, cand, PromotionRule())
    assert report.decision == "refuse"
    assert any("task gain" in r for r in report.reasons)
    assert any("guard 'dates'" in r for r in report.reasons)  # shuffled everywhere


def test_a_guard_regression_is_refused_despite_a_task_gain() -> None:
    cand = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.5})
    report = evaluate_gate(TASK, [GUARD], BASE, cand, {"guard_tolerance": 5.0})
    assert report.decision == "refuse" and report.gain == pytest.approx(40.0)
    assert report.reasons == [report.reasons[0]]
    assert "guard 'dates' dropped 10.00 points" in report.reasons[0]
    # within a wider tolerance the same candidate passes
    lenient = evaluate_gate(TASK, [GUARD], BASE, cand, {"guard_tolerance": 15.0})
    assert lenient.decision == "promote"


def test_a_small_gain_is_not_significant() -> None:
    cand = answerer([TASK, GUARD], {"tickets": 0.42, "dates": 0.6})  # +2 points, 4 items
    report = evaluate_gate(TASK, [GUARD], BASE, cand, PromotionRule(min_gain=1.0))
    assert report.decision == "refuse"
    assert report.reasons == [r for r in report.reasons if "not significant" in r]
    assert report.p_value == pytest.approx(1 / 16)


def test_limits_bound_the_items() -> None:
    cand = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.6})
    report = evaluate_gate(TASK, [GUARD, TASK], BASE, cand, limit=50, guard_limit=10)
    assert report.task.n == 50 and [g.n for g in report.guards] == [10]  # task not a guard


def test_perplexity_rise_is_refused() -> None:
    cand = answerer([TASK, GUARD], {"tickets": 0.8, "dates": 0.6})
    texts: list[str] = []

    def side(value: float) -> Any:
        def ppl(text: str) -> float:
            texts.append(text)
            return value
        return ppl

    fine = evaluate_gate(TASK, [GUARD], BASE, cand, ppl=(side(20.0), side(21.0)),
                         ppl_text="some held-out text")
    assert fine.decision == "promote" and fine.ppl is not None
    assert fine.ppl["relative_change"] == pytest.approx(0.05)
    worse = evaluate_gate(TASK, [GUARD], BASE, cand, ppl=(side(20.0), side(30.0)))
    assert worse.decision == "refuse" and "perplexity" in worse.reasons[0]
    assert texts[0] == "some held-out text" and len(texts[-1]) > 1000  # shipped text

    def broken(_text: str) -> float:
        raise RuntimeError("the adapter does not load")

    unmeasured = evaluate_gate(TASK, [GUARD], BASE, cand, ppl=(side(20.0), broken))
    assert unmeasured.decision == "refuse" and unmeasured.ppl is not None
    assert unmeasured.reasons == ["perplexity could not be measured: RuntimeError: the "
                                  "adapter does not load"]


class PrefersCorrect:
    """A judge double: the answer equal to the reference wins; with `biased`, the first
    shown answer always wins (a position-only judge)."""

    name = "double"

    def __init__(self, refs: dict[str, str], biased: bool = False,
                 swaps_itself: bool = False) -> None:
        self.refs, self.biased, self.calls = refs, biased, 0
        self.agreement = 1.0 if swaps_itself else None  # as a pairwise model judge reports

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        self.calls += 1
        if self.biased:
            first = next(iter(answers))
            return Verdict(first, {k: float(k == first) for k in answers})
        right = [k for k, v in answers.items() if v == self.refs[prompt]]
        winner = right[0] if len(right) == 1 else None
        return Verdict(winner, {k: float(k == winner) for k in answers},
                       agreement=self.agreement)


def test_a_kit_without_checker_is_judged_in_both_orders() -> None:
    open_kit = Kit("essays", kit("essays", 100, 3).eval, checker=None)
    refs = {open_kit.prompt(it): it.reference or "" for it in open_kit.eval}
    base = answerer([open_kit], {"essays": 0.3})
    cand = answerer([open_kit], {"essays": 0.7})
    judge = PrefersCorrect(refs)
    report = evaluate_gate(open_kit, [], base, cand, judge=judge)
    assert judge.calls == 200  # every item in both orders
    assert report.task.method == "judge" and report.decision == "promote"
    assert report.task.wins is not None and report.task.wins["wins"] == 40
    assert report.gain == pytest.approx(40.0)
    biased = evaluate_gate(open_kit, [], base, cand, judge=PrefersCorrect(refs, biased=True))
    assert biased.task.wins is not None and biased.task.wins["ties"] == 100
    assert biased.decision == "refuse"  # a position-only judge decides nothing
    swapping = PrefersCorrect(refs, swaps_itself=True)
    once = evaluate_gate(open_kit, [], base, cand, judge=swapping)
    assert swapping.calls == 100 and once.task.wins == report.task.wins


def test_an_answerer_breaking_the_batch_contract_fails() -> None:
    with pytest.raises(GateError):
        evaluate_gate(TASK, [], BASE, lambda prompts: prompts[:-1])
