"""Write the long-turn test set derived from LoCoMo (cerebra.bench.longturns) and summarise it.

Usage: python benchmarks/longturn_dataset.py [--source FILE] [--out FILE] [--seed 0]
       [--min-chars 1500] [--max-chars 2500] [--distractors 2]
       [--evidence-in any|user]
Then: cerebra bench memory --dataset OUT (or benchmarks/memory_signals.py --dataset OUT).
The output is derived, not a public benchmark: read cerebra.bench.longturns for what it can
and cannot tell. Same source and options, same file (seeded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1].parent
SOURCE = ROOT / "shared/data/locomo/locomo_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=Path("locomo_long_dev.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-chars", type=int, default=1500)
    parser.add_argument("--max-chars", type=int, default=2500)
    parser.add_argument("--distractors", type=int, default=2)
    parser.add_argument("--evidence-in", choices=("any", "user"), default="any",
                        help="user: every evidence utterance begins a user turn")
    args = parser.parse_args()
    from cerebra.bench.longturns import write_long_turns

    report = write_long_turns(
        args.source, args.out, seed=args.seed, min_chars=args.min_chars,
        max_chars=args.max_chars, distractors=args.distractors,
        evidence_in=args.evidence_in,
    )
    print(json.dumps({"out": str(args.out), **report}, indent=2))


if __name__ == "__main__":
    main()
