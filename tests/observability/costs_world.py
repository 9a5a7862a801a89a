"""Helpers of the cost ledger's tests: seeded interaction records spread over tenants, days,
models, keys, users and agents, and the rollups as a direct GROUP BY over the interactions
(SQL of its own: the day from the database's date functions, not the ledger's Python)."""

from __future__ import annotations

import random
import uuid
from typing import Any

from sqlalchemy import Engine, select, text

from cerebra.db.cost_tables import cost_rollups
from cerebra.observability.ledger import InteractionRecord

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21, a UTC day's middle-ish


def records(n: int, seed: int = 0, *, tenants: tuple[str, ...] = ("default",),
            days: int = 5, start: float = T0) -> list[InteractionRecord]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt, completion = rng.randint(1, 400), rng.randint(1, 200)
        model = rng.choice(["big", "small", "mid"])
        price = {"big": 3e-5, "small": 1e-6, "mid": 5e-6}[model]
        out.append(InteractionRecord(
            trace_id=uuid.uuid4().hex, tenant_id=rng.choice(tenants), endpoint="query",
            model=model, prompt="p", rendered_prompt="p", response="r",
            prompt_tokens=prompt, completion_tokens=completion, latency_ms=1.0,
            user_id=rng.choice(["", "ana", "bo"]), agent_id=rng.choice(["", "scout"]),
            credential_id=rng.choice(["", "k1", "k2"]),
            created_at=start + rng.uniform(0, days * DAY),
            cost_usd=price * (prompt + completion)))
    return out


_DIMS = {"total": "''", "model": "model", "key": "credential_id", "user": "user_id",
         "agent": "agent_id"}


def direct(engine: Engine) -> dict[tuple[str, str, str, str], tuple[float, ...]]:
    """The rollups computed from scratch with GROUP BY over the interactions."""
    day = ("to_char(to_timestamp(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
           if engine.dialect.name == "postgresql"
           else "strftime('%Y-%m-%d', created_at, 'unixepoch')")
    out: dict[tuple[str, str, str, str], tuple[float, ...]] = {}
    with engine.connect() as conn:
        for dim, col in _DIMS.items():
            rows = conn.execute(text(
                f"SELECT tenant_id, {day} AS d, {col} AS k, SUM(cost_usd), COUNT(*),"
                " SUM(prompt_tokens), SUM(completion_tokens), COUNT(quality),"
                " COALESCE(SUM(quality), 0) FROM interactions"
                f" GROUP BY tenant_id, {day}" + ("" if dim == "total" else f", {col}")))
            for t, d, k, *sums in rows:
                out[(t, d, dim, k)] = _rounded(sums)
    return out


def rolled(engine: Engine) -> dict[tuple[str, str, str, str], tuple[float, ...]]:
    r = cost_rollups.c
    with engine.connect() as conn:
        rows = conn.execute(select(r.tenant_id, r.day, r.dim, r.key, r.cost, r.requests,
                                   r.prompt_tokens, r.completion_tokens, r.feedback_n,
                                   r.feedback_sum))
        return {(t, d, dim, k): _rounded(sums) for t, d, dim, k, *sums in rows}


def _rounded(values: Any) -> tuple[float, ...]:
    return tuple(round(float(v), 9) for v in values)
