"""The limits guard: Brain's check of rate limits and budgets before dispatch.

`before` prices the request's worst case — the prompt's tokens (the messages, the persona
and the whole memory token budget when memories may be recalled, plus a few tokens of
chat template per message) and `max_tokens` at the price of the model asked for (a router
advertises its dearest member's) — and reserves it, with one request and those tokens, on
every limit of the caller and its tenant at once; the reservation travels on the query as
a typed annotation (`Held`). The caller's own limits: an API key's (stored on the key, over
the `key_*` defaults), or for a user signed in with a token or wallet the user's own stored
limits over the `key_*` defaults (`LimitStore.for_user`: all of its sign-ins together, so
signing in again starts nothing afresh); other principals (the CLI's local admin, auth off)
have only their tenant's. `settle` (Brain calls it on every path) replaces the holds by what
the answer cost — the same `Answer.cost_usd` the ledger records — or releases them when
there is no answer (an error, a refusal after this guard) or it was cancelled.

Budgets start from the ledger's spend (`LedgerSpend`) when the limiter first meets them, so a
restart does not reset them. When the limits store (Redis) is down, requests are refused
with 503 `limits_unavailable`, or let through unchecked with `limits.redis_fail_open`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cerebra.auth.limit_store import LimitStore
from cerebra.auth.limits import (
    NANO,
    Budget,
    Check,
    Limiter,
    Limits,
    LimitsUnavailable,
    Reservation,
    Window,
    period_bounds,
    period_range,
    to_nano,
)
from cerebra.exchange import Annotation, Answer, Query
from cerebra.guards import BaseGuard
from cerebra.models.cancellation import CANCELLED

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.config import Settings
    from cerebra.models.registry import ModelRegistry

log = logging.getLogger("cerebra.limits")

TEMPLATE_TOKENS = 8  # chat-template tokens per message (role markers, separators), at most


@dataclass(frozen=True, kw_only=True)
class Held(Annotation):
    """The annotation that carries a reservation from `before` to `settle`."""

    reservation: Reservation


@dataclass(frozen=True)
class Quote:
    """A request's worst case: tokens in and out, and their price in nano-dollars."""

    tokens: int
    cost: int


Quoter = Callable[[Query], Quote]


def registry_quoter(models: ModelRegistry, settings: Settings) -> Quoter:
    """Worst cases priced by the models of `models` (their advertised capabilities)."""

    def quote(query: Query) -> Quote:
        backend = models.get(query.model)
        texts: list[str] = ([m.content for m in query.messages] if query.messages is not None
                            else [*(m.content for m in query.history), query.prompt])
        if query.persona and not query.raw:
            texts.append(query.persona)
        prompt = backend.count_tokens("\n".join(texts)) + TEMPLATE_TOKENS * (len(texts) + 1)
        mem = settings.memory
        if query.memory and not query.raw and mem.enabled and mem.top_k > 0:
            prompt += mem.token_budget
        out = query.max_tokens or settings.generation.max_tokens
        caps = backend.capabilities
        cost = prompt * caps.cost_per_input_token + out * caps.cost_per_output_token
        return Quote(prompt + out, to_nano(cost))

    return quote


def checks_for(subject: str, name: str, limits: Limits, quote: Quote | None,
               now: float, *, tenant_id: str = "", owner: str = "") -> list[Check]:
    """The checks of one subject ("key", "user" or "tenant") named `name` (`tenant_id` and
    `owner`, the key or user id: whose spend the ledger sums for its budgets)."""
    checks: list[Check] = []
    if limits.requests_per_min:
        checks.append(Window(f"rpm:{subject}:{name}", limits.requests_per_min, 1, "requests",
                             subject))
    if quote is None:
        return checks
    if limits.tokens_per_min:
        checks.append(Window(f"tpm:{subject}:{name}", limits.tokens_per_min, quote.tokens,
                             "tokens", subject))
    periods: tuple[tuple[Literal["daily", "monthly"], float | None], ...] = (
        ("daily", limits.daily_budget), ("monthly", limits.monthly_budget))
    for period, usd in periods:
        if usd:
            pid, _ = period_bounds(now, period)
            starts, ends = period_range(now, period)
            checks.append(Budget(f"budget:{subject}:{name}:{pid}", to_nano(usd), quote.cost,
                                 period, ends, subject, starts, tenant_id, owner))
    return checks


