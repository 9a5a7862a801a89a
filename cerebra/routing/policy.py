"""Routing policies: which strategy, arms, fallback chain and reward weights apply to a
request (per tenant and per agent), plus the router-wide retry and cooldown settings.

Policies are plain frozen dataclasses that round-trip through JSON (`to_dict`/`from_dict`)
so the API and the database store them as-is; bad values raise InvalidInput naming the field.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.routing.registry import make_strategy
from cerebra.routing.reward import RewardConfig

ANY = "*"
DEFAULT_PARAMS: dict[str, Any] = {"discount": 0.98, "by_task": True}


def _positive(value: float, name: str, *, zero_ok: bool = False) -> None:
    bad = value < 0 if zero_ok else value <= 0
    if not isinstance(value, int | float) or math.isnan(value) or bad:
        raise InvalidInput(f"{name} must be {'>= 0' if zero_ok else '> 0'}", field=name)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one backend within a request: exponential backoff with jitter, and
    Retry-After honoured when it is short enough (longer waits fall back instead)."""

    max_attempts: int = 2
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.1
    max_retry_after_s: float = 5.0
    attempt_timeout_s: float | None = None  # enforced on the async path

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise InvalidInput("max_attempts must be an integer >= 1", field="max_attempts")
        for name in ("base_delay_s", "max_delay_s", "jitter", "max_retry_after_s"):
            _positive(getattr(self, name), name, zero_ok=True)
        _positive(self.multiplier, "multiplier")
        if self.attempt_timeout_s is not None:
            _positive(self.attempt_timeout_s, "attempt_timeout_s")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None: do not retry."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after_s else None
        base = min(self.base_delay_s * self.multiplier ** (attempt - 1), self.max_delay_s)
        return base * (1.0 + self.jitter * (2.0 * rng.random() - 1.0))


@dataclass(frozen=True)
class CooldownPolicy:
    """After `failure_threshold` consecutive failures a backend leaves rotation for
    base_s, doubling (up to max_s) each time it fails again right after coming back."""

    failure_threshold: int = 3
    base_s: float = 30.0
    max_s: float = 600.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.failure_threshold, int) or self.failure_threshold < 1:
            raise InvalidInput("failure_threshold must be an integer >= 1",
                               field="failure_threshold")
        _positive(self.base_s, "base_s", zero_ok=True)
        _positive(self.max_s, "max_s", zero_ok=True)
        _positive(self.multiplier, "multiplier")

    def duration(self, strikes: int) -> float:
        return min(self.base_s * self.multiplier ** max(strikes - 1, 0), self.max_s)


@dataclass(frozen=True)
class RoutePolicy:
    """How requests in one scope are routed.

    `arms`: the backends allowed (empty: all registered). `fallback`: the order to try after
    the chosen arm fails (None: the remaining arms by the strategy's own scores).
    """

    strategy: str = "thompson"
    params: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    arms: tuple[str, ...] = ()
    fallback: tuple[str, ...] | None = None
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        make_strategy(self.strategy, self.params)  # validates name and parameters

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "params": dict(self.params),
            "arms": list(self.arms),
            "fallback": None if self.fallback is None else list(self.fallback),
            "reward": self.reward.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutePolicy:
        if not isinstance(data, Mapping):
            raise InvalidInput("policy must be an object", field="policy")
        unknown = set(data) - {"strategy", "params", "arms", "fallback", "reward"}
        if unknown:
            raise InvalidInput(f"unknown policy fields: {', '.join(sorted(unknown))}",
                               field=sorted(unknown)[0])
        params = data.get("params", DEFAULT_PARAMS)
        if not isinstance(params, Mapping):
            raise InvalidInput("params must be an object", field="params")
        arms = data.get("arms") or []
        fallback = data.get("fallback")
        for name, value in (("arms", arms), ("fallback", fallback or [])):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise InvalidInput(f"{name} must be a list of backend names", field=name)
        reward = data.get("reward") or {}
        if not isinstance(reward, Mapping):
            raise InvalidInput("reward must be an object", field="reward")
        return cls(
            strategy=str(data.get("strategy", "thompson")),
            params=dict(params),
            arms=tuple(arms),
            fallback=None if fallback is None else tuple(fallback),
            reward=RewardConfig.from_dict(dict(reward)),
        )


def policy_keys(tenant_id: str, agent_id: str) -> list[tuple[str, str]]:
    """Lookup order, most specific first: tenant+agent, tenant, agent, everyone."""
    keys = []
    if agent_id:
        keys.append((tenant_id, agent_id))
    keys.append((tenant_id, ANY))
    if agent_id:
        keys.append((ANY, agent_id))
    keys.append((ANY, ANY))
    return keys
