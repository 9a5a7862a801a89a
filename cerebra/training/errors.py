"""Training's errors: a run that failed, one cancelled on request, one whose process died."""

from __future__ import annotations

from pathlib import Path

from cerebra.errors import CerebraError


class TrainingError(CerebraError):
    """A training run failed (bad rows, the trainer raised, the child process exited)."""

    status_code = 500
    code = "training_failed"

    def __init__(self, message: str, *, last_checkpoint: Path | None = None) -> None:
        super().__init__(message)
        self.last_checkpoint = last_checkpoint


class TrainingCancelled(TrainingError):
    """should_stop() asked the run to stop: it stopped after saving a checkpoint
    (`last_checkpoint`), from which `train(..., resume=True)` continues."""

    status_code = 409
    code = "training_cancelled"


class TrainingCrashed(TrainingError):
    """The training process died without finishing (killed, out of memory, native crash);
    the message names the last checkpoint, so a job can resume from it or be marked failed."""

    code = "training_crashed"
