"""The month's spend forecast of a tenant, with a prediction interval.

Fitted on the complete UTC days before today (the rollups' daily totals, zeros for days with
no spend since the first one). With four weeks or more, a Holt-Winters model with additive
weekly seasonality (statsmodels' ETS(A,N,A), whose level adapts to drift) is fitted and
simulated to the month's end; the interval is the quantiles of the simulated month totals
(so it is the interval of the sum, not of each day). With less history, or when asked, the
daily mean: the point is the mean times the days left, the interval from the days' spread
and the mean's own uncertainty (Student t). The month's total is what is already spent,
plus the rest of today (the elapsed fraction of today is in `spent`), plus the days after.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Method = Literal["auto", "holt_winters", "mean"]
SEASON = 7
MIN_SEASONAL = 4 * SEASON  # days of history Holt-Winters needs
MEAN_WINDOW = 28  # days the mean method looks back
PATHS = 2000
# The level's smoothing never below this: spend drifts, and a fitted level that never moves
# (alpha ~ 0, common on a few months of noisy days) simulates months far too alike — on
# synthetic drifting histories the 95 % interval then covered 75 % of realised months; with
# the floor, the standardised errors' spread is ~1 (tests/observability/test_costs_forecast).
MIN_ALPHA = 0.05


@dataclass(frozen=True)
class Forecast:
    month: str
    spent: float
    forecast: float
    low: float
    high: float
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Rest:
    """The simulated spend still to come, before `spent` is added: per sample path, the
    rest of today and the days after it (or a point and spread for the mean method)."""

    method: str
    today: np.ndarray  # a whole day's spend per path (scaled by the fraction left)
    after: np.ndarray  # the days after today, summed per path


def statsmodels_available() -> bool:
    try:
        import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    except ImportError:
        return False
    return True


def choose(method: Method, days: int) -> str:
    if method == "mean" or days < MIN_SEASONAL:
        return "mean"
    if method == "holt_winters" or statsmodels_available():
        return "holt_winters"
    return "mean"


def simulate(history: list[float], days_left: int, method: Method, *, seed: int = 0) -> Rest:
    """Sample paths of today and the `days_left - 1` days after it, from `history` (the
    complete days before today, oldest first)."""
    chosen = choose(method, len(history))
    rng = np.random.default_rng(seed)
    if chosen == "holt_winters":
        return _holt_winters(np.asarray(history, dtype=float), days_left, rng)
    return _mean(np.asarray(history[-MEAN_WINDOW:], dtype=float), days_left, rng)


def _holt_winters(y: np.ndarray, days_left: int, rng: np.random.Generator) -> Rest:
    import warnings

    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on flat or tiny series
        fit = ETSModel(y, error="add", trend=None, seasonal="add", seasonal_periods=SEASON,
                       bounds={"smoothing_level": (MIN_ALPHA, 0.9999)}).fit(disp=False)
        paths = np.asarray(fit.simulate(days_left, repetitions=PATHS, anchor="end",
                                        rng=rng))
    paths = np.maximum(paths.reshape(days_left, PATHS), 0.0)  # spend is never negative
    return Rest("holt_winters", paths[0], paths[1:].sum(axis=0))


def _mean(y: np.ndarray, days_left: int, rng: np.random.Generator) -> Rest:
    """Normal paths whose mean and spread carry the day-to-day spread and the mean's
    uncertainty (t quantiles via a t-distributed scale), no seasonality."""
    n = len(y)
    if n == 0:
        zeros = np.zeros(PATHS)
        return Rest("none", zeros, zeros)
    mean = float(y.mean())
    sd = float(y.std(ddof=1)) if n > 1 else mean
    df = max(n - 1, 1)
    scale = rng.standard_t(df, PATHS)  # one draw per path: the sum's standardised error
    after = days_left - 1

    def total(days: float) -> np.ndarray:
        spread = math.sqrt(sd * sd * days + (sd * sd / n) * days * days)
        return np.maximum(mean * days + spread * scale, 0.0)

    return Rest("mean", total(1.0), total(float(after)) if after > 0 else np.zeros(PATHS))


def month_forecast(month: str, spent: float, rest: Rest, today_left: float,
                   level: float) -> Forecast:
    """The month's total from what is spent and the simulated rest (`today_left`: the
    fraction of today still to come)."""
    totals = spent + today_left * rest.today + rest.after
    tail = (1.0 - level) / 2.0
    low, high = (float(q) for q in np.quantile(totals, [tail, 1.0 - tail]))
    return Forecast(month, spent, float(totals.mean()), max(low, spent), max(high, spent),
                    level, rest.method)
