"""Both embedded models on the same prompts: tokens/s and first-token latency of raw
llama-cpp-python vs the same prompt through Brain and through the HTTP server (memory off),
measured in one run; prints JSON with the ratios vs raw (target ≥ 0.95) per model and
SmolLM2-135M-Instruct against Gemma 3 270M. Then, unless --no-engine-builds, the portable
engine build against a native build without AMX on Gemma's prompt (`engine_builds`, see
benchmarks/engine_builds.py; the native build is compiled once).

Every mode of a model sees the identical prompt text (the model's own format: Gemma's
labelled transcript, SmolLM2's ChatML chat template), stop sequences, max_tokens and
temperature 0, so all generate the same tokens; end-of-turn and newline tokens are banned so
every run generates exactly max_tokens. Rounds are interleaved across models and modes so
machine noise hits them alike. Tokens/s: a whole generation (non-streaming); first token:
the time until a streaming generation's first text arrives (prompt processing included).

    python benchmarks/inference.py [--rounds 5] [--max-tokens 96] [--no-engine-builds]
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

PROMPT = "Write a long, detailed story about a dragon who learns to bake bread in a village."
MODES = ("raw_llama_cpp", "brain", "http_server")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _llama_of(backend: Any) -> Any:
    """The LlamaCppBackend under the registry's wrappers (queue, cache, metering)."""
    from cerebra.models.llamacpp import LlamaCppBackend

    while not isinstance(backend, LlamaCppBackend):
        backend = backend.inner
    return backend


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cerebra.cli.main", "serve", "--port", str(port)],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit("server did not start")
        time.sleep(0.2)


class Subject:
    """One model measured three ways on its own rendering of PROMPT."""

    def __init__(self, name: str, brain: Any, client: httpx.Client, base: str,
                 max_tokens: int, n_ctx: int, n_threads: int) -> None:
        from llama_cpp import Llama

        from cerebra.models.base import GenerationRequest
        from cerebra.prompts.renderer import render_messages

        self.name, self.brain, self.client, self.base = name, brain, client, base
        self.max_tokens = max_tokens
        self.backend = _llama_of(brain.models.get(name))
        # the exact text Brain sends with memory off, for the raw baseline
        rendered = render_messages(PROMPT, [], count_tokens=self.backend.count_tokens,
                                   token_budget=0)
        request = GenerationRequest(messages=rendered.messages, max_tokens=max_tokens,
                                    temperature=0.0)
        self.prompt_text, stops = self.backend.prompt_of(request)
        self.stops = list(stops)
        self.model_path = Path(self.backend.model_path)
        self.raw = Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=n_threads,
                         seed=0, verbose=False)
        banned = {self.raw.token_eos()}  # OpenAI-style logit_bias, in every mode
        for text in ("\n", "\n\n", "\n\n\n"):
            banned.update(self.raw.tokenize(text.encode(), add_bos=False, special=True))
        self.logit_bias = {int(t): -100.0 for t in banned}

    # -- tokens/s: whole generations ---------------------------------------------------------
    def raw_tokens(self) -> tuple[int, float]:
        start = time.perf_counter()
        out: Any = self.raw.create_completion(
            self.prompt_text, max_tokens=self.max_tokens, temperature=0.0, stop=self.stops,
            logit_bias=self.logit_bias)
        return int(out["usage"]["completion_tokens"]), time.perf_counter() - start

    def brain_tokens(self) -> tuple[int, float]:
        start = time.perf_counter()
        answer = self.brain.ask(PROMPT, model=self.name, memory=False,
                                max_tokens=self.max_tokens, temperature=0.0,
                                logit_bias=self.logit_bias)
        return answer.usage.completion_tokens, time.perf_counter() - start

    def _chat_body(self, stream: bool, max_tokens: int) -> dict[str, Any]:
        return {"model": self.name, "messages": [{"role": "user", "content": PROMPT}],
                "max_tokens": max_tokens, "temperature": 0.0, "stream": stream,
                "logit_bias": {str(k): v for k, v in self.logit_bias.items()}}

    def http_tokens(self) -> tuple[int, float]:
        start = time.perf_counter()
        resp = self.client.post(f"{self.base}/v1/chat/completions",
                                headers={"X-Cerebra-Memory": "off"},
                                json=self._chat_body(False, self.max_tokens))
        resp.raise_for_status()
        return int(resp.json()["usage"]["completion_tokens"]), time.perf_counter() - start

    # -- first token: streaming, stopped at the first text -----------------------------------
    def raw_first(self) -> float:
        start = time.perf_counter()
        parts: Any = self.raw.create_completion(
            self.prompt_text, max_tokens=self.max_tokens, temperature=0.0, stop=self.stops,
            logit_bias=self.logit_bias, stream=True)
        try:
            for part in parts:
                if part["choices"][0]["text"]:
                    return time.perf_counter() - start
        finally:
            parts.close()
        raise RuntimeError("no text streamed")

    def brain_first(self) -> float:
        start = time.perf_counter()
        events = self.brain.stream(PROMPT, model=self.name, memory=False,
                                   max_tokens=self.max_tokens, temperature=0.0,
                                   logit_bias=self.logit_bias)
        try:
            for item in events:
                if isinstance(item, str) and item:
                    return time.perf_counter() - start
        finally:
            close = getattr(events, "close", None)
            if close is not None:  # stops the generation now
                close()
        raise RuntimeError("no text streamed")

    def http_first(self) -> float:
        start = time.perf_counter()
        with self.client.stream("POST", f"{self.base}/v1/chat/completions",
                                headers={"X-Cerebra-Memory": "off"},
                                json=self._chat_body(True, self.max_tokens)) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                delta = json.loads(line[6:])["choices"][0].get("delta", {})
                if delta.get("content"):
                    return time.perf_counter() - start
        raise RuntimeError("no text streamed")

    def runs(self) -> dict[str, tuple[Callable[[], tuple[int, float]], Callable[[], float]]]:
        return {"raw_llama_cpp": (self.raw_tokens, self.raw_first),
                "brain": (self.brain_tokens, self.brain_first),
                "http_server": (self.http_tokens, self.http_first)}


