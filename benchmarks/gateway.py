"""Gateway overhead and throughput: direct to a mock OpenAI upstream vs Cerebra's gateway
(memory off, then on with a 10k-memory scope) and, with --with-litellm, LiteLLM's proxy
(installed by this script into its own virtualenv) pointed at the same upstream.

Sequential requests measure added latency (p50/p99 of each target minus the direct ones);
concurrent requests measure max requests/s. Targets are measured in interleaved blocks so
machine noise hits them alike. Prints JSON with the ratios.

    python benchmarks/gateway.py [--requests 400] [--seconds 8] [--concurrency 32]
                                 [--with-litellm] [--memory-scope 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
LITELLM_VENV = ROOT / ".bench" / "litellm-venv"
BODY = {"model": "mock", "messages": [{"role": "user", "content": "Say something short."}]}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=lambda: dict(BODY))
    process: subprocess.Popen[bytes] | None = None
    latencies_ms: list[float] = field(default_factory=list)
    overhead_header_ms: list[float] = field(default_factory=list)
    rps: float = 0.0
    errors: int = 0


def spawn(
    cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=out)


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{url} did not become ready")


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("installing litellm[proxy] into", LITELLM_VENV, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True
        )
    return exe


def populate_memories(home: Path, n: int) -> None:
    """Fill the gateway's scope (user "bench") with n memories, embedded for real."""
    from cerebra.config import Settings
    from cerebra.runtime import build_memory_store

    store = build_memory_store(Settings(home=home))
    topics = ["deploys", "billing", "the office", "hiring", "travel", "the roadmap", "security"]
    batch: list[str] = []
    for i in range(n):
        batch.append(
            f"Note {i}: the user mentioned {topics[i % len(topics)]} on day {i % 365}, "
            f"with detail number {i * 7919 % 100_003}."
        )
        if len(batch) == 500:
            store.add_many("", batch, user_id="bench")
            batch = []
    if batch:
        store.add_many("", batch, user_id="bench")


def sequential(targets: list[Target], requests: int, block: int = 25) -> None:
    clients = {t.name: httpx.Client(timeout=60) for t in targets}
    for t in targets:  # warm-up: connections, caches, JIT-less Python paths
        for _ in range(20):
            clients[t.name].post(t.url, json=t.body, headers=t.headers)
    done = 0
    while done < requests:
        for t in targets:
            client = clients[t.name]
            for _ in range(block):
                start = time.perf_counter()
                r = client.post(t.url, json=t.body, headers=t.headers)
                elapsed = (time.perf_counter() - start) * 1000
                if r.status_code != 200:
                    t.errors += 1
                    continue
                t.latencies_ms.append(elapsed)
                if "x-cerebra-overhead-ms" in r.headers:
                    t.overhead_header_ms.append(float(r.headers["x-cerebra-overhead-ms"]))
        done += block
    for c in clients.values():
        c.close()


async def _load(target: Target, seconds: float, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        count = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                r = await client.post(target.url, json=target.body, headers=target.headers)
                if r.status_code == 200:
                    count += 1
                else:
                    target.errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - start)


