"""`MemoryLogHandler`: the server's log records ingested as memories of one agent
(`logs.memory_agent`, alias CEREBRA_LOG_AGENT), so an agent can recall what went wrong.

Each record is formatted as the JSON line the server writes (cerebra.observability.logging)
and read by the memory's own log ingestion (cerebra.memory.ingest.parse_line): the same
tags (`level:warning`, `logger:…`, `event:…`), importance by level and metadata as
`cerebra memory ingest-logs` gives a log file. A record goes to the memory of the tenant it
was written for (its request's), a system line to the default tenant.

Bounded: level-filtered (`logs.memory_level`), at most `max_waiting` records waiting and
`per_minute` stored a minute (the rest dropped and counted); exact repeats are stored once
(the store's duplicate check). Never recursive: memory's own loggers (`cerebra.memory…`) and
this module's are not ingested, nor anything logged on the ingesting thread — a memory that
fails to store and logs it must not become a memory that fails to store.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from cerebra.context import DEFAULT_TENANT, RequestContext
from cerebra.memory.ingest import parse_line
from cerebra.observability.log_queue import BoundedDrain
from cerebra.observability.log_scope import SCOPE_FILTER
from cerebra.observability.logging import JsonFormatter

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore

log = logging.getLogger("cerebra.logs")

# never ingested: memory's own lines, and the log machinery's
EXCLUDED = ("cerebra.memory", "cerebra.logs", "cerebra.observability.log")


class MemoryLogHandler(logging.Handler):
    def __init__(self, store: MemoryStore, agent_id: str, level: int | str = logging.WARNING,
                 *, max_waiting: int = 1_000, per_minute: int = 120,
                 interval_s: float = 0.5) -> None:
        super().__init__(level)
        self.store = store
        self.agent_id = agent_id
        self.per_minute = per_minute
        self._window = (0.0, 0)  # (minute start, stored in it)
        self.limited = 0  # records dropped by the per-minute bound
        self.failed = 0  # records the memory store refused
        self._format = JsonFormatter()
        self.addFilter(SCOPE_FILTER)
        self.drain: BoundedDrain[tuple[str, str]] = BoundedDrain(
            self._ingest, name="cerebra-log-memory", max_items=max_waiting,
            interval_s=interval_s)

    def emit(self, record: logging.LogRecord) -> None:
        if self.drain.on_worker_thread() or record.name.startswith(EXCLUDED):
            return
        try:
            tenant = getattr(record, "tenant_id", None) or DEFAULT_TENANT
            self.drain.submit((str(tenant), self._format.format(record)))
        except Exception:
            self.handleError(record)

    def _allowed(self, n: int) -> int:
        start, used = self._window
        now = time.monotonic()
        if now - start >= 60.0:
            start, used = now, 0
        take = max(0, min(n, self.per_minute - used))
        self._window = (start, used + take)
        self.limited += n - take
        return take

    def _ingest(self, batch: list[tuple[str, str]]) -> None:
        by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for tenant, line in batch[:self._allowed(len(batch))]:
            parsed = parse_line(line)
            if parsed is None or len(parsed["text"]) > self.store.max_chars:
                continue
            if parsed["created_at"] is None:
                del parsed["created_at"]
            by_tenant[tenant].append(parsed)
        for tenant, items in by_tenant.items():  # one tenant's refusal loses only its own
            try:
                self.store.add_many(self.agent_id, items, source="log",
                                    context=RequestContext(tenant_id=tenant))
            except Exception:
                self.failed += len(items)
                log.exception("%d log records not stored as memories of tenant %r",
                              len(items), tenant)

    def flush(self) -> None:
        self.drain.flush()

    def close(self) -> None:
        self.drain.close()
        super().close()
