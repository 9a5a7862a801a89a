"""The audit log from settings, and the Brain sink that records one "request" event per
finished interaction.

`build_audit_log(settings, engine)` gives the AuditLog over the database sink (plus the
JSON-lines sink when `audit.jsonl_path` is set), journalled in `<home>/audit/journal`,
signing checkpoints with the configured key (`audit.signing_key`, else the key file
`audit.signing_key_path`, default `<home>/audit/signing.key`, made on first use).
`record_action(brain.audit, context, action, target)` is how routes and the CLI record what a
caller did (None-safe: nothing when the audit log is off).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cerebra.governance.audit import AuditEvent, Signer
from cerebra.governance.audit_log import AuditLog
from cerebra.governance.audit_sinks import AuditSink, DatabaseAuditSink

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cerebra.config import Settings
    from cerebra.context import RequestContext
    from cerebra.sinks import Interaction

log = logging.getLogger("cerebra.audit")


def key_path(settings: Settings) -> Path:
    return settings.audit.signing_key_path or settings.home / "audit" / "signing.key"


def signer_from_settings(settings: Settings) -> Signer:
    key = settings.audit.signing_key
    if key is not None:
        return Signer.from_hex(key.get_secret_value())
    return Signer.from_file(key_path(settings))


def trusted_keys(settings: Settings) -> list[str]:
    """The public keys checkpoints may be signed with: `audit.public_key` when set, else
    the configured signing key's (read from its `.pub` file when there is one, so verifying
    needs no secret); empty when there is no key at all."""
    if settings.audit.public_key:
        return [settings.audit.public_key.strip().lower()]
    if settings.audit.signing_key is not None:
        return [signer_from_settings(settings).public_key]
    path = key_path(settings)
    public = path.with_name(path.name + ".pub")
    if public.exists():
        return [public.read_text().strip().lower()]
    if path.exists():
        return [Signer.from_file(path).public_key]
    return []


def build_audit_log(settings: Settings, engine: Engine) -> AuditLog:
    signer = signer_from_settings(settings)
    every = settings.audit.checkpoint_every
    sinks: list[AuditSink] = [DatabaseAuditSink(engine, signer=signer, checkpoint_every=every)]
    if settings.audit.jsonl_path is not None:
        from cerebra.governance.audit_jsonl import JsonlAuditSink

        sinks.append(JsonlAuditSink(settings.audit.jsonl_path, signer=signer,
                                    checkpoint_every=every))
    return AuditLog(sinks, journal_dir=settings.home / "audit" / "journal",
                    linger_s=settings.audit.linger_s)


class AuditRequestSink:
    """A Brain sink: each finished interaction becomes a "request" audit event."""

    name = "audit"

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit

    def receive(self, interaction: Interaction) -> None:
        self.audit.record(request_event(interaction))

    def close(self) -> None:
        self.audit.close()


def request_event(interaction: Interaction) -> AuditEvent:
    """The "request" event of a finished interaction; its cost is the one the ledger and
    the budgets count (the serving model's price)."""
    query, answer = interaction.query, interaction.answer
    principal = query.context.principal
    actor = principal.label() if principal is not None else (query.user_id or "anonymous")
    spent = round(answer.cost_usd, 8)
    details = {
        "endpoint": query.endpoint,
        "model": answer.model,
        "user_id": query.user_id,
        "agent_id": query.agent_id,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "cost": spent,
        "finish_reason": answer.finish_reason,
        "latency_ms": round(answer.latency_ms, 3),
    }
    if answer.routing:
        details["decision_id"] = answer.routing.get("decision_id")
    return AuditEvent(action="request", actor=actor, target=answer.model, outcome="ok",
                      tenant_id=query.tenant_id, details=details, trace_id=answer.trace_id)


def record_action(audit: AuditLog | None, context: RequestContext | None, action: str,
                  target: str = "", *, outcome: str = "ok",
                  details: dict[str, Any] | None = None) -> None:
    """Record one action by the caller in `context` (routes, the CLI); nothing without an
    audit log."""
    if audit is None:
        return
    principal = context.principal if context is not None else None
    actor = (principal.label() if principal is not None
             else (context.user_id if context is not None else "") or "anonymous")
    audit.record(AuditEvent(action, actor=actor, target=target, outcome=outcome,
                            tenant_id=context.tenant_id if context is not None else "",
                            details=details or {}))


def record_offline(settings: Settings, engine: Engine, *events: AuditEvent) -> None:
    """Record events from a process without a Brain (the CLI on the local database): chained
    before this returns (or left in the journal for the next start if the database refuses)."""
    if not settings.audit.enabled or not events:
        return
    audit = build_audit_log(settings, engine)
    try:
        for event in events:
            audit.record(event)
    finally:
        audit.close()
