"""MissionStore: a tenant's stored mission templates, their runs and each run's outcomes in
the database (tables `missions`, `mission_runs`, `mission_outcomes`, revision 0015).

A daily run claims its day: the run row's `daily_key` is unique per tenant and mission, so a
second claim of the same day — in this process or another — finds it taken and runs nothing.
Every query is scoped by the tenant; another tenant's mission or run is unknown (404).
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cerebra.agents.mission_spec import Mission
from cerebra.db.schema import mission_outcomes, mission_runs, missions
from cerebra.errors import Conflict, NotFound


class UnknownMission(NotFound):
    code = "mission_not_found"


class UnknownRun(NotFound):
    code = "mission_run_not_found"


@dataclass(frozen=True)
class Outcome:
    """One agent's answer to one prompt of a run, and how it was scored."""

    agent_id: str
    prompt_index: int
    answer: str
    score: float
    passed: bool
    reason: str
    model: str = ""
    latency_ms: float = 0.0
    error: str = ""
    trace_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Run:
    id: str
    mission: str
    trigger: str  # daily | manual
    day: str | None
    state: str  # running | done | failed
    summary: Mapping[str, Any]
    started_at: float
    finished_at: float | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = dict(self.summary)
        return out


class MissionStore:
    def __init__(self, engine: Engine, tenant_id: str) -> None:
        self.engine, self.tenant_id = engine, tenant_id

    # -- templates ------------------------------------------------------------------------
    def save(self, mission: Mission, *, replace: bool = False) -> Mission:
        """Store the mission (Conflict when one by that name exists, unless `replace`)."""
        m, now = missions, time.time()
        where = (m.c.tenant_id == self.tenant_id) & (m.c.name == mission.name)
        spec = {k: v for k, v in mission.spec.items() if k != "source"}
        with self.engine.begin() as conn:
            if conn.execute(select(m.c.name).where(where)).first() is not None:
                if not replace:
                    raise Conflict(f"mission {mission.name!r} exists already", field="name")
                conn.execute(update(m).where(where).values(spec=spec, updated_at=now))
            else:
                try:
                    conn.execute(insert(m).values(tenant_id=self.tenant_id, name=mission.name,
                                                  spec=spec, created_at=now, updated_at=now))
                except IntegrityError:
                    raise Conflict(f"mission {mission.name!r} exists already",
                                   field="name") from None
        return Mission.from_spec(spec)

    def stored(self) -> dict[str, Mission]:
        m = missions
        with self.engine.connect() as conn:
            rows = conn.execute(select(m.c.name, m.c.spec).where(
                m.c.tenant_id == self.tenant_id).order_by(m.c.name)).all()
        return {r.name: Mission.from_spec(r.spec, name=r.name) for r in rows}

    def remove(self, name: str) -> None:
        m = missions
        with self.engine.begin() as conn:
            gone = conn.execute(delete(m).where(
                (m.c.tenant_id == self.tenant_id) & (m.c.name == name))).rowcount
        if not gone:
            raise UnknownMission(f"unknown mission {name!r}", field="name")

    # -- runs -----------------------------------------------------------------------------
    def claim(self, mission: str, trigger: str, day: str | None) -> str | None:
        """A new run's id; None when `day`'s daily run of the mission is claimed already."""
        run_id = uuid.uuid4().hex
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(mission_runs).values(
                    tenant_id=self.tenant_id, id=run_id, mission=mission, trigger=trigger,
                    daily_key=day if trigger == "daily" else None, state="running",
                    summary={}, started_at=time.time(), finished_at=None))
        except IntegrityError:
            return None
        return run_id

    def finish(self, run_id: str, outcomes: Sequence[Outcome], summary: Mapping[str, Any],
               *, state: str = "done") -> None:
        r = mission_runs
        with self.engine.begin() as conn:
            if outcomes:
                conn.execute(insert(mission_outcomes), [
                    {"tenant_id": self.tenant_id, "run_id": run_id,
                     **{k: (v.replace("\x00", "") if isinstance(v, str) else v)
                        for k, v in o.to_dict().items()}} for o in outcomes])
            conn.execute(update(r).where((r.c.tenant_id == self.tenant_id) & (r.c.id == run_id))
                         .values(state=state, summary=dict(summary), finished_at=time.time()))

    def runs(self, *, mission: str | None = None, limit: int = 50) -> builtins.list[Run]:
        """The tenant's runs, newest first (of one mission, when given)."""
        r = mission_runs
        query = select(r).where(r.c.tenant_id == self.tenant_id)
        if mission is not None:
            query = query.where(r.c.mission == mission)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(r.c.started_at.desc()).limit(limit)).all()
        return [_run(row) for row in rows]

    def run(self, run_id: str) -> tuple[Run, builtins.list[Outcome]]:
        """The run and its outcomes (UnknownRun, a 404, for another tenant's or no run)."""
        r, o = mission_runs, mission_outcomes
        with self.engine.connect() as conn:
            row = conn.execute(select(r).where(
                (r.c.tenant_id == self.tenant_id) & (r.c.id == run_id))).first()
            if row is None:
                raise UnknownRun(f"unknown mission run {run_id!r}", field="run_id")
            rows = conn.execute(select(o).where(
                (o.c.tenant_id == self.tenant_id) & (o.c.run_id == run_id)).order_by(o.c.id)).all()
        return _run(row), [Outcome(
            agent_id=x.agent_id, prompt_index=x.prompt_index, answer=x.answer, score=x.score,
            passed=bool(x.passed), reason=x.reason, model=x.model, latency_ms=x.latency_ms,
            error=x.error, trace_id=x.trace_id) for x in rows]


def _run(row: Any) -> Run:
    return Run(id=row.id, mission=row.mission, trigger=row.trigger, day=row.daily_key,
               state=row.state, summary=row.summary or {}, started_at=row.started_at,
               finished_at=row.finished_at)
