"""`cerebra train …` on the local database: validate (the resolved workflow, or one line
naming key and line with exit 2; environment overrides), templates, and run → status →
logs with a stand-in trainer (the real trainer is part D's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.context import RequestContext
from cerebra.db.migrate import run_migrations
from cerebra.improve.datasets import DatasetStore
from cerebra.improve.rows import SftRow
from tests.helpers import run_cli
from tests.improve.test_workflow_runs import FakeTrainer


def test_validate_prints_the_resolved_workflow(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("extends: quick\nlora_r: 4\n")
    done = run_cli("train", "validate", str(path), "--json",
                   env={"CEREBRA_WORKFLOW_SEED": "9"})
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["name"], shown["lora_r"], shown["max_steps"], shown["seed"]) == \
        ("mine", 4, 20, 9)


def test_validate_names_key_and_line_in_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nextends: quick\nlora_dropout: 0.2\nlearning_rate: 0\n")
    done = run_cli("train", "validate", str(path))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: line 4: learning_rate: must be > 0.0"
    assert done.stdout == ""
    env = run_cli("train", "validate", "quick", env={"CEREBRA_WORKFLOW_LORA_R": "-1"})
    assert env.returncode == 2
    assert env.stderr.strip() == "error: CEREBRA_WORKFLOW_LORA_R: lora_r: must be ≥ 1"
    assert run_cli("train", "validate", str(tmp_path / "none.yaml")).returncode == 2


def test_templates_are_listed() -> None:
    done = run_cli("train", "templates", "--json")
    assert done.returncode == 0
    assert {"quick", "sft-lora-cpu", "dpo-lora-cpu", "sft-lora-gpu"} <= set(json.loads(
        done.stdout))


def test_run_follows_the_job_then_status_and_logs_show_it(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cerebra.cli.main import main
    from cerebra.improve import train_job

    trainer = FakeTrainer(steps=3)
    monkeypatch.setattr(train_job, "_default_trainer", lambda: trainer)
    engine = run_migrations()
    DatasetStore(engine).create_version(RequestContext(tenant_id="default"), "faq", "sft",
                                        [SftRow("Q: who?\nA:", " Cerebra")])
    path = tmp_path / "faq.yaml"
    path.write_text("extends: quick\ndatasets: [faq]\n")
    main(["train", "run", str(path), "--json"])
    ran = json.loads(capsys.readouterr().out)
    assert ran["job"]["state"] == "succeeded" and ran["run"]["metrics"]["steps"] == 3
    assert trainer.calls[0]["rows"] == [{"prompt": "Q: who?\nA:", "completion": " Cerebra"}]
    run_id, job_id = ran["run"]["id"], ran["job"]["id"]
    main(["train", "status", "--json"])
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [run_id]
    main(["train", "status", job_id, "--json"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"]["id"] == run_id and shown["job"]["state"] == "succeeded"
    main(["train", "logs", run_id, "--json"])
    assert [e["step"] for e in json.loads(capsys.readouterr().out)["progress"]] == [1, 2, 3]
    with pytest.raises(SystemExit) as finished:
        main(["train", "cancel", job_id])
    assert finished.value.code == 1 and "already succeeded" in capsys.readouterr().out
    with pytest.raises(SystemExit) as other:  # another tenant's run is not found
        main(["train", "status", run_id, "--tenant", "globex"])
    assert other.value.code == 2
    with pytest.raises(SystemExit) as no_follow:
        main(["train", "run", str(path), "--no-follow"])
    assert no_follow.value.code == 2


def test_cancel_stops_a_job_running_in_another_runner(
        capsys: pytest.CaptureFixture[str]) -> None:
    from cerebra.cli.main import main
    from cerebra.improve.train_job import register_training, start_training
    from cerebra.improve.training_runs import TrainingRuns
    from cerebra.improve.workflow import load_workflow
    from cerebra.jobs.inprocess import InProcessRunner

    engine = run_migrations()
    context = RequestContext(tenant_id="default")
    DatasetStore(engine).create_version(context, "faq", "sft", [SftRow("Q:", " A")])
    runner = InProcessRunner(engine, heartbeat_s=0.05, stale_after_s=5.0)  # polls the flag
    try:
        trainer = FakeTrainer(steps=5, block_at=2)
        register_training(runner, engine, trainer=trainer)
        run = start_training(context, runner, engine,
                             load_workflow("name: w\nextends: quick\ndatasets: [faq]\n"))
        assert trainer.blocked.wait(60)
        main(["train", "cancel", str(run.job_id)])  # as another process would
        assert "cancel requested" in capsys.readouterr().out
        assert runner.join(str(run.job_id), timeout=60).state == "cancelled"
    finally:
        runner.close()
    assert TrainingRuns(engine).get(context, run.id).state == "cancelled"
