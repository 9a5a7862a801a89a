"""LinUCB: a contextual bandit that learns each backend's reward as a linear function of
prompt features (length, task type, turns) and adds an upper-confidence bonus.

Disjoint model per arm, ridge-regularised, with the discounted update of D-LinUCB (Russac
et al., 2019): A <- g*A + (1-g)*ridge*I + x x^T and b <- g*b + (r - prior) x, applied
lazily per arm. Rewards are centred on `prior_mean`, so an arm whose evidence has faded
drifts back to "unknown, average" (plus its bonus) and is explored again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cerebra.errors import InvalidInput
from cerebra.routing.bandits import Choice, CountingStrategy, _require_arms
from cerebra.routing.features import PromptFeatures


class LinUCB(CountingStrategy):
    """Contextual upper-confidence routing on `PromptFeatures.vector()`."""

    name = "linucb"

    def __init__(self, alpha: float = 0.25, ridge: float = 1.0, prior_mean: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if alpha < 0 or ridge <= 0:
            raise InvalidInput("alpha must be >= 0 and ridge > 0", field="alpha")
        self.alpha = float(alpha)
        self.ridge = float(ridge)
        self.prior_mean = float(prior_mean)
        self.dim = PromptFeatures.dimension()
        self._models: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}  # A, b, last step
        self._inverse: dict[str, np.ndarray] = {}  # cache of A^-1 at the arm's last step

    def params(self) -> dict[str, Any]:
        return {**super().params(), "alpha": self.alpha, "ridge": self.ridge,
                "prior_mean": self.prior_mean}

    def _vector(self, context: PromptFeatures | None) -> np.ndarray:
        if context is None:
            x = np.zeros(self.dim)
            x[0] = 1.0
            return x
        return context.vector()

    def _model(self, arm: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A, b and A^-1 for an arm, decayed to the current step."""
        rec = self._models.get(arm)
        if rec is None:
            eye = np.eye(self.dim) * self.ridge
            return eye, np.zeros(self.dim), np.eye(self.dim) / self.ridge
        a, b, last = rec
        if last != self._step and self.discount < 1.0:
            g = self.discount ** (self._step - last)
            a = g * a + (1.0 - g) * self.ridge * np.eye(self.dim)
            b = g * b
            self._models[arm] = (a, b, self._step)
            self._inverse.pop(arm, None)
        inv = self._inverse.get(arm)
        if inv is None:
            inv = np.linalg.inv(a)
            self._inverse[arm] = inv
        return a, b, inv

    def select(self, arms: Sequence[str], context: PromptFeatures | None = None) -> Choice:
        _require_arms(arms)
        first = self._first_untried(arms, "")
        if first:
            return first
        x = self._vector(context)
        scores: dict[str, float] = {}
        detail: dict[str, tuple[float, float]] = {}
        for arm in arms:
            _, b, inv = self._model(arm)
            theta = inv @ b
            estimate = self.prior_mean + float(theta @ x)
            bonus = self.alpha * float(np.sqrt(max(x @ inv @ x, 0.0)))
            scores[arm] = estimate + bonus
            detail[arm] = (estimate, bonus)
        arm = max(arms, key=scores.__getitem__)
        estimate, bonus = detail[arm]
        task = context.task if context else "unknown"
        return Choice(arm, f"linucb: highest upper bound {scores[arm]:.3f} for task={task} "
                           f"(estimate {estimate:.3f} + bonus {bonus:.3f})", scores)

    def update(self, arm: str, reward: float, context: PromptFeatures | None = None) -> None:
        super().update(arm, reward, context)  # advances the step, keeps per-arm stats
        a, b, _ = self._model(arm)
        x = self._vector(context)
        self._models[arm] = (a + np.outer(x, x), b + (reward - self.prior_mean) * x, self._step)
        self._inverse.pop(arm, None)

    def state(self) -> dict[str, Any]:
        out = super().state()
        out["models"] = {arm: {"A": a.tolist(), "b": b.tolist(), "step": last}
                         for arm, (a, b, last) in self._models.items()}
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        super().load_state(state)
        models: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        try:
            for arm, rec in state.get("models", {}).items():
                a = np.asarray(rec["A"], dtype=np.float64)
                b = np.asarray(rec["b"], dtype=np.float64)
                if a.shape != (self.dim, self.dim) or b.shape != (self.dim,):
                    raise ValueError(f"arm {arm}: feature dimension changed")
                models[str(arm)] = (a, b, int(rec["step"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"corrupt LinUCB state: {exc}", field="state") from exc
        self._models = models
        self._inverse = {}
