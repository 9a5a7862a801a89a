"""Benchmark: Cerebra memory recall on a LoCoMo-format file (SQLite store in a temp dir).

Usage: python benchmarks/memory_locomo.py [--dataset FILE] [--k 1,5,10,20]
       [--conversations 0,1,2] [--emulate-term-stats]. Prints the JSON report of
cerebra.bench.locomo.run_locomo_benchmark (recall, hit, ingest vs raw embedder rate,
latency split into query embedding and the rest). --emulate-term-stats gives a backend
without `term_stats` an in-memory one (cerebra.bench.locomo.ScopeStatsBackend), to measure
BM25 on per-scope statistics before the backend offers it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"


def _ints(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT)
    parser.add_argument("--k", type=_ints, default=[1, 5, 10, 20])
    parser.add_argument("--conversations", type=_ints, default=None)
    parser.add_argument("--emulate-term-stats", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP workers sleep, as in cerebra
    from cerebra.bench.locomo import ScopeStatsBackend, run_locomo_benchmark
    from cerebra.memory.sqlite import SQLiteBackend
    from cerebra.memory.store import MemoryStore

    with tempfile.TemporaryDirectory(prefix="cerebra-locomo-") as tmp:

        def factory() -> MemoryStore:
            backend = SQLiteBackend(str(Path(tmp) / "memory.db"))
            if args.emulate_term_stats and not callable(getattr(backend, "term_stats", None)):
                return MemoryStore(ScopeStatsBackend(backend))
            return MemoryStore(backend)

        def progress(done: int, total: int) -> None:
            if done % 100 == 0 or done == total:
                print(f"{done}/{total} questions", file=sys.stderr)

        report = run_locomo_benchmark(
            args.dataset, args.k, factory, progress, conversations=args.conversations
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
