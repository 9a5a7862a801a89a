"""Signals API (issue 11): POST /api/v1/traces/{trace_id}/signals (a caller's own signal on
a trace: score, thumbs, correction or label) and GET /api/v1/signals (the tenant's signals,
filtered). Another tenant's trace is a 404 like one that never existed; a caller cannot
claim more trust than its source's default. Logic lives in cerebra.improve.signals.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.signals import (
    MAX_TASK,
    MAX_TEXT,
    Signal,
    SignalStore,
    default_trust,
    source_of,
)
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1", tags=["signals"])

Kind = Literal["score", "thumbs", "correction", "label", "judge", "checker", "rlaif"]


async def get_signal_store(request: Request) -> SignalStore:
    store = getattr(request.app.state, "signal_store", None)
    if not isinstance(store, SignalStore):
        store = SignalStore(request.app.state.brain.engine)
        request.app.state.signal_store = store
    return store


def _kinds(schema: dict[str, Any]) -> None:
    """SignalIn: a score (the default kind) or thumbs need a value (thumbs 0 or 1), a
    correction its text, a label its text or task — each not blank."""
    def branch(kind: str, required: str, rule: dict[str, Any]) -> dict[str, Any]:
        return {"required": [required] if kind == "score" else ["kind", required],
                "properties": {"kind": {"const": kind}, required: rule}}

    text = {"type": "string", "pattern": r"\S"}
    schema["anyOf"] = [branch("score", "value", {"type": "number"}),
                       branch("thumbs", "value", {"enum": [0, 1]}),
                       branch("correction", "text", text), branch("label", "text", text),
                       branch("label", "task", text)]


class SignalIn(BaseModel):
    model_config = ConfigDict(json_schema_extra=_kinds)

    kind: Literal["score", "thumbs", "correction", "label"] = Field(
        default="score", description="score and thumbs need a value, correction and label text")
    value: float | None = Field(default=None, ge=0.0, le=1.0,
                                description="score in [0, 1], higher is better; thumbs 1 or 0")
    text: str | None = Field(default=None, max_length=MAX_TEXT,
                             description="a correction's preferred answer, a label, a note")
    task: str | None = Field(default=None, min_length=1, max_length=MAX_TASK, pattern=r"\S")
    trust: float | None = Field(default=None, ge=0.0, le=1.0,
                                description="at most the caller's default (user 1.0)")


class SignalOut(BaseModel):
    id: str
    trace_id: str
    kind: str
    value: float | None
    text: str | None
    task: str | None
    source: str
    trust: float
    payload: dict[str, Any]
    created_at: float


class SignalListOut(BaseModel):
    signals: list[SignalOut]


@router.post("/traces/{trace_id}/signals", response_model=SignalOut, status_code=201,
             responses={404: error_response(
                 404, "no interaction of the caller's tenant has this trace id")})
async def add_signal(
    request: Request,
    body: SignalIn,
    trace_id: str = Path(min_length=1, max_length=64),
    store: SignalStore = Depends(get_signal_store),
    ctx: RequestContext = Depends(requires(Scope.FEEDBACK)),
) -> dict[str, Any]:
    """Add the caller's signal to a trace of its tenant (many per trace)."""
    ledger = request.app.state.brain.ledger

    def known() -> bool:  # a trace answered a moment ago may still be in the ledger's batch
        return store.visible(ctx, trace_id) or (ledger.flush() and
                                                store.visible(ctx, trace_id))

    if not await asyncio.to_thread(known):  # before the body's checks
        raise NotFound(f"no interaction with trace id {trace_id!r}", field="trace_id")
    source = source_of(ctx)
    if body.trust is not None and body.trust > default_trust(source):
        raise InvalidInput(f"trust must be at most {default_trust(source)} for {source}",
                           field="trust")
    signal = Signal(body.kind, trace_id, body.value, body.text, source, body.trust, body.task)

    def add() -> dict[str, Any]:
        sid = store.add(ctx, signal)
        return next(s for s in store.list(ctx, trace_id=trace_id, limit=1000)
                    if s.id == sid).to_dict()

    return await asyncio.to_thread(add)


@router.get("/signals", response_model=SignalListOut)
async def list_signals(
    trace_id: str | None = Query(default=None, max_length=64),
    task: str | None = Query(default=None, max_length=MAX_TASK),
    kind: Kind | None = Query(default=None),
    since: float | None = Query(default=None, ge=0, le=1e11,
                                description="only signals created at or after (unix time)"),
    limit: int = Query(default=100, ge=1, le=1000),
    store: SignalStore = Depends(get_signal_store),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> dict[str, Any]:
    """The tenant's signals, newest first."""
    found = await asyncio.to_thread(store.list, ctx, trace_id=trace_id, task=task, kind=kind,
                                    since=since, limit=limit)
    return {"signals": [s.to_dict() for s in found]}
