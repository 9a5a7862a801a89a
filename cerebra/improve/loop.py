"""One turn of the self-improvement loop for one task, as a job: the task's signals curated
into a dataset version → a LoRA trained on it → a candidate model version → the evaluation
gate against what serves the task now → promotion (a hot swap) or a recorded refusal.

The task is a kit (cerebra.kits): its held-out items are what the gate measures, every other
known kit is a guard suite, and perplexity of general text is the last guard. The candidate
is served for the gate by the same code that serves a promoted adapter (an AdapterBackend on
the base model's llama.cpp instance, under a private name), so what the gate measured is
what promotion serves. What serves the task is the name "base:task" (a promoted adapter) or,
before any promotion, the base model.

`ImprovementLoop.cycle` runs the steps in the calling job (training in a child process);
`start_cycle` submits it as the job kind "improve" on the app's runner. Every step's outcome
is stored where its part keeps it (the dataset version, the training run, the model
version, the gate report, the promotion history); the cycle's own report ties their ids.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.jobs.base import JobContext, JobRunner
from cerebra.models.base import GenerationRequest

CYCLE_KIND = "improve"
Answerer = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class CycleOptions:
    """How one cycle runs (JSON-able: it travels as the job's argument)."""

    workflow: str = "sft-lora-cpu"  # a stored workflow of the tenant, or a template
    overrides: dict[str, Any] = field(default_factory=dict)  # workflow keys set for this run
    dataset: str | None = None  # train on this dataset (name or name@version), not signals
    guards: list[str] | None = None  # guard kits (default: every other known kit)
    eval_limit: int | None = None  # held-out items of the task (default: all)
    guard_limit: int = 100  # held-out items per guard kit
    perplexity: bool = True  # compare perplexity of general text too
    promote: bool = True  # promote when the gate says so (False: measure only)
    reason: str = ""  # why the cycle started (a trigger's reason, "manual", …)
    augment: int = 0  # checked paraphrases of each curated SFT prompt added (0: none)
    augment_model: str | None = None  # the paraphrasing model (None: the default model)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CycleReport:
    """What one cycle did, with the ids of everything it stored."""

    task: str
    tenant_id: str
    reason: str
    outcome: str = "started"  # promoted | refused | measured | failed
    dataset: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    version_id: str | None = None
    served_name: str | None = None
    gate: dict[str, Any] | None = None
    gate_report_id: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def start_cycle(context: RequestContext, runner: JobRunner, task: str,
                options: CycleOptions | None = None) -> str:
    """Submit a cycle of `task` as an "improve" job (the kind must be registered); its id."""
    options = options or CycleOptions()
    return runner.submit(f"improve {task}", CYCLE_KIND,
                         (context.tenant_id, task, options.to_dict()),
                         tenant_id=context.tenant_id)


class ImprovementLoop:
    """The cycle's steps over the server's database and models registry."""

    def __init__(self, engine: Engine, models: Any, *, root: Path | None = None,
                 embedder: Any = None, policy: Any = None, trainer: Any = None,
                 kits_home: Path | None = None) -> None:
        self.engine = engine
        self.models = models  # cerebra.models.registry.ModelRegistry (the served models)
        self.root = root
        self.embedder = embedder
        self.policy = policy
        self.trainer = trainer  # None: cerebra.training's run_in_subprocess
        self.kits_home = kits_home
        self.answers = AnswerCache()  # greedy answers of served models, per loaded backend

    def register(self, runner: JobRunner) -> None:
        """Name the cycle job on `runner` (in process: it needs this loop's models)."""
        runner.register(CYCLE_KIND, self.run_job)

    def run_job(self, ctx: JobContext, tenant_id: str, task: str,
                options: dict[str, Any]) -> dict[str, Any]:
        return self.cycle(ctx, RequestContext(tenant_id=tenant_id), task,
                          CycleOptions(**options)).to_dict()

    # -- the cycle -----------------------------------------------------------------------

    def cycle(self, ctx: JobContext, context: RequestContext, task: str,
              options: CycleOptions) -> CycleReport:
        from cerebra.improve.gate import GateStore, evaluate_gate
        from cerebra.improve.registry import ModelRegistry
        from cerebra.kits.registry import get_kit, known_kits

        report = CycleReport(task, context.tenant_id, options.reason)
        clock = time.perf_counter()
        kit = get_kit(task, self.kits_home, tenant=context.tenant_id)
        guards = self._guards(context, kit, options, known_kits)
        ctx.progress(0.01, "curating the dataset")
        dataset = self._dataset(context, task, options)
        report.dataset = {"name": dataset.name, "version": dataset.version, "id": dataset.id,
                          "rows": dataset.row_count, "content_hash": dataset.content_hash,
                          "report": dataset.report}
        report.timings["curate_s"] = round(time.perf_counter() - clock, 3)
        workflow = self._workflow(context, kit, options, f"{dataset.name}@{dataset.version}")
        ctx.check()
        report.training = self._train(ctx, context, workflow)
        report.timings["train_s"] = round(time.perf_counter() - clock, 3)
        ctx.check()
        registry = ModelRegistry(self.engine, self.models)
        version = registry.add_candidate(
            context, workflow.base_model, _adapter_name(task), report.training["gguf_path"],
            {"dataset_version_id": dataset.id, "workflow": workflow.model_dump(mode="json"),
             "job_id": ctx.job_id, "notes": f"run {report.training['run_id']}"})
        report.version_id, report.served_name = version.id, version.name
        ctx.progress(0.7, "evaluating the candidate against what serves the task")
        baseline_name, baseline = self._serving(workflow.base_model, version.name)
        candidate = self._candidate(workflow.base_model, version.id, Path(version.path))
        try:
            ppl = self._perplexity(workflow.base_model, version.name, Path(version.path)) \
                if options.perplexity and workflow.eval.perplexity else None
            gate = evaluate_gate(
                kit, guards, _answerer(baseline, [kit, *guards]),
                _answerer(candidate, [kit, *guards]),
                workflow.promotion, ppl=ppl, limit=options.eval_limit or workflow.eval.limit,
                guard_limit=options.guard_limit, candidate_name=f"{version.name} (candidate)",
                baseline_name=baseline_name, progress=_gate_progress(ctx))
        finally:
            candidate.close()
        report.gate_report_id = GateStore(self.engine).save(context, gate)
        report.gate = {"decision": gate.decision, "reasons": gate.reasons,
                       "p_value": gate.p_value, "gain": gate.gain,
                       "baseline": gate.task.baseline, "candidate": gate.task.candidate,
                       "n": gate.task.n, "guards": {g.kit: g.gain for g in gate.guards},
                       "ppl": gate.ppl}
        registry.record_gate(context, version.id, report.gate_report_id, gate.decision)
        report.timings["gate_s"] = round(time.perf_counter() - clock, 3)
        if gate.promote and options.promote:
            ctx.progress(0.98, "promoting")
            registry.promote(context, version.id, report_id=report.gate_report_id,
                             reason=f"gate passed: {options.reason}".strip())
            report.outcome = "promoted"
        else:
            report.outcome = "refused" if not gate.promote else "measured"
        report.timings["total_s"] = round(time.perf_counter() - clock, 3)
        ctx.progress(1.0, f"{report.outcome}: {task}")
        return report

    # -- steps ---------------------------------------------------------------------------

    def _guards(self, context: RequestContext, kit: Any, options: CycleOptions,
                known: Callable[..., list[Any]]) -> list[Any]:
        from cerebra.kits.registry import get_kit

        if options.guards is not None:
            return [get_kit(n, self.kits_home, tenant=context.tenant_id)
                    for n in options.guards if n != kit.name]
        return [k for k, _ in known(self.kits_home, tenant=context.tenant_id)
                if k.name != kit.name]

    def _dataset(self, context: RequestContext, task: str, options: CycleOptions) -> Any:
        from cerebra.improve.datasets import DatasetStore

        store = DatasetStore(self.engine)
        if options.dataset is not None:
            name, _, number = options.dataset.partition("@")
            return store.get(context, name, int(number) if number else None)
        kind: Literal["sft", "dpo"] = "dpo" if options.overrides.get("stage") == "dpo" \
            else "sft"
        version = store.curate(context, f"{_adapter_name(task)}-{kind}", from_signals=True,
                               task=task, kind=kind, embedder=self.embedder,
                               policy=self.policy)
        if version.row_count == 0:
            raise InvalidInput(f"task {task!r} has no usable training rows in its signals "
                               "(ratings, corrections, verdicts)", field="task")
        if options.augment > 0 and kind == "sft":
            version = self._augmented(context, store, version, options)
        return version

    def _augmented(self, context: RequestContext, store: Any, version: Any,
                   options: CycleOptions) -> Any:
        """A further version of the curated dataset with checked paraphrases of its prompts
        (cerebra.improve.augment): a paraphrase is kept when it still states every fact of
        the prompt that the answer repeats; the result is curated again (exact duplicates,
        PII, decontamination against every eval set; paraphrases of one prompt share its
        answer, so the near-duplicate step is off)."""
        from cerebra.improve.augment import (
            AugmentReport,
            augment,
            keeps_answer_facts,
            model_paraphraser,
        )
        from cerebra.improve.curation import CurationOptions, curate

        paraphrase = model_paraphraser(self.models, options.augment_model)
        grown: list[Any] = []
        grown_report = AugmentReport()
        for row in store.rows(context, version.id):
            def check(new: Any, old: Any = row) -> bool:
                return keeps_answer_facts(old.prompt, new.prompt, new.completion)

            out, part = augment([row], paraphrase, check, options.augment)
            grown += out
            grown_report.add(part)
        kept, report = curate(grown, policy=self.policy,
                              options=CurationOptions(near_dup_threshold=None))
        lineage = {"versions": [version.id],
                   "trace_ids": sorted({r.trace_id for r in kept if r.trace_id})}
        return store.create_version(context, version.name, "sft", kept, parent=version,
                                    lineage=lineage, task=version.task,
                                    report={"augment": grown_report.to_dict(),
                                            "curation": report.to_dict()})

    def _workflow(self, context: RequestContext, kit: Any, options: CycleOptions,
                  dataset: str) -> Any:
        from cerebra.improve.training_runs import WorkflowStore
        from cerebra.improve.workflow import templates

        data: dict[str, Any] = {"extends": options.workflow,
                                "name": f"improve-{_adapter_name(kit.name)}"}
        if options.workflow in templates():  # a generic recipe: the kit's defaults refine it
            data.update(kit.spec.workflow)  # (a stored workflow is used as written)
        data.update(options.overrides)
        data.update({"task": kit.name, "datasets": [dataset]})
        return WorkflowStore(self.engine).parse(context, yaml=yaml.safe_dump(data))

    def _train(self, ctx: JobContext, context: RequestContext, workflow: Any) -> dict[str, Any]:
        import uuid

        from cerebra.improve.train_job import (
            default_root,
            resolve_datasets,
            run_training_job,
        )
        from cerebra.improve.training_runs import TrainingRuns

        refs = resolve_datasets(self.engine, context, workflow)
        run_id = f"run_{uuid.uuid4().hex[:16]}"
        out_dir = (self.root or default_root()) / context.tenant_id / run_id
        TrainingRuns(self.engine).create(context, workflow, refs, str(out_dir), run_id=run_id)
        TrainingRuns(self.engine).update(context, run_id, job_id=ctx.job_id)
        result = run_training_job(ctx, context.tenant_id, run_id, engine=self.engine,
                                  trainer=self.trainer)
        if not result.get("gguf_path"):
            raise InvalidInput("training produced no GGUF adapter to serve", field="workflow")
        return dict(result)

    def _serving(self, base: str, name: str) -> tuple[str, Any]:
        """What serves the task now: its promoted adapter, else the base model."""
        if name in self.models:
            return name, _Leased(self.models, name, self.answers)
        return base, _Leased(self.models, base, self.answers)

    def _candidate(self, base: str, version_id: str, path: Path) -> Any:
        from cerebra.models.adapters import AdapterBackend

        key = f"candidate-{version_id}"
        backend = AdapterBackend(self.models, base, key, key, path)
        backend.prepare()
        return backend

    def _perplexity(self, base: str, name: str, candidate: Path) -> Any:
        from cerebra.improve.perplexity import perplexity_of

        model_path = _model_path(self.models, base)
        if model_path is None:
            return None
        serving = _adapter_path(self.models, name)
        return (perplexity_of(model_path, lora_path=serving),
                perplexity_of(model_path, lora_path=candidate))


class _Leased:
    """A served model by name, leased per call (survives hot swaps during the gate). Its
    greedy answers are cached per loaded backend (`answers`, shared by the loop's cycles):
    the baseline of one task's gate is usually the base model every other gate measures
    too; a hot swap loads a new backend, which starts with no answers."""

    def __init__(self, models: Any, name: str, answers: AnswerCache) -> None:
        self.models, self.name, self.answers = models, name, answers

    def generate(self, request: GenerationRequest) -> Any:
        with self.models.lease(self.name, in_rotation=False) as backend:
            try:
                key = (weakref.ref(backend), request.prompt, request.max_tokens, request.stop)
            except TypeError:  # a backend that takes no weak references: never cached
                return backend.generate(request)
            found = self.answers.get(key)
            if found is None:
                found = backend.generate(request)
                self.answers.put(key, found)
            return found

    def close(self) -> None:
        pass


class AnswerCache:
    """A bounded map of greedy answers (oldest dropped first); thread-safe."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _answerer(backend: Any, kits: Sequence[Any]) -> Answerer:
    """Greedy raw completions of the kits' prompts, each with its own kit's length and stops
    (the gate sends the task's and the guards' items through one answerer per side)."""
    by_prompt = {kit.prompt(item): kit for kit in reversed(kits) for item in kit.eval}

    def answer(prompts: list[str]) -> list[str]:
        out = []
        for prompt in prompts:
            kit = by_prompt.get(prompt, kits[0])
            request = GenerationRequest(prompt=prompt, max_tokens=kit.spec.max_tokens,
                                        temperature=0.0,
                                        stop=tuple(s for s in kit.spec.stop if s))
            out.append(backend.generate(request).text)
        return out

    return answer


def _gate_progress(ctx: JobContext) -> Callable[[float, str], None]:
    def progress(fraction: float, what: str = "") -> None:
        ctx.progress(0.7 + 0.28 * fraction, f"gate: {what}".strip())
        ctx.check()

    return progress


def _adapter_name(task: str) -> str:
    """The adapter (and dataset) name of a task: its kit name, within the registry's pattern."""
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in task)[:64]
    if not name or not name[0].isalnum():
        name = f"t{name}"[:64]
    return name


def _model_path(models: Any, name: str) -> Path | None:
    """The GGUF file a llama.cpp model serves from (None for other kinds)."""
    try:
        with models.lease(name, in_rotation=False) as backend:
            path = getattr(backend, "model_path", None)
            inner = getattr(backend, "inner", None)
            while path is None and inner is not None:
                path = getattr(inner, "model_path", None)
                inner = getattr(inner, "inner", None)
    except NotFound:
        return None
    return Path(path) if path else None


def _adapter_path(models: Any, name: str) -> Path | None:
    """The adapter file of a served "base:adapter" name (None: not served, or the base)."""
    if name not in models:
        return None
    with models.lease(name, in_rotation=False) as backend:
        path = getattr(backend, "path", None)
    return Path(path) if path else None


__all__: Sequence[str] = ["CYCLE_KIND", "CycleOptions", "CycleReport", "ImprovementLoop",
                          "start_cycle"]
