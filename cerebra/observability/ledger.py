"""The interaction ledger: every exchange (prompt, response, model, tokens, latency, memories
used, trace id) as one row in the database, for every entry point.

Rows are written by a background BatchWriter, so logging costs the request path a queue
append, not a commit. A database that fails is retried; rows it still refuses wait in a
spill file in the data folder (`<home>/spill/ledger.jsonl`) and are written on the next
start or after the next batch that commits, once each (rows are keyed by trace id).
`flush()` waits until everything queued is in the database or spilled; reads and
`close()` flush first, so a caller always sees its own interactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, insert, select, update

from cerebra.context import RequestContext
from cerebra.db.schema import interactions
from cerebra.observability import costs_rollup
from cerebra.observability.batch_writer import BatchWriter, WriterStats
from cerebra.observability.spill import SpillFile

log = logging.getLogger("cerebra.ledger")


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
    decision_id: str | None = None
    created_at: float = field(default_factory=time.time)
    cost_usd: float = 0.0  # usage at the serving model's price (budgets are held against it)
    credential_id: str = ""  # the principal's API key or sign-in family (per-key/user spend)

    def to_dict(self) -> dict[str, Any]:
        """The row's fields (a shallow copy: `asdict`'s deep copy of `memories_used` cost
        the ledger's writer ~80 µs of GIL time per request, and nothing mutates it)."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InteractionRecord:
        """The record `to_dict` gave; TypeError on unknown or missing fields."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TypeError(f"unknown InteractionRecord fields: {sorted(unknown)}")
        return cls(**data)


class Ledger:
    def __init__(
        self,
        engine: Engine,
        *,
        spill_path: Path | None = None,
        batch_size: int = 200,
        interval_s: float = 0.05,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        """`spill_path`: where rows the database refuses wait (None: they are lost, counted
        in `dropped`); replayed now if an earlier run left rows there."""
        self.engine = engine
        spill = (
            None
            if spill_path is None
            else SpillFile(spill_path, InteractionRecord.to_dict, InteractionRecord.from_dict)
        )
        self.writer: BatchWriter[InteractionRecord] = BatchWriter(
            self._insert,
            spill,
            name="cerebra-ledger",
            batch_size=batch_size,
            interval_s=interval_s,
            retries=retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            sleep=sleep,
        )
        # called with each batch's new rows once committed (budget alerts); must not raise
        self.watchers: list[Callable[[list[dict[str, Any]]], None]] = []

    # -- writing --------------------------------------------------------------------------
    def record(self, rec: InteractionRecord) -> None:
        self.writer.submit(rec)

    def _insert(self, batch: list[InteractionRecord]) -> None:
        """Insert the rows whose trace id is not there yet, in one transaction (idempotent:
        a retry after a commit that reported an error, or a replay, adds nothing twice),
        and their spend in the cost rollups in the same transaction (counted once too)."""
        rows: dict[str, dict[str, Any]] = {}
        for rec in batch:
            rows.setdefault(rec.trace_id, rec.to_dict())
        with self.engine.begin() as conn:
            present = set(
                conn.execute(
                    select(interactions.c.trace_id).where(interactions.c.trace_id.in_(rows))
                ).scalars()
            )
            new = [row for trace_id, row in rows.items() if trace_id not in present]
            if new:
                conn.execute(insert(interactions), new)
                costs_rollup.add_interactions(conn, new)
        for watch in self.watchers if new else ():
            try:
                watch(new)
            except Exception:  # a watcher's bug must not fail (and re-spill) a written batch
                log.exception("ledger watcher failed")

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is in the database or spilled; False on timeout."""
        return self.writer.flush(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush (up to `timeout`: what the database has not taken by then is spilled)."""
        self.writer.close(timeout)

    def stats(self) -> WriterStats:
        """Rows written, retried, spilled, replayed, rejected, dropped, queued."""
        return self.writer.stats()

    @property
    def dropped(self) -> int:
        return self.writer.stats().dropped

    def set_feedback(
        self, trace_id: str, quality: float, comment: str | None, tenant_id: str
    ) -> bool:
        """Record feedback once; False if the interaction already has some."""
        self.flush()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(interactions)
                .where(interactions.c.trace_id == trace_id)
                .where(interactions.c.tenant_id == tenant_id)
                .where(interactions.c.quality.is_(None))
                .values(quality=quality, feedback_comment=comment, feedback_at=time.time())
            )
            if done.rowcount:
                i = interactions.c
                row = conn.execute(select(
                    i.tenant_id, i.created_at, i.model, i.credential_id, i.user_id, i.agent_id,
                ).where(i.trace_id == trace_id)).one()
                costs_rollup.add_feedback(conn, dict(row._mapping), quality)
        return bool(done.rowcount)

    # -- reading --------------------------------------------------------------------------
    def get(
        self, trace_id: str, *, context: RequestContext | None = None
    ) -> dict[str, Any] | None:
        """One interaction; with `context`, only if its caller may see it (its tenant, and
        its own user for a principal confined to one)."""
        self.flush()
        query = _visible(select(interactions), context)
        with self.engine.connect() as conn:
            row = conn.execute(query.where(interactions.c.trace_id == trace_id)).first()
        return None if row is None else dict(row._mapping)

    def recent(
        self, limit: int = 20, tenant_id: str = "default", *,
        context: RequestContext | None = None,
    ) -> list[dict[str, Any]]:
        """The latest interactions of a tenant (with `context`: those its caller may see)."""
        self.flush()
        query = (_visible(select(interactions), context) if context is not None
                 else select(interactions).where(interactions.c.tenant_id == tenant_id))
        with self.engine.connect() as conn:
            rows = conn.execute(
                query
                # newest first by time (the (tenant_id, created_at) index gives that order;
                # by id alone every one of the tenant's rows would be sorted)
                .order_by(interactions.c.created_at.desc(), interactions.c.id.desc())
                .limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]


def _visible(query: Select[Any], context: RequestContext | None) -> Select[Any]:
    if context is None:
        return query
    query = query.where(interactions.c.tenant_id == context.tenant_id)
    user, agent = context.confinement()
    if user is not None:
        query = query.where(interactions.c.user_id == user)
    if agent is not None:
        query = query.where(interactions.c.agent_id == agent)
    return query
