"""The online update rule of learned retrieval weights (issue 12, item 6): one bounded step
of projected online gradient descent on a pairwise logistic loss, from one feedback event.

A hit's fused score is a weighted sum of its signals (cerebra.memory.retrieval.fuse):
score = Σ_s w_s · f_s, where the feature f_s is the signal before weighting (the share it
added divided by the weight in force when it was computed). Weights are parametrised
around the defaults d as w_s = d_s · exp(θ_s), so θ = 0 is the defaults and a step is
relative to each weight's size. For each pair (helpful h, not helpful u) of one ranking the
loss is softplus(-(score_h - score_u) / τ), convex in w; its mean gradient over the event's
pairs gives the step θ ← θ − η·∇θ, each coordinate's move capped at η (the caller decays η
as rate/√t over a scope's t-th update, the schedule of online gradient descent's regret
bound, so late events fine-tune rather than overwrite), then θ is projected
onto the box |θ_s| ≤ log(bound) (each weight within a factor `bound` of its default)
intersected with the L1 ball Σ|θ_s| ≤ drift (the total drift from the defaults). Signals
whose default weight is 0 are off and stay off (their feature cannot be observed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cerebra.errors import InvalidInput

# the linear weights of RetrievalWeights that feedback may move, by the name of the signal
# each one scales in a hit's explanation
LEARNABLE = (
    "text", "vector", "context", "session", "speaker", "date", "facts",
    "importance", "salience", "recency", "graph_entity", "graph_hop", "graph_centrality",
)
TEMPERATURE = 0.1  # score differences this large count as a confident order


@dataclass(frozen=True)
class LearningRule:
    """The step size `rate`, the per-weight `bound` (a factor ≥ 1 around the default) and
    the total `drift` (Σ |log(w / default)|) an update may reach."""

    rate: float = 0.2
    bound: float = 2.0
    drift: float = 2.0

    def __post_init__(self) -> None:
        for name, value, low in (("rate", self.rate, 0.0), ("bound", self.bound, 1.0),
                                 ("drift", self.drift, 0.0)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= low):
                raise InvalidInput(f"{name} must be a finite number >= {low}", field=name)


@dataclass(frozen=True)
class Step:
    """The outcome of one update: the new weights, the pairs it learned from and their mean
    loss before the step."""

    weights: dict[str, float]
    pairs: int
    loss: float


def weights_dict(weights: object) -> dict[str, float]:
    """The learnable weights of a RetrievalWeights (0 for a signal it does not have)."""
    return {s: float(getattr(weights, s, 0.0)) for s in LEARNABLE}


def learnable(defaults: Mapping[str, float]) -> list[str]:
    """The signals feedback may reweigh: those on (weight > 0) by default."""
    return [s for s in LEARNABLE if float(defaults.get(s, 0.0)) > 0.0]


def features(signals: Mapping[str, float], in_force: Mapping[str, float],
             names: Sequence[str]) -> np.ndarray:
    """A hit's unweighted signals: each share over the weight in force when it was made."""
    out = np.zeros(len(names))
    for n, name in enumerate(names):
        w = float(in_force.get(name, 0.0))
        if w > 0.0:
            out[n] = float(signals.get(name, 0.0)) / w
    return out


def theta_of(weights: Mapping[str, float], defaults: Mapping[str, float],
             names: Sequence[str]) -> np.ndarray:
    """log(w / default) of each learnable weight (0 where a weight is missing)."""
    out = np.zeros(len(names))
    for n, name in enumerate(names):
        w = weights.get(name)
        if w is not None and float(w) > 0.0:
            out[n] = math.log(float(w) / float(defaults[name]))
    return out


def project(theta: np.ndarray, bound: float, drift: float) -> np.ndarray:
    """Euclidean projection onto {|θ_s| ≤ log(bound)} ∩ {Σ|θ_s| ≤ drift}: soft-threshold by
    the τ that meets the L1 budget, then clip to the box (exact for a symmetric box)."""
    box = math.log(bound)
    size = np.abs(theta)

    def mass(tau: float) -> float:
        return float(np.minimum(np.maximum(size - tau, 0.0), box).sum())

    tau = 0.0
    if mass(0.0) > drift:
        low, high = 0.0, float(size.max())
        for _ in range(60):
            tau = (low + high) / 2
            low, high = (tau, high) if mass(tau) > drift else (low, tau)
        tau = high
    return np.sign(theta) * np.minimum(np.maximum(size - tau, 0.0), box)


def update(
    current: Mapping[str, float],
    defaults: Mapping[str, float],
    ranked: Sequence[tuple[str, Mapping[str, float]]],
    helpful: Sequence[str],
    unhelpful: Sequence[str],
    in_force: Mapping[str, float],
    rule: LearningRule,
    rate: float | None = None,
) -> Step | None:
    """One step from one event: `ranked` holds (memory id, signals) of the candidates the
    query ranked with the weights `in_force`; every helpful memory should score above every
    unhelpful one; `rate` overrides the rule's (a decaying schedule). None when the event
    has no such pair or no learnable signal."""
    names = learnable(defaults)
    rows = {mid: features(sig, in_force, names) for mid, sig in ranked}
    good = [rows[m] for m in dict.fromkeys(helpful) if m in rows]
    bad = [rows[m] for m in dict.fromkeys(unhelpful) if m in rows and m not in helpful]
    if not names or not good or not bad:
        return None
    theta = project(theta_of(current, defaults, names), rule.bound, rule.drift)
    base = np.array([float(defaults[s]) for s in names])
    w = base * np.exp(theta)
    diff = np.array([g - b for g in good for b in bad])  # (pairs, signals)
    margin = diff @ w / TEMPERATURE
    loss = float(np.logaddexp(0.0, -margin).mean())
    pull = 1.0 / (1.0 + np.exp(margin))  # -d softplus(-m) / dm
    grad = -(pull[:, None] * diff).mean(axis=0) * w / TEMPERATURE
    eta = rule.rate if rate is None else rate
    move = np.clip(-eta * grad, -eta, eta)
    theta = project(theta + move, rule.bound, rule.drift)
    learned = base * np.exp(theta)
    return Step({s: float(v) for s, v in zip(names, learned, strict=True)}, len(diff), loss)