def _needs_quote(limits: Limits) -> bool:
    return bool(limits.tokens_per_min or limits.daily_budget or limits.monthly_budget)


class LimitsGuard(BaseGuard):
    """Reserves the worst case on the key's and the tenant's limits; settles the real cost."""

    name = "limits"

    def __init__(self, limiter: Limiter, store: LimitStore, quote: Quoter, *,
                 hold_s: float = 3600.0, clock: Callable[[], float] = time.time,
                 fail_open: bool = False) -> None:
        """`hold_s`: how long a reservation holds before it lapses (its server died) —
        longer than any generation may take. `fail_open`: when the limiter's store cannot be
        reached, let the request through unchecked instead of refusing it (503)."""
        self.fail_open = fail_open
        self.limiter = limiter
        self.store = store
        self.quote = quote
        self.hold_s = hold_s
        self.clock = clock

    def before(self, query: Query) -> Query:
        principal = query.context.principal
        tenant = query.tenant_id
        subject, owner, own = "", "", Limits()
        if principal is not None and principal.kind == "key" and principal.credential_id:
            subject, owner = "key", principal.credential_id
            own = self.store.for_key(tenant, owner)
        elif principal is not None and principal.kind in ("token", "wallet"):
            subject, owner = "user", principal.user_id
            own = self.store.for_user(tenant, owner)
        tenant_limits = self.store.for_tenant(tenant)
        if tenant_limits.unlimited and own.unlimited:
            return query
        quote = (self.quote(query) if _needs_quote(tenant_limits) or _needs_quote(own)
                 else None)
        now = self.clock()
        checks = checks_for("tenant", tenant, tenant_limits, quote, now, tenant_id=tenant)
        if subject:
            checks += checks_for(subject, f"{tenant}:{owner}", own, quote, now,
                                 tenant_id=tenant, owner=owner)
        if not checks:
            return query
        try:
            reservation = self.limiter.reserve(checks, now=now, hold_s=self.hold_s)
        except LimitsUnavailable:
            if not self.fail_open:
                raise
            log.warning("limits store unreachable: a request of tenant %r let through "
                        "unchecked (limits.redis_fail_open)", tenant)
            return query
        cost = "" if quote is None else f", up to ${quote.cost / NANO:.6f}"
        held = Held(source=self.name, message=f"reserved {len(checks)} limits{cost}",
                    reservation=reservation)
        return query.annotated(held)

    def settle(self, query: Query, answer: Answer | None) -> None:
        for note in query.annotations:
            if not isinstance(note, Held) or note.source != self.name:
                continue
            now = self.clock()
            if answer is None or answer.finish_reason == CANCELLED:
                self.limiter.release(note.reservation, now=now)
            else:
                self.limiter.settle(note.reservation, tokens=answer.usage.total_tokens,
                                    cost=to_nano(answer.cost_usd), now=now)

    def close(self) -> None:
        self.limiter.close()


def build_limits_guard(settings: Settings, engine: Engine,
                       models: ModelRegistry) -> LimitsGuard | None:
    """The guard the `limits` settings ask for (None when they are off): Redis-backed when
    `redis.url` is set, in-process otherwise."""
    s = settings.limits
    if not s.enabled:
        return None
    key = Limits(s.key_requests_per_min, s.key_tokens_per_min, s.key_daily_budget,
                 s.key_monthly_budget)
    tenant = Limits(s.tenant_requests_per_min, s.tenant_tokens_per_min, s.tenant_daily_budget,
                    s.tenant_monthly_budget)
    store = LimitStore(engine, key_defaults=key.over(Limits()),
                       tenant_defaults=tenant.over(Limits()), cache_s=s.cache_s)
    from cerebra.auth.limits_ledger import LedgerSpend

    limiter: Limiter
    if settings.redis.url:
        from cerebra.auth.limits_redis import RedisLimiter

        limiter = RedisLimiter(settings.redis.url, seeder=LedgerSpend(engine))
    else:
        from cerebra.auth.limits import InProcessLimiter

        limiter = InProcessLimiter(seeder=LedgerSpend(engine))
    timeout = settings.generation.timeout_s
    hold_s = 3600.0 if not timeout else max(300.0, 2 * timeout)
    return LimitsGuard(limiter, store, registry_quoter(models, settings), hold_s=hold_s,
                       fail_open=s.redis_fail_open)
