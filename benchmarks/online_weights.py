"""Benchmark: retrieval weights learned online from feedback, on replayed traffic.

Usage: python benchmarks/online_weights.py [--dataset FILE] [--rate 0.2] [--bound 2.0]
       [--k 10] [--pool 30] [--seed 0] [--conversations 0,1,2] [--fake-embedder].
Half of the dataset's conversations give feedback (their questions' evidence the helpful
memories, the rest of the top k the unhelpful ones), the other half measures recall@k with
the learned weights against the static ones, both ways; prints the JSON report of
cerebra.bench.online_weights.run_online_weights (gain with a bootstrap 95 % interval).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DEFAULT)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--bound", type=float, default=2.0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--pool", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conversations", default=None)
    parser.add_argument("--fake-embedder", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from cerebra.bench.online_weights import run_online_weights
    from cerebra.memory.embedders import Embedder
    from cerebra.memory.weight_learning import LearningRule

    embedder: Embedder
    if args.fake_embedder:
        from cerebra.testing import FakeEmbedder

        embedder = FakeEmbedder()
    else:
        from cerebra.memory.embedders import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
    chosen = (None if args.conversations is None
              else [int(v) for v in args.conversations.split(",") if v.strip()])
    rule = LearningRule(rate=args.rate, bound=args.bound, drift=3.0 * math.log(args.bound))
    report = run_online_weights(
        args.dataset, embedder, rule=rule, k=args.k, pool=args.pool, seed=args.seed,
        conversations=chosen, progress=lambda line: print(line, file=sys.stderr))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
