"""The month's spend forecast: on synthetic daily spend with weekly seasonality and a drifting
level (many seeded trials), the Holt-Winters interval covers the realised month in at least
90 % of trials; short histories fall back to the mean, none at all to what is spent; the
part of the month already spent is inside every interval."""

from __future__ import annotations

import numpy as np
import pytest

from cerebra.observability.costs_forecast import month_forecast, simulate

WEEK = np.array([1.0, 1.1, 1.05, 1.0, 0.95, 0.5, 0.4])  # weekends are quiet


def spend_history(rng: np.random.Generator, days: int, level: float = 20.0) -> list[float]:
    """Daily spend: a level that drifts (a random walk), times the weekday, plus noise."""
    out = []
    for day in range(days):
        level = max(1.0, level + rng.normal(0, 0.15))
        out.append(max(0.0, level * WEEK[day % 7] + rng.normal(0, 1.5)))
    return out


def test_the_interval_covers_the_realised_month_in_90_percent_of_trials() -> None:
    trials, hits, widths = 60, 0, []
    for trial in range(trials):
        rng = np.random.default_rng(1000 + trial)
        days = spend_history(rng, 120 + 30, level=rng.uniform(5, 50))
        history, month = days[:120], days[120:]
        f = month_forecast("2026-12", 0.0, simulate(history, 30, "holt_winters", seed=trial),
                           1.0, 0.95)
        assert f.method == "holt_winters"
        hits += f.low <= sum(month) <= f.high
        widths.append((f.high - f.low) / f.forecast)
    coverage = hits / trials
    print(f"95 % interval coverage of the realised month: {coverage:.1%} over {trials} "
          f"trials; median relative width {np.median(widths):.1%}")
    assert coverage >= 0.90
    assert np.median(widths) < 0.5  # and it is not covering by being uselessly wide


def test_mid_month_the_spent_part_is_kept_and_today_counts_once() -> None:
    rng = np.random.default_rng(7)
    history = spend_history(rng, 90)
    rest = simulate(history, 16, "auto", seed=1)  # today and 15 more days
    f = month_forecast("2026-12", 300.0, rest, 0.25, 0.9)
    assert f.method == "holt_winters" and f.level == 0.9
    assert 300.0 <= f.low <= f.forecast <= f.high
    daily = float(np.mean(history[-28:]))
    assert f.forecast == pytest.approx(300.0 + daily * 15.25, rel=0.25)


@pytest.mark.parametrize("days", [2, 10, 27])
def test_a_short_history_uses_the_mean(days: int) -> None:
    history = [10.0 + (d % 3) for d in range(days)]
    f = month_forecast("2026-12", 50.0, simulate(history, 10, "auto"), 1.0, 0.95)
    assert f.method == "mean"
    assert f.low <= 50.0 + 11.0 * 10 <= f.high
    assert f.low >= 50.0


def test_the_mean_method_can_be_asked_for_and_no_history_forecasts_the_spent() -> None:
    history = spend_history(np.random.default_rng(3), 60)
    assert month_forecast("m", 0.0, simulate(history, 5, "mean"), 1.0, 0.95).method == "mean"
    none = month_forecast("m", 12.5, simulate([], 5, "auto"), 1.0, 0.95)
    assert (none.method, none.forecast, none.low, none.high) == ("none", 12.5, 12.5, 12.5)
