"""The gate on the shipped kits and their real checkers (cerebra.kits): a candidate that has
learnt the task is promoted, one trained on shuffled labels is refused, and one that gains on
the task but forgets a guard kit is refused — answerers are doubles that answer from the
kits' own references, so each outcome is known."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cerebra.improve.gate import PromotionRule, evaluate_gate
from cerebra.kits.kit import Kit
from cerebra.kits.registry import get_kit


@pytest.fixture(scope="module")
def kits() -> dict[str, Kit]:
    return {name: get_kit(name) for name in ("ticket-triage", "date-iso", "invoice-extract")}


def oracle(kits: dict[str, Kit], right: dict[str, float], *, shuffled: str | None = None,
           seed: int = 0) -> Any:
    """Answers each kit's first `right[name]` share of held-out items with the reference,
    the rest with a wrong answer; for the kit `shuffled`, references of other items."""
    answers: dict[str, str] = {}
    rng = random.Random(seed)
    for name, kit in kits.items():
        refs = [item.reference or "" for item in kit.eval]
        if name == shuffled:
            rng.shuffle(refs)
        for i, (item, ref) in enumerate(zip(kit.eval, refs, strict=True)):
            good = name == shuffled or i < right.get(name, 0.0) * len(kit.eval)
            answers[kit.prompt(item)] = ref if good else "I do not know"
    return lambda prompts: [answers[p] for p in prompts]


def test_a_learnt_task_is_promoted_and_shuffled_labels_refused(kits: dict[str, Kit]) -> None:
    task, guards = kits["ticket-triage"], [kits["date-iso"], kits["invoice-extract"]]
    base = oracle(kits, {"ticket-triage": 0.3, "date-iso": 0.5, "invoice-extract": 0.5})
    learnt = oracle(kits, {"ticket-triage": 0.7, "date-iso": 0.5, "invoice-extract": 0.5})
    report = evaluate_gate(task, guards, base, learnt, PromotionRule(), guard_limit=50)
    assert report.decision == "promote", report.reasons
    assert report.task.n == len(task.eval) and report.gain == pytest.approx(40.0, abs=1.0)
    assert [g.gain for g in report.guards] == [0.0, 0.0]
    shuffled = oracle(kits, {"date-iso": 0.5, "invoice-extract": 0.5},
                      shuffled="ticket-triage", seed=3)
    bad = evaluate_gate(task, guards, base, shuffled, PromotionRule(), guard_limit=50)
    assert bad.decision == "refuse"
    assert bad.task.candidate < 40.0  # five labels shuffled: about one in five right
    assert any("not significant" in r for r in bad.reasons)


def test_a_forgotten_guard_is_refused_despite_the_gain(kits: dict[str, Kit]) -> None:
    task, guards = kits["ticket-triage"], [kits["date-iso"], kits["invoice-extract"]]
    base = oracle(kits, {"ticket-triage": 0.3, "date-iso": 0.6, "invoice-extract": 0.5})
    forgetful = oracle(kits, {"ticket-triage": 0.7, "date-iso": 0.2, "invoice-extract": 0.5})
    report = evaluate_gate(task, guards, base, forgetful, PromotionRule())  # 100 per guard
    assert report.decision == "refuse" and report.gain > 30
    assert [g.n for g in report.guards] == [100, 100]
    # of date-iso's first 100 items the baseline answers all, the candidate the first 50
    assert len(report.reasons) == 1 and "guard 'date-iso' dropped 50.00 points" in \
        report.reasons[0]
    assert report.guards[0].p_worse < 1e-6 and report.guards[1].gain == 0.0
