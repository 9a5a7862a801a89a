"""Tokens/s of the portable llama.cpp build vs a native build without AMX, in one run.

The portable build (`python -m cerebra.native.build`: no -march=native, no AMX, no AVX-512)
is what Cerebra installs so that it runs on any x86-64 machine; this measures what that
costs against the fastest build for this CPU that still leaves AMX out (see
`cerebra.native.build.native_spec`). Each build runs in its own long-lived child process
(the native one from its own folder on PYTHONPATH), loads the model once, and the two are
asked for the same greedy generation in interleaved rounds. `benchmarks/inference.py`
includes this in its JSON; alone:

    python benchmarks/engine_builds.py [--rounds 5] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from cerebra.native.build import (
    build_wheel,
    default_wheel_root,
    find_wheel,
    install_target,
    native_spec,
    portable_spec,
)

_CHILD = r"""
import json, sys, time
import llama_cpp
from llama_cpp import Llama
cfg = json.loads(sys.stdin.readline())
llm = Llama(model_path=cfg["model"], n_ctx=cfg["n_ctx"], n_threads=cfg["threads"], seed=0,
            verbose=False)
bias = {int(k): v for k, v in cfg["logit_bias"].items()}
print(json.dumps({"module": llama_cpp.__file__}), flush=True)
for _ in sys.stdin:
    t0 = time.perf_counter()
    out = llm.create_completion(cfg["prompt"], max_tokens=cfg["max_tokens"], temperature=0.0,
                                stop=cfg["stops"] or None, logit_bias=bias)
    dt = time.perf_counter() - t0
    print(json.dumps({"tokens": out["usage"]["completion_tokens"], "seconds": dt}), flush=True)
"""


class _Engine:
    """One build in a child process that generates on request."""

    def __init__(self, label: str, pythonpath: Path | None, cfg: dict[str, Any]) -> None:
        env = dict(os.environ)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
        self.label = label
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cfg) + "\n")
        self.proc.stdin.flush()
        self.module = json.loads(self._line())["module"]

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            raise RuntimeError(f"{self.label} engine exited with {code}")
        return line

    def run(self) -> tuple[int, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        out = json.loads(self._line())
        return int(out["tokens"]), float(out["seconds"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def native_build() -> tuple[str, Path]:
    """Build (once; cached by flags) and unpack the native-without-AMX wheel."""
    spec = native_spec()
    root = default_wheel_root()
    wheel = find_wheel(spec.wheel_dir(root)) or build_wheel(spec, root)
    target = install_target(wheel, spec.wheel_dir(root) / "site")
    return spec.key, target


def compare(
    *,
    model: Path,
    prompt: str,
    stops: list[str],
    logit_bias: dict[int, float],
    max_tokens: int,
    rounds: int,
    n_ctx: int = 2048,
    threads: int | None = None,
) -> dict[str, Any]:
    native_key, native_site = native_build()
    cfg = {
        "model": str(model),
        "prompt": prompt,
        "stops": stops,
        "logit_bias": {str(k): v for k, v in logit_bias.items()},
        "max_tokens": max_tokens,
        "n_ctx": n_ctx,
        "threads": threads or os.cpu_count() or 2,
    }
    engines = [_Engine("portable", None, cfg), _Engine("native", native_site, cfg)]
    samples: dict[str, list[float]] = {e.label: [] for e in engines}
    tokens: dict[str, int] = {}
    try:
        for e in engines:  # warm-up
            e.run()
        for i in range(rounds):
            for e in engines if i % 2 == 0 else engines[::-1]:  # alternate who goes first
                n, seconds = e.run()
                tokens[e.label] = n
                samples[e.label].append(n / seconds)
    finally:
        for e in engines:
            e.close()
    best = {k: max(v) for k, v in samples.items()}
    median = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "builds": {
            "portable": portable_spec().key,
            "native": native_key,
            "modules": {e.label: e.module for e in engines},
        },
        "completion_tokens": tokens,
        "tokens_per_s_best": {k: round(v, 2) for k, v in best.items()},
        "tokens_per_s_median": {k: round(v, 2) for k, v in median.items()},
        "tokens_per_s_samples": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "ratio_portable_vs_native": round(best["portable"] / best["native"], 4),
        "ratio_portable_vs_native_median": round(median["portable"] / median["native"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    import tempfile

    from cerebra.models.weights import PackagedModel

    model = PackagedModel.load().assemble_into(Path(tempfile.mkdtemp()) / "models")
    prompt = "User: Write a long story about a dragon who learns to bake bread.\nAssistant:"
    result = compare(
        model=model,
        prompt=prompt,
        stops=[],
        logit_bias={},
        max_tokens=args.max_tokens,
        rounds=args.rounds,
    )
    print(json.dumps({"benchmark": "engine_builds", **result}, indent=2))


if __name__ == "__main__":
    main()
