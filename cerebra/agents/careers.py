"""Careers: the title an agent's record earns — novice → promoted → expert, demoted or
sandboxed — decided on a Wilson confidence bound of its mean score, never a raw average.

Promotion needs evidence that an agent is good (its lower bound reaches a threshold after a
minimum number of results); demotion and the sandbox need evidence that it is bad (its upper
bound falls below one). Between the two an agent keeps its title, so one unlucky result
does not undo a career. Scores are in [0, 1] (a success is 1, a failure 0); the Wilson
interval of a mean of such scores is conservative, since a Bernoulli result has the largest
variance a mean of [0, 1] scores can have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cerebra.config_agents import AgentsSettings

NOVICE = "novice"
PROMOTED = "promoted"
EXPERT = "expert"
DEMOTED = "demoted"
SANDBOXED = "sandboxed"
TITLES = (NOVICE, PROMOTED, EXPERT, DEMOTED, SANDBOXED)
_RANK = {DEMOTED: 0, NOVICE: 1, PROMOTED: 2, EXPERT: 3}


@dataclass(frozen=True)
class Thresholds:
    """The rules of a career (settings group `agents`)."""

    z: float = 1.96
    promote_min: int = 5
    promote_lower: float = 0.5
    expert_min: int = 20
    expert_lower: float = 0.75
    demote_min: int = 5
    demote_upper: float = 0.5
    sandbox_min: int = 10
    sandbox_upper: float = 0.3

    @classmethod
    def from_settings(cls, agents: AgentsSettings) -> Thresholds:
        return cls(
            z=agents.confidence_z,
            promote_min=agents.promote_min_results,
            promote_lower=agents.promote_lower_bound,
            expert_min=agents.expert_min_results,
            expert_lower=agents.expert_lower_bound,
            demote_min=agents.demote_min_results,
            demote_upper=agents.demote_upper_bound,
            sandbox_min=agents.sandbox_min_results,
            sandbox_upper=agents.sandbox_upper_bound,
        )


def wilson(score_sum: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of the mean score `score_sum / n`; (0, 1) without results."""
    if n <= 0:
        return 0.0, 1.0
    p = min(max(score_sum / n, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    denominator = 1 + z2 / n
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


def next_title(title: str, n: int, score_sum: float,
               rules: Thresholds) -> tuple[str, str] | None:
    """The title an agent with `n` results summing to `score_sum` moves to from `title`,
    with the reason; None when it keeps its title.

    In order: sandboxed when the upper bound is below sandbox_upper (after sandbox_min
    results); demoted below demote_upper (after demote_min); expert when the lower bound
    reaches expert_lower (after expert_min); promoted at promote_lower (after promote_min) —
    an expert keeps its title until it is demoted. A sandboxed agent leaves the sandbox only
    by earning a promotion (its results come from competitions).
    """
    lower, upper = wilson(score_sum, n, rules.z)
    bounds = f"{n} results, mean {score_sum / n if n else 0.0:.2f}, " \
             f"interval [{lower:.2f}, {upper:.2f}]"
    target: str | None = None
    why = ""
    if n >= rules.sandbox_min and upper < rules.sandbox_upper:
        target, why = SANDBOXED, f"upper bound below {rules.sandbox_upper:.2f}"
    elif n >= rules.demote_min and upper < rules.demote_upper:
        if title != SANDBOXED:  # the sandbox is left by a promotion only
            target, why = DEMOTED, f"upper bound below {rules.demote_upper:.2f}"
    elif n >= rules.expert_min and lower >= rules.expert_lower:
        target, why = EXPERT, f"lower bound at least {rules.expert_lower:.2f}"
    elif n >= rules.promote_min and lower >= rules.promote_lower and (
            title == SANDBOXED or _RANK.get(title, 0) < _RANK[PROMOTED]):
        target, why = PROMOTED, f"lower bound at least {rules.promote_lower:.2f}"
    if target is None or target == title:
        return None
    return target, f"{bounds}: {why}"
