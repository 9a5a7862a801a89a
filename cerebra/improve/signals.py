"""Signals on traces: what the loop learns from — a user's score, thumbs, correction or label,
a judge's verdict, a checker's result, an RLAIF preference — one row each in `signals`
(migration 0016), many per trace, per tenant.

A signal's `value` is a score in [0, 1] where higher is better (thumbs up is 1, down 0);
its `trust` in [0, 1] weighs its source: a user and a checker 1.0, a judge 0.7, an RLAIF
label 0.6, an agent's key 0.5 by default (`DEFAULT_TRUST`; a caller may lower, never raise,
its own). A `label` names the trace's task: every signal of that trace without a task takes
it, and later ones inherit it. `training_examples` (cerebra/improve/examples.py) turns the
signals and the interactions they point at into SFT rows and preference pairs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, select, update

from cerebra.context import RequestContext
from cerebra.db.improve_tables import signals
from cerebra.db.schema import interactions
from cerebra.db.visibility import visible_rows
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.examples import training_examples

__all__ = ["DEFAULT_TRUST", "KINDS", "Signal", "SignalStore", "record_check", "record_verdict",
           "source_of", "training_examples"]

KINDS = ("score", "thumbs", "correction", "label", "judge", "checker", "rlaif")
USER_KINDS = ("score", "thumbs", "correction", "label")  # what a caller may post itself
DEFAULT_TRUST = {"user": 1.0, "checker": 1.0, "judge": 0.7, "rlaif": 0.6, "agent": 0.5}
MAX_TEXT = 20_000  # a correction is an answer; bounded like one
MAX_TASK = 200


@dataclass(frozen=True)
class Signal:
    """One signal on the trace `trace_id` (see the module docstring for value and trust)."""

    kind: str
    trace_id: str
    value: float | None = None
    text: str | None = None
    source: str = "user:"
    trust: float | None = None  # None: the source's default
    task: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    tenant: str = ""  # filled from the context when stored
    id: str = ""
    created_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tenant": self.tenant, "trace_id": self.trace_id,
                "kind": self.kind, "value": self.value, "text": self.text, "task": self.task,
                "source": self.source, "trust": self.trust, "payload": dict(self.payload),
                "created_at": self.created_at}


def default_trust(source: str) -> float:
    """The trust a source gets unless told otherwise (by its prefix: user, judge, …)."""
    prefix = source.partition(":")[0]
    if prefix not in DEFAULT_TRUST:
        raise InvalidInput(f"unknown signal source {source!r}: one of "
                           + ", ".join(f"{p}:<name>" for p in DEFAULT_TRUST), field="source")
    return DEFAULT_TRUST[prefix]


def source_of(context: RequestContext) -> str:
    """Who a request's signal comes from: "agent:<id>" for a key issued to an agent, else
    "user:<id>" (the library's own caller: "user:<context user>" or "user:local")."""
    principal = context.principal
    if principal is not None and principal.agent_id:
        return f"agent:{principal.agent_id}"
    user = principal.user_id if principal is not None else context.user_id
    return f"user:{user or 'local'}"


def checked(signal: Signal) -> Signal:
    """The signal with its trust resolved, or InvalidInput naming the bad field."""
    if signal.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if not isinstance(signal.trace_id, str) or not signal.trace_id.strip():
        raise InvalidInput("a signal needs the trace id it is about", field="trace_id")
    value = signal.value
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("value must be a number in [0, 1]", field="value")
        if not 0.0 <= float(value) <= 1.0:
            raise InvalidInput("value must be in [0, 1] (higher is better)", field="value")
    if signal.kind in ("score", "judge", "checker") and value is None:
        raise InvalidInput(f"a {signal.kind} signal needs a value in [0, 1]", field="value")
    if signal.kind == "thumbs" and value not in (0.0, 1.0):
        raise InvalidInput("thumbs are 1 (up) or 0 (down)", field="value")
    text = signal.text
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise InvalidInput(f"text must be at most {MAX_TEXT} characters", field="text")
    if signal.kind == "correction" and not (text or "").strip():
        raise InvalidInput("a correction needs the preferred answer as text", field="text")
    task = signal.task
    if signal.kind == "label" and not task:
        task = (text or "").strip() or None
        if task is None:
            raise InvalidInput("a label needs a task name (text or task)", field="text")
    if task is not None and (not isinstance(task, str) or not task.strip()
                             or len(task) > MAX_TASK):
        raise InvalidInput(f"task must be 1–{MAX_TASK} characters", field="task")
    base = default_trust(signal.source)
    trust = base if signal.trust is None else signal.trust
    if isinstance(trust, bool) or not isinstance(trust, int | float) or not 0 <= trust <= 1:
        raise InvalidInput("trust must be in [0, 1]", field="trust")
    return replace(signal, value=None if value is None else float(value), task=task,
                   trust=float(trust))


class SignalStore:
    """Signals of the caller's tenant: another tenant's trace is as unknown as none."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, context: RequestContext, signal: Signal) -> str:
        """Store `signal` on a trace the context may see (NotFound otherwise); its id."""
        signal = checked(signal)
        tenant = context.tenant_id
        sid = uuid.uuid4().hex
        with self.engine.begin() as conn:
            if not _exists(conn, context, signal.trace_id):
                raise NotFound(f"no interaction with trace id {signal.trace_id!r}",
                               field="trace_id")
            task = signal.task
            if signal.kind == "label":  # the trace's task: its untasked signals take it
                conn.execute(update(signals).where(
                    signals.c.tenant_id == tenant, signals.c.trace_id == signal.trace_id,
                    signals.c.task.is_(None)).values(task=task))
            elif task is None:  # inherit the trace's latest label
                task = conn.execute(
                    select(signals.c.task).where(
                        signals.c.tenant_id == tenant, signals.c.trace_id == signal.trace_id,
                        signals.c.kind == "label")
                    .order_by(signals.c.created_at.desc()).limit(1)).scalar()
            conn.execute(signals.insert().values(
                tenant_id=tenant, id=sid, trace_id=signal.trace_id, kind=signal.kind,
                value=signal.value, text=signal.text, task=task, source=signal.source,
                trust=signal.trust, payload=dict(signal.payload),
                created_at=signal.created_at or time.time()))
        return sid

    def visible(self, context: RequestContext, trace_id: str) -> bool:
        """Whether the context may see (and so signal) the trace `trace_id`."""
        with self.engine.connect() as conn:
            return _exists(conn, context, trace_id)

    def list(self, context: RequestContext, *, trace_id: str | None = None,
             task: str | None = None, kind: str | None = None, since: float | None = None,
             limit: int = 100) -> list[Signal]:
        """The tenant's signals, newest first, filtered as asked."""
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        query = select(signals).where(signals.c.tenant_id == context.tenant_id)
        if trace_id is not None:
            query = query.where(signals.c.trace_id == trace_id)
        if task is not None:
            query = query.where(signals.c.task == task)
        if kind is not None:
            query = query.where(signals.c.kind == kind)
        if since is not None:
            query = query.where(signals.c.created_at >= since)
        query = query.order_by(signals.c.created_at.desc(), signals.c.id).limit(max(limit, 0))
        with self.engine.connect() as conn:
            return [_signal(dict(row._mapping)) for row in conn.execute(query)]

    def count_since(self, context: RequestContext, task: str | None, since: float) -> int:
        """How many traces got a rating, correction or preference (anything but a bare
        label) since `since` — of `task`, or of any task when None: the triggers' "N new
        rated examples"."""
        query = select(func.count(func.distinct(signals.c.trace_id))).where(
            signals.c.tenant_id == context.tenant_id, signals.c.created_at >= since,
            signals.c.kind != "label")
        if task is not None:
            query = query.where(signals.c.task == task)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)


