"""Router benchmark: learning strategies against the oracle on simulated backends with drift.

Five simulated backends have known quality (per task type, falling on long prompts for
small models), price per token and log-normal latency. Requests are a fixed mix of chat,
code, math and summarisation with log-normal lengths. Halfway through, the backend that
was best for most traffic ("balanced") degrades: quality -0.25, latency x1.5.

Every request goes through the real `Router` (features, decision, retry machinery); the
simulated judge score (expected quality + N(0, 0.08), clipped to 0..1) comes back through
`Router.feedback`, exactly as user or judge feedback would. All strategies see the same
requests and the same noise (common random numbers).

Definitions (all on *expected* rewards, i.e. pseudo-regret, so noise does not blur them):
- regret of a request = the oracle's expected reward (best backend for that request,
  knowing the true model) - the expected reward of the backend served.
- recovery_requests: after the drift, a pick is "good" when its expected reward is within
  0.01 of that of the best single backend after the drift (for the same request). Recovery
  is the number of requests after the drift until, for the first time, at least 80% of
  the last 50 picks were good (so 50 is the smallest possible value); null = never.
- cost_saved: 1 - cost / cost of always using the highest-quality backend, reported with
  quality_ratio = mean expected quality / that backend's; meets_95pct_quality says whether
  quality_ratio >= 0.95.

Also: the time the Router adds per request over calling a FakeModel directly
(router_overhead_vs_direct, target under 1 ms).

Usage: python benchmarks/router.py [--requests 5000] [--seeds 0 1 2] [--drift-at N]
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ProbeResult,
    StreamChunk,
    Usage,
)
from cerebra.models.sync_bridge import SyncBackendMixin
from cerebra.routing import RewardConfig, RewardWeights, RoutePolicy, Router
from cerebra.routing.reward import compute_reward

TASKS = {"chat": (0.45, 200), "code": (0.20, 400), "math": (0.10, 150), "summarize": (0.25, 1800)}
OUTPUT_TOKENS = 200
BACKENDS: dict[str, dict[str, Any]] = {  # quality per task, long-prompt penalty, $/token, ms
    "frontier": {"q": {"chat": .93, "code": .94, "math": .95, "summarize": .92}, "pen": .00,
                 "price": (5e-6, 15e-6), "latency": 1800},
    "balanced": {"q": {"chat": .89, "code": .83, "math": .86, "summarize": .89}, "pen": .03,
                 "price": (0.6e-6, 1.8e-6), "latency": 700},
    "coder": {"q": {"chat": .74, "code": .92, "math": .84, "summarize": .72}, "pen": .05,
              "price": (0.5e-6, 1.5e-6), "latency": 650},
    "small": {"q": {"chat": .82, "code": .55, "math": .50, "summarize": .83}, "pen": .20,
              "price": (0.1e-6, 0.3e-6), "latency": 300},
    "local": {"q": {"chat": .62, "code": .45, "math": .40, "summarize": .66}, "pen": .25,
              "price": (0.0, 0.0), "latency": 1500},
}
DRIFTING = "balanced"
LATENCY_SIGMA = 0.3
QUALITY_NOISE = 0.08
REWARD = RewardConfig(RewardWeights(quality=0.7, cost=0.2, latency=0.1),
                      cost_ceiling_usd=0.01, latency_ceiling_ms=5000.0)
QUALITY_FIRST = RewardConfig(RewardWeights(quality=0.9, cost=0.1, latency=0.0),
                             cost_ceiling_usd=0.01, latency_ceiling_ms=5000.0)
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "random": ("random", {}),
    "fixed_balanced": ("fixed", {"arm": "balanced"}),
    "weighted": ("weighted", {"weights": {"balanced": 3, "coder": 1, "small": 1}}),
    "epsilon_greedy": ("epsilon_greedy", {"epsilon": 0.05, "discount": 0.98, "by_task": True}),
    "ucb1": ("ucb1", {"c": 0.1, "discount": 0.98, "by_task": True}),
    "softmax": ("softmax", {"temperature": 0.02, "discount": 0.98, "by_task": True}),
    "thompson": ("thompson", {"discount": 0.98, "by_task": True}),
    "thompson_global": ("thompson", {"discount": 0.99}),
    "thompson_stationary": ("thompson", {"discount": 1.0, "by_task": True}),
    "linucb": ("linucb", {"alpha": 0.2, "discount": 0.995}),
    "linucb_stationary": ("linucb", {"alpha": 0.2, "discount": 1.0}),
}


def expected(backend: str, task: str, tokens: int, drifted: bool) -> tuple[float, float, float]:
    """True mean quality, cost (USD) and mean latency (ms) of a backend on a request."""
    spec = BACKENDS[backend]
    loglen = math.log1p(tokens) / math.log1p(4096)
    quality = spec["q"][task] - spec["pen"] * max(loglen - 0.6, 0.0) / 0.4
    latency = spec["latency"] * math.exp(LATENCY_SIGMA**2 / 2)
    if drifted and backend == DRIFTING:
        quality, latency = quality - 0.25, latency * 1.5
    cost = tokens * spec["price"][0] + OUTPUT_TOKENS * spec["price"][1]
    return quality, cost, latency


class World:
    """The request stream and the shared noise for one seed."""

    def __init__(self, seed: int, requests: int, drift_at: int,
                 reward: RewardConfig = REWARD) -> None:
        rng = random.Random(seed)
        names, weights = list(TASKS), [TASKS[t][0] for t in TASKS]
        self.drift_at = drift_at
        self.tasks = rng.choices(names, weights=weights, k=requests)
        self.tokens = [max(8, min(int(rng.lognormvariate(math.log(TASKS[t][1]), 0.6)), 8000))
                       for t in self.tasks]
        self.noise = [rng.gauss(0.0, QUALITY_NOISE) for _ in range(requests)]
        self.latency_noise = [rng.gauss(0.0, LATENCY_SIGMA) for _ in range(requests)]
        self.reward = reward
        self.rewards = [{b: compute_reward(*self._clip(expected(b, t, n, i >= drift_at)), reward)
                         for b in BACKENDS}
                        for i, (t, n) in enumerate(zip(self.tasks, self.tokens, strict=True))]
        self.best_after = max(BACKENDS, key=lambda b: sum(r[b] for r in self.rewards[drift_at:]))
        self.best_quality = max(BACKENDS, key=lambda b: sum(
            expected(b, t, n, i >= drift_at)[0]
            for i, (t, n) in enumerate(zip(self.tasks, self.tokens, strict=True))))

    @staticmethod
    def _clip(values: tuple[float, float, float]) -> tuple[float, float, float]:
        return min(max(values[0], 0.0), 1.0), values[1], values[2]


class SimBackend(SyncBackendMixin):
    """A backend that answers instantly but reports the simulated latency and usage."""

    def __init__(self, name: str, world: World) -> None:
        self.name, self.world, self.index = name, world, 0
        price = BACKENDS[name]["price"]
        self._caps = Capabilities(cost_per_input_token=price[0], cost_per_output_token=price[1])

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def generate(self, request: GenerationRequest) -> Generation:
        i = int(request.extra["sim_index"])
        _, _, latency = expected(self.name, self.world.tasks[i], self.world.tokens[i],
                                 i >= self.world.drift_at)
        median = latency / math.exp(LATENCY_SIGMA**2 / 2)
        return Generation(text="ok", model=self.name,
                          usage=Usage(self.world.tokens[i], OUTPUT_TOKENS),
                          latency_ms=median * math.exp(self.world.latency_noise[i]))

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        generation = self.generate(request)
        yield StreamChunk(generation.text, "stop", generation.usage)

    def probe(self) -> ProbeResult:
        return ProbeResult(True, 0.0, "ok")


def run_strategy(world: World, strategy: str, params: dict[str, Any], seed: int) -> dict[str, Any]:
    backends = [SimBackend(name, world) for name in BACKENDS]
    router = Router(backends, policy=RoutePolicy(strategy, params, reward=world.reward), seed=seed)
    regret, picks, route_s, feedback_s = [], [], 0.0, 0.0
    quality = cost = 0.0
    prompts = {n: "x" * (4 * n) for n in set(world.tokens)}
    for i, (task, tokens) in enumerate(zip(world.tasks, world.tokens, strict=True)):
        request = GenerationRequest(prompt=prompts[tokens], max_tokens=OUTPUT_TOKENS,
                                    extra={"task_type": task, "sim_index": i})
        t0 = time.perf_counter()
        routed = router.route(request)
        t1 = time.perf_counter()
        arm = routed.decision.served_by or ""
        q, c, _ = expected(arm, task, tokens, i >= world.drift_at)
        router.feedback(routed.decision.id, min(max(q + world.noise[i], 0.0), 1.0))
        feedback_s += time.perf_counter() - t1
        route_s += t1 - t0
        rewards = world.rewards[i]
        regret.append(max(rewards.values()) - rewards[arm])
        picks.append(arm)
        quality, cost = quality + q, cost + c
    return {"regret": regret, "picks": picks, "quality": quality, "cost": cost,
            "route_us": route_s / len(picks) * 1e6, "feedback_us": feedback_s / len(picks) * 1e6}


def recovery(world: World, picks: Sequence[str], window: int = 50,
             share: float = 0.8) -> int | None:
    good = []
    for i in range(world.drift_at, len(picks)):
        rewards = world.rewards[i]
        good.append(rewards[picks[i]] >= rewards[world.best_after] - 0.01)
        if len(good) >= window and sum(good[-window:]) >= share * window:
            return len(good)
    return None


def baseline_totals(world: World, backend: str) -> tuple[float, float]:
    q = c = 0.0
    for i, (t, n) in enumerate(zip(world.tasks, world.tokens, strict=True)):
        qi, ci, _ = expected(backend, t, n, i >= world.drift_at)
        q, c = q + qi, c + ci
    return q, c


def oracle_totals(world: World) -> tuple[float, float]:
    q = c = 0.0
    for i, (t, n) in enumerate(zip(world.tasks, world.tokens, strict=True)):
        best = max(world.rewards[i], key=world.rewards[i].__getitem__)
        qi, ci, _ = expected(best, t, n, i >= world.drift_at)
        q, c = q + qi, c + ci
    return q, c


def run(requests: int = 5000, seeds: Sequence[int] = (0, 1, 2), drift_at: int | None = None,
        names: Sequence[str] | None = None, reward: RewardConfig = REWARD) -> dict[str, Any]:
    drift = requests // 2 if drift_at is None else drift_at
    chosen = {k: STRATEGIES[k] for k in (names or STRATEGIES)}
    per: dict[str, list[dict[str, Any]]] = {k: [] for k in chosen}
    oracle: list[tuple[float, float]] = []
    for seed in seeds:
        world = World(seed, requests, drift, reward)
        best_q, best_c = baseline_totals(world, world.best_quality)
        oracle_q, oracle_c = oracle_totals(world)
        oracle.append((oracle_q / best_q, 1.0 - oracle_c / best_c))
        for key, (strategy, params) in chosen.items():
            out = run_strategy(world, strategy, params, seed)
            per[key].append({
                "regret": sum(out["regret"]),
                "regret_after_drift": sum(out["regret"][drift:]),
                "recovery": recovery(world, out["picks"]),
                "quality_ratio": out["quality"] / best_q,
                "cost_saved": 1.0 - out["cost"] / best_c,
                "route_us": out["route_us"], "feedback_us": out["feedback_us"],
            })
    random_regret = [r["regret"] for r in per.get("random", [])]
    results: dict[str, Any] = {}
    for key, runs in per.items():
        mean = lambda f, runs=runs: sum(r[f] for r in runs) / len(runs)  # noqa: E731
        recoveries = [r["recovery"] for r in runs]
        entry = {
            "strategy": chosen[key][0], "params": chosen[key][1],
            "cumulative_regret": round(mean("regret"), 2),
            "regret_after_drift": round(mean("regret_after_drift"), 2),
            "recovery_requests": {
                "mean": None if None in recoveries else sum(recoveries) / len(recoveries),
                "max": None if None in recoveries else max(recoveries), "per_seed": recoveries},
            "quality_ratio": round(mean("quality_ratio"), 4),
            "cost_saved": round(mean("cost_saved"), 4),
            "meets_95pct_quality": mean("quality_ratio") >= 0.95,
            "router_overhead_us": {"route": round(mean("route_us"), 1),
                                   "feedback": round(mean("feedback_us"), 1)},
        }
        if random_regret:
            ratios = [r["regret"] / b for r, b in zip(runs, random_regret, strict=True)]
            entry["regret_vs_random"] = round(sum(ratios) / len(ratios), 4)
            entry["regret_vs_random_max"] = round(max(ratios), 4)
        results[key] = entry
    world0 = World(seeds[0], requests, drift, reward)
    return {
        "benchmark": "router", "requests": requests, "seeds": list(seeds), "drift_at": drift,
        "drifting_backend": DRIFTING, "best_backend_after_drift": world0.best_after,
        "highest_quality_backend": world0.best_quality,
        "reward": reward.to_dict(),
        "oracle": {"quality_ratio": round(sum(o[0] for o in oracle) / len(oracle), 4),
                   "cost_saved": round(sum(o[1] for o in oracle) / len(oracle), 4)},
        "strategies": results,
    }


def headline(balanced: dict[str, Any], quality_first: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("thompson", "linucb"):
        main, qf = balanced["strategies"][key], quality_first["strategies"][key]
        worst = main["recovery_requests"]["max"]
        out[key] = {
            "regret_vs_random": main["regret_vs_random"],
            "regret_vs_random_worst_seed": main["regret_vs_random_max"],
            "recovery_requests_worst_seed": worst,
            "target_regret_le_0.2x_random": main["regret_vs_random_max"] <= 0.2,
            "target_recovery_le_300": worst is not None and worst <= 300,
            "quality_first_cost_saved": qf["cost_saved"],
            "quality_first_quality_ratio": qf["quality_ratio"],
            "quality_first_meets_95pct_quality": qf["meets_95pct_quality"],
        }
    return out


def overhead_vs_direct(n: int = 2000, warmup: int = 100) -> dict[str, Any]:
    """Time per request added by the Router over calling the same FakeModel directly
    (target: under 1 ms), in interleaved blocks so that machine noise hits both alike."""
    from cerebra.testing import FakeModel

    model = FakeModel(name="p")
    router = Router([model, FakeModel(name="q")], policy=RoutePolicy())
    request = GenerationRequest(prompt="Hello there", max_tokens=16)
    for _ in range(warmup):
        router.generate(request)
        model.generate(request)
    direct = routed = 0.0
    block = 100
    for _ in range(max(1, n // block)):
        start = time.perf_counter()
        for _ in range(block):
            model.generate(request)
        direct += time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(block):
            router.generate(request)
        routed += time.perf_counter() - start
    count = max(1, n // block) * block
    added_us = (routed - direct) / count * 1e6
    router.close()
    return {"requests": count, "direct_us": round(direct / count * 1e6, 1),
            "routed_us": round(routed / count * 1e6, 1), "added_us": round(added_us, 1),
            "target_added_lt_1000us": added_us < 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--drift-at", type=int, default=None)
    parser.add_argument("--strategies", nargs="+", default=None, choices=sorted(STRATEGIES))
    args = parser.parse_args()
    balanced = run(args.requests, args.seeds, args.drift_at, args.strategies)
    quality_first = run(args.requests, args.seeds, args.drift_at,
                        ["random", "thompson", "linucb"], reward=QUALITY_FIRST)
    report = {"headline": headline(balanced, quality_first) if args.strategies is None else None,
              "router_overhead_vs_direct": overhead_vs_direct(),
              "balanced_weights": balanced, "quality_first_weights": quality_first}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
