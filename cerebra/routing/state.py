"""Router persistence: bandit state, policies and the decision log in the database.

Tables `router_state` and `router_decisions` (created by migration 0002) both carry
`tenant_id`. Writes leave the request path: decisions and feedback go through a queue to
one background thread that writes them in batches. Changed bandit state is saved every
`state_interval_s` (and on `flush()`/`close()`): by a periodic job ("router-state") of the
JobRunner given as `jobs` (the runtime's), else by the same writer thread.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, delete, insert, select, update

from cerebra.db.schema import router_decisions, router_state
from cerebra.routing.decisions import Decision

if TYPE_CHECKING:
    from cerebra.jobs.base import JobRunner

log = logging.getLogger(__name__)

StateRow = tuple[str, str, str, dict[str, Any]]  # tenant_id, kind, scope, data
_STOP = object()


class RouterStore:
    """Reads and writes router tables; background batching for the request path."""

    def __init__(self, engine: Engine, *, flush_interval_s: float = 0.2,
                 state_interval_s: float = 5.0, max_batch: int = 500,
                 jobs: JobRunner | None = None) -> None:
        self.engine = engine
        self.flush_interval_s = flush_interval_s
        self.state_interval_s = state_interval_s
        self.max_batch = max_batch
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._state_source: Callable[[], list[StateRow]] | None = None
        self._jobs = jobs
        if jobs is not None:
            jobs.schedule("router-state", lambda ctx: self._save_dirty_states(),
                          state_interval_s)

    # -- direct reads and writes ------------------------------------------------------
    def save_states(self, rows: list[StateRow]) -> None:
        if not rows:
            return
        now = time.time()
        with self.engine.begin() as conn:
            for tenant_id, kind, scope, data in rows:
                where = and_(router_state.c.tenant_id == tenant_id,
                             router_state.c.kind == kind, router_state.c.scope == scope)
                done = conn.execute(update(router_state).where(where)
                                    .values(data=data, updated_at=now))
                if done.rowcount == 0:
                    conn.execute(insert(router_state).values(
                        tenant_id=tenant_id, kind=kind, scope=scope, data=data, updated_at=now))

    def load_state(self, tenant_id: str, kind: str, scope: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(router_state.c.data).where(
                router_state.c.tenant_id == tenant_id, router_state.c.kind == kind,
                router_state.c.scope == scope)).first()
        return None if row is None else dict(row[0])

    def load_kind(self, kind: str) -> list[StateRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(router_state.c.tenant_id, router_state.c.scope,
                                       router_state.c.data).where(router_state.c.kind == kind))
            return [(r[0], kind, r[1], dict(r[2])) for r in rows]

    def delete_state(self, tenant_id: str, kind: str, scope: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(router_state).where(
                router_state.c.tenant_id == tenant_id, router_state.c.kind == kind,
                router_state.c.scope == scope))

    def insert_decisions(self, decisions: list[Decision]) -> None:
        if decisions:
            with self.engine.begin() as conn:
                conn.execute(insert(router_decisions), [d.to_dict() for d in decisions])

    def update_feedback(self, decision_id: str, quality: float, reward: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(router_decisions).where(router_decisions.c.id == decision_id)
                         .values(quality=quality, reward=reward))

    def get_decision(self, decision_id: str) -> Decision | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(router_decisions)
                               .where(router_decisions.c.id == decision_id)).mappings().first()
        return None if row is None else Decision.from_dict(dict(row))

    def list_decisions(self, *, tenant_id: str | None = None, agent_id: str | None = None,
                       limit: int = 50, offset: int = 0) -> list[Decision]:
        query = select(router_decisions).order_by(router_decisions.c.created_at.desc())
        if tenant_id is not None:
            query = query.where(router_decisions.c.tenant_id == tenant_id)
        if agent_id is not None:
            query = query.where(router_decisions.c.agent_id == agent_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        return [Decision.from_dict(dict(r)) for r in rows]

    # -- background writing ---------------------------------------------------------------
    def set_state_source(self, source: Callable[[], list[StateRow]]) -> None:
        """A callable returning the bandit states changed since it was last called."""
        self._state_source = source

    def enqueue_decision(self, decision: Decision) -> None:
        self._ensure_thread()
        self._queue.put(("decision", decision))

    def enqueue_feedback(self, decision_id: str, quality: float, reward: float) -> None:
        self._ensure_thread()
        self._queue.put(("feedback", decision_id, quality, reward))

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="router-writer",
                                                daemon=True)
                self._thread.start()

    def _write(self, items: list[Any]) -> None:
        batch: list[Decision] = []
        for item in items:
            if item[0] == "decision":
                batch.append(item[1])
                continue
            self.insert_decisions(batch)  # keep order: a feedback follows its insert
            batch = []
            self.update_feedback(item[1], item[2], item[3])
        self.insert_decisions(batch)

    def _save_dirty_states(self) -> None:
        if self._state_source is not None:
            self.save_states(self._state_source())

    def _run(self) -> None:
        last_state = time.monotonic()
        while True:
            try:
                first = self._queue.get(timeout=self.flush_interval_s)
            except queue.Empty:
                first = None
            items = [] if first is None else [first]
            while len(items) < self.max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(i is _STOP for i in items)
            try:
                self._write([i for i in items if i is not _STOP])
                if stop or (self._jobs is None
                            and time.monotonic() - last_state >= self.state_interval_s):
                    self._save_dirty_states()
                    last_state = time.monotonic()
            except Exception:  # a failed write must not kill the writer
                log.exception("router store: write failed; %d items dropped", len(items))
            finally:
                for _ in items:
                    self._queue.task_done()
            if stop:
                return

    def flush(self) -> None:
        """Write everything queued and every changed bandit state, then return."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.join()
        else:
            items = []
            with contextlib.suppress(queue.Empty):
                while True:
                    items.append(self._queue.get_nowait())
            self._write([i for i in items if i is not _STOP])
        self._save_dirty_states()

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.unschedule("router-state")
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=10)
        self._thread = None
        self._save_dirty_states()
