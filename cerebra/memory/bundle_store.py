"""The record of context bundles: each bundle handed out (who asked, the query, its memories
with their signals, the weights in force) and the agent's feedback on it, in the
`context_bundles` table. Reads are tenant-scoped, and confined to a user when the caller
is: another tenant's (or user's) bundle id is simply not found. Online weight learning
replays `rated` (the memories' signals with the outcome)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from cerebra.db.bundle_tables import context_bundles as t


@dataclass(frozen=True)
class BundleRecord:
    id: str
    tenant_id: str
    user_id: str
    agent_id: str
    session_id: str
    query: str
    memories: list[dict[str, Any]]  # [{id, score, signals}]
    weights: dict[str, float]
    created_at: float
    score: float | None = None
    helpful: list[str] | None = None
    unhelpful: list[str] | None = None
    feedback_at: float | None = None

    def memory_ids(self) -> list[str]:
        return [str(m["id"]) for m in self.memories]


class BundleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, record: BundleRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(t).values(
                id=record.id, tenant_id=record.tenant_id, user_id=record.user_id,
                agent_id=record.agent_id, session_id=record.session_id, query=record.query,
                memories=record.memories, weights=record.weights,
                created_at=record.created_at))

    def get(self, tenant_id: str, bundle_id: str, *, user_id: str | None = None,
            agent_id: str | None = None) -> BundleRecord | None:
        """The bundle of the tenant (and of the user / agent a confined caller acts for)."""
        where = [t.c.id == bundle_id, t.c.tenant_id == tenant_id]
        if user_id is not None:
            where.append(t.c.user_id == user_id)
        if agent_id is not None:
            where.append(t.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(and_(*where))).mappings().first()
        return None if row is None else BundleRecord(**dict(row))

    def set_feedback(self, tenant_id: str, bundle_id: str, score: float | None,
                     helpful: Sequence[str], unhelpful: Sequence[str]) -> bool:
        """Record the outcome once; False when the bundle has feedback already."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(t.c.id == bundle_id, t.c.tenant_id == tenant_id,
                       t.c.feedback_at.is_(None))
                .values(score=score, helpful=list(helpful), unhelpful=list(unhelpful),
                        feedback_at=time.time()))
        return done.rowcount == 1

    def rated(self, tenant_id: str, *, agent_id: str | None = None,
              limit: int = 1000) -> list[BundleRecord]:
        """The tenant's bundles with feedback, newest first (for weight learning)."""
        where = [t.c.tenant_id == tenant_id, t.c.feedback_at.is_not(None)]
        if agent_id is not None:
            where.append(t.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(and_(*where))
                                .order_by(t.c.feedback_at.desc(), t.c.id.desc())
                                .limit(limit)).mappings()
            return [BundleRecord(**dict(r)) for r in rows]
