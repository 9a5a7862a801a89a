"""Synthetic streams for the drift tests: interactions (prompts, latencies, feedback, model,
agent) and graded signals written straight into a migrated database at chosen times, with or
without a shift between the reference and the recent window."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Engine, insert, select

from cerebra.db.improve_tables import signals
from cerebra.db.schema import interactions, tenants
from cerebra.observability.notify import Delivery, Notification

HOUR = 3600.0
WEATHER = ["weather", "rain", "forecast", "sunny", "cloudy", "wind", "storm", "temperature",
           "umbrella", "snow"]
BILLING = ["invoice", "refund", "payment", "charge", "receipt", "billing", "card",
           "subscription", "price", "tax"]


@dataclass
class Recorder:
    """A Notifier that keeps what it was sent."""

    name: str = "recorder"
    sent: list[Notification] = field(default_factory=list)

    def notify(self, notification: Notification) -> Delivery:
        self.sent.append(notification)
        return Delivery(self.name, True)

    async def anotify(self, notification: Notification) -> Delivery:
        return self.notify(notification)

    def close(self) -> None:
        return None


def ensure_tenants(engine: Engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            if conn.execute(select(tenants.c.id).where(tenants.c.id == name)).first() is None:
                conn.execute(insert(tenants).values(id=name, name=name, created_at=time.time()))


def stream(engine: Engine, tenant: str, *, start: float, end: float, n: int, seed: int,
           words: list[str], latency_ms: float = 200.0, good: float = 0.8,
           score: float = 0.7, agent: str = "helper", task: str | None = "triage",
           model: str = "fake", exact: bool = False) -> None:
    """`n` interactions evenly spread over [start, end): prompts of 6 words drawn from
    `words`, log-normal latencies of median `latency_ms`, feedback good with probability
    `good` (exactly a share `good` of them when `exact`), and a graded score signal
    ~ N(score, 0.1) labelled with `task` on each."""
    rng = np.random.default_rng(seed)
    ensure_tenants(engine, tenant)
    times = np.linspace(start, end, n, endpoint=False)
    rows, sigs = [], []
    for i, t in enumerate(times):
        trace = uuid.uuid4().hex
        prompt = " ".join(rng.choice(words, size=6))
        rows.append({"trace_id": trace, "tenant_id": tenant, "agent_id": agent,
                     "endpoint": "query", "model": model, "prompt": prompt,
                     "rendered_prompt": prompt, "response": "ok", "prompt_tokens": 6,
                     "completion_tokens": 1,
                     "latency_ms": float(latency_ms * np.exp(rng.normal(0, 0.5))),
                     "memories_used": [], "created_at": float(t),
                     "quality": 1.0 if (i < round(good * n) if exact else rng.random() < good)
                     else 0.0, "feedback_at": float(t)})
        sigs.append({"tenant_id": tenant, "id": uuid.uuid4().hex, "trace_id": trace,
                     "kind": "score", "value": float(np.clip(rng.normal(score, 0.1), 0, 1)),
                     "text": None, "task": task, "source": "user:u", "trust": 1.0,
                     "payload": {}, "created_at": float(t)})
    with engine.begin() as conn:
        conn.execute(insert(interactions), rows)
        conn.execute(insert(signals), sigs)


def two_windows(engine: Engine, tenant: str, now: float, *, n: int = 150, seed: int = 0,
                shifted: bool = False, agent: str = "helper", task: str | None = "triage",
                **recent: object) -> None:
    """A reference day (48 h to 24 h ago) and a recent day (the last 24 h) of `n` each, each
    interaction in the middle of its slot; the recent one on other topics, slower, worse rated
    and lower scored when `shifted`."""
    half = 12 * HOUR / n
    stream(engine, tenant, start=now - 48 * HOUR + half, end=now - 24 * HOUR + half, n=n,
           seed=seed, words=WEATHER, agent=agent, task=task)
    changes: dict[str, object] = ({"words": BILLING, "latency_ms": 400.0, "good": 0.5,
                                   "score": 0.5} if shifted else {"words": WEATHER})
    stream(engine, tenant, start=now - 24 * HOUR + half, end=now + half, n=n, seed=seed + 1,
           agent=agent, task=task, **{**changes, **recent})  # type: ignore[arg-type]
