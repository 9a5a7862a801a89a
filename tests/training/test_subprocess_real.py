"""Training in a child process (slow): DPO runs there and returns its result with progress
streamed back; cancel stops it with a checkpoint; a SIGKILLed child is a clear error naming
the last checkpoint."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from cerebra.training.config import TrainConfig
from cerebra.training.errors import TrainingCancelled, TrainingCrashed
from cerebra.training.subprocess_run import run_in_subprocess
from tests.training.conftest import PROMPTS, write_rows

pytestmark = pytest.mark.slow


def test_dpo_in_a_child_process(base_dir: Path, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "pairs.jsonl", [
        {"prompt": p, "chosen": " kumquat.", "rejected": " apple."} for p in PROMPTS[:4]])
    seen: list[tuple[int, int]] = []
    config = TrainConfig(stage="dpo", max_steps=2, batch_size=2, max_seq_len=64, save_steps=1)
    result = run_in_subprocess(config, rows, tmp_path / "out", base_dir=base_dir,
                               progress=lambda step, total, loss, eta: seen.append((step, total)))
    assert seen == [(1, 2), (2, 2)] and result.steps == 2
    assert result.curve and all(p["loss"] > 0 for p in result.curve)
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert result.gguf_path.is_file() and result.extra["stage"] == "dpo"


def test_cancel_stops_the_child_with_a_checkpoint(base_dir: Path, sft_rows: Path,
                                                  tmp_path: Path) -> None:
    seen: list[int] = []
    config = TrainConfig(max_steps=50, batch_size=2, max_seq_len=64, save_steps=100)
    with pytest.raises(TrainingCancelled) as err:
        run_in_subprocess(config, sft_rows, tmp_path, base_dir=base_dir,
                          progress=lambda step, *rest: seen.append(step),
                          should_stop=lambda: bool(seen))
    assert err.value.last_checkpoint is not None
    assert err.value.last_checkpoint.parent == tmp_path / "checkpoints"
    assert max(seen) < 50 and not (tmp_path / "adapter.gguf").exists()


def test_a_killed_child_names_its_last_checkpoint(base_dir: Path, sft_rows: Path,
                                                  tmp_path: Path) -> None:
    pids: list[int] = []

    def kill_at_step_two(step: int, *rest: object) -> None:
        if step == 2:
            os.kill(pids[0], signal.SIGKILL)

    config = TrainConfig(max_steps=50, batch_size=2, max_seq_len=64, save_steps=1)
    with pytest.raises(TrainingCrashed) as err:
        run_in_subprocess(config, sft_rows, tmp_path, base_dir=base_dir,
                          on_start=pids.append, progress=kill_at_step_two)
    assert "killed by SIGKILL" in err.value.message
    assert err.value.last_checkpoint is not None and err.value.last_checkpoint.name in (
        "checkpoint-1", "checkpoint-2")
    assert str(err.value.last_checkpoint) in err.value.message