def _exists(conn: Connection, context: RequestContext, trace_id: str) -> bool:
    query = visible_rows(select(interactions.c.trace_id), interactions, context)
    return conn.execute(query.where(interactions.c.trace_id == trace_id)).first() is not None


def _signal(row: Mapping[str, Any]) -> Signal:
    return Signal(kind=row["kind"], trace_id=row["trace_id"], value=row["value"],
                  text=row["text"], source=row["source"], trust=row["trust"],
                  task=row["task"], payload=row["payload"] or {}, tenant=row["tenant_id"],
                  id=row["id"], created_at=row["created_at"])


# -- judges and checkers as sources ------------------------------------------------------------


class VerdictLike(Protocol):
    """What record_verdict reads of a verdict (cerebra.judging.base.Verdict fits)."""

    @property
    def winner(self) -> str | None: ...
    @property
    def scores(self) -> Mapping[str, float]: ...
    @property
    def rationale(self) -> str: ...
    @property
    def judge(self) -> str: ...
    @property
    def agreement(self) -> float | None: ...
    @property
    def failures(self) -> tuple[str, ...]: ...


def judged(verdict: VerdictLike) -> bool:
    """Whether a verdict is a judgement at all: not when every pair flipped with the order
    the answers were shown in (agreement 0.0), nor when no judgement could be made."""
    if verdict.agreement == 0.0:
        return False
    return not (verdict.agreement is None and verdict.failures)


def record_verdict(store: SignalStore, context: RequestContext, verdict: VerdictLike,
                   trace_ids: Mapping[str, str], *, source: str | None = None,
                   task: str | None = None, group: str | None = None) -> list[str]:
    """A `judge` signal on each judged trace (contestant id → trace id): its score as value,
    the rationale as text, trust 0.7 × the position-swap agreement when measured; the
    payload names the verdict (group), the contestant, the winner and every trace, so
    training_examples can pair the winner with the others. Position-only or empty verdicts
    record nothing. Returns the signal ids."""
    if not judged(verdict):
        return []
    source = source or f"judge:{verdict.judge or 'judge'}"
    trust = default_trust(source) * (1.0 if verdict.agreement is None else verdict.agreement)
    group = group or uuid.uuid4().hex
    ids = []
    for contestant, trace_id in trace_ids.items():
        if not trace_id or contestant not in verdict.scores:
            continue
        payload = {"group": group, "contestant": contestant, "winner": verdict.winner,
                   "traces": dict(trace_ids), "agreement": verdict.agreement}
        ids.append(store.add(context, Signal(
            "judge", trace_id, float(verdict.scores[contestant]),
            verdict.rationale[:MAX_TEXT] or None, source, trust, task, payload)))
    return ids


def record_check(store: SignalStore, context: RequestContext, trace_id: str,
                 check_result: Any, checker_name: str, task: str | None = None) -> str:
    """A `checker` signal: the result's score (cerebra.judging.checker.CheckResult, or a
    kit's result with `score` and `passed`) with its reason, from "checker:<name>"."""
    score = float(check_result.score)
    reason = getattr(check_result, "reason", None)
    payload = {}
    if hasattr(check_result, "passed"):
        payload["passed"] = bool(check_result.passed)
    return store.add(context, Signal("checker", trace_id, score, reason or None,
                                     f"checker:{checker_name}", None, task, payload))
