"""Benchmark: recall of several rankings on one LoCoMo-format file (cerebra.bench.signals).

Usage: python benchmarks/memory_signals.py --dataset FILE [--cache FILE.npz]
       [--variant NAME:field=value,field=value ...]
Prints JSON: R@5, R@10 and R@10 per category for the default fused ranking, each named
variant (RetrievalWeights fields overridden), dense only, BM25 only and their RRF, each
with and without passage vectors (cerebra.memory.passages). --cache keeps the embeddings
between runs (keyed by text) so that a rerun only ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any


def _variant(spec: str) -> tuple[str, dict[str, Any]]:
    name, _, body = spec.partition(":")
    kinds = {f.name: f.type for f in fields(__import__(
        "cerebra.memory.retrieval", fromlist=["RetrievalWeights"]).RetrievalWeights)}
    out: dict[str, Any] = {}
    for pair in filter(None, body.split(",")):
        key, _, value = pair.partition("=")
        if key not in kinds:
            raise SystemExit(f"unknown weight {key!r}")
        out[key] = int(value) if kinds[key] in (int, "int") else float(value)
    return name, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from cerebra.bench.signals import CachedEmbedder, run_ablation
    from cerebra.memory.embedders import SentenceTransformerEmbedder
    from cerebra.memory.retrieval import RetrievalWeights

    embedder = CachedEmbedder(SentenceTransformerEmbedder(), args.cache)
    variants = {n: RetrievalWeights(**kw) for n, kw in map(_variant, args.variant)}
    report = run_ablation(args.dataset, embedder, variants,
                          progress=lambda line: print(line, file=sys.stderr))
    embedder.save()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
