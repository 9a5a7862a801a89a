"""Where a runner keeps job state: the `jobs` and `job_schedules` tables (SQLJobStore), or a
bounded dictionary when a runner has no database (MemoryJobStore, for standalone helpers).

A row's `owner` names the runner that runs the job (host:pid:runner; BROKER while a Celery
job waits in the broker) and `heartbeat_at` is refreshed by that runner while the job is
queued or running; `interrupted` finds the rows of owners that are gone (a dead pid on this
host, or a heartbeat older than `stale_after_s`); a runner `claim`s the resumable ones (re-
queued, attempt + 1) and `fail`s the rest with INTERRUPTED (`recover` fails them all).
A row also keeps `payload` (target and arguments of a registered kind), `metrics` (the last
structured progress) and `cancel_requested` (the flag a job in another process polls).
"""

from __future__ import annotations

import builtins
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Engine, insert, select, update

from cerebra.db.schema import job_schedules, jobs
from cerebra.jobs.base import INTERRUPTED, TERMINAL, JobInfo, ScheduleInfo

ACTIVE = ("queued", "running")
BROKER = "broker"  # the owner of a Celery job that no worker has taken yet


def jsonable(value: Any) -> Any:
    """The value as JSON would hold it (what a job's result becomes once stored)."""
    return json.loads(json.dumps(value, default=str))


@dataclass(frozen=True)
class Orphan:
    """An active job whose owner is gone."""

    id: str
    kind: str
    owner: str
    resumable: bool


class JobStore(Protocol):
    def insert(self, info: JobInfo, owner: str, *, payload: dict[str, Any] | None = None,
               resumable: bool = False) -> None: ...

    def update(self, job_id: str, **values: Any) -> None: ...

    def get(self, job_id: str) -> JobInfo | None: ...

    def list(self, *, state: str | None, name: str | None, tenant_id: str | None,
             limit: int) -> builtins.list[JobInfo]: ...

    def heartbeat(self, owner: str, now: float) -> None: ...

    def recover(self, me: str, now: float, stale_after_s: float,
                gone: Callable[[str], bool]) -> int: ...

    def interrupted(self, me: str, now: float, stale_after_s: float,
                    gone: Callable[[str], bool]) -> builtins.list[Orphan]: ...

    def fail(self, ids: builtins.list[str], now: float) -> int: ...

    def claim(self, orphan: Orphan, me: str, now: float) -> dict[str, Any] | None: ...

    def request_cancel(self, job_id: str) -> None: ...

    def save_schedule(self, tenant_id: str, info: ScheduleInfo, owner: str, now: float
                      ) -> None: ...


_JOB_FIELDS = ("id", "name", "kind", "state", "progress", "message", "result", "error",
               "tenant_id", "created_at", "started_at", "finished_at", "attempt", "metrics")


def _info(row: Any) -> JobInfo:
    return JobInfo(**{f: row[f] for f in _JOB_FIELDS})


