"""Knowledge-update suite: does recall prefer the current fact, and the old one "as of" then?

    HF_HUB_OFFLINE=1 python benchmarks/knowledge_update.py [--conversations 100] [--seed 7]

Generates the suite (cerebra/bench/knowledge_update.py says how, and why recency alone does
not solve it), stores it twice in temporary SQLite stores with the configured embedder —
with supersession and without — and prints JSON: for each, the share of current questions
whose update ranks above every statement of the old value, of as-of questions whose old
statement ranks above the update, and the difference between the two stores.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from cerebra.bench.knowledge_update import run_suite
    from cerebra.config import get_settings
    from cerebra.memory.configured import load_embedder

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run_suite(load_embedder(get_settings()), Path(tmp), args.conversations,
                           seed=args.seed, k=args.k)
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
