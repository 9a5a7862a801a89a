"""The catalog of routing strategies by name, and building one from a name and parameters
(or from a persisted state) with clear errors for unknown names and bad parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.routing.bandits import (
    UCB1,
    EpsilonGreedy,
    FixedStrategy,
    RandomStrategy,
    Softmax,
    Strategy,
    ThompsonSampling,
    WeightedStrategy,
)
from cerebra.routing.linucb import LinUCB

STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "fixed": FixedStrategy,
    "weighted": WeightedStrategy,
    "random": RandomStrategy,
    "epsilon_greedy": EpsilonGreedy,
    "ucb1": UCB1,
    "softmax": Softmax,
    "thompson": ThompsonSampling,
    "linucb": LinUCB,
}


def make_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """A new strategy; InvalidInput names the field for an unknown name or a bad parameter."""
    factory = STRATEGIES.get(name)
    if factory is None:
        raise InvalidInput(
            f"unknown routing strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}",
            field="strategy",
        )
    try:
        return factory(**dict(params or {}))
    except TypeError as exc:
        raise InvalidInput(f"bad parameters for strategy {name!r}: {exc}", field="params") from exc


def strategy_from_state(state: Mapping[str, Any]) -> Strategy:
    """Rebuild a strategy saved with `Strategy.state()`."""
    strategy = make_strategy(str(state.get("name", "")), state.get("params") or {})
    strategy.load_state(state)
    return strategy
