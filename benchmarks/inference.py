"""Tokens/s of raw llama-cpp-python vs the same prompt through Brain and through the HTTP
server (memory off), measured in one run; prints JSON with the ratios (target ≥ 0.95).
Then the portable engine build against a native build without AMX on the same prompt
(`engine_builds`, see benchmarks/engine_builds.py; the native build is compiled once).

Every mode sees the identical prompt text, stop sequences, max_tokens and temperature 0, so
all generate the same tokens; rounds are interleaved so machine noise hits modes alike.

    python benchmarks/inference.py [--rounds 5] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PROMPT = "Write a long, detailed story about a dragon who learns to bake bread in a village."


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument(
        "--no-engine-builds", action="store_true", help="skip portable vs native-without-AMX"
    )
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # As `cerebra serve` does: OpenMP workers sleep instead of spinning between calls, so
    # one mode's idle workers do not steal the cores from the next (every mode, alike).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from llama_cpp import Llama

    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.models.base import GenerationRequest
    from cerebra.models.prompt_format import completion_prompt
    from cerebra.models.weights import PackagedModel
    from cerebra.prompts.renderer import render_messages
    from cerebra.testing import FakeEmbedder

    work = Path(tempfile.mkdtemp(prefix="cerebra-bench-"))
    packaged = PackagedModel.load()
    model_path = packaged.assemble_into(work / "models")
    n_threads = os.cpu_count() or 2
    n_ctx = 2048
    settings = Settings(
        home=work / "home",
        model={"path": model_path, "sha256": packaged.expected_sha256, "n_ctx": n_ctx,
               "n_threads": n_threads},
        memory={"embedder": "fake"},  # memory is off in every mode; skip loading MiniLM
        server={"log_level": "WARNING"},
    )
    env = {  # the same settings for the server's process
        "CEREBRA_HOME": str(settings.home),
        "CEREBRA_MODEL__PATH": str(model_path),
        "CEREBRA_MODEL__SHA256": packaged.expected_sha256,
        "CEREBRA_MODEL__N_CTX": str(n_ctx),
        "CEREBRA_MODEL__N_THREADS": str(n_threads),
        "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_SERVER__LOG_LEVEL": "WARNING",
    }
    brain = Brain.from_settings(settings, embedder=FakeEmbedder())
    backend: Any = brain.models.get()

    # The exact text Brain sends with memory off, for the raw baseline.
    rendered = render_messages(PROMPT, [], count_tokens=backend.count_tokens, token_budget=0)
    request = GenerationRequest(
        messages=rendered.messages, max_tokens=args.max_tokens, temperature=0.0
    )
    prompt_text, stops = completion_prompt(request)
    raw = Llama(model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False)
    # Ban end-of-text and newline tokens (OpenAI-style logit_bias, in every mode) so each
    # run generates exactly max_tokens tokens instead of stopping at the next speaker label.
    banned = {raw.token_eos()}
    for text in ("\n", "\n\n", "\n\n\n"):
        banned.update(raw.tokenize(text.encode(), add_bos=False, special=True))
    logit_bias = {int(t): -100.0 for t in banned}

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cerebra.cli.main", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=300)
    deadline = time.time() + 180
    while True:
        try:
            if client.get(f"{base}/readyz").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise SystemExit("server did not start")
        time.sleep(0.2)

    def run_raw() -> tuple[int, float]:
        start = time.perf_counter()
        out: Any = raw.create_completion(
            prompt_text,
            max_tokens=args.max_tokens,
            temperature=0.0,
            stop=list(stops),
            logit_bias=logit_bias,
        )
        return int(out["usage"]["completion_tokens"]), time.perf_counter() - start

    def run_brain() -> tuple[int, float]:
        start = time.perf_counter()
        answer = brain.ask(
            PROMPT,
            memory=False,
            max_tokens=args.max_tokens,
            temperature=0.0,
            logit_bias=logit_bias,
        )
        return answer.usage.completion_tokens, time.perf_counter() - start

    def run_http() -> tuple[int, float]:
        start = time.perf_counter()
        resp = client.post(
            f"{base}/v1/chat/completions",
            headers={"X-Cerebra-Memory": "off"},
            json={
                "model": settings.model.name,
                "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": args.max_tokens,
                "temperature": 0.0,
                "logit_bias": {str(k): v for k, v in logit_bias.items()},
            },
        )
        resp.raise_for_status()
        return int(resp.json()["usage"]["completion_tokens"]), time.perf_counter() - start

    modes = {"raw_llama_cpp": run_raw, "brain": run_brain, "http_server": run_http}
    samples: dict[str, list[float]] = {m: [] for m in modes}
    tokens: dict[str, int] = {}
    try:
        for fn in modes.values():  # warm-up
            fn()
        for _ in range(args.rounds):
            for name, fn in modes.items():
                time.sleep(0.2)  # let the previous mode's threads settle
                n, seconds = fn()
                tokens[name] = n
                samples[name].append(n / seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
        brain.close()

    median = {m: statistics.median(v) for m, v in samples.items()}
    best = {m: max(v) for m, v in samples.items()}
    result = {
        "benchmark": "inference",
        "model": str(model_path.name),
        "prompt_tokens": backend.count_tokens(prompt_text),
        "completion_tokens": tokens,
        "rounds": args.rounds,
        "tokens_per_s_median": {m: round(v, 2) for m, v in median.items()},
        "tokens_per_s_best": {m: round(v, 2) for m, v in best.items()},
        "tokens_per_s_samples": {m: [round(x, 2) for x in v] for m, v in samples.items()},
        # best-of-N is the least disturbed run of each mode on a shared, noisy machine
        "ratio_brain_vs_raw": round(best["brain"] / best["raw_llama_cpp"], 4),
        "ratio_http_vs_raw": round(best["http_server"] / best["raw_llama_cpp"], 4),
        "ratio_brain_vs_raw_median": round(median["brain"] / median["raw_llama_cpp"], 4),
        "ratio_http_vs_raw_median": round(median["http_server"] / median["raw_llama_cpp"], 4),
        "target_ratio": 0.95,
    }
    if not args.no_engine_builds:
        from engine_builds import compare  # beside this script

        del raw  # free the in-process engine before the two children load theirs
        result["engine_builds"] = compare(
            model=model_path,
            prompt=prompt_text,
            stops=list(stops),
            logit_bias=logit_bias,
            max_tokens=args.max_tokens,
            rounds=args.rounds,
            n_ctx=n_ctx,
            threads=n_threads,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