def _summary(subject: Subject, speed: dict[str, list[float]], first: dict[str, list[float]],
             tokens: dict[str, int]) -> dict[str, Any]:
    best = {m: max(v) for m, v in speed.items()}  # the least disturbed run on a shared machine
    median = {m: statistics.median(v) for m, v in speed.items()}
    first_best = {m: min(v) for m, v in first.items()}
    first_median = {m: statistics.median(v) for m, v in first.items()}
    return {
        "file": subject.model_path.name,
        "prompt_tokens": subject.backend.count_tokens(subject.prompt_text),
        "prompt_head": subject.prompt_text[:60],
        "completion_tokens": tokens,
        "tokens_per_s_median": {m: round(v, 2) for m, v in median.items()},
        "tokens_per_s_best": {m: round(v, 2) for m, v in best.items()},
        "tokens_per_s_samples": {m: [round(x, 2) for x in v] for m, v in speed.items()},
        "first_token_ms_median": {m: round(v * 1000, 1) for m, v in first_median.items()},
        "first_token_ms_best": {m: round(v * 1000, 1) for m, v in first_best.items()},
        "ratio_brain_vs_raw": round(best["brain"] / best["raw_llama_cpp"], 4),
        "ratio_http_vs_raw": round(best["http_server"] / best["raw_llama_cpp"], 4),
        "ratio_brain_vs_raw_median": round(median["brain"] / median["raw_llama_cpp"], 4),
        "ratio_http_vs_raw_median": round(median["http_server"] / median["raw_llama_cpp"], 4),
        "first_token_overhead_ms_brain": round(
            (first_best["brain"] - first_best["raw_llama_cpp"]) * 1000, 1),
        "first_token_overhead_ms_http": round(
            (first_best["http_server"] - first_best["raw_llama_cpp"]) * 1000, 1),
    }


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
    from cerebra.brain import Brain
    from cerebra.config import Settings
    from cerebra.models.instruct import INSTRUCT_NAME
    from cerebra.models.weights import PackagedModel
    from cerebra.testing import FakeEmbedder

    work = Path(tempfile.mkdtemp(prefix="cerebra-bench-"))
    packaged = PackagedModel.load()
    model_path = packaged.assemble_into(work / "models")
    n_threads = os.cpu_count() or 2
    n_ctx = 2048
    settings = Settings(
        home=work / "home",
        model={"path": model_path, "sha256": packaged.expected_sha256, "n_ctx": n_ctx,
               "n_threads": n_threads, "instruct": True},
        memory={"embedder": "fake"},  # memory is off in every mode; skip loading MiniLM
        server={"log_level": "WARNING"},
    )
    env = {  # the same settings for the server's process
        "CEREBRA_HOME": str(settings.home),
        "CEREBRA_MODEL__PATH": str(model_path),
        "CEREBRA_MODEL__SHA256": packaged.expected_sha256,
        "CEREBRA_MODEL__N_CTX": str(n_ctx),
        "CEREBRA_MODEL__N_THREADS": str(n_threads),
        "CEREBRA_MODEL__INSTRUCT": "true",
        "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_SERVER__LOG_LEVEL": "WARNING",
        "CEREBRA_AUTH__MODE": "off",  # a loopback server; keys are not what is measured
    }
    brain = Brain.from_settings(settings, embedder=FakeEmbedder())
    names = [settings.model.name, INSTRUCT_NAME]
    missing = [n for n in names if n not in brain.models.names()]
    if missing:
        raise SystemExit(f"not served: {missing} (pip install 'cerebra[local]')")
    server, base = _start_server(env)
    client = httpx.Client(timeout=600)
    subjects = [Subject(n, brain, client, base, args.max_tokens, n_ctx, n_threads)
                for n in names]
    speed = {s.name: {m: [] for m in MODES} for s in subjects}
    first = {s.name: {m: [] for m in MODES} for s in subjects}
    tokens: dict[str, dict[str, int]] = {s.name: {} for s in subjects}
    try:
        for subject in subjects:  # warm-up
            for whole, head in subject.runs().values():
                whole()
                head()
        for _ in range(args.rounds):
            for subject in subjects:
                for mode, (whole, head) in subject.runs().items():
                    time.sleep(0.2)  # let the previous mode's threads settle
                    n, seconds = whole()
                    tokens[subject.name][mode] = n
                    speed[subject.name][mode].append(n / seconds)
                    first[subject.name][mode].append(head())
    finally:
        server.terminate()
        server.wait(timeout=30)
        client.close()
        brain.close()

    models = {s.name: _summary(s, speed[s.name], first[s.name], tokens[s.name])
              for s in subjects}
    gemma, smol = models[names[0]], models[names[1]]
    result: dict[str, Any] = {
        "benchmark": "inference",
        "prompt": PROMPT,
        "rounds": args.rounds,
        "max_tokens": args.max_tokens,
        "threads": n_threads,
        "target_ratio": 0.95,
        "models": models,
        "smollm2_vs_gemma": {  # raw llama-cpp-python, best runs
            "tokens_per_s_ratio": round(smol["tokens_per_s_best"]["raw_llama_cpp"]
                                        / gemma["tokens_per_s_best"]["raw_llama_cpp"], 3),
            "first_token_ms": {n: models[n]["first_token_ms_best"]["raw_llama_cpp"]
                               for n in names},
        },
    }
    if not args.no_engine_builds:
        from engine_builds import compare  # beside this script

        gemma_subject = subjects[0]
        for subject in subjects:
            subject.raw.close()  # free the in-process engines before the children load theirs
        result["engine_builds"] = compare(
            model=model_path,
            prompt=gemma_subject.prompt_text,
            stops=gemma_subject.stops,
            logit_bias=gemma_subject.logit_bias,
            max_tokens=args.max_tokens,
            rounds=args.rounds,
            n_ctx=n_ctx,
            threads=n_threads,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
