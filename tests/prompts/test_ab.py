"""A/B significance on synthetic outcomes: a real difference is found, noise is not, the
test matches the data (proportions, scores, paired), and recorded outcomes compare."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine

from cerebra.errors import InvalidInput
from cerebra.prompts.ab import ABTests, compare_paired, compare_samples
from cerebra.prompts.template_store import TemplateStore


def _bernoulli(rng: random.Random, p: float, n: int) -> list[float]:
    return [1.0 if rng.random() < p else 0.0 for _ in range(n)]


def test_proportions_real_difference_and_noise() -> None:
    rng = random.Random(7)
    found = compare_samples(_bernoulli(rng, 0.4, 400), _bernoulli(rng, 0.6, 400))
    assert found.test == "two-proportion-z" and found.winner == "b"
    assert found.p_value is not None and found.p_value < 0.001
    # the same rate in both arms: significant in about alpha of the runs, not more
    false = sum(compare_samples(_bernoulli(rng, 0.5, 200), _bernoulli(rng, 0.5, 200)).significant
                for _ in range(200))
    assert false <= 20  # 5 % of 200 is 10; binomial spread


def test_scores_use_welch_and_small_samples_decide_nothing() -> None:
    rng = random.Random(3)
    a = [rng.gauss(0.50, 0.1) for _ in range(60)]
    b = [rng.gauss(0.42, 0.3) for _ in range(40)]
    found = compare_samples(a, b)
    assert found.test == "welch-t" and found.winner in ("a", None)
    strong = compare_samples(a, [x - 0.2 for x in a])
    assert strong.winner == "a"
    assert compare_samples([1.0], [0.0]).p_value is None
    assert compare_samples([0.7, 0.7], [0.7, 0.7]).winner is None
    assert compare_samples([0.2, 0.2], [0.7, 0.7]).winner == "b"
    with pytest.raises(InvalidInput):
        compare_samples(a, b, alpha=2)


def test_paired_needs_enough_wins() -> None:
    assert compare_paired([0.0] * 3, [1.0] * 3).winner is None  # 3 of 3: p = 1/8
    win = compare_paired([0.0] * 10, [1.0] * 10)
    assert win.winner == "b" and win.p_value is not None and win.p_value < 0.01
    assert compare_paired([1.0] * 10, [0.0] * 10).winner is None  # one-sided: only b wins
    assert compare_paired([0.5] * 10, [0.5] * 10).p_value == 1.0
    with pytest.raises(InvalidInput):
        compare_paired([1.0], [1.0, 2.0])


def test_recorded_outcomes_compare(engine: Engine) -> None:
    store = TemplateStore(engine)
    store.add("greet", "A {{ name }}")
    store.add("greet", "B {{ name }}")
    tests = ABTests(engine, store)
    test = tests.create("greet", 1, 2)
    # the split depends on the test's random id, so each arm's outcomes are fixed by their
    # order within the arm, not drawn: whatever the split, arm a succeeds 7 times in 20
    # (0.35) and arm b 3 in 5 (0.6), and both are judged alike
    cycle = [0.3, 0.4, 0.5, 0.6, 0.7]
    seen = {"a": 0, "b": 0}
    for i in range(300):
        key = f"u{i}"
        arm, _version = tests.assign(test.id, key)
        k = seen[arm]
        success = k % 20 < 7 if arm == "a" else k % 5 < 3
        tests.record(test.id, 1.0 if success else 0.0, key=key)
        tests.record(test.id, cycle[k % 5], arm=arm, kind="judge")
        seen[arm] += 1
    feedback = tests.compare(test.id, kind="feedback")
    assert feedback.winner == "b" and feedback.n_a + feedback.n_b == 300
    judged = tests.compare(test.id, kind="judge")
    assert judged.test == "welch-t" and judged.winner is None


def test_judged_outcomes_are_recorded(engine: Engine) -> None:
    from cerebra.judging.checker import Check, CheckerJudge

    store = TemplateStore(engine)
    store.add("greet", "A {{ name }}")
    store.add("greet", "B {{ name }}")
    tests = ABTests(engine, store)
    test = tests.create("greet", 1, 2)
    judge = CheckerJudge(Check.regex(r"\bthanks\b"))
    for i in range(12):
        scores = tests.record_judged(test.id, "say hi", "hello", "hello, thanks",
                                     judge, key=f"k{i}")
        assert scores == {"a": 0.0, "b": 1.0}
    judged = tests.compare(test.id, kind="judge")
    assert judged.winner == "b" and judged.n_a == judged.n_b == 12
    assert tests.compare(test.id, kind="feedback").p_value is None  # none of that kind
