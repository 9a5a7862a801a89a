"""The interaction ledger: every exchange (prompt, response, model, tokens, latency, memories
used, trace id) as one row in the database, for every entry point."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, select

from cerebra.db.schema import interactions


@dataclass(frozen=True)
class InteractionRecord:
    trace_id: str
    tenant_id: str
    endpoint: str
    model: str
    prompt: str
    rendered_prompt: str
    response: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    memories_used: list[dict[str, Any]] = field(default_factory=list)
    stored_memory_uid: str | None = None
    user_id: str = ""
    agent_id: str = ""
    session_id: str = ""


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, rec: InteractionRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(interactions).values(**rec.__dict__, created_at=time.time()))

    def get(self, trace_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(interactions).where(interactions.c.trace_id == trace_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def recent(self, limit: int = 20, tenant_id: str = "default") -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(interactions)
                .where(interactions.c.tenant_id == tenant_id)
                .order_by(interactions.c.id.desc())
                .limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]
