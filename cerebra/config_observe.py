"""Settings of observability (issue 13): traces, the cost ledger's rollups and alerts, drift
detection, logs kept as records and memories, and the web dashboard. One group each,
registered in cerebra.config's GROUPS; each group's owner adds its knobs (every knob with an
effect check in tests/effects/)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator

from cerebra.config_groups import _field, _Group


class TracingSettings(_Group):
    """OpenTelemetry spans of the prompt path: exported over OTLP, kept per interaction."""

    enabled: bool = _field(
        True, description="trace the prompt path: sampled requests get spans, kept in the "
        "database (GET /api/traces) and sent to otlp_endpoint (off: no span is ever made)",
    )
    sample_rate: float = _field(
        0.1, ge=0.0, le=1.0,
        description="share of requests traced, decided once at each request's start (a "
        "header `X-Cerebra-Trace: always` keeps one whatever the rate); 0.1 keeps the "
        "gateway's median cost that of an untraced request",
    )
    otlp_endpoint: str = _field(
        "", max_length=2000, pattern=r"^(https?://\S+)?$",
        description="OTLP/HTTP traces URL spans are exported to as well, e.g. "
        "http://localhost:4318/v1/traces (empty: kept in the database only)",
    )
    keep_days: float = _field(
        7.0, gt=0, le=3650, description="days a kept trace stays in the database",
    )
    max_spans: int = _field(
        64, ge=2, le=10_000,
        description="spans kept per trace; steps past it are counted on the root "
        "(cerebra.dropped_spans), not recorded",
    )


class CostsSettings(_Group):
    """The cost ledger: spend rollups, budget alerts, forecasts and recommendations."""

    alert_thresholds: list[float] = _field(
        [0.5, 0.8, 1.0],
        description="fractions of each daily or monthly budget whose crossing raises an alert "
        "(once per threshold, budget and period), as a JSON list; [] for no budget alerts",
    )
    webhook_url: str = _field(
        "", description="budget alerts are POSTed here as JSON (empty: only logged)",
    )
    webhook_secret: SecretStr = _field(
        SecretStr(""), description="signs each webhook body: header X-Cerebra-Signature "
        "`sha256=<hex HMAC-SHA256 of the body>` (empty: unsigned)",
    )
    webhook_timeout_s: float = _field(
        5.0, gt=0, le=120, description="seconds a webhook delivery may take",
    )
    forecast_method: Literal["auto", "holt_winters", "mean"] = _field(
        "auto", description="the month's spend forecast: `holt_winters` (weekly-seasonal "
        "exponential smoothing; needs 4 weeks of history), `mean` (the recent daily mean), "
        "`auto` (Holt-Winters when the history allows, else the mean)",
    )
    forecast_level: float = _field(
        0.95, gt=0.5, lt=1.0, description="the forecast interval's probability",
    )
    recommend_min_ratio: float = _field(
        2.0, ge=1.0, le=1000.0, description="a model is named costly when its cost per "
        "request is at least this many times another's with feedback as good",
    )

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if any(not 0 < t <= 10 for t in value):
            raise ValueError("each threshold must be a fraction > 0 and <= 10")
        return sorted(set(value))


class DriftSettings(_Group):
    """Drift detection: a recent window against a reference window, with alerts."""

    check_interval_s: float = _field(
        3600.0, ge=0, le=7 * 86_400,
        description="seconds between drift checks of every tenant's agents and tasks (0: "
        "only when asked, POST /api/drift/check)",
    )
    recent_s: float = _field(
        86_400.0, gt=0, le=90 * 86_400,
        description="the recent window: the last this many seconds, compared with the "
        "reference window just before it",
    )
    reference_s: float = _field(
        7 * 86_400.0, gt=0, le=365 * 86_400,
        description="the reference window: this many seconds ending where the recent one "
        "starts",
    )
    alpha: float = _field(
        0.01, gt=0, lt=1,
        description="significance level: a signal drifted when its test's p-value is below "
        "it (scores and latencies also need a PSI of at least 0.1)",
    )
    min_samples: int = _field(
        30, ge=2, le=100_000,
        description="fewer samples than this in either window: the signal is not tested",
    )
    embedding_samples: int = _field(
        200, ge=2, le=5_000,
        description="prompts per window embedded for the embedding test (evenly spread "
        "over the window's newest ones)",
    )
    retrain: bool = _field(
        False,
        description="a drift alert on a task with a retraining trigger starts its "
        "improvement cycle (the trigger's workflow; never while one is running)",
    )
    webhook_url: str = _field(
        "", max_length=2000, pattern=r"^(https?://\S+)?$",
        description="drift alerts are also POSTed here as JSON, signed and timed out like "
        "budget alerts (costs.webhook_secret, costs.webhook_timeout_s); empty: only logged",
    )


class LogsSettings(_Group):
    """Logs: kept for GET /logs and /api/system/logs, and ingested as memories when asked."""

    keep: int = _field(
        100_000, ge=0, le=10_000_000,
        description="log records the server keeps in the database for GET /logs (the oldest "
        "past it are deleted as new ones arrive; 0: none kept)",
    )
    level_kept: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _field(
        "INFO",
        description="the lowest level of the log records kept for GET /logs (the server's "
        "log level filters first: server.log_level)",
    )
    memory_agent: str = _field(
        "", alias="CEREBRA_LOG_AGENT", max_length=200,
        description="the agent whose memory receives the server's log records as memories "
        "(tagged level:, logger:; in the record's tenant); empty: off",
    )
    memory_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _field(
        "WARNING",
        description="the lowest level of the log records ingested as memories "
        "(logs.memory_agent)",
    )


class DashboardSettings(_Group):
    """The web dashboard served at /dashboard."""
