"""The statistics of drift detection, pure (numbers in, numbers out): does a recent sample
come from the same distribution as a reference sample?

- Embeddings: the cosine distance between the two centroids (how far the average prompt
  moved) and the maximum mean discrepancy (MMD², a biased V-statistic) under an RBF kernel
  whose bandwidth is the median pairwise distance of the pooled sample, with a permutation
  p-value: the share of label shuffles whose MMD² is at least the observed one,
  (1 + hits) / (1 + permutations), so it is never 0 and is exact under the null.
- Scores and latencies: the two-sample Kolmogorov–Smirnov test (scipy) and the population
  stability index over the reference's deciles (an effect size: PSI < 0.1 is the
  conventional "no significant shift", 0.1–0.25 "moderate", > 0.25 "large").
- Feedback rates: the two-proportion z test of cerebra.prompts.ab.compare_samples (reused,
  not repeated here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class TestResult:
    """One two-sample test: its name, statistic and p-value (None: too little data)."""

    test: str
    statistic: float | None
    p_value: float | None


def _matrix(x: ArrayLike) -> Matrix:
    out = np.asarray(x, dtype=np.float64)
    if out.ndim != 2:
        raise ValueError("embeddings are a 2-d array (one row per text)")
    return out


def centroid_distance(reference: ArrayLike, recent: ArrayLike) -> float:
    """1 − cosine similarity of the two samples' mean vectors (0: same direction)."""
    a, b = _matrix(reference).mean(axis=0), _matrix(recent).mean(axis=0)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0:
        return 0.0
    return float(1.0 - np.dot(a, b) / norm)


def _sq_distances(x: Matrix) -> Matrix:
    sq = np.einsum("ij,ij->i", x, x)
    d = sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)
    np.maximum(d, 0.0, out=d)
    return d


def rbf_kernel(pooled: Matrix) -> Matrix:
    """The RBF kernel matrix exp(−d²/2σ²), σ the median of the nonzero pairwise distances."""
    d2 = _sq_distances(pooled)
    upper = d2[np.triu_indices_from(d2, k=1)]
    nonzero = upper[upper > 0]
    sigma2 = float(np.median(nonzero)) if nonzero.size else 1.0
    return np.exp(-d2 / (2.0 * sigma2))


def mmd_test(reference: ArrayLike, recent: ArrayLike, *, permutations: int = 200,
             seed: int = 0) -> TestResult:
    """MMD² of the two samples under an RBF kernel, with a permutation p-value."""
    x, y = _matrix(reference), _matrix(recent)
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        return TestResult("mmd", None, None)
    kernel = rbf_kernel(np.vstack([x, y]))
    signs = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    observed = float(signs @ kernel @ signs)
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(signs) for _ in range(permutations)])
    null = np.einsum("pi,pi->p", shuffled @ kernel, shuffled)
    hits = int(np.sum(null >= observed - 1e-12))
    return TestResult("mmd", max(observed, 0.0), (1 + hits) / (1 + permutations))


def _floats(values: Sequence[float]) -> NDArray[np.float64]:
    out = np.asarray(values, dtype=np.float64)
    return out[np.isfinite(out)]


def ks_test(reference: Sequence[float], recent: Sequence[float]) -> TestResult:
    """Two-sample Kolmogorov–Smirnov: the largest gap between the two empirical CDFs."""
    from scipy import stats

    a, b = _floats(reference), _floats(recent)
    if len(a) < 2 or len(b) < 2:
        return TestResult("ks", None, None)
    result = stats.ks_2samp(a, b)
    return TestResult("ks", float(result.statistic), float(result.pvalue))


def psi(reference: Sequence[float], recent: Sequence[float], *, bins: int = 10,
        floor: float = 1e-4) -> float | None:
    """Population stability index Σ (q − p)·ln(q / p) over the reference's quantile bins
    (p the reference's share of a bin, q the recent sample's; shares floored at `floor`
    so an empty bin counts as rare, not impossible). None: an empty sample."""
    a, b = _floats(reference), _floats(recent)
    if len(a) == 0 or len(b) == 0:
        return None
    edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, a, side="right"), minlength=len(edges) + 1)
    q = np.bincount(np.searchsorted(edges, b, side="right"), minlength=len(edges) + 1)
    p_share = np.maximum(p / len(a), floor)
    q_share = np.maximum(q / len(b), floor)
    value = float(np.sum((q_share - p_share) * np.log(q_share / p_share)))
    return value if math.isfinite(value) else None


def feedback_test(reference: Sequence[float], recent: Sequence[float]) -> TestResult:
    """Two-proportion z test of the share of good answers (each value 0 or 1)."""
    from cerebra.prompts.ab import compare_samples

    found = compare_samples(list(reference), list(recent), alpha=0.5)
    if found.p_value is None:
        return TestResult("two-proportion-z", None, None)
    return TestResult("two-proportion-z", found.statistic, found.p_value)
