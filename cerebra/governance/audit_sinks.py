"""Where audit chains are kept: the `AuditSink` protocol and the database sink.

A sink appends a batch of events to the chains it keeps (one per tenant) and stores each
event id once, so a batch handed over twice (a replay after a crash) adds nothing the second
time. The database sink appends in one transaction that first writes each tenant's head row
(`audit_heads`) and then locks it (SELECT … FOR UPDATE on PostgreSQL; on SQLite the first
write takes the database's write lock), reads the head, inserts the entries and signed
checkpoints and moves the head: server processes sharing one database append one after the
other, and every chain stays gap-free. It also reads the chains back for verification and
export (`ChainSource`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine, bindparam, func, insert, select, union, update

from cerebra.db.schema import audit_checkpoints, audit_heads, audit_log
from cerebra.governance.audit import (
    GENESIS,
    AuditEvent,
    ChainEntry,
    Checkpoint,
    Signer,
    canonical,
    checkpoints_for,
    link,
)


@runtime_checkable
class AuditSink(Protocol):
    name: str

    def append(self, events: Sequence[AuditEvent]) -> int:
        """Chain the events not stored yet (by event id); how many were added."""
        ...

    def close(self) -> None: ...


def unique(events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """The events in order, each event id once (stamped: every event has an id)."""
    seen: set[str] = set()
    out = []
    for event in events:
        event = event.stamped()
        if event.event_id not in seen:
            seen.add(event.event_id)
            out.append(event)
    return out


def by_tenant(events: Sequence[AuditEvent]) -> dict[str, list[AuditEvent]]:
    groups: dict[str, list[AuditEvent]] = {}
    for event in events:
        groups.setdefault(event.tenant_id, []).append(event)
    return groups


class DatabaseAuditSink:
    """The chains in `audit_log` (with `audit_checkpoints` and `audit_heads`)."""

    name = "database"

    def __init__(self, engine: Engine, *, signer: Signer | None = None,
                 checkpoint_every: int = 100) -> None:
        self.engine = engine
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        # the append's statements, built once: constructing them (coercions, cache keys)
        # was most of a small batch's cost on the writer thread
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        self._new_heads = upsert(audit_heads).on_conflict_do_nothing(index_elements=["tenant_id"])
        self._heads = (select(audit_heads.c.tenant_id, audit_heads.c.seq, audit_heads.c.hash)
                       .where(audit_heads.c.tenant_id.in_(bindparam("tenants", expanding=True)))
                       .order_by(audit_heads.c.tenant_id).with_for_update())
        self._known = select(audit_log.c.event_id).where(
            audit_log.c.event_id.in_(bindparam("ids", expanding=True)))
        self._insert_entries = insert(audit_log)
        self._insert_checkpoints = insert(audit_checkpoints)
        self._move_head = (update(audit_heads)
                           .where(audit_heads.c.tenant_id == bindparam("tenant"))
                           .values(seq=bindparam("seq"), hash=bindparam("hash"),
                                   updated_at=bindparam("updated_at")))

    # -- appending ---------------------------------------------------------------------------
    def append(self, events: Sequence[AuditEvent]) -> int:
        groups = by_tenant(unique(events))
        if not groups:
            return 0
        tenants = sorted(groups)
        added = 0
        with self.engine.begin() as conn:
            now = time.time()  # a write first: SQLite's write lock, now
            conn.execute(self._new_heads, [{"tenant_id": t, "seq": 0, "hash": GENESIS,
                                            "updated_at": now} for t in tenants])
            heads = {row.tenant_id: (row.seq, row.hash)
                     for row in conn.execute(self._heads, {"tenants": tenants})}
            ids = [e.event_id for group in groups.values() for e in group]
            known = set(conn.execute(self._known, {"ids": ids}).scalars())
            for tenant in tenants:
                fresh = [e for e in groups[tenant] if e.event_id not in known]
                if not fresh:
                    continue
                entries = link(*heads[tenant], fresh)
                conn.execute(self._insert_entries, [_row(tenant, e) for e in entries])
                signed = checkpoints_for(entries, tenant, self.signer, self.checkpoint_every)
                if signed:
                    conn.execute(self._insert_checkpoints, [asdict(c) for c in signed])
                last = entries[-1]
                conn.execute(self._move_head, {"tenant": tenant, "seq": last.seq,
                                               "hash": last.hash, "updated_at": time.time()})
                added += len(entries)
        return added

    def close(self) -> None:
        pass  # the engine belongs to the caller

    # -- reading (ChainSource) ---------------------------------------------------------------
    def tenants(self) -> list[str]:
        query = union(select(audit_heads.c.tenant_id), select(audit_log.c.tenant_id),
                      select(audit_checkpoints.c.tenant_id))
        with self.engine.connect() as conn:
            return sorted(conn.execute(query).scalars())

    def hashes(self, tenant_id: str, *, after: int | None = None) -> dict[str, int]:
        """Each stored hash → its seq (those of entries with seq > `after` only, when given:
        what a walk resuming there needs)."""
        query = select(audit_log.c.hash, audit_log.c.seq).where(audit_log.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        with self.engine.connect() as conn:
            return {row.hash: row.seq for row in conn.execute(query)}

    def entries(self, tenant_id: str, *, after: int | None = None,
                limit: int | None = None) -> Iterator[ChainEntry]:
        """The chain in order; `after`/`limit` page through it (seq > after)."""
        query = (select(audit_log).where(audit_log.c.tenant_id == tenant_id)
                 .order_by(audit_log.c.seq))
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(query)
            for row in rows:
                yield entry_of(row._mapping)

    def entry(self, tenant_id: str, seq: int) -> ChainEntry | None:
        """Entry `seq` of the chain, None when there is none numbered so."""
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_log).where(audit_log.c.tenant_id == tenant_id,
                                                       audit_log.c.seq == seq)).first()
        return None if row is None else entry_of(row._mapping)

    def checkpoints(self, tenant_id: str, *, after: int | None = None) -> list[Checkpoint]:
        """The signed checkpoints in order (those with seq > `after` only, when given)."""
        query = (select(audit_checkpoints).where(audit_checkpoints.c.tenant_id == tenant_id)
                 .order_by(audit_checkpoints.c.seq))
        if after is not None:
            query = query.where(audit_checkpoints.c.seq > after)
        with self.engine.connect() as conn:
            return [Checkpoint.from_line(dict(row._mapping)) for row in conn.execute(query)]

    def checkpoints_through(self, tenant_id: str, seq: int) -> int:
        """How many signed checkpoints the chain holds at or before entry `seq`."""
        with self.engine.connect() as conn:
            return int(conn.execute(
                select(func.count()).select_from(audit_checkpoints)
                .where(audit_checkpoints.c.tenant_id == tenant_id,
                       audit_checkpoints.c.seq <= seq)).scalar_one())

    def head(self, tenant_id: str) -> tuple[int, str] | None:
        """The recorded head; (0, genesis) when none is recorded (an entry then is extra)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_heads.c.seq, audit_heads.c.hash)
                               .where(audit_heads.c.tenant_id == tenant_id)).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def _row(tenant_id: str, entry: ChainEntry) -> dict[str, Any]:
    event = entry.event
    return {
        "tenant_id": tenant_id, "seq": entry.seq, "event_id": event.event_id,
        "time": event.time, "actor": event.actor, "action": event.action,
        "target": event.target, "outcome": event.outcome, "details": canonical(event.details),
        "constitution_hash": event.constitution_hash, "trace_id": event.trace_id,
        "prev_hash": entry.prev_hash, "hash": entry.hash,
    }


def entry_of(row: Any) -> ChainEntry:
    """A stored row as a chain entry (details parsed back from their canonical JSON)."""
    try:
        details = json.loads(row["details"])
    except (TypeError, ValueError):
        details = {"unreadable": str(row["details"])}
    event = AuditEvent(
        action=row["action"], actor=row["actor"], target=row["target"],
        outcome=row["outcome"], tenant_id=row["tenant_id"], details=details,
        constitution_hash=row["constitution_hash"], trace_id=row["trace_id"],
        time=row["time"], event_id=row["event_id"],
    )
    return ChainEntry(int(row["seq"]), row["prev_hash"], row["hash"], event)
