"""Paired statistics for the evaluation gate: the exact McNemar test on two models' pass/fail
outcomes over the same items, a seeded paired bootstrap of their accuracy difference, and a
win rate with its Wilson interval.

Outcomes are paired: item i was answered by both sides, `a[i]` and `b[i]` say whether each
passed. Only the discordant items (one passed, the other not) carry evidence about which
side is better; McNemar's exact test is the binomial test of those against one half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest, norm

from cerebra.errors import InvalidInput


@dataclass(frozen=True)
class McNemar:
    """The exact McNemar test of b against a on paired outcomes."""

    n: int  # paired items
    only_a: int  # items a passed and b failed
    only_b: int  # items b passed and a failed
    p_two_sided: float  # H0: both sides equally good
    p_b_better: float  # one-sided: H1 b is better than a

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BootstrapCI:
    """A paired bootstrap of mean(b) - mean(a), in points (percent)."""

    diff: float  # observed difference, points
    low: float
    high: float
    level: float
    n_boot: int
    p_b_not_better: float  # share of resamples with a difference <= 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WinRate:
    """Wins over decided comparisons, with a Wilson score interval."""

    wins: int
    losses: int
    ties: int
    rate: float  # wins / (wins + losses); 0.5 when nothing was decided
    low: float
    high: float
    p_b_better: float  # one-sided sign test of wins against losses

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _paired(a: Sequence[bool], b: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    if len(a) != len(b):
        raise InvalidInput(f"paired outcomes differ in length ({len(a)} vs {len(b)})",
                           field="outcomes")
    return np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> McNemar:
    """Exact McNemar: the discordant pairs against Binomial(n_discordant, 1/2). With no
    discordant pair (identical outcomes) both p-values are 1."""
    x, y = _paired(a, b)
    only_a = int(np.sum(x & ~y))
    only_b = int(np.sum(~x & y))
    d = only_a + only_b
    if d == 0:
        return McNemar(len(x), 0, 0, 1.0, 1.0)
    two = float(binomtest(only_b, d, 0.5, alternative="two-sided").pvalue)
    one = float(binomtest(only_b, d, 0.5, alternative="greater").pvalue)
    return McNemar(len(x), only_a, only_b, min(1.0, two), min(1.0, one))


def paired_bootstrap(a: Sequence[bool] | Sequence[float], b: Sequence[bool] | Sequence[float],
                     *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
                     ) -> BootstrapCI:
    """Resample items (the same indices for both sides) `n_boot` times; the percentile
    interval of the mean difference b - a in points. Seeded: the same input, the same CI."""
    if len(a) != len(b):
        raise InvalidInput(f"paired outcomes differ in length ({len(a)} vs {len(b)})",
                           field="outcomes")
    if not 0 < level < 1:
        raise InvalidInput("level must be in (0, 1)", field="level")
    if n_boot < 1:
        raise InvalidInput("n_boot must be at least 1", field="n_boot")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) == 0:
        return BootstrapCI(0.0, 0.0, 0.0, level, n_boot, 1.0)
    delta = (y - x) * 100.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(delta), size=(n_boot, len(delta)))
    means = delta[idx].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return BootstrapCI(float(delta.mean()), float(low), float(high), level, n_boot,
                       float(np.mean(means <= 0)))


def wilson(successes: int, n: int, *, level: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(1 - (1 - level) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def win_rate(wins: int, losses: int, ties: int = 0, *, level: float = 0.95) -> WinRate:
    """Ties are left out of the rate (they say neither is better)."""
    if min(wins, losses, ties) < 0:
        raise InvalidInput("counts cannot be negative", field="wins")
    decided = wins + losses
    low, high = wilson(wins, decided, level=level)
    rate = wins / decided if decided else 0.5
    p = float(binomtest(wins, decided, 0.5, alternative="greater").pvalue) if decided else 1.0
    return WinRate(wins, losses, ties, rate, low, high, min(1.0, p))
