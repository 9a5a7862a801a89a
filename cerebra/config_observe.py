"""Settings of observability (issue 13): traces, the cost ledger's rollups and alerts, drift
detection, logs kept as records and memories, and the web dashboard. One group each,
registered in cerebra.config's GROUPS; each group's owner adds its knobs (every knob with an
effect check in tests/effects/)."""

from __future__ import annotations

from cerebra.config_groups import _Group


class TracingSettings(_Group):
    """OpenTelemetry spans of the prompt path: exported over OTLP, kept per interaction."""


class CostsSettings(_Group):
    """The cost ledger: spend rollups, budget alerts, forecasts and recommendations."""


class DriftSettings(_Group):
    """Drift detection: a recent window against a reference window, with alerts."""


class LogsSettings(_Group):
    """Logs: kept for GET /logs and /api/system/logs, and ingested as memories when asked."""


class DashboardSettings(_Group):
    """The web dashboard served at /dashboard."""
