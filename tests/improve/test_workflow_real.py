"""The "train" job with the real trainer (part D's, in a child process) on the embedded
Gemma: a few steps of the quick template through the same code the server runs — the run
recorded with its steps, loss and adapter files, progress reported as the job's metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.context import RequestContext
from cerebra.db.migrate import run_migrations
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.rows import SftRow
from cerebra.improve.train_job import start_training
from cerebra.improve.training_runs import TrainingRuns
from cerebra.improve.workflow import load_workflow
from cerebra.jobs.inprocess import InProcessRunner

pytestmark = pytest.mark.slow


def test_a_workflow_trains_a_real_adapter_as_a_job(tmp_path: Path) -> None:
    pytest.importorskip("trl")
    engine = run_migrations()
    context = RequestContext(tenant_id="default")
    rows = [SftRow(f"Q: {a}+{b}=\nA:", f" {a + b}") for a in range(4) for b in range(4)]
    DatasetStore(engine).create_version(context, "sums", "sft", rows)
    workflow = load_workflow("name: sums\nextends: quick\ndatasets: [sums]\nmax_steps: 2\n"
                             "micro_batch_size: 4\nsequence_len: 32\nsave_steps: 1\n")
    runner = InProcessRunner(engine, workers=1, periodic_workers=1, scheduler=False)
    try:
        run = start_training(context, runner, engine, workflow, root=tmp_path)
        info = runner.join(str(run.job_id), timeout=1800)
    finally:
        runner.close()
    assert info.state == "succeeded", info.error
    assert info.metrics is not None and info.metrics["step"] == 2 and info.metrics["total"] == 2
    done = TrainingRuns(engine).get(context, run.id)
    assert done.state == "succeeded" and done.metrics["steps"] == 2
    assert done.metrics["device"] in ("cpu", "cuda")
    assert isinstance(done.metrics["final_loss"], float)
    adapter = Path(str(done.adapter_dir))
    assert (adapter / "adapter_model.safetensors").is_file()
    assert Path(str(done.gguf_path)).is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
