"""Kept traces: the span processor that writes each finished Cerebra trace to the database
(`traces`, `trace_spans`) through a background BatchWriter, and the tenant-scoped reads of
them (a page of traces, one trace's span tree).

`on_end` runs where a span ends (the request path): it only appends the span to its trace's
list, and when the root ends hands the whole trace to the writer's queue — never a commit.
The writer's thread turns spans into rows, inserts them (idempotently, by trace id) and,
at most once a minute, deletes traces older than `keep_days`. Only traces whose root names
a tenant (`cerebra.tenant_id`, set by the Brain) are kept; at most `MAX_OPEN` unfinished
traces wait for their root (past it the oldest is dropped: a root that never ends cannot
grow memory without bound). Traces are not precious: rows the database refuses are
dropped and counted (no spill file).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, insert, select

from cerebra.context import RequestContext
from cerebra.db.trace_tables import trace_spans, traces
from cerebra.db.visibility import visible_rows
from cerebra.observability.batch_writer import BatchWriter

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

MAX_OPEN = 10_000  # unfinished traces waiting for their root
PRUNE_EVERY_S = 60.0
TENANT, USER, AGENT, MODEL = ("cerebra.tenant_id", "cerebra.user_id", "cerebra.agent_id",
                              "cerebra.model")


@dataclass(frozen=True)
class FinishedTrace:
    root: ReadableSpan
    spans: tuple[ReadableSpan, ...]  # the others, in the order they ended


def _hex(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


def _status(span: ReadableSpan) -> str:
    return span.status.status_code.name.lower()


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def rows_of(trace: FinishedTrace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `traces` row and the `trace_spans` rows of a finished trace."""
    root = trace.root
    attrs = dict(root.attributes or {})
    tenant = str(attrs.get(TENANT, ""))
    start = root.start_time or 0
    trace_id = _hex(root.context.trace_id, 32)
    spans: list[dict[str, Any]] = []
    for span in (root, *trace.spans):
        begun = span.start_time or start
        spans.append({
            "trace_id": trace_id, "span_id": _hex(span.context.span_id, 16),
            "tenant_id": tenant,
            "parent_id": None if span.parent is None else _hex(span.parent.span_id, 16),
            "name": span.name[:200], "start_ms": (begun - start) / 1e6,
            "duration_ms": ((span.end_time or begun) - begun) / 1e6, "status": _status(span),
            "attributes": {k: _jsonable(v) for k, v in (span.attributes or {}).items()},
        })
    head = {
        "trace_id": trace_id, "tenant_id": tenant, "user_id": str(attrs.get(USER, "")),
        "agent_id": str(attrs.get(AGENT, "")), "name": root.name[:200],
        "model": str(attrs.get(MODEL, ""))[:200], "started_at": start / 1e9,
        "duration_ms": spans[0]["duration_ms"], "span_count": len(spans),
        "status": _status(root),
    }
    return head, spans


class TraceStore:
    """An OpenTelemetry SpanProcessor keeping Cerebra's traces in the database."""

    def __init__(self, engine: Engine, *, keep_days: float = 7.0,
                 clock: Any = time.time) -> None:
        self.engine = engine
        self.keep_days = keep_days
        self._clock = clock
        self._open: dict[int, list[ReadableSpan]] = {}
        self._lock = threading.Lock()
        self._pruned_at = 0.0
        self.writer: BatchWriter[FinishedTrace] = BatchWriter(
            self._write, None, name="cerebra-traces", batch_size=100, interval_s=0.2)

    # -- the SpanProcessor interface --------------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def _on_ending(self, span: Any) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        trace_id = span.context.trace_id
        if span.parent is not None:
            with self._lock:
                waiting = self._open.get(trace_id)
                if waiting is None:
                    if len(self._open) >= MAX_OPEN:
                        self._open.pop(next(iter(self._open)))
                    waiting = self._open[trace_id] = []
                waiting.append(span)
            return
        with self._lock:
            children = self._open.pop(trace_id, [])
        if (span.attributes or {}).get(TENANT) is not None and not self.writer.closing.is_set():
            self.writer.submit(FinishedTrace(span, tuple(children)))

    def shutdown(self) -> None:
        self.writer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.writer.flush(timeout_millis / 1000)

    # -- the writer's thread ----------------------------------------------------------------
    def _write(self, batch: list[FinishedTrace]) -> None:
        heads: dict[str, dict[str, Any]] = {}
        spans: dict[str, list[dict[str, Any]]] = {}
        for trace in batch:
            head, rows = rows_of(trace)
            if head["trace_id"] not in heads:
                heads[head["trace_id"]] = head
                spans[head["trace_id"]] = rows
        with self.engine.begin() as conn:
            present = set(conn.execute(
                select(traces.c.trace_id).where(traces.c.trace_id.in_(heads))).scalars())
            new = [tid for tid in heads if tid not in present]
            if new:
                conn.execute(insert(traces), [heads[tid] for tid in new])
                conn.execute(insert(trace_spans), [row for tid in new for row in spans[tid]])
        self._prune()

    def _prune(self) -> None:
        now = self._clock()
        if now - self._pruned_at < PRUNE_EVERY_S:
            return
        self._pruned_at = now
        self.prune(now)

    def prune(self, now: float | None = None) -> int:
        """Delete the traces older than `keep_days`; how many went."""
        cutoff = (self._clock() if now is None else now) - self.keep_days * 86_400
        old = select(traces.c.trace_id).where(traces.c.started_at < cutoff)
        with self.engine.begin() as conn:
            conn.execute(delete(trace_spans).where(trace_spans.c.trace_id.in_(old)))
            return conn.execute(delete(traces).where(traces.c.started_at < cutoff)).rowcount


def trace_page(engine: Engine, context: RequestContext, *, limit: int = 50,
               before: float | None = None) -> tuple[list[dict[str, Any]], float | None]:
    """The caller's newest traces (started before `before`, unix s) and the `before` of the
    next page (None: no more)."""
    query = visible_rows(select(traces), traces, context)
    if before is not None:
        query = query.where(traces.c.started_at < before)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(traces.c.started_at.desc()).limit(limit + 1)).all()
    page = [_summary(dict(r._mapping)) for r in rows[:limit]]
    return page, (rows[limit - 1].started_at if len(rows) > limit else None)


def trace_tree(engine: Engine, context: RequestContext, trace_id: str) -> dict[str, Any] | None:
    """One trace and its spans in start order, the root first (None: not a trace the caller
    may see)."""
    with engine.connect() as conn:
        query = visible_rows(select(traces), traces, context)
        head = conn.execute(query.where(traces.c.trace_id == trace_id)).first()
        if head is None:
            return None
        rows = conn.execute(
            select(trace_spans).where(trace_spans.c.trace_id == trace_id)
            .where(trace_spans.c.tenant_id == context.tenant_id)
            .order_by(trace_spans.c.start_ms, trace_spans.c.parent_id.is_not(None))).all()
    return {**_summary(dict(head._mapping)), "spans": [_span(dict(r._mapping)) for r in rows]}


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {"trace_id": row["trace_id"], "started_at": row["started_at"],
            "duration_ms": round(row["duration_ms"], 3), "name": row["name"],
            "model": row["model"], "spans": row["span_count"], "status": row["status"]}


def _span(row: dict[str, Any]) -> dict[str, Any]:
    return {"span_id": row["span_id"], "parent_id": row["parent_id"], "name": row["name"],
            "start_ms": round(row["start_ms"], 3), "duration_ms": round(row["duration_ms"], 3),
            "status": row["status"], "attributes": row["attributes"]}

