"""Bradley–Terry ratings: the fit is the likelihood's maximum, recovers known strengths,
counts ties as half wins, covers the truth at about the nominal rate, and active sampling
asks for the comparisons that matter."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cerebra.judging.ratings import (
    ELO_BASE,
    PRIOR_SD,
    Comparison,
    Outcome,
    fit,
    kendall_tau,
    next_pair,
    pair_scores,
    win_probability,
)

TRUE = np.linspace(-1.5, 1.5, 6)
NAMES = [f"c{i}" for i in range(len(TRUE))]


def _simulate(n: int, seed: int) -> list[Comparison]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        i, j = rng.choice(len(TRUE), size=2, replace=False)
        p = 1 / (1 + math.exp(TRUE[j] - TRUE[i]))
        out.append(Comparison(NAMES[i], NAMES[j], Outcome.A if rng.random() < p else Outcome.B))
    return out


def _games(a: str, b: str, wins: int, losses: int, ties: int = 0) -> list[Comparison]:
    return ([Comparison(a, b, Outcome.A)] * wins + [Comparison(a, b, Outcome.B)] * losses
            + [Comparison(a, b, Outcome.TIE)] * ties)


def test_two_contestants_fit_the_closed_form_maximum() -> None:
    # without a prior the MLE of θ_a − θ_b is log(wins / losses)
    ratings = fit(_games("a", "b", 30, 10), prior_sd=1e6, n_boot=0)
    a, b = ratings.get("a"), ratings.get("b")
    assert a is not None and b is not None
    assert a.theta - b.theta == pytest.approx(math.log(3), abs=1e-6)
    assert a.theta + b.theta == pytest.approx(0, abs=1e-9)  # identified: mean zero
    assert win_probability(ratings, "a", "b") == pytest.approx(0.75, abs=1e-6)
    assert a.elo - ELO_BASE == pytest.approx(400 * a.theta / math.log(10))
    assert (a.comparisons, a.wins, b.wins) == (40, 30, 10)


def test_the_fit_is_a_stationary_point_of_the_penalised_likelihood() -> None:
    comparisons = _simulate(300, seed=3)
    ratings = fit(comparisons, n_boot=0)
    theta = {r.contestant: r.theta for r in ratings.ratings}
    grad = dict.fromkeys(theta, 0.0)
    for c in comparisons:
        p = 1 / (1 + math.exp(theta[c.b] - theta[c.a]))
        s = c.score_a
        grad[c.a] += s - p
        grad[c.b] -= s - p
    for name, g in grad.items():
        assert g - theta[name] / PRIOR_SD**2 == pytest.approx(0, abs=1e-6)
    assert sum(theta.values()) == pytest.approx(0, abs=1e-9)


def test_ties_count_as_half_a_win() -> None:
    level = fit(_games("a", "b", 0, 0, ties=20), n_boot=0)
    assert level.get("a").theta == pytest.approx(level.get("b").theta, abs=1e-9)  # type: ignore[union-attr]
    # 2 wins and 2 ties = 3 wins and 1 loss
    with_ties = fit(_games("a", "b", 2, 0, ties=2), prior_sd=1e6, n_boot=0)
    plain = fit(_games("a", "b", 3, 1), prior_sd=1e6, n_boot=0)
    assert with_ties.get("a").theta == pytest.approx(plain.get("a").theta, abs=1e-6)  # type: ignore[union-attr]
    assert with_ties.get("a").wins == 3.0  # type: ignore[union-attr]


def test_an_undefeated_contestant_gets_a_finite_top_rating() -> None:
    comparisons = _games("champ", "x", 12, 0) + _games("x", "y", 5, 5)
    ratings = fit(comparisons, n_boot=50)
    top = ratings.ratings[0]
    assert top.contestant == "champ" and math.isfinite(top.theta) and top.theta > 1
    assert top.low < top.theta <= top.high


def test_a_contestant_without_comparisons_sits_at_the_mean_with_the_priors_interval() -> None:
    ratings = fit(_games("a", "b", 7, 3), contestants=["newcomer"], n_boot=100)
    new = ratings.get("newcomer")
    assert new is not None and new.comparisons == 0 and new.theta == 0.0
    assert new.high == pytest.approx(1.959964 * PRIOR_SD, rel=1e-5) and new.low == -new.high
    assert [r.contestant for r in ratings.ratings] == ["a", "newcomer", "b"]
    assert fit([]).ratings == []


def test_the_fit_recovers_known_strengths() -> None:
    ratings = fit(_simulate(2000, seed=1), n_boot=0)
    theta = {r.contestant: r.theta for r in ratings.ratings}
    fitted = np.array([theta[n] for n in NAMES])
    assert kendall_tau(fitted, TRUE) == 1.0
    assert np.abs(fitted - (TRUE - TRUE.mean())).max() < 0.25


@pytest.mark.parametrize("n_boot", [100, 0], ids=["bootstrap", "normal"])
def test_intervals_contain_the_truth_at_about_the_nominal_rate(n_boot: int) -> None:
    inside, widths = [], []
    for seed in range(25):
        ratings = fit(_simulate(250, seed=100 + seed), n_boot=n_boot, seed=seed)
        for r in ratings.ratings:
            truth = TRUE[NAMES.index(r.contestant)] - TRUE.mean()
            inside.append(r.low <= truth <= r.high)
            widths.append(r.high - r.low)
    coverage = float(np.mean(inside))
    assert 0.88 <= coverage <= 0.99, coverage  # nominal 0.95 over 150 intervals
    assert float(np.mean(widths)) < 1.5  # and not by being uselessly wide


def test_intervals_are_seeded_and_narrow_with_more_data() -> None:
    few, many = _simulate(100, seed=5), _simulate(1000, seed=5)
    assert fit(few, seed=7).to_dict() == fit(few, seed=7).to_dict()
    assert fit(few, seed=7).to_dict() != fit(few, seed=8).to_dict()

    def width(data: list[Comparison]) -> float:
        return float(np.mean([r.high - r.low for r in fit(data, n_boot=100).ratings]))

    assert width(many) < width(few) / 2
    normal = fit(many, n_boot=0)
    assert normal.to_dict()["intervals"].startswith("normal")
    assert all(r.low < r.theta < r.high for r in normal.ratings)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="itself"):
        Comparison("a", "a", Outcome.A)
    with pytest.raises(ValueError):
        Comparison("a", "b", "draw")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level"):
        fit(_games("a", "b", 1, 1), level=1.5)
    with pytest.raises(ValueError, match="two contestants"):
        next_pair(fit([], contestants=["alone"]))


def test_active_sampling_asks_about_the_uncertain_order() -> None:
    # a and b are close and little compared; c is far below both, and well measured
    data = (_games("a", "b", 2, 1) + _games("a", "c", 40, 2) + _games("b", "c", 40, 3))
    ratings = fit(data, n_boot=0)
    assert next_pair(ratings) == ("a", "b") == next_pair(data)  # fitted here from the data
    scores = pair_scores(ratings)
    assert scores[("a", "b")] > 10 * max(scores[("a", "c")], scores[("b", "c")])


def test_active_sampling_brings_in_a_newcomer() -> None:
    ratings = fit(_simulate(300, seed=2), contestants=["newcomer"], n_boot=0)
    assert "newcomer" in next_pair(ratings, np.random.default_rng(0))
    assert "newcomer" in next_pair(_simulate(300, seed=2), contestants=["newcomer"])


def test_active_sampling_beats_uniform_pairs() -> None:
    """Over a few seeds, choosing pairs by uncertainty orders 6 contestants better after
    120 comparisons than drawing pairs uniformly."""
    def run(active: bool, seed: int) -> float:
        rng = np.random.default_rng(seed)
        done: list[Comparison] = []
        for _ in range(120):
            if active:
                a, b = next_pair(fit(done, NAMES, n_boot=0), rng)
                i, j = NAMES.index(a), NAMES.index(b)
            else:
                i, j = (int(x) for x in rng.choice(len(NAMES), size=2, replace=False))
            p = 1 / (1 + math.exp(TRUE[j] - TRUE[i]))
            done.append(Comparison(NAMES[i], NAMES[j],
                                   Outcome.A if rng.random() < p else Outcome.B))
        theta = {r.contestant: r.theta for r in fit(done, NAMES, n_boot=0).ratings}
        return kendall_tau([theta[n] for n in NAMES], TRUE)

    seeds = range(8)
    assert np.mean([run(True, s) for s in seeds]) > np.mean([run(False, s) for s in seeds])


def test_kendall_tau() -> None:
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert kendall_tau([1, 2, 3], [30, 20, 10]) == -1.0
    assert kendall_tau([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(4 / 6)
    with pytest.raises(ValueError):
        kendall_tau([1], [1])
