"""Acceptance: the local model stays up under load (issue 7, item 4), on the real packaged GGUF.

The real server runs as a child process (`cerebra serve`), so a native crash fails the test
with the signal named instead of ending the test run. One client streams a 4,000-token
generation and then disconnects, while 20 short requests arrive at once: each short one is
served (200) or told when to retry (429 with Retry-After), none gets 503 (the busy model stays
in rotation although the health probe runs every second), and the disconnected generation
stops at once — asserted by counting the tokens it produced, not by a clock. The time from
the disconnect to the stop is printed (run with -s) for quoting, never asserted.

Also, in a child process: llama.cpp stops between tokens when a request's Cancellation trips
(deadline or cancel), and a probe of a busy model answers "busy" without waiting.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port

pytestmark = pytest.mark.slow

MODEL = "gemma-3-270m"
LONG_TOKENS = 4000
SHORT = 20
NO_END = {"1": -100.0, "106": -100.0}  # Gemma's <eos> and <end_of_turn>: a long generation


def _died(proc: subprocess.Popen[bytes], log: Path) -> str:
    code = proc.returncode
    how = (f"died of {signal.Signals(-code).name} (signal {-code})" if code is not None
           and code < 0 else f"exited with code {code}")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    return f"the server {how}; its log ends:\n{tail}"


@pytest.fixture
def server(gguf_path: Path, gguf_sha256: str, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """`cerebra serve` in a child process on a free port; yields its URL and a liveness check."""
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "CEREBRA_HOME": str(tmp_path / "home"),
        "CEREBRA_MODEL_PATH": str(gguf_path),
        "CEREBRA_MODEL_SHA256": gguf_sha256,
        "CEREBRA_N_CTX": "4096",
        "CEREBRA_MAX_TOKENS_CAP": "8192",
        # no wall-clock limit: on a loaded machine the long generation would otherwise end
        # as "timeout" (120 s by default) before its client leaves, and this is about leaving
        "CEREBRA_GENERATION_TIMEOUT_S": "0",
        "CEREBRA_LOCAL_QUEUE_SIZE": "16",
        "CEREBRA_HEALTH_INTERVAL_S": "1",  # probe every second, all through the long generation
        "CEREBRA_HEALTH_UNHEALTHY_AFTER": "1",  # one failed probe would take the model out
        "CEREBRA_EMBEDDER": "fake",  # the subject is the model; memory is off in the requests
        "CEREBRA_LOG_LEVEL": "INFO",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cerebra.cli.main", "serve", "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive() -> None:
        if proc.poll() is not None:
            pytest.fail(_died(proc, log))

    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):  # up to ~4 minutes: the model is verified and loaded first
            alive()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the server never became ready")
        yield base, alive
        alive()  # still up after the load
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _metrics(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(metrics: dict[Any, float], name: str, **labels: str) -> float | None:
    return metrics.get((name, tuple(sorted(labels.items()))))


def _short(base: str, i: int, results: list[Any]) -> None:
    if i % 2:
        path, body = "/api/llm/query", {"prompt": f"Say hello number {i}.", "memory": False,
                                        "max_tokens": 8, "temperature": 0}
    else:
        path, body = "/v1/chat/completions", {
            "model": MODEL, "max_tokens": 8, "temperature": 0, "metadata": {"memory": "off"},
            "messages": [{"role": "user", "content": f"Say hello number {i}."}]}
    try:
        results[i] = httpx.post(f"{base}{path}", json=body, timeout=600)
    except httpx.HTTPError as exc:
        results[i] = exc


def test_local_model_stays_up_under_load(server: tuple[str, Any]) -> None:
    base, alive = server
    chunks = 0
    close_now = threading.Event()
    streaming = threading.Event()
    closed_at: list[float] = []

    def long_stream() -> None:  # reads continuously, so the count tracks the server's
        nonlocal chunks
        with httpx.Client(timeout=600) as client, client.stream(
                "POST", f"{base}/v1/completions", json={
                    "model": MODEL, "prompt": "Once upon a time, in a land far away,",
                    "max_tokens": LONG_TOKENS, "temperature": 0.8, "stream": True,
                    "logit_bias": NO_END}) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    chunks += 1
                    if chunks >= 5:
                        streaming.set()
                if close_now.is_set():
                    break
            closed_at.append(time.perf_counter())
        # leaving both blocks closed the connection: the client is gone

    reader = threading.Thread(target=long_stream, daemon=True)
    reader.start()
    assert streaming.wait(300), "the long generation did not start streaming"

    results: list[Any] = [None] * SHORT
    shorts = [threading.Thread(target=_short, args=(base, i, results), daemon=True)
              for i in range(SHORT)]
    for thread in shorts:
        thread.start()
    for _ in range(600):  # every short request is queued or refused, the long one still runs
        alive()
        m = _metrics(base)
        waiting = _value(m, "cerebra_model_queue_waiting", model=MODEL) or 0
        rejected = _value(m, "cerebra_model_queue_rejected_total", model=MODEL) or 0
        if waiting + rejected >= SHORT:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"short requests never all arrived: {waiting} waiting, {rejected} refused")
    status = httpx.get(f"{base}/api/models", timeout=10).json()["models"]
    assert all(s["healthy"] for s in status), status  # busy, probed every second, in rotation

    close_now.set()  # the long stream's client disconnects after its next chunk
    reader.join(60)
    assert closed_at, "the long stream did not close"
    read = chunks

    stopped = None
    for _ in range(600):
        alive()
        m = _metrics(base)
        stopped = _value(m, "cerebra_generations_stopped_total", model=MODEL, reason="cancelled")
        if stopped:
            break
        time.sleep(0.05)
    seen_stop_s = time.perf_counter() - closed_at[0]
    assert stopped == 1, "the disconnected generation was not stopped"
    tokens = _value(m, "cerebra_generation_stopped_tokens_total", model=MODEL,
                    reason="cancelled")
    stop_s = _value(m, "cerebra_generation_stop_seconds_total", model=MODEL,
                    reason="cancelled")
    assert tokens is not None

    for thread in shorts:
        thread.join(600)
    alive()
    codes = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results]
    served = sum(c == 200 for c in codes)
    refused = [r for r in results if isinstance(r, httpx.Response) and r.status_code == 429]
    after = int(tokens) - read
    print(f"\nload: {served} served (200), {len(refused)} told to retry (429), statuses {codes}"
          f"\ncancelled generation: {int(tokens)} completion tokens of {LONG_TOKENS} asked; "
          f"{read} chunks read by the client before it left, so ~{after} after the disconnect"
          f"\ndisconnect → stop: {stop_s * 1000 if stop_s is not None else float('nan'):.0f} ms "
          f"in the server (token tripped → generation ended); {seen_stop_s * 1000:.0f} ms from "
          "the client's close until /metrics showed the stop (polled)")
    assert all(c in (200, 429) for c in codes), codes  # in particular, no 503
    assert served >= 1 and served + len(refused) == SHORT
    for r in refused:
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["type"] == "overloaded"
    assert tokens < LONG_TOKENS / 4  # stopped far short of what was asked
    assert after <= 100, f"{after} tokens were generated after the client left"
    status = httpx.get(f"{base}/api/models", timeout=10).json()["models"]
    assert all(s["healthy"] for s in status), status


# -- llama.cpp itself, in a child process -------------------------------------------------


def llama_cancellation_in_child(path: str, sha: str) -> dict[str, Any]:
    """Run in a child: a deadline counted in token checks, a cancel mid-stream, and the probe
    of a model whose stream holds it."""
    from cerebra.models.base import GenerationRequest
    from cerebra.models.cancellation import Cancellation
    from cerebra.models.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(Path(path), expected_sha256=sha, n_ctx=1024)
    out: dict[str, Any] = {}

    ticks = itertools.count()  # the clock moves one step each time the token is checked
    token = Cancellation(timeout_s=20, clock=lambda: float(next(ticks)))
    gen = backend.generate(GenerationRequest(prompt="Once upon a time", max_tokens=500,
                                             temperature=0.8, cancellation=token,
                                             extra={"logit_bias": NO_END}))
    out["deadline"] = (gen.finish_reason, gen.usage.completion_tokens)

    token = Cancellation()
    stream = backend.stream(GenerationRequest(prompt="Once upon a time", max_tokens=500,
                                              temperature=0.8, cancellation=token,
                                              extra={"logit_bias": NO_END}))
    texts = [next(stream).text for _ in range(3)]
    out["busy"] = backend.probe().detail  # the stream holds the model
    token.cancel()
    rest = list(stream)
    usage = rest[-1].usage
    out["cancel"] = (rest[-1].finish_reason, usage.completion_tokens if usage else None,
                     len(texts) + len(rest) - 1)
    out["idle"] = backend.probe().detail
    return out


def test_llama_stops_between_tokens_and_probes_busy(gguf_path: Path, gguf_sha256: str) -> None:
    isolated = pytest.importorskip("cerebra.isolated")  # the child-process runner

    out = isolated.run_in_child(llama_cancellation_in_child, str(gguf_path), gguf_sha256,
                                timeout=300)
    finish, tokens = out["deadline"]
    assert finish == "timeout" and 0 < tokens <= 20  # 20 checks: at most one per token
    finish, tokens, pieces = out["cancel"]
    assert finish == "cancelled" and pieces <= 4 and tokens <= 8
    assert out["busy"] == "busy" and out["idle"] == "ok"
