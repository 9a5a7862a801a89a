"""Router: a ModelBackend that picks one of its backends per request with a learning
strategy, retries with backoff, falls back along a chain, cools failing backends down,
records every decision with its reason, and learns from `feedback(decision_id, quality)`.

Policies apply by the request's context (`request.context`: tenant and agent). Each request
runs as a `FallbackBackend` over the plan's order (the pick first), whose hooks are the
router's retry, cooldown and learning rules (one attempt loop for all four paths, in
cerebra.models.fallback). The decision travels on the answer: `Generation.routing` and the
final `StreamChunk.routing` carry its id, strategy, pick, server, reason and attempts. The
hot path does no database I/O: decisions are queued to the store's background writer. This
module holds the public surface; planning, learning and outcome bookkeeping live in
`cerebra.routing.engine`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cerebra.errors import InvalidInput, NotFound
from cerebra.models.base import (
    Capabilities,
    Generation,
    GenerationRequest,
    ModelBackend,
    ProbeResult,
    StreamChunk,
)
from cerebra.models.fallback import FallbackBackend, default_should_fallback
from cerebra.routing.decisions import Decision
from cerebra.routing.engine import Plan, RouterEngine
from cerebra.routing.policy import CooldownPolicy, RetryPolicy, RoutePolicy
from cerebra.routing.reward import check_quality, compute_reward
from cerebra.routing.shared import RedisSharedState
from cerebra.routing.state import RouterStore


@dataclass(frozen=True)
class RoutedGeneration:
    generation: Generation
    decision: Decision


class Router(RouterEngine):
    """Routes requests over named backends; see the module docstring."""

    def __init__(
        self,
        backends: Sequence[ModelBackend],
        *,
        policy: RoutePolicy | None = None,
        retry: RetryPolicy | None = None,
        cooldown: CooldownPolicy | None = None,
        store: RouterStore | None = None,
        name: str = "router",
        quality_fn: Callable[[GenerationRequest, Generation], float] | None = None,
        failure_reward: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Any] = asyncio.sleep,
        seed: int | None = None,
        shared: RedisSharedState | None = None,
    ) -> None:
        super().__init__(
            backends, policy=policy or RoutePolicy(), retry=retry or RetryPolicy(),
            cooldown=cooldown or CooldownPolicy(), store=store, quality_fn=quality_fn,
            failure_reward=failure_reward, clock=clock, seed=seed, shared=shared,
        )
        self.name = name
        self._sleep = sleep
        self._async_sleep = async_sleep

    # -- ModelBackend ---------------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        caps = [b.capabilities for b in self.backends.values()]
        if not caps:
            return Capabilities()
        return Capabilities(
            streaming=any(c.streaming for c in caps),
            max_context=max(c.max_context for c in caps),
            tools=any(c.tools for c in caps),
            cost_per_input_token=max(c.cost_per_input_token for c in caps),
            cost_per_output_token=max(c.cost_per_output_token for c in caps),
        )

    def count_tokens(self, text: str) -> int:
        first = next(iter(self.backends.values()), None)
        return first.count_tokens(text) if first is not None else max(1, len(text) // 4)

    def generate(self, request: GenerationRequest) -> Generation:
        return self.route(request).generation

    async def agenerate(self, request: GenerationRequest) -> Generation:
        return (await self.aroute(request)).generation

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        return self._stream(request)

    def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        return self._astream(request)

    def probe(self) -> ProbeResult:
        start = time.perf_counter()
        results = {n: b.probe() for n, b in self.backends.items()}
        ok = any(r.ok for r in results.values())
        detail = "; ".join(f"{n}: {'ok' if r.ok else r.detail}" for n, r in results.items())
        return ProbeResult(ok, (time.perf_counter() - start) * 1000, detail or "no backends")

    # -- learning, inspection, persistence ----------------------------------------------
    def feedback(self, decision_id: str, quality: float) -> Decision:
        """Rate a served decision (quality 0..1); the bandit that chose learns the reward."""
        quality = check_quality(quality)
        decision = self.get_decision(decision_id)
        if decision is None:
            raise NotFound(f"unknown decision {decision_id!r}", field="decision_id")
        if not decision.ok or decision.served_by is None:
            raise InvalidInput("that request failed; there is no answer to rate",
                               field="decision_id")
        if decision.quality is not None:
            raise InvalidInput("this decision has feedback already", field="decision_id")
        policy, _ = self.resolve(decision.tenant_id, decision.agent_id)
        served = [a for a in decision.attempts if a.ok]
        latency = served[-1].latency_ms if served else decision.latency_ms
        reward = compute_reward(quality, decision.cost_usd, latency, policy.reward)
        decision.quality, decision.reward = quality, reward
        self._learn(decision, policy, decision.served_by, reward)
        if self.store is not None:
            self.store.enqueue_feedback(decision.id, quality, reward)
        return decision

    def get_decision(self, decision_id: str) -> Decision | None:
        found = self.log.get(decision_id)
        if found is None and self.store is not None:
            found = self.store.get_decision(decision_id)
            if found is not None:
                self.log.add(found)
        return found

    def decisions(self, *, tenant_id: str | None = None, agent_id: str | None = None,
                  limit: int = 50, offset: int = 0) -> list[Decision]:
        """Newest first; from the database when there is a store (all of history)."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("limit must be 1..1000 and offset >= 0", field="limit")
        if self.store is not None:
            self.store.flush()
            return self.store.list_decisions(tenant_id=tenant_id, agent_id=agent_id,
                                             limit=limit, offset=offset)
        found = self.log.recent(tenant_id=tenant_id, agent_id=agent_id, limit=limit + offset)
        return found[offset:]

    def arm_stats(self, tenant_id: str = "default", agent_id: str = "") -> dict[str, Any]:
        """The policy, the learning state and the health of each arm for one scope."""
        policy, scope = self.resolve(tenant_id, agent_id)
        bandit = self._bandit(tenant_id, scope, policy)
        with bandit.lock:
            stats = bandit.strategy.stats()
        health = self.health.snapshot()
        arms = [a for a in (policy.arms or self.backends) if a in self.backends]
        return {
            "tenant_id": tenant_id,
            "scope": scope,
            "strategy": policy.strategy,
            "policy": policy.to_dict(),
            "arms": [
                {
                    **(stats[a].to_dict() if a in stats
                       else {"arm": a, "pulls": 0, "weight": 0.0, "mean_reward": None}),
                    "health": health.get(a, {"cooling": False}),
                }
                for a in arms
            ],
        }

    def flush(self) -> None:
        """Write queued decisions and changed bandit state to the database now, and (with
        shared state) exchange updates with the other replicas now."""
        if self.store is not None:
            self.store.flush()
        if self.shared is not None:
            self.shared.sync(snapshots=True)

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
        if self.store is not None:
            self.store.close()

    # -- routing with the decision --------------------------------------------------------
    def _chain(self, plan: Plan) -> FallbackBackend:
        return FallbackBackend(
            self.chain_backends(plan),
            should_fallback=default_should_fallback,
            retry_delay=functools.partial(self.retry_delay, plan),
            observe=functools.partial(self.observe, plan),
            describe=functools.partial(self.describe, plan),
            attempt_timeout_s=self.retry.attempt_timeout_s,
            sleep=self._sleep,
            async_sleep=self._async_sleep,
            name=self.name,
        )

    def route(self, request: GenerationRequest) -> RoutedGeneration:
        """Generate, returning the decision object too (the answer carries its data)."""
        plan = self.plan(request)
        try:
            generation = self._chain(plan).generate(request)
        except Exception as exc:
            self.failed(plan, exc)
            raise
        self.served(plan, request, generation)
        return RoutedGeneration(generation, plan.decision)

    async def aroute(self, request: GenerationRequest) -> RoutedGeneration:
        plan = self.plan(request)
        try:
            generation = await self._chain(plan).agenerate(request)
        except Exception as exc:
            self.failed(plan, exc)
            raise
        self.served(plan, request, generation)
        return RoutedGeneration(generation, plan.decision)

    def _stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        plan = self.plan(request)
        pieces: list[str] = []
        try:
            for chunk in self._chain(plan).stream(request):
                pieces.append(chunk.text)
                if chunk.routing is not None:  # the last chunk: account before handing it on
                    self.served_stream(plan, request, chunk, "".join(pieces))
                yield chunk
        except Exception as exc:
            self.failed(plan, exc)
            raise

    async def _astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        plan = self.plan(request)
        pieces: list[str] = []
        try:
            async for chunk in self._chain(plan).astream(request):
                pieces.append(chunk.text)
                if chunk.routing is not None:
                    self.served_stream(plan, request, chunk, "".join(pieces))
                yield chunk
        except Exception as exc:
            self.failed(plan, exc)
            raise