class SQLJobStore:
    """Job state in the database (migration 0006)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, info: JobInfo, owner: str, *, payload: dict[str, Any] | None = None,
               resumable: bool = False) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(**info.to_dict(), owner=owner,
                                             heartbeat_at=info.created_at, payload=payload,
                                             resumable=resumable))

    def update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))

    def transition(self, job_id: str, states: tuple[str, ...], **values: Any) -> bool:
        """Update the row only while its state is one of `states`; whether it did."""
        with self.engine.begin() as conn:
            done = conn.execute(update(jobs).where(jobs.c.id == job_id,
                                                   jobs.c.state.in_(states)).values(**values))
        return bool(done.rowcount)

    def row(self, job_id: str) -> dict[str, Any] | None:
        """The whole row (payload, owner, cancel flag included)."""
        with self.engine.connect() as conn:
            found = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return None if found is None else dict(found)

    def start(self, job_id: str, attempt: int, owner: str, now: float) -> bool:
        """A worker takes a queued job of this attempt (False: cancelled, or a stale copy
        of the message)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(jobs).where(
                jobs.c.id == job_id, jobs.c.state == "queued", jobs.c.attempt == attempt,
            ).values(state="running", owner=owner, started_at=now, heartbeat_at=now))
        return bool(done.rowcount)

    def owned_update(self, job_id: str, holder: str, /, **values: Any) -> bool:
        """Update a running job only while `holder` (its owner) still holds it."""
        with self.engine.begin() as conn:
            done = conn.execute(update(jobs).where(
                jobs.c.id == job_id, jobs.c.owner == holder, jobs.c.state == "running",
            ).values(**values))
        return bool(done.rowcount)

    def request_cancel(self, job_id: str) -> None:
        self.update(job_id, cancel_requested=True)

    def cancel_from_outside(self, job_id: str, now: float) -> bool:
        """Cancel a job from a process that does not run it (the CLI): one waiting in the
        broker is cancelled at once; any other active job gets the flag that its runner
        polls. False when it had finished already."""
        if self._in_broker(job_id) and self.transition(job_id, ("queued",),
                                                       state="cancelled", finished_at=now):
            return True
        return self.transition(job_id, ACTIVE, cancel_requested=True)

    def _in_broker(self, job_id: str) -> bool:
        found = self.row(job_id)
        return found is not None and found["owner"] == BROKER

    def flagged(self, ids: builtins.list[str]) -> builtins.list[str]:
        """Which of these jobs have been asked to stop from outside."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            return list(conn.execute(select(jobs.c.id).where(
                jobs.c.id.in_(ids), jobs.c.cancel_requested.is_(True))).scalars())

    def cancel_requested(self, job_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(jobs.c.cancel_requested)
                                     .where(jobs.c.id == job_id)).scalar())

    def get(self, job_id: str) -> JobInfo | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return None if row is None else _info(row)

    def list(self, *, state: str | None, name: str | None, tenant_id: str | None,
             limit: int) -> builtins.list[JobInfo]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
        for column, value in ((jobs.c.state, state), (jobs.c.name, name),
                              (jobs.c.tenant_id, tenant_id)):
            if value is not None:
                query = query.where(column == value)
        with self.engine.connect() as conn:
            return [_info(r) for r in conn.execute(query).mappings()]

    def heartbeat(self, owner: str, now: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.owner == owner, jobs.c.state.in_(ACTIVE))
                         .values(heartbeat_at=now))

    def recover(self, me: str, now: float, stale_after_s: float,
                gone: Callable[[str], bool]) -> int:
        return self.fail([o.id for o in self.interrupted(me, now, stale_after_s, gone)], now)

    def interrupted(self, me: str, now: float, stale_after_s: float,
                    gone: Callable[[str], bool]) -> builtins.list[Orphan]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.kind, jobs.c.owner, jobs.c.heartbeat_at,
                                       jobs.c.resumable).where(
                jobs.c.state.in_(ACTIVE), jobs.c.owner != me, jobs.c.owner != BROKER)).all()
        return [Orphan(r[0], r[1], r[2], bool(r[4])) for r in rows
                if gone(r[2]) or r[3] < now - stale_after_s]

    def fail(self, ids: builtins.list[str], now: float) -> int:
        if not ids:
            return 0
        with self.engine.begin() as conn:
            done = conn.execute(update(jobs).where(jobs.c.id.in_(ids),
                                                   jobs.c.state.in_(ACTIVE))
                                .values(state="failed", error=INTERRUPTED, finished_at=now))
        return int(done.rowcount or 0)

    def claim(self, orphan: Orphan, me: str, now: float) -> dict[str, Any] | None:
        """Take over an interrupted job to resume it (queued again, attempt + 1); its row,
        or None when another runner took it first."""
        with self.engine.begin() as conn:
            done = conn.execute(update(jobs).where(
                jobs.c.id == orphan.id, jobs.c.owner == orphan.owner,
                jobs.c.state.in_(ACTIVE)).values(
                state="queued", owner=me, attempt=jobs.c.attempt + 1, heartbeat_at=now))
        return self.row(orphan.id) if done.rowcount else None

    def save_schedule(self, tenant_id: str, info: ScheduleInfo, owner: str, now: float) -> None:
        values = {"every_s": info.every_s, "owner": owner, "runs": info.runs,
                  "failures": info.failures, "last_started_at": info.last_started_at,
                  "last_finished_at": info.last_finished_at, "last_ok_at": info.last_ok_at,
                  "last_error": info.last_error, "last_result": info.last_result,
                  "updated_at": now}
        key = (job_schedules.c.tenant_id == tenant_id, job_schedules.c.name == info.name)
        with self.engine.begin() as conn:
            if conn.execute(update(job_schedules).where(*key).values(**values)).rowcount == 0:
                conn.execute(insert(job_schedules).values(tenant_id=tenant_id, name=info.name,
                                                          **values))

    def load_schedule(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(job_schedules).where(
                job_schedules.c.tenant_id == tenant_id, job_schedules.c.name == name,
            )).mappings().first()
        return None if row is None else dict(row)


class MemoryJobStore:
    """Job state in this process only, for runners without a database; keeps the newest
    `max_finished` finished jobs."""

    def __init__(self, max_finished: int = 1000) -> None:
        self.max_finished = max_finished
        self._jobs: OrderedDict[str, JobInfo] = OrderedDict()
        self._lock = threading.Lock()
        self.schedules: dict[tuple[str, str], ScheduleInfo] = {}

    def insert(self, info: JobInfo, owner: str, *, payload: dict[str, Any] | None = None,
               resumable: bool = False) -> None:
        with self._lock:
            self._jobs[info.id] = info
            finished = [k for k, v in self._jobs.items() if v.state in TERMINAL]
            for key in finished[: max(0, len(finished) - self.max_finished)]:
                del self._jobs[key]

    def update(self, job_id: str, **values: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **values)

    def get(self, job_id: str) -> JobInfo | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self, *, state: str | None, name: str | None, tenant_id: str | None,
             limit: int) -> builtins.list[JobInfo]:
        with self._lock:
            found = [j for j in reversed(self._jobs.values())
                     if (state is None or j.state == state) and (name is None or j.name == name)
                     and (tenant_id is None or j.tenant_id == tenant_id)]
        return sorted(found, key=lambda j: j.created_at, reverse=True)[:limit]

    def heartbeat(self, owner: str, now: float) -> None:
        return None

    def recover(self, me: str, now: float, stale_after_s: float,
                gone: Callable[[str], bool]) -> int:
        return 0  # nothing outlives the process

    def interrupted(self, me: str, now: float, stale_after_s: float,
                    gone: Callable[[str], bool]) -> builtins.list[Orphan]:
        return []

    def fail(self, ids: builtins.list[str], now: float) -> int:
        return 0

    def claim(self, orphan: Orphan, me: str, now: float) -> dict[str, Any] | None:
        return None

    def request_cancel(self, job_id: str) -> None:
        return None

    def save_schedule(self, tenant_id: str, info: ScheduleInfo, owner: str, now: float) -> None:
        with self._lock:
            self.schedules[(tenant_id, info.name)] = info
