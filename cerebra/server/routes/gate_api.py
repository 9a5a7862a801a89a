"""Evaluation gate API (issue 11): GET /api/v1/gate/reports (the tenant's gate decisions,
newest first), GET /api/v1/gate/reports/{id} (one in full) and POST /api/v1/gate/evaluate
(a candidate model against the baseline on a task kit and guard kits, run as a job; the
job's result names the stored report). Another tenant's report is a 404 like one that never
existed. Logic lives in cerebra.improve.gate, gate_store and gate_job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from cerebra.auth.principal import Scope
from cerebra.brain import Brain
from cerebra.context import RequestContext
from cerebra.improve.gate_job import KIT_PATTERN, EvaluationRequest, start_evaluation
from cerebra.improve.gate_store import GateStore
from cerebra.server.auth import requires
from cerebra.server.deps import get_brain
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1/gate", tags=["gate"])


class ReportSummaryOut(BaseModel):
    id: str
    task: str
    candidate: str
    baseline: str
    decision: Literal["promote", "refuse"]
    p_value: float = Field(description="one-sided: the candidate is better on the task")
    gain: float = Field(description="points of task accuracy (or net judged wins)")
    created_at: float
    reasons: list[str] = Field(description="why it was refused; empty when promoted")


class ReportListOut(BaseModel):
    reports: list[ReportSummaryOut]
    total: int


class ReportOut(ReportSummaryOut):
    report: dict[str, Any] = Field(description="the rule, task and guard metrics, "
                                   "perplexity, per-item outcomes (bounded) and timings")


class EvaluationOut(BaseModel):
    job_id: str
    status_url: str


def _store(request: Request) -> GateStore:
    store = getattr(request.app.state, "gate_store", None)
    if not isinstance(store, GateStore):
        store = GateStore(request.app.state.brain.engine)
        request.app.state.gate_store = store
    return store


def _kits_home(request: Request) -> Path:
    home = getattr(request.app.state, "kits_home", None)
    return Path(home) if home is not None else Path(request.app.state.brain.settings.home)


@router.get("/reports", response_model=ReportListOut)
async def list_reports(
        request: Request,
        task: str | None = Query(default=None, pattern=KIT_PATTERN),
        decision: Literal["promote", "refuse"] | None = None,
        limit: int = Query(default=50, ge=1, le=500),
        offset: int = Query(default=0, ge=0, le=1_000_000),
        ctx: RequestContext = Depends(requires(Scope.TRAINING_READ))) -> dict[str, Any]:
    """The tenant's gate decisions, newest first (summaries: no per-item outcomes)."""
    store = _store(request)
    reports = await asyncio.to_thread(store.list, ctx, task=task, decision=decision,
                                      limit=limit, offset=offset)
    total = await asyncio.to_thread(store.count, ctx)
    return {"reports": reports, "total": total}


@router.get("/reports/{report_id}", response_model=ReportOut,
            responses={404: error_response(404, "the tenant has no gate report with this id")})
async def show_report(
        request: Request,
        report_id: str = PathParam(min_length=1, max_length=64),
        ctx: RequestContext = Depends(requires(Scope.TRAINING_READ))) -> dict[str, Any]:
    """One gate decision with its whole report."""
    return await asyncio.to_thread(_store(request).get, ctx, report_id)


@router.post("/evaluate", response_model=EvaluationOut, status_code=202,
             responses={404: error_response(404, "no such kit or served model"),
                        503: error_response(503, "the server has no job runner")})
async def evaluate(body: EvaluationRequest, request: Request,
                   brain: Brain = Depends(get_brain),
                   ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE))
                   ) -> dict[str, Any]:
    """Start an evaluation job: the candidate and the baseline answer the task kit's held-out
    items and the guard kits' (greedy, the kit's max_tokens and stop sequences); the gate
    decides by the rule and stores its report. Follow the job for its result."""
    ppl_of = getattr(request.app.state, "gate_perplexity", None)
    job_id = await asyncio.to_thread(start_evaluation, ctx, brain, body,
                                     home=_kits_home(request), ppl_of=ppl_of)
    return {"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"}
