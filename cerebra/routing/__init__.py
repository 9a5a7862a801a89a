"""Model routing: a Router (itself a ModelBackend) that learns which backend to use.

Strategies live in `bandits`/`linucb` (by name in `registry`), prompt features in
`features`, rewards in `reward`, policies in `policy`, persistence in `state`, state
shared by replicas through Redis in `shared`/`shared_link`.
"""

from cerebra.routing.bandits import ArmStats, Choice, Strategy
from cerebra.routing.decisions import Attempt, Decision
from cerebra.routing.features import PromptFeatures, extract_features
from cerebra.routing.policy import CooldownPolicy, RetryPolicy, RoutePolicy
from cerebra.routing.registry import STRATEGIES, make_strategy
from cerebra.routing.reward import RewardConfig, RewardWeights, compute_reward
from cerebra.routing.router import RoutedGeneration, Router
from cerebra.routing.shared import RedisSharedState
from cerebra.routing.state import RouterStore

__all__ = [
    "STRATEGIES",
    "ArmStats",
    "Attempt",
    "Choice",
    "CooldownPolicy",
    "Decision",
    "PromptFeatures",
    "RedisSharedState",
    "RetryPolicy",
    "RewardConfig",
    "RewardWeights",
    "RoutePolicy",
    "RoutedGeneration",
    "Router",
    "RouterStore",
    "Strategy",
    "compute_reward",
    "extract_features",
    "make_strategy",
]
