"""Recent log records kept in the database (`log_records`) and read back with filters.

Why a table and not an in-process ring buffer: the server may run as several workers or
replicas over one database, and a restart should not empty the page an operator opens after
an incident; a table shows every process's lines, survives restarts, and is what tenant
scoping and paging are naturally written against. The hot path stays a deque append
(`DatabaseLogHandler.emit`); one background thread inserts batches in one transaction each
and deletes the oldest rows past `keep` (cerebra.observability.log_queue.BoundedDrain).

Who sees what (`Viewer`): a caller reads its own tenant's lines (those written while a
request of that tenant was served, or logged with its `tenant_id`); the system's lines (no
tenant: start-up, background work) only a caller holding `tenants:admin` — the site's
admins — since a system line may name any tenant's work.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, or_, select, union_all

from cerebra.context import RequestContext
from cerebra.db.log_tables import log_records
from cerebra.observability.log_queue import BoundedDrain
from cerebra.observability.log_scope import SCOPE_FILTER

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_NAMES = {v: k for k, v in LEVELS.items()}
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "trace_id", "tenant_id"}
MAX_EVENT = 8_000  # characters of a message (with its traceback) kept
MAX_FIELDS = 4_000  # characters of the extra fields' JSON kept
PRUNE_EVERY = 1_000  # rows written between two deletions of the oldest


def level_name(number: int) -> str:
    return _NAMES.get(number, logging.getLevelName(number).lower())


def record_row(record: logging.LogRecord) -> dict[str, Any]:
    """A log record as a `log_records` row (its extra fields as a dict, JSON'd later)."""
    event = record.getMessage()
    if record.exc_info:
        event += "\n" + logging.Formatter().formatException(record.exc_info)
    extra = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and k[0] != "_"}
    return {"ts": record.created, "level": record.levelno, "logger": record.name[:200],
            "event": event[:MAX_EVENT], "trace_id": getattr(record, "trace_id", None) or None,
            "tenant_id": getattr(record, "tenant_id", None) or None, "fields": extra}


class LogStore:
    """Writes log records to `log_records` in the background, bounded to `keep` rows."""

    def __init__(self, engine: Engine, *, keep: int, max_waiting: int = 10_000,
                 interval_s: float = 0.2) -> None:
        self.engine = engine
        self.keep = keep
        self._since_prune = 0
        self.drain: BoundedDrain[dict[str, Any]] = BoundedDrain(
            self._write, name="cerebra-log-store", max_items=max_waiting,
            interval_s=interval_s)

    def handler(self, level: int | str = logging.INFO) -> DatabaseLogHandler:
        return DatabaseLogHandler(self, level)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if not isinstance(row["fields"], str):
                row["fields"] = json.dumps(row["fields"], default=str)[:MAX_FIELDS]
                if len(row["fields"]) == MAX_FIELDS:  # cut mid-value: keep it valid JSON
                    row["fields"] = json.dumps({"truncated": row["fields"]})
        with self.engine.begin() as conn:
            conn.execute(insert(log_records), rows)
            self._since_prune += len(rows)
            if self._since_prune >= min(PRUNE_EVERY, max(1, self.keep // 10)):
                self._since_prune = 0
                newest = conn.execute(select(func.max(log_records.c.id))).scalar() or 0
                conn.execute(delete(log_records).where(log_records.c.id <= newest - self.keep))

    def flush(self, timeout: float = 10.0) -> bool:
        return self.drain.flush(timeout)

    def close(self) -> None:
        self.drain.close()


class DatabaseLogHandler(logging.Handler):
    """The logging side of a LogStore: level-filtered, stamped with the request's scope."""

    def __init__(self, store: LogStore, level: int | str = logging.INFO) -> None:
        super().__init__(level)
        self.store = store
        self.addFilter(SCOPE_FILTER)

    def emit(self, record: logging.LogRecord) -> None:
        if self.store.drain.on_worker_thread():
            return  # written while writing logs: never fed back
        try:
            self.store.drain.submit(record_row(record))
        except Exception:
            self.handleError(record)


@dataclass(frozen=True)
class Viewer:
    """Whose lines a caller reads: its tenant's, and the system's when it may."""

    tenant_id: str
    system: bool = False

    @classmethod
    def of(cls, context: RequestContext) -> Viewer:
        from cerebra.auth.principal import Scope

        principal = context.principal
        return cls(context.tenant_id,
                   system=principal is None or Scope.TENANTS_ADMIN in principal.scopes)


@dataclass(frozen=True)
class LogQuery:
    level: int = 0  # the lowest level shown (logging's number)
    logger: str = ""  # this logger and its children
    trace_id: str = ""
    text: str = ""  # a substring of the message, any case
    since: float | None = None  # UNIX seconds
    before: int | None = None  # the page cursor: ids below this one
    limit: int = 100


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def read_logs(engine: Engine, query: LogQuery, viewer: Viewer) -> dict[str, Any]:
    """A page of the viewer's log lines, newest first: {"logs": [...], "next": cursor}."""
    t = log_records
    owners: list[Any] = [t.c.tenant_id == viewer.tenant_id]
    if viewer.system:  # and the lines of no tenant: each owner read in index order
        owners.append(t.c.tenant_id.is_(None))
    where: list[Any] = []
    if query.level:
        where.append(t.c.level >= query.level)
    if query.logger:
        where.append(or_(t.c.logger == query.logger,
                         t.c.logger.like(_like(query.logger) + ".%", escape="\\")))
    if query.trace_id:
        where.append(t.c.trace_id == query.trace_id)
    if query.text:
        where.append(t.c.event.ilike("%" + _like(query.text) + "%", escape="\\"))
    if query.since is not None:
        where.append(t.c.ts >= query.since)
    if query.before is not None:
        where.append(t.c.id < query.before)
    pages = [select(t).where(owner, *where).order_by(t.c.id.desc()).limit(query.limit + 1)
             for owner in owners]  # one OR would lose the (tenant_id, id) index's order
    stmt: Any = pages[0]
    if len(pages) > 1:
        merged = union_all(*(p.subquery().select() for p in pages)).subquery()
        stmt = select(merged).order_by(merged.c.id.desc()).limit(query.limit + 1)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    page = rows[:query.limit]
    return {"logs": [_line(r) for r in page],
            "next": page[-1]["id"] if len(rows) > query.limit else None}


def _line(row: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    try:
        fields = json.loads(row["fields"])
    except ValueError:
        fields = {}
    stamp = datetime.fromtimestamp(row["ts"], UTC).isoformat(timespec="milliseconds")
    return {"id": row["id"], "ts": stamp.replace("+00:00", "Z"), "at": row["ts"],
            "level": level_name(row["level"]), "logger": row["logger"], "event": row["event"],
            "trace_id": row["trace_id"], "tenant_id": row["tenant_id"], "fields": fields}
