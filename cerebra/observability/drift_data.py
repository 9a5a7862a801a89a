"""What drift detection compares, read from the database: per tenant, scope and time window,
the prompts and latencies of the interactions, their feedback (good or not) and the scores
signals gave them.

A scope is `all` (the tenant's every interaction), `agent:<id>` (the interactions the agent
answered) or `task:<name>` (the interactions a signal labelled with the task). A window is
[start, end) in UNIX seconds; each read keeps the window's newest `limit` samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, select

from cerebra.db.improve_tables import signals
from cerebra.db.schema import interactions, tenants
from cerebra.errors import InvalidInput

SCOPE_PATTERN = r"^(all|(agent|task):[A-Za-z0-9_.:@/-]{1,200})$"
_SCOPE = re.compile(SCOPE_PATTERN)
SCORE_KINDS = ("score", "judge", "checker")  # graded signals (thumbs are feedback)
GOOD = 0.5  # feedback at or above this is a good answer
LIMIT = 5000  # newest samples per window and signal
MAX_SCOPES = 100  # agents and tasks checked per tenant (the most recently active)


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    def to_dict(self, n: int) -> dict[str, Any]:
        return {"from": self.start, "to": self.end, "n": n}


@dataclass(frozen=True)
class Sample:
    """One signal's samples in one window: (time, value) pairs, newest first."""

    times: list[float]
    values: list[Any]

    def __len__(self) -> int:
        return len(self.values)


def check_scope(scope: str) -> str:
    if not isinstance(scope, str) or not _SCOPE.match(scope):
        raise InvalidInput("scope is all, agent:<id> or task:<name>", field="scope")
    return scope


def tenant_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars())


def _traces_of_task(tenant: str, task: str) -> Select[Any]:
    return select(signals.c.trace_id).where(signals.c.tenant_id == tenant,
                                            signals.c.task == task)


class DriftData:
    """Reads the samples of one tenant's scopes."""

    def __init__(self, engine: Engine, *, limit: int = LIMIT) -> None:
        self.engine = engine
        self.limit = limit

    def scopes(self, tenant: str, since: float) -> list[str]:
        """`all`, then the agents and tasks active since `since` (at most MAX_SCOPES)."""
        with self.engine.connect() as conn:
            any_row = conn.execute(select(interactions.c.id).where(
                interactions.c.tenant_id == tenant, interactions.c.created_at >= since
            ).limit(1)).first()
            agents = conn.execute(select(interactions.c.agent_id).distinct().where(
                interactions.c.tenant_id == tenant, interactions.c.created_at >= since,
                interactions.c.agent_id != "").limit(MAX_SCOPES)).scalars().all()
            tasks = conn.execute(select(signals.c.task).distinct().where(
                signals.c.tenant_id == tenant, signals.c.created_at >= since,
                signals.c.task.is_not(None)).limit(MAX_SCOPES)).scalars().all()
        found = [f"agent:{a}" for a in sorted(agents)] + [f"task:{t}" for t in sorted(tasks)]
        found = [s for s in found if _SCOPE.match(s)]
        return (["all"] if any_row else []) + found

    def _interactions(self, tenant: str, scope: str, window: Window, *columns: Any,
                      at: Any = interactions.c.created_at) -> list[Any]:
        """The window's newest rows of `columns`, each after its time `at` (the answer's
        creation, or its feedback's: the rated ones only)."""
        query = select(at, *columns).where(
            interactions.c.tenant_id == tenant, at >= window.start, at < window.end)
        kind, _, name = scope.partition(":")
        if kind == "agent":
            query = query.where(interactions.c.agent_id == name)
        elif kind == "task":
            query = query.where(interactions.c.trace_id.in_(_traces_of_task(tenant, name)))
        query = query.order_by(at.desc()).limit(self.limit)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def prompts(self, tenant: str, scope: str, window: Window) -> Sample:
        rows = self._interactions(tenant, scope, window, interactions.c.prompt)
        return Sample([r[0] for r in rows], [r[1] for r in rows])

    def latencies(self, tenant: str, scope: str, window: Window) -> Sample:
        rows = self._interactions(tenant, scope, window, interactions.c.latency_ms)
        return Sample([r[0] for r in rows], [float(r[1]) for r in rows])

    def feedback(self, tenant: str, scope: str, window: Window) -> Sample:
        """The feedback given in the window: 1.0 for a good answer (quality ≥ 0.5), 0.0 for
        a bad one."""
        rows = self._interactions(tenant, scope, window, interactions.c.quality,
                                  at=interactions.c.feedback_at)
        return Sample([r[0] for r in rows], [1.0 if r[1] >= GOOD else 0.0 for r in rows])

    def scores(self, tenant: str, scope: str, window: Window) -> Sample:
        """The graded signals' values (score, judge, checker) given in the window."""
        query = select(signals.c.created_at, signals.c.value).where(
            signals.c.tenant_id == tenant, signals.c.kind.in_(SCORE_KINDS),
            signals.c.value.is_not(None), signals.c.created_at >= window.start,
            signals.c.created_at < window.end)
        kind, _, name = scope.partition(":")
        if kind == "task":
            query = query.where(signals.c.task == name)
        elif kind == "agent":  # through the interaction's unique trace id
            query = query.join(interactions, interactions.c.trace_id == signals.c.trace_id
                               ).where(interactions.c.tenant_id == tenant,
                                       interactions.c.agent_id == name)
        query = query.order_by(signals.c.created_at.desc()).limit(self.limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return Sample([r[0] for r in rows], [float(r[1]) for r in rows])

    def quality_by_model(self, tenant: str, scope: str, window: Window) -> dict[str, list[float]]:
        """The feedback (quality 0..1) given in the window, per model that gave the answer."""
        rows = self._interactions(tenant, scope, window, interactions.c.model,
                                  interactions.c.quality, at=interactions.c.feedback_at)
        out: dict[str, list[float]] = {}
        for row in rows:
            out.setdefault(row[1], []).append(float(row[2]))
        return out
