"""Embedder runtimes compared: MiniLM on torch (sentence-transformers) vs ONNX Runtime fp32
vs ONNX Runtime int8, on the same texts.

    HF_HUB_OFFLINE=1 python benchmarks/embedder_runtime.py [--queries 200] [--batches 10]
        [--cache DIR] [--threads N]

Prints JSON: per runtime the single-query latency (p50, p95, ms; one text per call, the
request path's shape) and batch-of-32 throughput (texts/s), the ratios of each ONNX variant
to torch, and the cosine agreement of each ONNX variant with torch (min, mean). The ONNX
files are built in --cache (a temporary folder by default; build time reported apart).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SUBJECTS = ["Caroline", "the team", "my sister", "Melanie", "our landlord", "the new intern"]
ACTS = ["went hiking near", "talked about moving to", "painted a picture of",
        "adopted a dog in", "signed up for a pottery class in", "lost her keys in"]
PLACES = ["Boston", "the old lake house", "a small town in Oregon", "the city centre",
          "Kyoto last spring", "the support group meeting"]


def texts(n: int, offset: int = 0) -> list[str]:
    out = []
    for i in range(offset, offset + n):
        s, a, p = SUBJECTS[i % 6], ACTS[(i // 6) % 6], PLACES[(i // 36) % 6]
        tail = " and it was lovely, she said, though the weather was bad" * (i % 3)
        out.append(f"{s} {a} {p} on day {i}{tail}.")
    return out


def measure(embedder: Any, queries: int, batches: int) -> dict[str, float]:
    embedder.embed(texts(32))  # warm up
    singles = []
    for text in texts(queries, offset=1000):
        started = time.perf_counter()
        embedder.embed([text])
        singles.append((time.perf_counter() - started) * 1000)
    batch_times = []
    for b in range(batches):
        batch = texts(32, offset=5000 + 32 * b)
        started = time.perf_counter()
        embedder.embed(batch)
        batch_times.append(time.perf_counter() - started)
    singles.sort()
    return {
        "single_p50_ms": round(statistics.median(singles), 2),
        "single_p95_ms": round(singles[int(0.95 * (len(singles) - 1))], 2),
        "batch32_texts_per_s": round(32 * batches / sum(batch_times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="ONNX intra-op threads")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy as np

    from cerebra.memory.embedders import SentenceTransformerEmbedder
    from cerebra.memory.onnx_embedder import OnnxMiniLMEmbedder

    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or Path(tmp)
        runtimes: dict[str, Any] = {"torch": SentenceTransformerEmbedder()}
        build_s = {}
        for variant in ("fp32", "int8"):
            started = time.perf_counter()
            runtimes[f"onnx-{variant}"] = OnnxMiniLMEmbedder(cache, variant=variant,
                                                             threads=args.threads)
            build_s[f"onnx-{variant}"] = round(time.perf_counter() - started, 1)
        report: dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg(),
                                  "build_or_load_s": build_s}
        for name, embedder in runtimes.items():
            report[name] = measure(embedder, args.queries, args.batches)
        sample = texts(64, offset=9000)
        reference = runtimes["torch"].embed(sample)
        base = report["torch"]
        for name in ("onnx-fp32", "onnx-int8"):
            cos = (runtimes[name].embed(sample) * reference).sum(axis=1)
            report[name]["cosine_vs_torch"] = {"min": round(float(np.min(cos)), 4),
                                               "mean": round(float(np.mean(cos)), 4)}
            report[name]["speedup_single_p50"] = round(
                base["single_p50_ms"] / report[name]["single_p50_ms"], 2)
            report[name]["speedup_batch32"] = round(
                report[name]["batch32_texts_per_s"] / base["batch32_texts_per_s"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
