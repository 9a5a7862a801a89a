"""The router's bookkeeping, apart from the request paths in router.py: backends, policies
per tenant/agent (from the request's context), one bandit per (tenant, scope), planning a
request (pick + fallback order), the hooks of its fallback chain (health, retries, learning
from failures), and outcomes (cost, reward, the decision log; the decision onto the answer).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cerebra.errors import (
    BackendError,
    CerebraError,
    InvalidInput,
    NotFound,
    Overloaded,
    PromptTooLong,
)
from cerebra.models.base import (
    Attempt,
    Generation,
    GenerationRequest,
    ModelBackend,
    RoutingResult,
    StreamChunk,
    Usage,
)
from cerebra.models.fallback import ChainFailed, StreamBroken, describe
from cerebra.models.prompt_format import completion_prompt
from cerebra.routing.bandits import Strategy
from cerebra.routing.decisions import Decision, DecisionLog
from cerebra.routing.features import PromptFeatures, extract_features
from cerebra.routing.health import BackendHealth
from cerebra.routing.policy import ANY, CooldownPolicy, RetryPolicy, RoutePolicy, policy_keys
from cerebra.routing.registry import make_strategy, strategy_from_state
from cerebra.routing.reward import check_quality, compute_reward
from cerebra.routing.state import RouterStore, StateRow

if TYPE_CHECKING:
    from cerebra.routing.shared import RedisSharedState
    from cerebra.routing.shared_link import SharedLink

log = logging.getLogger(__name__)


def _signature(name: str, params: Mapping[str, Any]) -> str:
    return name + json.dumps({k: v for k, v in params.items() if k != "seed"},
                             sort_keys=True, default=str)


@dataclass
class _Bandit:
    strategy: Strategy
    signature: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    dirty: bool = False
    link: SharedLink | None = None  # its side of the exchange between replicas


@dataclass
class Plan:
    """One request in flight: its decision, the order to try backends, and context."""

    decision: Decision
    order: list[str]
    features: PromptFeatures
    policy: RoutePolicy
    entered_cooldown: bool = False  # whether the last failure sent its backend to cool down
    started: float = field(default_factory=time.perf_counter)


def _classify(exc: Exception) -> tuple[str, float | None]:
    """("fatal" | "skip" | "retry" | "fallback", retry_after) for a backend exception."""
    if isinstance(exc, BackendError):
        return ("retry" if exc.retryable else "fallback"), exc.retry_after
    if isinstance(exc, PromptTooLong):
        return "skip", None  # too long for this backend; another may have a larger context
    if isinstance(exc, CerebraError):
        return "fatal", None  # the request itself is wrong: no backend will do better
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return "retry", None
    return "fallback", None


class RouterEngine:
    """State and bookkeeping shared by the sync and async request paths."""

    def __init__(self, backends: Sequence[ModelBackend], *, policy: RoutePolicy,
                 retry: RetryPolicy, cooldown: CooldownPolicy, store: RouterStore | None,
                 quality_fn: Callable[[GenerationRequest, Generation], float] | None,
                 failure_reward: float, clock: Callable[[], float], seed: int | None,
                 shared: RedisSharedState | None = None) -> None:
        self.backends: dict[str, ModelBackend] = {}
        for backend in backends:
            self.add_backend(backend)
        self.retry = retry
        self.health = BackendHealth(cooldown, clock)
        self.store = store
        self.log = DecisionLog()
        self.quality_fn = quality_fn
        self.failure_reward = check_quality(failure_reward)
        self._seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._policies: dict[tuple[str, str], RoutePolicy] = {(ANY, ANY): policy}
        self._bandits: dict[tuple[str, str], _Bandit] = {}
        self._signatures: dict[int, tuple[RoutePolicy, str]] = {}
        if store is not None:
            store.set_state_source(self._dirty_states)
            for tenant, _, scope, data in store.load_kind("policy"):
                try:
                    self._policies[(tenant, scope)] = RoutePolicy.from_dict(data)
                except CerebraError as exc:
                    log.warning("router: stored policy %s/%s ignored: %s", tenant, scope, exc)
        self.shared = shared
        if shared is not None:
            shared.bind(self.health, self._apply_shared_policy)

    # -- backends and policies ------------------------------------------------------------
    def add_backend(self, backend: ModelBackend, *, replace: bool = False) -> None:
        if backend.name in self.backends and not replace:
            raise InvalidInput(f"backend {backend.name!r} is already registered", field="name")
        self.backends[backend.name] = backend

    def remove_backend(self, name: str) -> None:
        if self.backends.pop(name, None) is None:
            raise NotFound(f"unknown backend {name!r}", field="name")

    def set_policy(self, policy: RoutePolicy | Mapping[str, Any], *, tenant_id: str = ANY,
                   agent_id: str = ANY) -> RoutePolicy:
        """Set the policy for a tenant and/or agent ("*" = any); persisted when a store is set."""
        if not isinstance(policy, RoutePolicy):
            policy = RoutePolicy.from_dict(policy)
        for fname, names in (("arms", policy.arms), ("fallback", policy.fallback or ())):
            unknown = [n for n in names if n not in self.backends]
            if unknown:
                raise InvalidInput(f"unknown backends in {fname}: {', '.join(unknown)}; known: "
                                   f"{', '.join(self.backends)}", field=fname)
        with self._lock:
            self._policies[(tenant_id or ANY, agent_id or ANY)] = policy
        if self.store is not None:
            self.store.save_states([(tenant_id or ANY, "policy", agent_id or ANY,
                                     policy.to_dict())])
        if self.shared is not None:
            self.shared.publish_policy(tenant_id or ANY, agent_id or ANY, policy.to_dict())
        return policy

    def delete_policy(self, *, tenant_id: str = ANY, agent_id: str = ANY) -> None:
        key = (tenant_id or ANY, agent_id or ANY)
        if key == (ANY, ANY):
            raise InvalidInput("the default policy can be replaced, not deleted", field="tenant_id")
        with self._lock:
            if self._policies.pop(key, None) is None:
                raise NotFound(f"no policy for tenant {key[0]!r}, agent {key[1]!r}",
                               field="agent_id")
        if self.store is not None:
            self.store.delete_state(key[0], "policy", key[1])
        if self.shared is not None:
            self.shared.publish_policy(key[0], key[1], None)

    def _apply_shared_policy(self, tenant_id: str, agent_id: str,
                             data: Mapping[str, Any] | None) -> None:
        """A policy set (or deleted, `data` None) on another replica."""
        key = (tenant_id, agent_id)
        if data is None:
            if key != (ANY, ANY):
                with self._lock:
                    self._policies.pop(key, None)
                if self.store is not None:
                    self.store.delete_state(tenant_id, "policy", agent_id)
            return
        policy = RoutePolicy.from_dict(data)
        with self._lock:
            self._policies[key] = policy
        if self.store is not None:
            self.store.save_states([(tenant_id, "policy", agent_id, policy.to_dict())])

    def policies(self) -> list[dict[str, Any]]:
        return [{"tenant_id": t, "agent_id": a, "policy": p.to_dict()}
                for (t, a), p in sorted(self._policies.items())]

    def resolve(self, tenant_id: str, agent_id: str) -> tuple[RoutePolicy, str]:
        """The policy that applies and the scope whose bandit learns ("*" = tenant-wide)."""
        for key in policy_keys(tenant_id, agent_id):
            policy = self._policies.get(key)
            if policy is not None:
                return policy, key[1]
        raise AssertionError("the default policy is always present")  # pragma: no cover

    # -- bandits ------------------------------------------------------------------------
    def _policy_signature(self, policy: RoutePolicy) -> str:
        """The strategy name and its full parameters (defaults filled in), cached per policy."""
        cached = self._signatures.get(id(policy))
        if cached is not None and cached[0] is policy:
            return cached[1]
        strategy = make_strategy(policy.strategy, policy.params)
        sig = _signature(policy.strategy, strategy.state().get("params") or {})
        self._signatures[id(policy)] = (policy, sig)
        return sig

    def _bandit(self, tenant_id: str, scope: str, policy: RoutePolicy) -> _Bandit:
        key, sig = (tenant_id, scope), self._policy_signature(policy)
        bandit = self._bandits.get(key)
        if bandit is not None and bandit.signature == sig:
            return bandit
        with self._lock:
            bandit = self._bandits.get(key)
            if bandit is not None and bandit.signature == sig:
                return bandit
            strategy: Strategy | None = None
            if bandit is None and self.store is not None:
                saved = self.store.load_state(tenant_id, "bandit", scope)
                if saved and _signature(str(saved.get("name")), saved.get("params") or {}) == sig:
                    try:
                        strategy = strategy_from_state(saved)
                    except CerebraError as exc:
                        log.warning("router: saved state %s/%s ignored: %s", *key, exc)
            if strategy is None:
                params = dict(policy.params)
                if self._seed is not None and policy.strategy != "fixed":
                    params.setdefault("seed", self._seed)
                strategy = make_strategy(policy.strategy, params)
            bandit = _Bandit(strategy, sig)
            if self.shared is not None:
                bandit.link = self.shared.follow(tenant_id, scope, sig, bandit)
            self._bandits[key] = bandit
        if bandit.link is not None and self.shared is not None:
            self.shared.load(bandit.link)  # outside self._lock: the exchange thread takes it
        return bandit

    def _learn(self, decision: Decision, policy: RoutePolicy, arm: str, reward: float) -> None:
        bandit = self._bandit(decision.tenant_id, decision.scope, policy)
        features = PromptFeatures(**decision.features)
        with bandit.lock:
            bandit.strategy.update(arm, reward, features)
            bandit.dirty = True
            if bandit.link is not None:
                bandit.link.record(arm, reward, decision.features)

    def _dirty_states(self) -> list[StateRow]:
        rows: list[StateRow] = []
        for (tenant_id, scope), bandit in list(self._bandits.items()):
            if bandit.dirty:
                with bandit.lock:
                    bandit.dirty = False
                    rows.append((tenant_id, "bandit", scope, bandit.strategy.state()))
        return rows

    # -- one request --------------------------------------------------------------------
    def plan(self, request: GenerationRequest) -> Plan:
        tenant_id = request.context.tenant_id
        agent_id = request.context.agent_id
        policy, scope = self.resolve(tenant_id, agent_id)
        arms = [a for a in (policy.arms or self.backends) if a in self.backends]
        if not arms:
            raise BackendError("no backend is registered for this route", retryable=False)
        available, note = self.health.available(arms), ""
        if not available:
            available = self.health.soonest(arms)
            note = "; every backend is cooling down, trying the soonest to recover first"
        features = extract_features(request)
        bandit = self._bandit(tenant_id, scope, policy)
        with bandit.lock:
            choice = bandit.strategy.select(available, features)
        chain = [a for a in (policy.fallback or ()) if a in available]
        by_score = sorted(available, key=lambda a: -choice.scores.get(a, float("-inf")))
        order = list(dict.fromkeys([choice.arm, *chain, *by_score]))
        cooling = [a for a in arms if self.health.is_cooling(a)]
        if cooling and not note:
            note = f"; cooling down: {', '.join(cooling)}"
        decision = Decision(tenant_id, agent_id, scope, policy.strategy, choice.arm,
                            choice.reason + note, features.to_dict(), order)
        return Plan(decision, order, features, policy)

    def chain_backends(self, plan: Plan) -> list[ModelBackend]:
        """The backends of the plan's order that are still registered."""
        return [b for b in (self.backends.get(n) for n in plan.order) if b is not None]

    # hooks of the plan's fallback chain (cerebra.models.fallback), in the order it calls them
    def observe(self, plan: Plan, attempt: Attempt, exc: Exception | None) -> None:
        """Every attempt: into the decision, and into the backend's health."""
        plan.decision.attempts.append(attempt)
        name = attempt.backend
        if exc is None:
            self.health.record_success(name)
        elif isinstance(exc, StreamBroken):
            self.health.record_failure(name, attempt.error)
            self._learn(plan.decision, plan.policy, name, self.failure_reward)
        elif _classify(exc)[0] in ("retry", "fallback"):
            plan.entered_cooldown = self.health.record_failure(name, describe(exc),
                                                               _classify(exc)[1])

    def retry_delay(self, plan: Plan, name: str, exc: Exception, attempt: int) -> float | None:
        """After a failure that falls back: the pause before retrying `name`, or None to move
        on (the bandit then learns the failure)."""
        kind, retry_after = _classify(exc)
        if kind == "skip":
            return None
        if kind == "retry" and (retry_after is not None or not plan.entered_cooldown):
            delay = self.retry.delay(attempt, retry_after, self._rng)
            if delay is not None:
                return delay
        self._learn(plan.decision, plan.policy, name, self.failure_reward)
        return None

    def describe(self, plan: Plan, served_by: str, attempts: tuple[Attempt, ...]) -> RoutingResult:
        """The result the chain puts on the answer: the decision, as data."""
        d = plan.decision
        return RoutingResult(served_by, attempts, decision_id=d.id, strategy=d.strategy,
                             chosen=d.arm, reason=d.reason)

    def served(self, plan: Plan, request: GenerationRequest, generation: Generation) -> None:
        """Account for an answer (cost, quality, reward; the decision logged)."""
        d = plan.decision
        name = d.attempts[-1].backend if d.attempts else generation.model
        latency = d.attempts[-1].latency_ms if d.attempts else generation.latency_ms
        caps = self.backends[name].capabilities if name in self.backends else None
        usage = generation.usage
        d.served_by, d.ok = name, True
        d.prompt_tokens, d.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        if caps is not None:
            d.cost_usd = caps.cost(usage)
        if self.quality_fn is not None:
            quality = check_quality(self.quality_fn(request, generation))
            d.quality = quality
            d.reward = compute_reward(quality, d.cost_usd, latency, plan.policy.reward)
            self._learn(d, plan.policy, name, d.reward)
        self._finish(plan)

    def served_stream(self, plan: Plan, request: GenerationRequest, final: StreamChunk,
                      text: str) -> None:
        """Account for a completed stream, as `served`."""
        name = final.routing.served_by if final.routing is not None else None
        name = name or (plan.decision.attempts[-1].backend if plan.decision.attempts else "")
        usage = final.usage
        if usage is None:
            backend = self.backends.get(name)
            prompt, _ = completion_prompt(request)
            count = backend.count_tokens if backend is not None else _rough_tokens
            usage = Usage(count(prompt), count(text))
        generation = Generation(text=text, model=name, usage=usage, tool_calls=final.tool_calls)
        self.served(plan, request, generation)

    def failed(self, plan: Plan, exc: BaseException) -> None:
        """Log the decision of a request that ends with `exc`."""
        if isinstance(exc, PromptTooLong):
            self._finish(plan, error="prompt too long for every backend")
        elif isinstance(exc, Overloaded):
            self._finish(plan, error=f"all backends busy: {exc}")
        elif isinstance(exc, ChainFailed | StreamBroken):
            self._finish(plan, error=str(exc))
        else:
            self._finish(plan, error=describe(exc))

    def _finish(self, plan: Plan, error: str = "") -> None:
        d = plan.decision
        d.error = error
        d.latency_ms = (time.perf_counter() - plan.started) * 1000
        self.log.add(d)
        if self.store is not None:
            self.store.enqueue_decision(d)


def _rough_tokens(text: str) -> int:
    return max(1, len(text) // 4)
