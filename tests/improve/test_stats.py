"""The gate's paired statistics: exact McNemar, the seeded paired bootstrap, Wilson win rate."""

from __future__ import annotations

import random

import pytest

from cerebra.errors import InvalidInput
from cerebra.improve.stats import mcnemar, paired_bootstrap, wilson, win_rate


def _pairs(seed: int, n: int = 80) -> tuple[list[bool], list[bool]]:
    rng = random.Random(seed)
    return [rng.random() < 0.5 for _ in range(n)], [rng.random() < 0.5 for _ in range(n)]


@pytest.mark.parametrize("seed", range(20))
def test_p_values_are_probabilities_and_symmetric(seed: int) -> None:
    a, b = _pairs(seed)
    ab, ba = mcnemar(a, b), mcnemar(b, a)
    for p in (ab.p_two_sided, ab.p_b_better, ba.p_b_better):
        assert 0.0 <= p <= 1.0
    assert ab.p_two_sided == pytest.approx(ba.p_two_sided)
    assert (ab.only_a, ab.only_b) == (ba.only_b, ba.only_a)
    assert min(ab.p_b_better, ba.p_b_better) <= ab.p_two_sided + 1e-12


def test_identical_outcomes_give_p_one() -> None:
    a = [True, False, True, True, False] * 10
    test = mcnemar(a, list(a))
    assert (test.p_two_sided, test.p_b_better, test.only_a, test.only_b) == (1.0, 1.0, 0, 0)
    boot = paired_bootstrap(a, list(a))
    assert (boot.diff, boot.low, boot.high) == (0.0, 0.0, 0.0)


def test_a_clear_gain_is_significant_and_only_one_way() -> None:
    a = [False] * 30 + [True] * 20
    b = [True] * 25 + [False] * 5 + [True] * 20  # 25 items won, none lost
    test = mcnemar(a, b)
    assert test.only_b == 25 and test.only_a == 0
    assert test.p_b_better < 1e-6 and test.p_two_sided < 1e-6
    assert mcnemar(b, a).p_b_better == 1.0
    boot = paired_bootstrap(a, b, seed=1)
    assert boot.diff == pytest.approx(50.0)
    assert 0 < boot.low < boot.diff < boot.high and boot.p_b_not_better == 0.0


def test_mcnemar_matches_the_binomial_by_hand() -> None:
    # 6 discordant, 5 for b: one-sided P(X >= 5 | n=6) = 7/64; two-sided doubles it
    a = [True] + [False] * 5 + [True] * 4
    b = [False] + [True] * 5 + [True] * 4
    test = mcnemar(a, b)
    assert test.p_b_better == pytest.approx(7 / 64)
    assert test.p_two_sided == pytest.approx(14 / 64)


def test_bootstrap_is_seeded_and_covers_the_difference() -> None:
    a, b = _pairs(3, 200)
    one, two = paired_bootstrap(a, b, seed=7), paired_bootstrap(a, b, seed=7)
    assert one == two
    assert one.low <= one.diff <= one.high
    assert paired_bootstrap(a, b, seed=8) != one


def test_wilson_and_win_rate() -> None:
    low, high = wilson(8, 10)
    assert 0.44 < low < 0.5 and 0.94 < high < 0.97  # the textbook 0.490, 0.943 at 95 %
    assert wilson(0, 0) == (0.0, 1.0)
    rate = win_rate(30, 5, 10)
    assert rate.rate == pytest.approx(30 / 35) and rate.low < rate.rate < rate.high
    assert rate.p_b_better < 0.001
    assert win_rate(0, 0, 7).p_b_better == 1.0 and win_rate(0, 0, 7).rate == 0.5


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput):
        mcnemar([True], [True, False])
    with pytest.raises(InvalidInput):
        paired_bootstrap([True], [True], level=1.5)
    with pytest.raises(InvalidInput):
        win_rate(-1, 2)
