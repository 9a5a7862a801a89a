"""The interaction ledger: every exchange (prompt, response, model, tokens, latency, memories
used, trace id) as one row in the database, for every entry point.

Rows are written by a background thread in batches, so logging costs the request path a
queue append, not a commit. `flush()` waits until everything queued is written; reads and
`close()` flush first, so a caller always sees its own interactions.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, select, update

from cerebra.db.schema import interactions

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


class Ledger:
    def __init__(self, engine: Engine, *, batch_size: int = 200, interval_s: float = 0.05) -> None:
        self.engine = engine
        self._queue: queue.Queue[InteractionRecord | None] = queue.Queue()
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._pending = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.dropped = 0

    # -- writing --------------------------------------------------------------------------
    def record(self, rec: InteractionRecord) -> None:
        if self._closed:
            raise RuntimeError("ledger is closed")
        with self._cond:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="cerebra-ledger", daemon=True
                )
                self._thread.start()
        self._queue.put(rec)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self._interval_s
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._write(batch)
                    return
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[InteractionRecord]) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(interactions), [asdict(r) for r in batch])
        except Exception:
            self.dropped += len(batch)
            log.exception("could not write %d ledger rows", len(batch))
        finally:
            with self._cond:
                self._pending -= len(batch)
                self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued record is written; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

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
        return bool(done.rowcount)

    # -- reading --------------------------------------------------------------------------
    def get(self, trace_id: str) -> dict[str, Any] | None:
        self.flush()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(interactions).where(interactions.c.trace_id == trace_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def recent(self, limit: int = 20, tenant_id: str = "default") -> list[dict[str, Any]]:
        self.flush()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(interactions)
                .where(interactions.c.tenant_id == tenant_id)
                .order_by(interactions.c.id.desc())
                .limit(limit)
            ).all()
        return [dict(r._mapping) for r in rows]
