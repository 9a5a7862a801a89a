"""Judging benchmark: Bradley–Terry rating recovery, interval coverage and active sampling
on simulated contestants (and, in its own section, the judges' agreement figures).

Simulation: 8 contestants with known strengths θ evenly spaced over [-1.75, 1.75]
(adjacent ones 0.5 apart: the stronger wins 62 % of their games), outcomes drawn from the
Bradley–Terry model itself, P(a beats b) = σ(θ_a − θ_b). The fits are the library's
(`cerebra.judging.ratings.fit`); the truth is centred like the fit (mean zero).

- rating_recovery: pairs drawn uniformly; Kendall's tau of the fitted ratings against the
  truth after 100 / 250 / 500 comparisons (mean and worst over the seeds; target ≥ 0.9
  at 500), and the share of true strengths inside the 95 % bootstrap intervals (over all
  contestants and seeds; target ≥ 0.9).
- active_sampling: the same, once with uniform pairs and once with `next_pair` choosing
  each comparison from the ratings fitted so far (refitted after every comparison,
  normal-approximation covariance). Reported: how many comparisons each needs for its mean
  tau (over the seeds, checked every `--step`) to reach a target tau — the tau uniform
  sampling reaches on average after `--budget` comparisons (the headline), and 0.90 and
  0.95 — and the saving 1 − active / uniform (target ≥ 0.3).
- judge_agreement: the judges' position-swap agreement and agreement with a checker — the
  section `judge_agreement()` below, filled by the judges' part of the project.

Usage: python benchmarks/judge.py [--seeds 20] [--boot 200] [--budget 500] [--step 10]
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cerebra.judging.ratings import Comparison, Outcome, fit, kendall_tau, next_pair

K = 8
TRUE = np.linspace(-1.75, 1.75, K)
NAMES = [f"c{i}" for i in range(K)]
CHECKPOINTS = (100, 250, 500)

Chooser = Callable[[list[Comparison], np.random.Generator], tuple[int, int]]


def play(i: int, j: int, rng: np.random.Generator) -> Comparison:
    p = 1.0 / (1.0 + np.exp(-(TRUE[i] - TRUE[j])))
    return Comparison(NAMES[i], NAMES[j], Outcome.A if rng.random() < p else Outcome.B)


def uniform(_: list[Comparison], rng: np.random.Generator) -> tuple[int, int]:
    i, j = rng.choice(K, size=2, replace=False)
    return int(i), int(j)


def active(done: list[Comparison], rng: np.random.Generator) -> tuple[int, int]:
    ratings = fit(done, NAMES, n_boot=0)
    a, b = next_pair(ratings, rng)
    i, j = NAMES.index(a), NAMES.index(b)
    return (i, j) if rng.random() < 0.5 else (j, i)


def tau_of(comparisons: list[Comparison]) -> float:
    ratings = fit(comparisons, NAMES, n_boot=0)
    theta = {r.contestant: r.theta for r in ratings.ratings}
    return kendall_tau([theta[n] for n in NAMES], TRUE)


def run(chooser: Chooser, n: int, seed: int) -> list[Comparison]:
    rng = np.random.default_rng(seed)
    done: list[Comparison] = []
    for _ in range(n):
        i, j = chooser(done, rng)
        done.append(play(i, j, rng))
    return done


def rating_recovery(seeds: int, n_boot: int) -> dict[str, Any]:
    taus: dict[int, list[float]] = {n: [] for n in CHECKPOINTS}
    inside: dict[int, list[bool]] = {n: [] for n in CHECKPOINTS}
    width: dict[int, list[float]] = {n: [] for n in CHECKPOINTS}
    truth = dict(zip(NAMES, TRUE - TRUE.mean(), strict=True))
    for seed in range(seeds):
        comparisons = run(uniform, max(CHECKPOINTS), seed)
        for n in CHECKPOINTS:
            ratings = fit(comparisons[:n], NAMES, n_boot=n_boot, seed=seed)
            theta = {r.contestant: r.theta for r in ratings.ratings}
            taus[n].append(kendall_tau([theta[c] for c in NAMES], TRUE))
            for r in ratings.ratings:
                inside[n].append(r.low <= truth[r.contestant] <= r.high)
                width[n].append(r.high - r.low)
    return {
        "contestants": K, "true_theta": [round(float(t), 3) for t in TRUE],
        "seeds": seeds, "bootstrap_resamples": n_boot, "level": 0.95,
        "by_comparisons": {
            str(n): {
                "kendall_tau_mean": round(float(np.mean(taus[n])), 4),
                "kendall_tau_min": round(float(np.min(taus[n])), 4),
                "interval_coverage": round(float(np.mean(inside[n])), 4),
                "interval_width_mean_elo": round(float(np.mean(width[n])) * 400 / np.log(10), 1),
            } for n in CHECKPOINTS
        },
        "meets_tau_target_at_500": bool(np.mean(taus[500]) >= 0.9),
        "meets_coverage_target": bool(min(np.mean(inside[n]) for n in CHECKPOINTS) >= 0.9),
    }


def _curve(chooser: Chooser, seeds: int, budget: int, step: int) -> dict[int, float]:
    points = list(range(step, budget + 1, step))
    taus: dict[int, list[float]] = {n: [] for n in points}
    for seed in range(seeds):
        comparisons = run(chooser, budget, 10_000 + seed)
        for n in points:
            taus[n].append(tau_of(comparisons[:n]))
    return {n: float(np.mean(v)) for n, v in taus.items()}


def _needed(curve: dict[int, float], target: float) -> int | None:
    return next((n for n, tau in sorted(curve.items()) if tau >= target - 1e-12), None)


def active_sampling(seeds: int, budget: int, step: int) -> dict[str, Any]:
    started = time.perf_counter()
    flat = _curve(uniform, seeds, budget, step)
    smart = _curve(active, seeds, budget, step)
    targets = {"uniform_at_budget": flat[budget], "0.90": 0.9, "0.95": 0.95}
    needed: dict[str, Any] = {}
    for name, target in targets.items():
        n_uniform, n_active = _needed(flat, target), _needed(smart, target)
        saving = (None if n_uniform is None or n_active is None
                  else round(1 - n_active / n_uniform, 3))
        needed[name] = {"tau": round(target, 4), "uniform": n_uniform, "active": n_active,
                        "saving": saving}
    headline = needed["uniform_at_budget"]["saving"]
    shown = [n for n in flat if n in (50, 100, 150, 200, 250, 300, 400, 500) or n == budget]
    return {
        "seeds": seeds, "budget": budget, "step": step,
        "comparisons_to_reach": needed,
        "saving (at the tau uniform pairs reach after the budget)": headline,
        "meets_target": headline is not None and headline >= 0.3,
        "mean_tau": {"uniform": {str(n): round(flat[n], 4) for n in shown},
                     "active": {str(n): round(smart[n], 4) for n in shown}},
        "seconds": round(time.perf_counter() - started, 1),
    }


# ---------------------------------------------------------------------------------------
# Judge agreement (the judges' part of issue 10): position-swap agreement of each local model
# as a judge on a fixed prompt set, and its agreement with a checker judge on tasks with
# known answers — measured in benchmarks/judge_agreement.py (it loads the local models).
# ---------------------------------------------------------------------------------------
def judge_agreement(args: argparse.Namespace) -> dict[str, Any] | None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from judge_agreement import judge_agreement as measure

    return measure()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples")
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--skip-judges", action="store_true",
                        help="only the simulated rating sections (no models)")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "rating_recovery": rating_recovery(args.seeds, args.boot),
        "active_sampling": active_sampling(args.seeds, args.budget, args.step),
    }
    if not args.skip_judges:
        report["judge_agreement"] = judge_agreement(args)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
