"""Tables of drift detection (issue 13, item 3): the latest report of each (scope, signal) a
check compared (`drift_reports`, replaced by each check) and the alerts raised when one
drifted (`drift_alerts`, kept). On the shared metadata; every row carries `tenant_id`.

Migration 0030 also indexes what a check reads by time: `ix_interactions_agent_time`
(tenant_id, agent_id, created_at) for an agent's window, `ix_interactions_feedback_time`
(tenant_id, feedback_at) for a window's feedback, `ix_signals_time` (tenant_id, created_at)
for a window's scores.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

from cerebra.db.metadata import metadata

# The last check's result per tenant, scope (all | agent:<id> | task:<name>) and signal
# (embedding | score | latency | feedback); `data` is the whole report as the API returns it.
drift_reports = Table(
    "drift_reports",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("scope", String(220), primary_key=True),
    Column("signal", String(16), primary_key=True),
    Column("test", String(32), nullable=False),
    Column("statistic", Float, nullable=True),
    Column("p_value", Float, nullable=True),
    Column("drifted", Boolean, nullable=False),
    Column("checked_at", Float, nullable=False),
    Column("data", JSON, nullable=False),
)

# One row per alert: a drifted (scope, signal), raised at most once per recent window.
drift_alerts = Table(
    "drift_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("scope", String(220), nullable=False),
    Column("signal", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("statistic", Float, nullable=True),
    Column("p_value", Float, nullable=True),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=False),  # the report, the deliveries, the retraining event
    Index("ix_drift_alerts_tenant_time", "tenant_id", "created_at"),
    Index("ix_drift_alerts_scope", "tenant_id", "scope", "signal", "created_at"),
)
