"""Routing strategies: which backend (arm) to use for a request, learned from rewards.

One small protocol, `Strategy` (select, update, plus state/stats for persistence and the
API), implemented by fixed, weighted, random, epsilon-greedy, UCB1, softmax, Thompson
sampling and (in `linucb.py`) LinUCB. Every learning strategy takes a `discount` in (0, 1]:
each update multiplies all past evidence by it, so old observations fade and a strategy
re-learns after drift (1.0 is the classic stationary version). Rewards are in 0..1.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cerebra.errors import InvalidInput
from cerebra.routing.features import PromptFeatures


@dataclass(frozen=True)
class Choice:
    """The arm picked, why, and the score each arm had (strategy-specific)."""

    arm: str
    reason: str
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ArmStats:
    arm: str
    pulls: int  # all-time updates
    weight: float  # discounted number of observations
    mean_reward: float | None  # discounted mean; None before any observation

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "pulls": self.pulls,
            "weight": round(self.weight, 4),
            "mean_reward": None if self.mean_reward is None else round(self.mean_reward, 4),
        }


@runtime_checkable
class Strategy(Protocol):
    name: str

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice: ...

    def update(self, arm: str, reward: float, context: PromptFeatures | None = None) -> None: ...

    def stats(self) -> dict[str, ArmStats]: ...

    def state(self) -> dict[str, Any]: ...

    def load_state(self, state: Mapping[str, Any]) -> None: ...


def _require_arms(arms: Sequence[str]) -> None:
    if not arms:
        raise InvalidInput("no backend to route to", field="arms")


def _check_reward(reward: float) -> float:
    if not isinstance(reward, int | float) or math.isnan(reward) or not 0.0 <= reward <= 1.0:
        raise InvalidInput(f"reward must be between 0 and 1, got {reward!r}", field="reward")
    return float(reward)


class CountingStrategy:
    """Shared bookkeeping: discounted count, sum and sum of squares of rewards per arm.

    With `by_task=True` the numbers are kept per (arm, task type), each task with its own
    clock, so a discrete context (code vs chat) gets its own best arm. Discounting is lazy:
    a record is scaled by discount**(steps since it was last touched) when read, which
    equals decaying every arm of that task at every update.
    """

    name = "counting"

    def __init__(self, *, discount: float = 1.0, by_task: bool = False,
                 seed: int | None = None) -> None:
        if not 0.0 < discount <= 1.0:
            raise InvalidInput("discount must be in (0, 1]", field="discount")
        self.discount = float(discount)
        self.by_task = bool(by_task)
        self.rng = random.Random(seed)
        self._step = 0  # all updates
        self._steps: dict[str, int] = {}  # per task ("" when not by task)
        self._arms: dict[str, list[float]] = {}  # key -> [n, sum, sumsq, last_step, pulls]

    def params(self) -> dict[str, Any]:
        return {"discount": self.discount, "by_task": self.by_task}

    def part(self, context: PromptFeatures | None) -> str:
        return context.task if self.by_task and context is not None else ""

    @staticmethod
    def _key(arm: str, part: str) -> str:
        return f"{arm}@{part}" if part else arm

    def _decayed(self, arm: str, part: str = "") -> tuple[float, float, float]:
        rec = self._arms.get(self._key(arm, part))
        if rec is None:
            return 0.0, 0.0, 0.0
        age = self._steps.get(part, 0) - rec[3]
        factor = self.discount**age if self.discount < 1.0 else 1.0
        return rec[0] * factor, rec[1] * factor, rec[2] * factor

    def update(self, arm: str, reward: float, context: PromptFeatures | None = None) -> None:
        reward = _check_reward(reward)
        part = self.part(context)
        self._step += 1
        self._steps[part] = self._steps.get(part, 0) + 1
        n, s, ss = self._decayed(arm, part)
        key = self._key(arm, part)
        pulls = self._arms[key][4] if key in self._arms else 0
        self._arms[key] = [n + 1.0, s + reward, ss + reward * reward,
                           float(self._steps[part]), pulls + 1]

    def mean(self, arm: str, part: str = "") -> float | None:
        n, s, _ = self._decayed(arm, part)
        return s / n if n > 1e-12 else None

    def untried(self, arms: Sequence[str], part: str = "") -> list[str]:
        return [a for a in arms if self._key(a, part) not in self._arms]

    def stats(self) -> dict[str, ArmStats]:
        """Per arm (summed over tasks when by task)."""
        totals: dict[str, list[float]] = {}
        for key, rec in self._arms.items():
            arm, _, part = key.partition("@")
            n, s, _ = self._decayed(arm, part)
            t = totals.setdefault(arm, [0.0, 0.0, 0.0])
            t[0], t[1], t[2] = t[0] + rec[4], t[1] + n, t[2] + s
        return {a: ArmStats(a, int(t[0]), t[1], t[2] / t[1] if t[1] > 1e-12 else None)
                for a, t in totals.items()}

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params(), "step": self._step,
                "steps": dict(self._steps), "arms": {a: list(r) for a, r in self._arms.items()}}

    def load_state(self, state: Mapping[str, Any]) -> None:
        try:
            self._step = int(state.get("step", 0))
            self._steps = {str(k): int(v) for k, v in (state.get("steps") or {}).items()}
            self._arms = {str(a): [float(v) for v in r] for a, r in state.get("arms", {}).items()}
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"corrupt router state: {exc}", field="state") from exc

    def _first_untried(self, arms: Sequence[str], part: str) -> Choice | None:
        fresh = self.untried(arms, part)
        if fresh:
            where = f" for task {part}" if part else ""
            return Choice(fresh[0], f"{self.name}: {fresh[0]} not tried yet{where}")
        return None


class FixedStrategy(CountingStrategy):
    """Always the named arm (or the first available when it is not among the arms)."""

    name = "fixed"

    def __init__(self, arm: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arm = arm

    def params(self) -> dict[str, Any]:
        return {"arm": self.arm}

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        if self.arm is not None and self.arm in arms:
            return Choice(self.arm, f"fixed: {self.arm}")
        return Choice(arms[0], f"fixed arm {self.arm!r} unavailable; first available {arms[0]}")


class WeightedStrategy(CountingStrategy):
    """A random draw in proportion to fixed weights; arms without a weight get none."""

    name = "weighted"

    def __init__(self, weights: Mapping[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights = {str(k): float(v) for k, v in (weights or {}).items()}
        if any(v < 0 or math.isnan(v) for v in self.weights.values()):
            raise InvalidInput("weights must be >= 0", field="weights")

    def params(self) -> dict[str, Any]:
        return {"weights": self.weights}

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        w = [self.weights.get(a, 0.0) for a in arms]
        total = sum(w)
        if total <= 0:  # no weights for any available arm: uniform
            w, total = [1.0] * len(arms), float(len(arms))
        arm = self.rng.choices(list(arms), weights=w)[0]
        p = w[list(arms).index(arm)] / total
        return Choice(arm, f"{self.name}: drew {arm} (p={p:.2f})",
                      {a: wi / total for a, wi in zip(arms, w, strict=True)})


class RandomStrategy(WeightedStrategy):
    """Uniform at random: the baseline every learning strategy is measured against."""

    name = "random"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)

    def params(self) -> dict[str, Any]:
        return {}


class EpsilonGreedy(CountingStrategy):
    """The best mean reward, except a random arm with probability epsilon."""

    name = "epsilon_greedy"

    def __init__(self, epsilon: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= epsilon <= 1.0:
            raise InvalidInput("epsilon must be in 0..1", field="epsilon")
        self.epsilon = float(epsilon)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "epsilon": self.epsilon}

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        part = self.part(context)
        first = self._first_untried(arms, part)
        if first:
            return first
        scores = {a: self.mean(a, part) or 0.0 for a in arms}
        if self.rng.random() < self.epsilon:
            arm = self.rng.choice(list(arms))
            return Choice(arm, f"epsilon_greedy: explore {arm} (epsilon={self.epsilon})", scores)
        arm = max(arms, key=scores.__getitem__)
        return Choice(arm, f"epsilon_greedy: best mean reward {scores[arm]:.3f}", scores)


class UCB1(CountingStrategy):
    """Mean reward plus c * sqrt(2 ln N / n): optimism in the face of uncertainty."""

    name = "ucb1"

    def __init__(self, c: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if c < 0:
            raise InvalidInput("c must be >= 0", field="c")
        self.c = float(c)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "c": self.c}

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        part = self.part(context)
        first = self._first_untried(arms, part)
        if first:
            return first
        counts = {a: max(self._decayed(a, part)[0], 1e-9) for a in arms}
        log_total = math.log(max(sum(counts.values()), 1.0 + 1e-9))
        scores = {
            a: (self.mean(a, part) or 0.0) + self.c * math.sqrt(2.0 * log_total / counts[a])
            for a in arms
        }
        arm = max(arms, key=scores.__getitem__)
        return Choice(arm, f"ucb1: highest upper bound {scores[arm]:.3f} "
                           f"(mean {self.mean(arm, part) or 0.0:.3f}, n={counts[arm]:.1f})", scores)


class Softmax(CountingStrategy):
    """A draw with probability proportional to exp(mean / temperature)."""

    name = "softmax"

    def __init__(self, temperature: float = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not temperature > 0:
            raise InvalidInput("temperature must be > 0", field="temperature")
        self.temperature = float(temperature)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "temperature": self.temperature}

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        part = self.part(context)
        first = self._first_untried(arms, part)
        if first:
            return first
        means = [self.mean(a, part) or 0.0 for a in arms]
        top = max(means)
        weights = [math.exp((m - top) / self.temperature) for m in means]
        total = sum(weights)
        arm = self.rng.choices(list(arms), weights=weights)[0]
        probs = {a: w / total for a, w in zip(arms, weights, strict=True)}
        return Choice(arm, f"softmax: drew {arm} (p={probs[arm]:.2f})", probs)


class ThompsonSampling(CountingStrategy):
    """Draw a plausible mean per arm from its posterior; pick the highest draw.

    `likelihood="gaussian"` (default) uses a normal posterior with the arm's observed reward
    variance, which suits graded rewards in 0..1; `"beta"` treats rewards as fractional
    Bernoulli successes (Beta(1 + successes, 1 + failures)), which explores more.
    """

    name = "thompson"

    def __init__(self, likelihood: str = "gaussian", prior_mean: float = 0.5,
                 prior_weight: float = 1.0, prior_std: float = 0.25, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if likelihood not in ("gaussian", "beta"):
            raise InvalidInput("likelihood must be 'gaussian' or 'beta'", field="likelihood")
        if prior_weight <= 0 or prior_std <= 0:
            raise InvalidInput("prior_weight and prior_std must be > 0", field="prior_weight")
        self.likelihood = likelihood
        self.prior_mean = float(prior_mean)
        self.prior_weight = float(prior_weight)
        self.prior_std = float(prior_std)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "likelihood": self.likelihood, "prior_mean": self.prior_mean,
                "prior_weight": self.prior_weight, "prior_std": self.prior_std}

    def _draw(self, arm: str, part: str) -> float:
        n, s, ss = self._decayed(arm, part)
        if self.likelihood == "beta":
            return self.rng.betavariate(1.0 + s, 1.0 + max(n - s, 0.0))
        w0 = self.prior_weight
        mean = (s + self.prior_mean * w0) / (n + w0)
        observed_var = max(ss / n - (s / n) ** 2, 0.0) if n > 1e-12 else 0.0
        var = (w0 * self.prior_std**2 + n * observed_var) / (w0 + n)
        return self.rng.gauss(mean, math.sqrt(max(var, 1e-6) / (n + w0)))

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        part = self.part(context)
        scores = {a: self._draw(a, part) for a in arms}
        arm = max(arms, key=scores.__getitem__)
        mean = self.mean(arm, part)
        shown = "none yet" if mean is None else f"{mean:.3f}"
        return Choice(arm, f"thompson: highest posterior draw {scores[arm]:.3f} "
                           f"(mean {shown})", scores)
