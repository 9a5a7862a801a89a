"""The training child process: `python -m cerebra.training.worker <fd>` reads its run from
stdin (JSON), trains, and writes JSON lines to file descriptor <fd>: progress events, then
one of done (with the result), cancelled or error. SIGTERM asks for a clean stop."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from cerebra.errors import CerebraError
from cerebra.training.config import TrainConfig
from cerebra.training.errors import TrainingCancelled


def main(argv: list[str]) -> int:
    out = os.fdopen(int(argv[0]), "w", buffering=1)
    stop = {"asked": False}

    def _term(signum: int, frame: FrameType | None) -> None:
        stop["asked"] = True

    signal.signal(signal.SIGTERM, _term)

    def send(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    def progress(step: int, total: int, loss: float | None, eta_s: float | None) -> None:
        send({"event": "progress", "step": step, "total": total, "loss": loss, "eta_s": eta_s})

    spec = json.loads(sys.stdin.read())
    from cerebra.training.train import train

    try:
        result = train(TrainConfig.model_validate(spec["config"]), Path(spec["rows_path"]),
                       Path(spec["out_dir"]), resume=spec["resume"],
                       base_gguf=Path(spec["base_gguf"]) if spec["base_gguf"] else None,
                       base_dir=Path(spec["base_dir"]) if spec["base_dir"] else None,
                       progress=progress, should_stop=lambda: stop["asked"])
    except TrainingCancelled as exc:
        send({"event": "cancelled", "message": exc.message})
        return 0
    except CerebraError as exc:
        send({"event": "error", "message": exc.message})
        return 1
    except Exception as exc:  # reported to the parent, which raises it
        send({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        return 1
    send({"event": "done", "result": result.to_dict()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
