"""Self-improvement API (issue 11): /api/v1/improve — a task's retraining trigger (set, show,
list, delete, check now) and a cycle of the loop started by hand (curate → train → gate →
promote, as a job whose progress /api/v1/jobs/{id}/events streams). Logic lives in
cerebra.improve (triggers, loop, setup); a server without the layer answers 503.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.principal import Scope
from cerebra.context import RequestContext
from cerebra.errors import CerebraError
from cerebra.improve.triggers import TriggerPolicy
from cerebra.server.auth import requires
from cerebra.server.openapi_doc import error_response

router = APIRouter(prefix="/api/v1/improve", tags=["improve"])

TASK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
TaskPath = Annotated[str, Path(pattern=TASK_PATTERN, max_length=100,
                               description="the task (a kit's name)")]
NOT_FOUND = error_response(404, "no such trigger or kit in the caller's tenant")
UNAVAILABLE = error_response(503, "this server runs without the self-improvement layer")


class ImproveUnavailable(CerebraError):
    status_code = 503
    code = "improve_unavailable"


def get_improvement(request: Request) -> Any:
    improvement = getattr(request.app.state, "improve", None)
    if improvement is None:
        raise ImproveUnavailable("this server runs without the self-improvement layer "
                                 "(improve.enabled is off)", field="improve")
    return improvement


class TriggerIn(BaseModel):
    """A task's retraining policy (the task is the path's)."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(default="sft-lora-cpu", min_length=1, max_length=200)
    min_new_examples: int = Field(default=50, ge=1, le=1_000_000)
    drift_margin: float | None = Field(default=None, gt=0.0, le=1.0)
    baseline_score: float | None = Field(default=None, ge=0.0, le=1.0)
    window: int = Field(default=50, ge=5, le=10_000)
    enabled: bool = True


class CycleIn(BaseModel):
    """One cycle of the loop, started by hand."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(default="sft-lora-cpu", min_length=1, max_length=200,
                          description="a stored workflow of the tenant, or a template")
    dataset: str | None = Field(default=None, min_length=1, max_length=220,
                                pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(@[0-9]{1,9})?$",
                                description="train on this dataset (name or name@version) "
                                            "instead of the task's signals")
    guards: list[Annotated[str, Field(pattern=TASK_PATTERN, max_length=100)]] | None = Field(
        default=None, max_length=32, description="guard kits (default: every other kit)")
    eval_limit: int | None = Field(default=None, ge=1, le=100_000)
    guard_limit: int = Field(default=100, ge=1, le=100_000)
    perplexity: bool = True
    promote: bool = Field(default=True, description="false: measure, never promote")
    augment: int = Field(default=0, ge=0, le=8,
                         description="checked paraphrases added per curated SFT prompt")
    augment_model: str | None = Field(default=None, min_length=1, max_length=200,
                                      description="the paraphrasing model (default: the "
                                                  "default model)")


class JobOut(BaseModel):
    job_id: str


@router.get("/triggers")
async def list_triggers(
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> dict[str, Any]:
    """The tenant's retraining triggers with their state (last check, active job)."""
    return {"triggers": await asyncio.to_thread(improvement.triggers.store.list, ctx)}


@router.get("/triggers/{task}", responses={404: NOT_FOUND})
async def show_trigger(
    task: TaskPath,
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_READ)),
) -> dict[str, Any]:
    result: dict[str, Any] = await asyncio.to_thread(improvement.triggers.store.get, ctx, task)
    return result


@router.put("/triggers/{task}", responses={404: NOT_FOUND, 503: UNAVAILABLE})
async def set_trigger(
    task: TaskPath,
    body: TriggerIn,
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Create or replace the task's policy; the task must be a kit the tenant can use."""
    from cerebra.kits.registry import get_kit

    await asyncio.to_thread(get_kit, task, tenant=ctx.tenant_id)  # 404 for an unknown kit
    policy = TriggerPolicy(task=task, **body.model_dump())
    result: dict[str, Any] = await asyncio.to_thread(improvement.triggers.store.set, ctx,
                                                     policy)
    return result


@router.delete("/triggers/{task}", status_code=204, responses={404: NOT_FOUND})
async def delete_trigger(
    task: TaskPath,
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> None:
    if not await asyncio.to_thread(improvement.triggers.store.delete, ctx, task):
        from cerebra.errors import NotFound

        raise NotFound(f"no trigger for task {task!r}", field="task")


@router.post("/triggers/check")
async def check_triggers(
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Check the tenant's triggers now (they are also checked periodically); what each did."""
    events = await asyncio.to_thread(improvement.triggers.check, ctx)
    return {"events": [e.to_dict() for e in events]}


@router.post("/{task}/cycle", status_code=202, response_model=JobOut,
             responses={404: NOT_FOUND, 503: UNAVAILABLE})
async def start_cycle(
    task: TaskPath,
    body: CycleIn,
    improvement: Any = Depends(get_improvement),
    ctx: RequestContext = Depends(requires(Scope.TRAINING_WRITE)),
) -> dict[str, Any]:
    """Start one cycle of the task (curate → train → gate → promote) as a job."""
    from cerebra.improve.loop import CycleOptions
    from cerebra.kits.registry import get_kit

    await asyncio.to_thread(get_kit, task, tenant=ctx.tenant_id)
    options = CycleOptions(**body.model_dump(), reason="started through the API")
    job_id = await asyncio.to_thread(improvement.start_cycle, ctx, task, options)
    return {"job_id": job_id}
