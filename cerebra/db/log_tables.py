"""The table of recent log records (issue 13, item 4): what GET /logs and /api/system/logs
read, written by the log store's background batch (cerebra.observability.log_store) and
bounded by `logs.keep` rows (the oldest deleted as new ones arrive).

`tenant_id` is the tenant of the request a line was written for, NULL for a system line
(start-up, background work outside a request); ids only grow, so the newest first is the
primary key read backwards and a page's cursor is an id.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, SmallInteger, String, Table, Text

from cerebra.db.metadata import metadata

log_records = Table(
    "log_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),  # UNIX seconds of the record
    Column("level", SmallInteger, nullable=False),  # logging's number (10 debug … 50 critical)
    Column("logger", String(200), nullable=False),
    Column("event", Text, nullable=False),  # the formatted message (and the exception)
    Column("trace_id", String(64), nullable=True),
    Column("tenant_id", String(64), nullable=True),  # NULL: a system line
    Column("fields", Text, nullable=False, server_default="{}"),  # JSON of the extra= fields
    Index("ix_log_records_tenant", "tenant_id", "id"),
    Index("ix_log_records_trace", "trace_id"),
)
