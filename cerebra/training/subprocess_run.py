"""Training in a child process (`python -m cerebra.training.worker`): progress streamed back
over a pipe, cancel by SIGTERM (the child saves a checkpoint and exits), a dead child reported
with the last checkpoint it left.

The parent polls `should_stop()` while it waits; when it turns true the child gets SIGTERM,
which its SIGTERM handler turns into the trainer's clean stop (checkpoint, then exit), and
this call raises TrainingCancelled naming that checkpoint. A child that dies (SIGKILL, out of
memory, a native crash) raises TrainingCrashed naming the signal and the last checkpoint; a
child that fails raises TrainingError with the error it reported.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from cerebra.training.config import TrainConfig
from cerebra.training.errors import TrainingCancelled, TrainingCrashed, TrainingError
from cerebra.training.train import Progress, ShouldStop, TrainResult, last_checkpoint

POLL_S = 0.2


def _events(fd: int, buffer: bytearray) -> list[dict[str, Any]]:
    """The complete JSON lines read from `fd` now (an empty read leaves the buffer)."""
    chunk = os.read(fd, 65536)
    if not chunk:
        raise EOFError
    buffer.extend(chunk)
    events = []
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        if line.strip():
            events.append(json.loads(line))
    return events


def run_in_subprocess(config: TrainConfig, rows_path: Path, out_dir: Path, *,
                      progress: Progress | None = None, should_stop: ShouldStop | None = None,
                      resume: bool = True, base_gguf: Path | None = None,
                      base_dir: Path | None = None, env: dict[str, str] | None = None,
                      on_start: Any = None) -> TrainResult:
    """`train(...)` in a child process; same result and errors. `on_start(pid)` is called
    once the child runs (for a job's record); the child's stderr goes to out_dir/train.log."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = {"config": config.model_dump(mode="json"), "rows_path": str(rows_path),
            "out_dir": str(out_dir), "resume": resume,
            "base_gguf": str(base_gguf) if base_gguf else None,
            "base_dir": str(base_dir) if base_dir else None}
    read_fd, write_fd = os.pipe()
    log_path = out_dir / "train.log"
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "cerebra.training.worker", str(write_fd)],
            stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=(write_fd,),
            env={**os.environ, **(env or {})})
    os.close(write_fd)
    if on_start is not None:
        on_start(child.pid)
    assert child.stdin is not None
    child.stdin.write(json.dumps(spec).encode())
    child.stdin.close()
    outcome: dict[str, Any] | None = None
    cancelled = False
    buffer = bytearray()
    selector = selectors.DefaultSelector()
    selector.register(read_fd, selectors.EVENT_READ)
    try:
        while True:
            if not cancelled and should_stop is not None and should_stop():
                cancelled = True
                child.send_signal(signal.SIGTERM)
            if not selector.select(POLL_S):
                continue
            try:
                events = _events(read_fd, buffer)
            except EOFError:
                break
            for event in events:
                if event["event"] == "progress" and progress is not None:
                    progress(event["step"], event["total"], event["loss"], event["eta_s"])
                elif event["event"] in ("done", "cancelled", "error"):
                    outcome = event
    finally:
        selector.close()
        os.close(read_fd)
        code = child.wait()
    return _result(outcome, code, out_dir, log_path, cancelled)


def _result(outcome: dict[str, Any] | None, code: int, out_dir: Path,
            log_path: Path, cancelled: bool) -> TrainResult:
    if outcome is not None and outcome["event"] == "done":
        return TrainResult.from_dict(outcome["result"])
    saved = last_checkpoint(out_dir)
    if outcome is not None and outcome["event"] == "cancelled":
        raise TrainingCancelled(outcome["message"], last_checkpoint=saved)
    if cancelled and outcome is None and code == -signal.SIGTERM:  # before its handler was set
        raise TrainingCancelled(f"training cancelled before it started; checkpoint {saved}",
                                last_checkpoint=saved)
    if outcome is not None:
        raise TrainingError(outcome["message"], last_checkpoint=saved)
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
    where = f"last checkpoint {saved}" if saved else "no checkpoint was saved"
    tail = log_path.read_text(errors="replace")[-400:].strip() if log_path.exists() else ""
    raise TrainingCrashed(f"training process {how}; {where}"
                          + (f" (log tail: {tail[-200:]})" if tail and code > 0 else ""),
                          last_checkpoint=saved)
