"""The drift statistics on synthetic streams, many seeded trials each, at the detector's
default alpha (0.01) and with its rule (scores and latencies: KS p < alpha and PSI ≥ 0.1):

- no shift: each test alarms in at most 5 % of trials (the false-alarm rate);
- a shift is detected in at least 90 % of trials within the stated window sizes:
  embeddings (16-d Gaussian prompts): the mean moved 0.75 SD along one axis, 150 prompts
  per window; scores: the mean moved 0.5 SD, 200 per window; latencies (log-normal, σ 0.5):
  the median 28 % slower (0.5 SD of log latency), 200 per window; feedback: the good-answer
  rate 0.80 → 0.65, 300 rated answers per window.

The figures measured are in the README's "Drift" section."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cerebra.config_observe import DriftSettings
from cerebra.observability.drift import PERMUTATIONS, PSI_MIN
from cerebra.observability.drift_stats import (
    centroid_distance,
    feedback_test,
    ks_test,
    mmd_test,
    psi,
)

ALPHA = DriftSettings().alpha


def rate(alarm: Callable[[np.random.Generator, int], bool], trials: int) -> float:
    return sum(alarm(np.random.default_rng(1000 + i), i) for i in range(trials)) / trials


def embedding_alarm(n: int, shift: float) -> Callable[[np.random.Generator, int], bool]:
    def alarm(rng: np.random.Generator, i: int) -> bool:
        ref, rec = rng.normal(size=(n, 16)), rng.normal(size=(n, 16))
        rec[:, 0] += shift
        p = mmd_test(ref, rec, permutations=PERMUTATIONS, seed=i).p_value
        return p is not None and p < ALPHA
    return alarm


def distribution_alarm(n: int, shift: float, *,
                       latency: bool) -> Callable[[np.random.Generator, int], bool]:
    def alarm(rng: np.random.Generator, i: int) -> bool:
        ref, rec = rng.normal(size=n), rng.normal(size=n) + shift
        if latency:  # log-normal milliseconds, σ 0.5 on the log scale: shift in SDs of it
            ref, rec = 200 * np.exp(0.5 * ref), 200 * np.exp(0.5 * rec)
        p, shift_psi = ks_test(ref, rec).p_value, psi(ref, rec)
        return p is not None and p < ALPHA and shift_psi is not None and shift_psi >= PSI_MIN
    return alarm


def feedback_alarm(n: int, good: float) -> Callable[[np.random.Generator, int], bool]:
    def alarm(rng: np.random.Generator, i: int) -> bool:
        ref = (rng.random(n) < 0.8).astype(float)
        rec = (rng.random(n) < good).astype(float)
        p = feedback_test(ref, rec).p_value
        return p is not None and p < ALPHA
    return alarm


@pytest.mark.parametrize(("signal", "steady", "shifted", "trials"), [
    ("embedding", embedding_alarm(150, 0.0), embedding_alarm(150, 0.75), 100),
    ("score", distribution_alarm(200, 0.0, latency=False),
     distribution_alarm(200, 0.5, latency=False), 400),
    ("latency", distribution_alarm(200, 0.0, latency=True),
     distribution_alarm(200, 0.5, latency=True), 400),
    ("feedback", feedback_alarm(300, 0.8), feedback_alarm(300, 0.65), 400),
])
def test_false_alarms_at_most_5_percent_and_shifts_found_90_percent(
        signal: str, steady: Callable[[np.random.Generator, int], bool],
        shifted: Callable[[np.random.Generator, int], bool], trials: int) -> None:
    false_alarms = rate(steady, trials)
    detected = rate(shifted, trials)
    print(f"{signal}: false alarms {false_alarms:.3f}, detected {detected:.3f} "
          f"({trials} trials)")
    assert false_alarms <= 0.05, (signal, false_alarms)
    assert detected >= 0.90, (signal, detected)


def test_psi_is_near_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    same = psi(ref, rng.normal(size=5000))
    small = psi(ref, rng.normal(size=5000) + 0.25)
    large = psi(ref, rng.normal(size=5000) + 1.0)
    assert same is not None and small is not None and large is not None
    assert same < 0.02 < small < PSI_MIN < 0.25 < large
    assert psi([], [1.0]) is None and psi([1.0, 2.0], [5.0]) is not None


def test_centroid_distance_and_too_small_samples() -> None:
    assert centroid_distance([[1, 0], [1, 0]], [[2, 0]]) == pytest.approx(0.0)
    assert centroid_distance([[1, 0]], [[0, 3]]) == pytest.approx(1.0)
    assert centroid_distance([[1, 0]], [[-1, 0]]) == pytest.approx(2.0)
    assert mmd_test([[1.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]).p_value is None
    assert ks_test([1.0], [2.0, 3.0]).p_value is None
    assert feedback_test([1.0], [0.0, 1.0]).p_value is None
    with pytest.raises(ValueError):
        mmd_test([1.0, 2.0], [3.0, 4.0])


def test_mmd_p_value_is_never_zero_and_exact_under_identical_samples() -> None:
    x = np.random.default_rng(1).normal(size=(40, 4))
    far = mmd_test(x, x + 10.0, permutations=99)
    assert far.p_value == pytest.approx(1 / 100)
    same = mmd_test(x, x.copy(), permutations=99)
    assert same.statistic == pytest.approx(0.0, abs=1e-12) and same.p_value == 1.0
