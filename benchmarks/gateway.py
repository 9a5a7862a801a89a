"""Gateway overhead and throughput, all targets in one run against one mock OpenAI upstream:
direct; a bare FastAPI + aiohttp forwarder (the floor); Cerebra with memory and security
off; Cerebra secured (API key, rate limits and budgets, a constitution, the audit log);
Cerebra with memory on (a 10k-memory scope, a new prompt every request, so each is recalled
for and stored); with --baseline DIR, another checkout of
Cerebra with everything off (--baseline-secured: also secured; with memory on, also on a
copy of the first memory-on store); with --with-litellm, LiteLLM's proxy (master key, one worker;
installed by this script into .bench/litellm-venv).

Sequential requests measure the latency each target adds as the client sees it (p50/p99 of
each target minus the direct ones), next to what Cerebra's own `X-Cerebra-Overhead-Ms`
header says; wrk (or an asyncio client without it) at --concurrency measures max requests/s.
Targets are measured in interleaved blocks and rounds so machine noise hits them alike.
Prints JSON with the ratios and whether the goals hold (secured added p50 ≤ 1 ms,
throughput ≥ 3 × LiteLLM's; memory on: added p50 ≤ 15 ms and ≥ 90 requests/s). Where the
time goes: docs/performance.md.

    python benchmarks/gateway.py [--requests 400] [--seconds 5] [--concurrency 32]
                                 [--rounds 2] [--with-litellm] [--skip-memory-on]
                                 [--baseline DIR [--baseline-secured] [--baseline-h11]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from gateway_targets import (  # beside this script (run as a file, its folder is on the path)
    BODY,
    Target,
    cerebra,
    create_key,
    floor,
    litellm,
    open_env,
    secured_env,
    upstream,
    without_fast_http,
)

GOAL_ADDED_P50_MS = 1.0
GOAL_RPS_VS_LITELLM = 3.0
GOAL_MEMORY_ON_ADDED_P50_MS = 15.0  # issue 12: memory on, a new prompt stored per request
GOAL_MEMORY_ON_RPS = 90.0


def populate_memories(home: Path, n: int, embedder: str = "minilm") -> None:
    """Fill the gateway's scope (user "bench") with n memories, embedded for real by
    `embedder` (memory.embedder: the one the server will search them with)."""
    from cerebra.config import Settings
    from cerebra.runtime import build_memory_store

    settings = Settings(home=home)
    settings = settings.model_copy(update={"memory": settings.memory.model_copy(
        update={"embedder": embedder})})
    store = build_memory_store(settings)
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


def _post(client: httpx.Client, t: Target) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    r = client.post(t.url, json=t.request_body(), headers=t.headers)
    return (time.perf_counter() - start) * 1000, r


def sequential(targets: list[Target], requests: int, block: int = 25) -> None:
    clients = {t.name: httpx.Client(timeout=60) for t in targets}
    for t in targets:  # warm-up: connections, caches, first-use paths
        for _ in range(30):
            _, r = _post(clients[t.name], t)
            if r.status_code != 200:
                raise SystemExit(f"{t.name} answered {r.status_code}: {r.text[:300]}")
    done = 0
    turn = 0
    while done < requests:
        # Each block starts with the next target: whoever runs right after another target
        # meets its leftovers (writer threads flushing, caches cooled), measured at ~0.1 ms
        # of p50 on this machine; rotating spreads that over every target alike.
        order = targets[turn % len(targets):] + targets[:turn % len(targets)]
        turn += 1
        for t in order:
            client = clients[t.name]
            for _ in range(block):
                elapsed, r = _post(client, t)
                if r.status_code != 200:
                    t.errors += 1
                    t.last_error = f"{r.status_code}: {r.text[:200]}"
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
                r = await client.post(target.url, json=target.request_body(),
                                      headers=target.headers)
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

    if shutil.which("wrk") is None or target.fresh:  # wrk would repeat one body
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
        ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
         "-s", str(script), target.url],
        capture_output=True, text=True, check=True,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        target.errors += int(bad.group(1))
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """LABEL:ENV=VALUE[,ENV=VALUE…] (--memory-variant) as (label, environment)."""
    label, sep, rest = text.partition(":")
    pairs = [p.partition("=") for p in rest.split(",") if p]
    if not sep or not label.isidentifier() or not pairs or any(not k or not e
                                                              for k, e, _ in pairs):
        raise SystemExit(f"--memory-variant {text!r}: expected LABEL:ENV=VALUE[,ENV=VALUE]")
    return label, {k: v for k, _, v in pairs}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_targets(args: argparse.Namespace, work: Path) -> list[Target]:
    direct, base_up = upstream(work)
    targets = [direct, floor(work, base_up)]
    targets.append(cerebra("cerebra_open", work, base_up, open_env()))
    env, notes = secured_env(work)
    key = create_key(work / "cerebra_secured", env)
    secured = cerebra("cerebra_secured", work, base_up, env,
                      headers={"Authorization": f"Bearer {key}"} if key else None)
    secured.notes = {**notes, "api_key": key is not None}
    targets.append(secured)
    if args.baseline:
        extra = {"PYTHONPATH": without_fast_http(work)} if args.baseline_h11 else {}
        targets.append(cerebra("baseline_open", work, base_up, {**open_env(), **extra},
                               checkout=Path(args.baseline).resolve()))
        if args.baseline_secured:  # the same secured settings, served by the older checkout
            bkey = create_key(work / "baseline_secured", env)
            targets.append(cerebra("baseline_secured", work, base_up, {**env, **extra},
                                   headers={"Authorization": f"Bearer {bkey}"} if bkey
                                   else None, checkout=Path(args.baseline).resolve()))
    if not args.skip_memory_on:
        embedders = args.memory_embedders.split(",")
        variants = [parse_variant(v) for v in args.memory_variant]
        for n, embedder in enumerate(embedders):
            name = "cerebra_memory_on" + ("" if n == 0 else f"_{embedder.replace('-', '_')}")
            print(f"embedding {args.memory_scope} memories for {name} ({embedder})…",
                  file=sys.stderr)
            populate_memories(work / name, args.memory_scope, embedder)
            runs = [(name, {})] + ([(f"{name}_{label}", env) for label, env in variants]
                                   if n == 0 else [])
            if n == 0 and args.baseline:  # the same store and settings, the older code
                runs.append(("baseline_memory_on", {}))
            for run_name, _ in runs:
                if run_name != name:  # a copy of the same store, served with other settings
                    shutil.copytree(work / name, work / run_name)
            for run_name, extra in runs:
                on = cerebra(run_name, work, base_up,
                             {**open_env(), "CEREBRA_EMBEDDER": embedder, **extra},
                             body={**BODY, "metadata": {"user_id": "bench"}},
                             checkout=(Path(args.baseline).resolve()
                                       if run_name == "baseline_memory_on" else None))
                on.fresh = True  # a new prompt each request, recalled for and stored
                on.headers.pop("X-Cerebra-Memory")
                on.notes = {"embedder": embedder, **({"env": extra} if extra else {})}
                targets.append(on)
    if args.with_litellm:
        targets.append(litellm(work, base_up))
    return targets


def report(args: argparse.Namespace, targets: list[Target]) -> dict[str, Any]:
    direct = targets[0]
    d50, d99 = pct(direct.latencies_ms, 0.5), pct(direct.latencies_ms, 0.99)
    out: dict[str, Any] = {
        "benchmark": "gateway",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "targets": {},
    }
    for t in targets:
        entry: dict[str, Any] = {
            "latency_ms_p50": round(pct(t.latencies_ms, 0.5), 3),
            "latency_ms_p99": round(pct(t.latencies_ms, 0.99), 3),
            "added_ms_p50": round(pct(t.latencies_ms, 0.5) - d50, 3),
            "added_ms_p99": round(pct(t.latencies_ms, 0.99) - d99, 3),
            "max_rps": round(max(t.rps), 1) if t.rps else None,
            "rps_rounds": [round(r, 1) for r in t.rps],
            "errors": t.errors,
        }
        if t.last_error:
            entry["last_error"] = t.last_error
        if t.overhead_header_ms:
            header = statistics.median(t.overhead_header_ms)
            entry["self_reported_overhead_ms_p50"] = round(header, 3)
            entry["outside_header_ms_p50"] = round(entry["added_ms_p50"] - header, 3)
        entry.update(t.notes)
        out["targets"][t.name] = entry
    got = out["targets"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    ratios: dict[str, Any] = {
        "added_p50_secured_minus_floor_ms": round(
            got["cerebra_secured"]["added_ms_p50"] - got["floor_fastapi_aiohttp"]["added_ms_p50"],
            3),
        "added_p50_open_minus_floor_ms": round(
            got["cerebra_open"]["added_ms_p50"] - got["floor_fastapi_aiohttp"]["added_ms_p50"],
            3),
        "throughput_secured_vs_open": ratio(got["cerebra_secured"]["max_rps"],
                                            got["cerebra_open"]["max_rps"]),
        "throughput_open_vs_floor": ratio(got["cerebra_open"]["max_rps"],
                                          got["floor_fastapi_aiohttp"]["max_rps"]),
    }
    goals: dict[str, Any] = {
        "secured_added_ms_p50": got["cerebra_secured"]["added_ms_p50"],
        "secured_added_ms_p50_goal": GOAL_ADDED_P50_MS,
        "secured_added_ms_p50_met": got["cerebra_secured"]["added_ms_p50"] <= GOAL_ADDED_P50_MS,
    }
    if "cerebra_memory_on" in got:  # issue 12's targets: every request a new, stored prompt
        on = got["cerebra_memory_on"]
        goals["memory_on_added_ms_p50"] = on["added_ms_p50"]
        goals["memory_on_added_ms_p50_goal"] = GOAL_MEMORY_ON_ADDED_P50_MS
        goals["memory_on_added_ms_p50_met"] = on["added_ms_p50"] <= GOAL_MEMORY_ON_ADDED_P50_MS
        goals["memory_on_rps"] = on["max_rps"]
        goals["memory_on_rps_goal"] = GOAL_MEMORY_ON_RPS
        goals["memory_on_rps_met"] = (on["max_rps"] or 0) >= GOAL_MEMORY_ON_RPS
        for name, other in got.items():  # other embedders against the first, same run
            if name.startswith("cerebra_memory_on_"):
                ratios[f"added_p50_{name}_vs_cerebra_memory_on"] = ratio(
                    other["added_ms_p50"], on["added_ms_p50"])
                ratios[f"throughput_{name}_vs_cerebra_memory_on"] = ratio(
                    other["max_rps"], on["max_rps"])
    if "litellm" in got:
        for name in ("cerebra_open", "cerebra_secured"):
            ratios[f"throughput_{name}_vs_litellm"] = ratio(got[name]["max_rps"],
                                                            got["litellm"]["max_rps"])
            ratios[f"added_p50_litellm_vs_{name}"] = ratio(
                got["litellm"]["added_ms_p50"], max(got[name]["added_ms_p50"], 1e-3))
        goals["throughput_secured_vs_litellm"] = ratios["throughput_cerebra_secured_vs_litellm"]
        goals["throughput_secured_vs_litellm_goal"] = GOAL_RPS_VS_LITELLM
        goals["throughput_secured_vs_litellm_met"] = (
            (goals["throughput_secured_vs_litellm"] or 0) >= GOAL_RPS_VS_LITELLM)
    if "baseline_secured" in got:
        ratios["added_p50_secured_minus_baseline_ms"] = round(
            got["cerebra_secured"]["added_ms_p50"] - got["baseline_secured"]["added_ms_p50"], 3)
    if "baseline_open" in got:
        ratios["added_p50_open_minus_baseline_ms"] = round(
            got["cerebra_open"]["added_ms_p50"] - got["baseline_open"]["added_ms_p50"], 3)
        ratios["throughput_open_vs_baseline"] = ratio(got["cerebra_open"]["max_rps"],
                                                      got["baseline_open"]["max_rps"])
    if "baseline_memory_on" in got and "cerebra_memory_on" in got:
        ratios["added_p50_memory_on_minus_baseline_ms"] = round(
            got["cerebra_memory_on"]["added_ms_p50"]
            - got["baseline_memory_on"]["added_ms_p50"], 3)
        ratios["throughput_memory_on_vs_baseline"] = ratio(
            got["cerebra_memory_on"]["max_rps"], got["baseline_memory_on"]["max_rps"])
    out["ratios"] = ratios
    out["goals"] = goals
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400,
                        help="sequential requests per target")
    parser.add_argument("--seconds", type=float, default=5.0, help="load seconds per round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2,
                        help="load rounds over all targets (max requests/s is the best)")
    parser.add_argument("--memory-scope", type=int, default=10_000)
    parser.add_argument("--with-litellm", action="store_true")
    parser.add_argument("--skip-memory-on", action="store_true")
    parser.add_argument("--memory-embedders", default="minilm",
                        help="memory.embedder of each memory-on target, comma-separated "
                        "(e.g. minilm,minilm-onnx); the first is the one the goals use")
    parser.add_argument("--memory-variant", action="append", default=[],
                        metavar="LABEL:ENV=VALUE[,ENV=VALUE]",
                        help="another memory-on target on a copy of the first one's store, "
                        "served with these environment settings (an A/B in the same run), "
                        "e.g. wait:CEREBRA_MEMORY__RECALL_WAIT_S=5; repeatable")
    parser.add_argument("--baseline", help="another checkout of Cerebra (e.g. a git worktree "
                        "of an older commit) to measure, everything off; with memory on, also "
                        "on a copy of the first memory-on store")
    parser.add_argument("--baseline-secured", action="store_true",
                        help="also serve the baseline checkout secured (the cerebra_secured "
                             "settings; its API key made on its own database)")
    parser.add_argument("--baseline-h11", action="store_true",
                        help="serve the baseline without uvloop and httptools, as before "
                        "they were dependencies")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cerebra-gw-"))
    targets: list[Target] = []
    try:
        targets = start_targets(args, work)
        sequential(targets, args.requests)
        if shutil.which("wrk") is None:
            print("wrk not found (apt-get install wrk): requests/s come from an asyncio httpx "
                  "client on the same cores, which caps every target near its own speed",
                  file=sys.stderr)
        for _ in range(args.rounds):
            for t in targets:
                rps = wrk_rps(t, args.seconds, args.concurrency, work)
                t.notes["load_client"] = "wrk" if rps is not None else "httpx-asyncio"
                t.rps.append(rps if rps is not None
                             else asyncio.run(_load(t, args.seconds, args.concurrency)))
    finally:
        for t in targets:
            if t.process is not None and t.process.poll() is None:
                t.process.terminate()
                t.process.wait(timeout=30)
    print(json.dumps(report(args, targets), indent=2))


if __name__ == "__main__":
    main()
