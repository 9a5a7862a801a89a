"""The evaluation gate as a job: `start_evaluation` checks what an evaluation names (the task
and guard kits the tenant can use, the candidate and baseline models the gateway serves) and
submits it to the Brain's JobRunner; the job answers every held-out item through the serving
path (cerebra.kits.run.brain_answerer: raw completion, greedy, the kit's max_tokens and stop
sequences), runs `evaluate_gate`, stores the report (GateStore) and returns its summary.

The job is submitted as a function object: it needs the models this process serves, so it
runs in process (a runner on other machines would need the same models loaded there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from cerebra.context import RequestContext
from cerebra.errors import CerebraError, NotFound
from cerebra.improve.gate import Perplexity, PromotionRule, evaluate_gate
from cerebra.improve.gate_store import GateStore

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.jobs.base import JobContext
    from cerebra.kits.kit import Kit

MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$"
KIT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PplFactory = Callable[[str], Perplexity | None]  # model name -> its perplexity, or None


class NoJobRunner(CerebraError):
    status_code = 503
    code = "no_job_runner"


class EvaluationRequest(BaseModel):
    """What to evaluate: a candidate against the baseline on a task kit and guard kits."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(pattern=KIT_PATTERN, description="the task kit's name")
    candidate: str = Field(pattern=MODEL_PATTERN,
                           description="a served model, e.g. gemma-3-270m:adapter")
    baseline: str | None = Field(default=None, pattern=MODEL_PATTERN,
                                 description="the serving model (default: the default model)")
    guards: list[str] = Field(default_factory=list, max_length=20,
                              description="guard kits' names (the task kit is skipped)")
    limit: int | None = Field(default=None, ge=1, le=100_000,
                              description="at most this many held-out task items")
    guard_limit: int = Field(default=100, ge=1, le=100_000,
                             description="at most this many items per guard kit")
    rule: PromotionRule = Field(default_factory=PromotionRule)
    perplexity: bool = Field(default=False, description="also compare the perplexity of "
                             "held-out general text (when the server can measure it)")


def _kits(request: EvaluationRequest, context: RequestContext,
          home: Path | None) -> tuple[Kit, list[Kit]]:
    from cerebra.kits.registry import get_kit

    task = get_kit(request.task, home, tenant=context.tenant_id)
    guards = [get_kit(name, home, tenant=context.tenant_id)
              for name in dict.fromkeys(request.guards) if name != request.task]
    return task, guards


def _served(brain: Brain, name: str | None, field: str) -> str:
    try:
        resolved, _ = brain.models.resolve(name)
    except NotFound:
        raise NotFound(f"no served model named {name!r}", field=field) from None
    return resolved


def served_perplexity(brain: Brain) -> PplFactory:
    """Perplexity for models this process serves from GGUF files: a llama.cpp model (its
    `model_path`) or an adapter over one (`base` and `path`: the adapter GGUF); None for
    anything else (a remote model), which leaves perplexity out of the report."""
    from cerebra.improve.perplexity import perplexity_of

    def of(name: str) -> Perplexity | None:
        backend = brain.models.get(name)
        lora = getattr(backend, "path", None) if hasattr(backend, "base") else None
        if lora is not None:
            backend = brain.models.get(str(getattr(backend, "base", "")))
        model_path = getattr(backend, "model_path", None)
        if not isinstance(model_path, str | Path):
            return None
        return perplexity_of(model_path, lora_path=lora)

    return of


def start_evaluation(context: RequestContext, brain: Brain, request: EvaluationRequest, *,
                     home: Path | None = None, ppl_of: PplFactory | None = None) -> str:
    """Check the request now (404 for an unknown kit or model) and submit the job; its id."""
    if brain.jobs is None:
        raise NoJobRunner("this server has no job runner to evaluate on")
    task, guards = _kits(request, context, home)
    candidate = _served(brain, request.candidate, "candidate")
    baseline = _served(brain, request.baseline, "baseline")
    job = functools.partial(run_evaluation, brain=brain, context=context, task=task,
                            guards=guards, candidate=candidate, baseline=baseline,
                            request=request,
                            ppl_of=(ppl_of or served_perplexity(brain)) if request.perplexity
                            else None)
    return brain.jobs.submit(f"gate {task.name}: {candidate}", job,
                             tenant_id=context.tenant_id)


def run_evaluation(ctx: JobContext, *, brain: Brain, context: RequestContext, task: Kit,
                   guards: list[Kit], candidate: str, baseline: str,
                   request: EvaluationRequest, ppl_of: PplFactory | None = None
                   ) -> dict[str, Any]:
    """The job: answer, compare, decide, store. Stops between batches when cancelled."""
    from cerebra.kits.run import brain_answerer

    def answerer(model: str) -> Callable[[list[str]], list[str]]:
        by_kit = {kit.name: brain_answerer(brain, kit, model=model, context=context)
                  for kit in [task, *guards]}
        prompts = {kit.name: {kit.prompt(item) for item in kit.eval} for kit in [task, *guards]}

        def answer(batch: list[str]) -> list[str]:
            ctx.check()
            name = next((k for k, p in prompts.items() if batch and batch[0] in p), task.name)
            return by_kit[name](batch)
        return answer

    ppl = None
    if ppl_of is not None:
        sides = ppl_of(baseline), ppl_of(candidate)
        if sides[0] is not None and sides[1] is not None:
            ppl = (sides[0], sides[1])
    report = evaluate_gate(task, guards, answerer(baseline), answerer(candidate), request.rule,
                           ppl=ppl, limit=request.limit, guard_limit=request.guard_limit,
                           progress=ctx.progress, candidate_name=candidate,
                           baseline_name=baseline)
    report_id = GateStore(brain.engine).save(context, report)
    return {"report_id": report_id, "decision": report.decision, "gain": report.gain,
            "p_value": report.p_value, "reasons": report.reasons}
