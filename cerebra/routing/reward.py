"""Reward: one number in 0..1 (higher is better) from quality, cost and latency.

Quality is already 0..1 (feedback or a judge score). Cost and latency are mapped to 0..1
scores that fall as they grow — linearly up to a ceiling, where the score reaches 0 — and
the three are combined as a weighted mean with configurable weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from cerebra.errors import InvalidInput


def _check_unit(value: float, name: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
        raise InvalidInput(f"{name} must be a number between 0 and 1", field=name)
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{name} must be between 0 and 1, got {value}", field=name)
    return float(value)


@dataclass(frozen=True)
class RewardWeights:
    """Relative importance of quality, cost and latency; they need not sum to 1."""

    quality: float = 0.7
    cost: float = 0.2
    latency: float = 0.1

    def __post_init__(self) -> None:
        for name in ("quality", "cost", "latency"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0 or math.isnan(value):
                raise InvalidInput(f"reward weight {name} must be >= 0", field=f"weights.{name}")
        if self.quality + self.cost + self.latency <= 0:
            raise InvalidInput("reward weights must not all be zero", field="weights")


@dataclass(frozen=True)
class RewardConfig:
    """Weights plus the cost and latency at which their scores reach zero."""

    weights: RewardWeights = field(default_factory=RewardWeights)
    cost_ceiling_usd: float = 0.02
    latency_ceiling_ms: float = 5000.0

    def __post_init__(self) -> None:
        if not self.cost_ceiling_usd > 0:
            raise InvalidInput("cost_ceiling_usd must be > 0", field="cost_ceiling_usd")
        if not self.latency_ceiling_ms > 0:
            raise InvalidInput("latency_ceiling_ms must be > 0", field="latency_ceiling_ms")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RewardConfig:
        try:
            weights = RewardWeights(**data.get("weights", {}))
            rest = {k: float(v) for k, v in data.items() if k != "weights"}
            return cls(weights=weights, **rest)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"bad reward config: {exc}", field="reward") from exc


def cost_score(cost_usd: float, ceiling_usd: float) -> float:
    """1 for free, falling linearly to 0 at the ceiling and beyond."""
    return 1.0 - min(max(cost_usd, 0.0) / ceiling_usd, 1.0)


def latency_score(latency_ms: float, ceiling_ms: float) -> float:
    """1 for instant, falling linearly to 0 at the ceiling and beyond."""
    return 1.0 - min(max(latency_ms, 0.0) / ceiling_ms, 1.0)


def compute_reward(
    quality: float, cost_usd: float, latency_ms: float, config: RewardConfig = RewardConfig()
) -> float:
    """Weighted mean of the three scores, in 0..1; higher quality, lower cost/latency are better."""
    q = _check_unit(quality, "quality")
    w = config.weights
    total = w.quality + w.cost + w.latency
    value = (
        w.quality * q
        + w.cost * cost_score(cost_usd, config.cost_ceiling_usd)
        + w.latency * latency_score(latency_ms, config.latency_ceiling_ms)
    ) / total
    return min(max(value, 0.0), 1.0)


def check_quality(quality: float) -> float:
    """Validate a feedback quality value (0..1) and return it as a float."""
    return _check_unit(quality, "quality")
