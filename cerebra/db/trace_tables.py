"""Tables of the kept traces (issue 13, item 1): one row per trace in `traces` (what the
list shows: when, how long, which model, how many spans, how it ended) and one per span in
`trace_spans` (the tree: parent, name, offset from the trace's start, duration, status,
attributes), on the shared metadata. Written by the tracing span processor's background
batch (cerebra.observability.trace_store); every row carries `tenant_id`.

A trace's id is the interaction's trace id (the ledger's, the one responses carry): 32 hex
digits, the OpenTelemetry trace id of its spans.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, Integer, String, Table

from cerebra.db.metadata import metadata

traces = Table(
    "traces",
    metadata,
    Column("trace_id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("user_id", String(200), nullable=False, default=""),
    Column("agent_id", String(200), nullable=False, default=""),
    Column("name", String(200), nullable=False),  # the root span's: the entry point
    Column("model", String(200), nullable=False, default=""),
    Column("started_at", Float, nullable=False),  # UNIX seconds
    Column("duration_ms", Float, nullable=False),
    Column("span_count", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # ok | error
    Index("ix_traces_tenant_started", "tenant_id", "started_at"),
    Index("ix_traces_started", "started_at"),  # pruning by age, across tenants
)

trace_spans = Table(
    "trace_spans",
    metadata,
    Column("trace_id", String(32), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("parent_id", String(16), nullable=True),  # None: the root
    Column("name", String(200), nullable=False),
    Column("start_ms", Float, nullable=False),  # from the trace's start
    Column("duration_ms", Float, nullable=False),
    Column("status", String(16), nullable=False),  # ok | error | unset
    Column("attributes", JSON, nullable=False),
)