def wrk_rps(target: Target, seconds: float, concurrency: int, work: Path) -> float | None:
    """Max requests/s from wrk (a C load generator, so the client is not the bottleneck)."""
    import re
    import shutil

    if shutil.which("wrk") is None:
        return None
    script = work / f"{target.name}.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(json.dumps(target.body))}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(concurrency),
            "-d",
            f"{round(seconds)}s",
            "-s",
            str(script),
            target.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        target.errors += int(bad.group(1))
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--memory-scope", type=int, default=10_000)
    parser.add_argument("--with-litellm", action="store_true")
    parser.add_argument("--skip-memory-on", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cerebra-gw-"))
    up_port = free_port()
    upstream = spawn(
        [sys.executable, str(ROOT / "benchmarks" / "mock_upstream.py"), "--port", str(up_port)]
    )
    wait_ready(f"http://127.0.0.1:{up_port}/healthz", upstream)
    base_up = f"http://127.0.0.1:{up_port}/v1"
    catalog = json.dumps(
        {
            "models": [
                {
                    "name": "mock",
                    "kind": "openai",
                    "base_url": base_up,
                    "model": "mock",
                    "api_key": "unused",
                }
            ]
        }
    )
    common = {
        "CEREBRA_EMBEDDED_MODEL": "false",
        "CEREBRA_MODELS": catalog,
        "CEREBRA_LOG_LEVEL": "WARNING",
        "CEREBRA_HEALTH_INTERVAL_S": "0",
    }

    targets = [Target("direct", f"{base_up}/chat/completions", process=upstream)]
    port = free_port()
    off = spawn(
        [sys.executable, "-m", "cerebra.cli.main", "serve", "--port", str(port)],
        {**common, "CEREBRA_HOME": str(work / "off"), "CEREBRA_EMBEDDER": "fake"},
        work / "off.log",
    )
    wait_ready(f"http://127.0.0.1:{port}/readyz", off)
    targets.append(
        Target(
            "cerebra_memory_off",
            f"http://127.0.0.1:{port}/v1/chat/completions",
            headers={"X-Cerebra-Memory": "off"},
            process=off,
        )
    )

    if not args.skip_memory_on:
        print(f"embedding {args.memory_scope} memories for the memory-on scope…", file=sys.stderr)
        populate_memories(work / "on", args.memory_scope)
        port = free_port()
        on = spawn(
            [sys.executable, "-m", "cerebra.cli.main", "serve", "--port", str(port)],
            {**common, "CEREBRA_HOME": str(work / "on")},
            work / "on.log",
        )
        wait_ready(f"http://127.0.0.1:{port}/readyz", on)
        targets.append(
            Target(
                "cerebra_memory_on",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                body={**BODY, "metadata": {"user_id": "bench"}},
                process=on,
            )
        )

    if args.with_litellm:
        exe = ensure_litellm()
        config = work / "litellm.yaml"
        config.write_text(
            "model_list:\n  - model_name: mock\n    litellm_params:\n"
            f"      model: openai/mock\n      api_base: {base_up}\n      api_key: unused\n"
            "litellm_settings:\n  telemetry: false\n"
        )
        port = free_port()
        lite = spawn(
            [
                str(exe),
                "--config",
                str(config),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--num_workers",
                "1",
            ],
            {
                "LITELLM_TELEMETRY": "False",
                "LITELLM_LOG": "ERROR",
                "LITELLM_MASTER_KEY": "sk-bench-0123456789abcdef0123456789abcdef",
                "NO_DOCS": "True",
                "DISABLE_ADMIN_UI": "True",
            },
            work / "litellm.log",
        )
        wait_ready(f"http://127.0.0.1:{port}/health/liveliness", lite, timeout=600)
        targets.append(
            Target(
                "litellm",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                headers={"Authorization": "Bearer sk-bench-0123456789abcdef0123456789abcdef"},
                process=lite,
            )
        )

    try:
        sequential(targets, args.requests)
        for t in targets:
            rps = wrk_rps(t, args.seconds, args.concurrency, work)
            t.rps = (
                rps if rps is not None else asyncio.run(_load(t, args.seconds, args.concurrency))
            )
    finally:
        for t in targets:
            if t.process is not None and t.process.poll() is None:
                t.process.terminate()
                t.process.wait(timeout=30)

    direct = targets[0]
    d50, d99 = pct(direct.latencies_ms, 0.5), pct(direct.latencies_ms, 0.99)
    report: dict[str, Any] = {
        "benchmark": "gateway",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "targets": {},
    }
    for t in targets:
        entry: dict[str, Any] = {
            "latency_ms_p50": round(pct(t.latencies_ms, 0.5), 3),
            "latency_ms_p99": round(pct(t.latencies_ms, 0.99), 3),
            "added_ms_p50": round(pct(t.latencies_ms, 0.5) - d50, 3),
            "added_ms_p99": round(pct(t.latencies_ms, 0.99) - d99, 3),
            "max_rps": round(t.rps, 1),
            "errors": t.errors,
        }
        if t.overhead_header_ms:
            entry["self_reported_overhead_ms_p50"] = round(
                statistics.median(t.overhead_header_ms), 3
            )
        report["targets"][t.name] = entry
    ratios: dict[str, float] = {}
    names: dict[str, Callable[[str], float]] = {
        "rps": lambda n: report["targets"][n]["max_rps"],
        "added_p50": lambda n: report["targets"][n]["added_ms_p50"],
    }
    if "litellm" in report["targets"]:
        ratios["throughput_cerebra_off_vs_litellm"] = round(
            names["rps"]("cerebra_memory_off") / max(names["rps"]("litellm"), 1e-9), 3
        )
        ratios["added_p50_litellm_vs_cerebra_off"] = round(
            names["added_p50"]("litellm") / max(names["added_p50"]("cerebra_memory_off"), 1e-3), 3
        )
    ratios["throughput_cerebra_off_vs_direct"] = round(
        names["rps"]("cerebra_memory_off") / max(names["rps"]("direct"), 1e-9), 3
    )
    report["ratios"] = ratios
    report["targets_goal"] = {"added_ms_p50_memory_off": 1.0, "throughput_vs_litellm": 2.0}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
