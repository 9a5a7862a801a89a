"""Does the local engine run on this machine? Generate a few tokens in a child process.

A llama.cpp library built for another CPU (a native build, AMX or AVX-512 instructions)
kills the process that runs it with SIGILL; doing the first generation in a child turns
that into a diagnosis: which library, the likely cause, and the one command that fixes it.
`cerebra doctor` and `cerebra serve` run this before they load a model in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cerebra.native.isa import IsaReport, engine_libraries, scan

REBUILD_COMMAND = f"{sys.executable} -m cerebra.native.build"

# Runs in the child: load the model with a small context and generate greedily.
_CHILD = """
import json, sys, time
from llama_cpp import Llama
path, n = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
llm = Llama(model_path=path, n_ctx=256, n_threads=int(sys.argv[3]), seed=0, verbose=False)
out = llm.create_completion("The capital of France is", max_tokens=n, temperature=0.0)
print(json.dumps({"tokens": out["usage"]["completion_tokens"],
                  "text": out["choices"][0]["text"],
                  "seconds": time.perf_counter() - t0}))
"""


@dataclass(frozen=True)
class EngineCheck:
    """The outcome of one trial generation in a child process."""

    ok: bool
    detail: str
    fix: str = ""
    signal_name: str | None = None  # set when the child died of a signal
    tokens: int = 0
    seconds: float = 0.0


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _isa_note(report: IsaReport | None) -> str:
    if report is None:
        return ""
    found = []
    if report.amx:
        found.append(f"{report.amx} AMX")
    if report.avx512:
        found.append(f"{report.avx512} AVX-512")
    return f" ({' and '.join(found)} instructions in it)" if found else ""


def diagnose_crash(returncode: int, library: Path | None = None) -> EngineCheck:
    """Name the library, the likely cause and the fix for a child killed by a signal."""
    name = _signal_name(returncode)
    libs = [library] if library is not None else engine_libraries()[:1]
    lib = libs[0] if libs else None
    report: IsaReport | None = None
    if lib is not None:
        try:
            report = scan(lib)
        except (OSError, RuntimeError):
            report = None
    where = f"llama-cpp-python's {lib}" if lib is not None else "llama-cpp-python"
    if name == "SIGILL":
        cause = (
            f"{where}{_isa_note(report)} executes CPU instructions this machine may not run: "
            "it was built natively (-march=native) or for another CPU; a CPU that advertises "
            "AMX may still refuse AMX to this process"
        )
    else:
        cause = f"{where} crashed (an incompatible native build or a damaged model file)"
    return EngineCheck(
        ok=False,
        detail=f"the engine died of {name} (signal {-returncode}) generating a few tokens: {cause}",
        fix=f"rebuild it portably: {REBUILD_COMMAND}",
        signal_name=name,
    )


def check_engine(
    model_path: Path,
    *,
    tokens: int = 4,
    timeout_s: float = 180.0,
    n_threads: int | None = None,
    python: str = sys.executable,
) -> EngineCheck:
    """Load `model_path` with llama.cpp in a child process and generate `tokens` tokens."""
    threads = n_threads or max(1, os.cpu_count() or 2)
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, "-c", _CHILD, str(model_path), str(tokens), str(threads)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return EngineCheck(
            False,
            f"generating {tokens} tokens with {model_path.name} took over {timeout_s:g} s",
            "check the machine's load; `cerebra doctor` again",
        )
    elapsed = time.perf_counter() - start
    if proc.returncode < 0:
        return diagnose_crash(proc.returncode)
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit code {proc.returncode}"
        fix = (
            "pip install 'cerebra[local]'"
            if "ModuleNotFoundError" in last or "ImportError" in last
            else f"check the model file, or rebuild the engine: {REBUILD_COMMAND}"
        )
        return EngineCheck(False, f"the engine failed: {last}", fix)
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return EngineCheck(False, f"the engine printed no result: {proc.stdout[-200:]!r}")
    n = int(result["tokens"])
    return EngineCheck(
        ok=n > 0,
        detail=f"llama.cpp generated {n} tokens in a child process ({elapsed:.1f} s with loading)",
        fix="" if n > 0 else f"the model generated nothing; rebuild: {REBUILD_COMMAND}",
        tokens=n,
        seconds=elapsed,
    )
