"""Stored workflows and training runs per tenant, and the "train" job on a real runner and
database with a small stand-in trainer (the real trainer is part D's, tested there): rows
written as TRL JSONL, progress with step/loss/ETA, the run recorded, cancel, resume."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cerebra.context import RequestContext
from cerebra.db.engine import make_engine
from cerebra.db.migrate import upgrade
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.rows import PrefPair, SftRow
from cerebra.improve.train_job import progress_log, register_training, start_training
from cerebra.improve.training_runs import TrainingRuns, WorkflowStore
from cerebra.improve.workflow import WorkflowError, load_workflow
from cerebra.jobs.inprocess import InProcessRunner
from cerebra.training.errors import TrainingCancelled
from cerebra.training.train import TrainResult

ACME, GLOBEX = RequestContext(tenant_id="acme"), RequestContext(tenant_id="globex")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    yield engine
    engine.dispose()


class FakeTrainer:
    """Stands in for run_in_subprocess: reads the rows, 'trains' `steps` steps (resuming
    after the last one a previous call finished), writes the adapter files."""

    def __init__(self, steps: int = 4, block_at: int | None = None) -> None:
        self.steps, self.block_at = steps, block_at
        self.calls: list[dict[str, Any]] = []
        self.blocked = threading.Event()

    def __call__(self, config: Any, rows_path: Path, out_dir: Path, *, base_gguf: Any,
                 progress: Any, should_stop: Any, resume: bool) -> TrainResult:
        rows = [json.loads(line) for line in Path(rows_path).read_text().splitlines()]
        mark = Path(out_dir) / "checkpoints" / "done"
        start = int(mark.read_text()) if resume and mark.exists() else 0
        self.calls.append({"config": config, "rows": rows, "start": start})
        curve = []
        for step in range(start + 1, self.steps + 1):
            if step == self.block_at:
                self.blocked.set()
                while not should_stop():
                    threading.Event().wait(0.005)
            if should_stop():
                raise TrainingCancelled("stopped", last_checkpoint=mark.parent)
            loss = 2.0 / step
            curve.append({"step": step, "loss": loss})
            progress(step, self.steps, loss, float(self.steps - step))
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(str(step))
        gguf = Path(out_dir) / "adapter.gguf"
        gguf.write_bytes(b"GGUF")
        return TrainResult(Path(out_dir), gguf, self.steps, curve, 1.5, "cpu")


@pytest.fixture
def runner(engine: Engine) -> Iterator[InProcessRunner]:
    runner = InProcessRunner(engine, scheduler=False, progress_every_s=0.0)
    yield runner
    runner.close()


def _datasets(engine: Engine) -> None:
    store = DatasetStore(engine)
    store.create_version(ACME, "support", "sft", [SftRow("Q: 2+2?\nA:", " 4"),
                                                  SftRow("Q: 3+3?\nA:", " 6")])
    store.create_version(ACME, "prefs", "dpo", [PrefPair("Q: hi\nA:", " hello", " go away")])
    store.create_version(GLOBEX, "support", "sft", [SftRow("globex secret", " 42")])


def test_workflows_are_stored_per_tenant(engine: Engine) -> None:
    store = WorkflowStore(engine)
    text = "name: tuned\nextends: quick\nlora_r: 4\n"
    saved = store.save(ACME, store.parse(ACME, yaml=text), text)
    assert saved.workflow.lora_r == 4 and saved.yaml == text
    assert [w.name for w in store.list(ACME)] == ["tuned"]
    assert store.list(GLOBEX) == []
    with pytest.raises(NotFound):
        store.get(GLOBEX, "tuned")
    # a stored workflow is a parent for this tenant only
    child = store.parse(ACME, yaml="name: child\nextends: tuned\n")
    assert (child.lora_r, child.max_steps) == (4, 20)
    with pytest.raises(WorkflowError, match="no template or stored workflow 'tuned'"):
        store.parse(GLOBEX, yaml="name: child\nextends: tuned\n")
    again = store.save(ACME, store.parse(ACME, fields={"name": "tuned", "lora_r": 8}), "{}")
    assert again.created_at == saved.created_at and store.get(ACME, "tuned").workflow.lora_r == 8
    with pytest.raises(WorkflowError, match="name: the request names 'x'"):
        store.parse(ACME, yaml=text, name="x")


def test_a_training_job_writes_rows_reports_progress_and_records_the_run(
        engine: Engine, runner: InProcessRunner, tmp_path: Path) -> None:
    _datasets(engine)
    trainer = FakeTrainer(steps=4)
    register_training(runner, engine, trainer=trainer)
    workflow = load_workflow("name: math\nextends: quick\ndatasets: [support]\n")
    run = start_training(ACME, runner, engine, workflow, root=tmp_path / "runs")
    assert run.job_id is not None  # queued, or already running
    assert run.datasets[0]["name"] == "support" and run.datasets[0]["version"] == 1
    info = runner.join(run.job_id, timeout=60)
    assert info.state == "succeeded", info.error
    assert info.result["steps"] == 4 and info.result["final_loss"] == pytest.approx(0.5)
    from cerebra.cli.progress import describe

    assert describe(info.to_dict()) == "step 4/4 · loss 0.5000 · ETA 0s"
    assert info.metrics is not None
    assert (info.metrics["step"], info.metrics["total"]) == (4, 4)
    assert info.metrics["loss"] == pytest.approx(0.5) and info.metrics["eta_s"] == 0
    done = TrainingRuns(engine).get(ACME, run.id)
    assert done.state == "succeeded" and done.metrics["rows"] == 2
    assert done.metrics["device"] == "cpu" and done.gguf_path.endswith("adapter.gguf")
    assert trainer.calls[0]["rows"] == [{"prompt": "Q: 2+2?\nA:", "completion": " 4"},
                                        {"prompt": "Q: 3+3?\nA:", "completion": " 6"}]
    assert trainer.calls[0]["config"].max_steps == 20  # the workflow's TrainConfig
    assert [e["step"] for e in progress_log(done)] == [1, 2, 3, 4]
    assert Path(done.out_dir) == tmp_path / "runs" / "acme" / run.id
    with pytest.raises(NotFound):
        TrainingRuns(engine).get(GLOBEX, run.id)
    assert TrainingRuns(engine).find(ACME, run.job_id).id == run.id


def test_datasets_are_checked_against_the_stage_before_a_job_starts(
        engine: Engine, runner: InProcessRunner, tmp_path: Path) -> None:
    _datasets(engine)
    register_training(runner, engine, trainer=FakeTrainer())
    dpo = load_workflow("name: d\nextends: dpo-lora-cpu\n")
    with pytest.raises(InvalidInput, match="holds sft rows; a dpo workflow needs"):
        start_training(ACME, runner, engine, dpo, datasets=["support"], root=tmp_path)
    with pytest.raises(InvalidInput, match="at least one dataset"):
        start_training(ACME, runner, engine, dpo, root=tmp_path)
    with pytest.raises(NotFound):
        start_training(ACME, runner, engine, dpo, datasets=["nope"], root=tmp_path)
    with pytest.raises(NotFound):  # another tenant's dataset
        start_training(GLOBEX, runner, engine, dpo, datasets=["prefs"], root=tmp_path)
    with pytest.raises(InvalidInput, match="base_model 'other-model'"):
        start_training(ACME, runner, engine, dpo.model_copy(update={"base_model": "other-model"}),
                       datasets=["prefs"], root=tmp_path)
    assert TrainingRuns(engine).list(ACME) == []
    # preference pairs train an SFT workflow on their chosen answers
    trainer = FakeTrainer(steps=1)
    register_training(runner, engine, trainer=trainer)
    sft = load_workflow("name: s\nextends: quick\n")
    run = start_training(ACME, runner, engine, sft, datasets=["prefs"], root=tmp_path)
    assert runner.join(run.job_id or "", timeout=60).state == "succeeded"
    assert trainer.calls[0]["rows"] == [{"prompt": "Q: hi\nA:", "completion": " hello"}]


def test_cancel_mid_training_then_the_same_run_resumes(
        engine: Engine, runner: InProcessRunner, tmp_path: Path) -> None:
    _datasets(engine)
    trainer = FakeTrainer(steps=5, block_at=3)
    register_training(runner, engine, trainer=trainer)
    workflow = load_workflow("name: math\nextends: quick\ndatasets: [support]\n")
    run = start_training(ACME, runner, engine, workflow, root=tmp_path)
    assert trainer.blocked.wait(60)
    assert runner.cancel(run.job_id or "")
    assert runner.join(run.job_id or "", timeout=60).state == "cancelled"
    assert TrainingRuns(engine).get(ACME, run.id).state == "cancelled"
    # the job run again (a restart, a retry) continues after the last finished step
    trainer.block_at = None
    job = runner.submit("train again", "train", (ACME.tenant_id, run.id), tenant_id="acme")
    assert runner.join(job, timeout=60).state == "succeeded"
    assert [c["start"] for c in trainer.calls] == [0, 2]
    assert TrainingRuns(engine).get(ACME, run.id).state == "succeeded"


def test_a_failing_trainer_fails_the_job_and_the_run(
        engine: Engine, runner: InProcessRunner, tmp_path: Path) -> None:
    _datasets(engine)

    def broken(*args: Any, **kwargs: Any) -> TrainResult:
        raise RuntimeError("out of memory")

    register_training(runner, engine, trainer=broken)
    workflow = load_workflow("name: math\nextends: quick\ndatasets: [support]\n")
    run = start_training(ACME, runner, engine, workflow, root=tmp_path)
    info = runner.join(run.job_id or "", timeout=60)
    assert info.state == "failed" and "out of memory" in (info.error or "")
    failed = TrainingRuns(engine).get(ACME, run.id)
    assert failed.state == "failed" and "RuntimeError: out of memory" in (failed.error or "")


def test_the_default_job_is_what_a_celery_worker_imports(engine: Engine) -> None:
    from cerebra.improve.train_job import run_training_job
    from cerebra.jobs.celery_worker import target_of

    assert target_of(run_training_job) == "cerebra.improve.train_job:run_training_job"
    seen: dict[str, object] = {}

    class Recorder:
        def register(self, kind: str, fn: object, *, resumable: bool = False) -> None:
            seen.update(kind=kind, fn=fn, resumable=resumable)

    register_training(Recorder())  # type: ignore[arg-type]
    assert seen == {"kind": "train", "fn": run_training_job, "resumable": True}
