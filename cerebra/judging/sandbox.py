"""Run a checker's Python function on an answer in a child process with a time and memory
limit, so a hang or a memory hog is killed at its limit and reported, never awaited.

The child is a fresh interpreter (`-I -S`: no site, no environment variables, no user
paths) in its own session with an empty environment and a temporary working folder; it sets
RLIMIT_AS (memory) and RLIMIT_CPU on itself before reading the code, and the parent kills
the whole process group when the wall-clock limit passes. The function is
`check(answer) -> bool | float` (True/False or a score in [0, 1]).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass

_RUNNER = r"""
import json, resource, sys
mem, cpu = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
data = json.loads(sys.stdin.read())
out, sys.stdout = sys.stdout, sys.stderr
try:
    ns = {"__name__": "checker"}
    exec(compile(data["source"], "<checker>", "exec"), ns)
    if not callable(ns.get("check")):
        raise NameError("the checker defines no function check(answer)")
    result = ns["check"](data["answer"])
    if isinstance(result, bool):
        result = 1.0 if result else 0.0
    if not isinstance(result, (int, float)):
        raise TypeError(f"check() returned {type(result).__name__}, not a bool or a number")
    reply = {"score": float(result)}
except MemoryError:
    reply = {"error": "memory limit exceeded (MemoryError)"}
except BaseException as exc:
    reply = {"error": f"{type(exc).__name__}: {exc}"[:500]}
out.write(json.dumps(reply))
out.flush()
"""


@dataclass(frozen=True)
class SandboxResult:
    """The function's score in [0, 1], or 0 with the reason it failed or was killed."""

    score: float
    reason: str = ""
    killed: bool = False

    @property
    def ok(self) -> bool:
        return not self.reason


def run_check(source: str, answer: str, *, time_limit_s: float = 2.0,
              memory_mb: int = 256) -> SandboxResult:
    """Run `check(answer)` from `source` in a limited child process."""
    cpu = max(1, int(time_limit_s + 0.999))
    argv = [sys.executable, "-I", "-S", "-c", _RUNNER, str(memory_mb * 1024 * 1024), str(cpu)]
    payload = json.dumps({"source": source, "answer": answer})
    with tempfile.TemporaryDirectory(prefix="cerebra-check-") as cwd:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={}, cwd=cwd,
                                start_new_session=True)
        try:
            out, err = proc.communicate(payload, timeout=time_limit_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return SandboxResult(0.0, f"killed: time limit of {time_limit_s:g} s exceeded",
                                 killed=True)
    if proc.returncode < 0:  # killed by a signal: the CPU limit (SIGXCPU/SIGKILL) or memory
        sig = signal.Signals(-proc.returncode).name
        why = "CPU time limit" if sig in ("SIGXCPU", "SIGKILL") else "signal"
        return SandboxResult(0.0, f"killed: {why} ({sig})", killed=True)
    try:
        reply = json.loads(out)
    except json.JSONDecodeError:
        tail = (err or out).strip().splitlines()[-1:] or ["no output"]
        killed = "MemoryError" in (err or "")
        what = "memory limit exceeded" if killed else "checker crashed"
        return SandboxResult(0.0, f"{what}: {tail[0][:300]}", killed=killed)
    if "error" in reply:
        error = str(reply["error"])
        return SandboxResult(0.0, error, killed=error.startswith("memory limit"))
    score = float(reply["score"])
    if not 0.0 <= score <= 1.0:
        return SandboxResult(0.0, f"check() returned {score:g}, outside [0, 1]")
    return SandboxResult(score)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have ended on its own meanwhile
        os.killpg(proc.pid, signal.SIGKILL)
