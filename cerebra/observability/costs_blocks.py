"""Cost rollup blocks: the daily rollups summed again over aligned runs of 4, 16 and 64 UTC
days (`cost_blocks`), so a window's breakdown reads a few rows per key instead of one per key
and day. A block of span s starts on a day whose index (days since 1970-01-01) is a multiple
of s; every block of a span lies inside one block of the next span. A summary's window runs
from its first day on (today and any day after it), so it decomposes, greedily from its first
day, into the fewest aligned blocks plus single days: a climb to a 64-day boundary (at most 3
single days, 3 blocks of 4 and 3 of 16), then 64-day blocks, the last one holding today.

Why 4, 16 and 64: a 90-day window then reads on average about 6 pieces (at most 10) of a
dimension instead of 90 days, a 30-day one about 5 (at most 7), while each daily rollup
increment costs 3 block increments more in the ledger's write transaction. Powers of 2 would
read fewer pieces for 6 block writes per increment; base 8 (8, 64) up to 7 single days.

This module is pure: the increments of blocks from the daily ones, and the decomposition of a
window; costs_rollup writes them, costs reads them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

SPANS = (4, 16, 64)  # days per block, each a multiple of the one before
_EPOCH = date(1970, 1, 1).toordinal()
_SUMS = ("cost", "requests", "prompt_tokens", "completion_tokens", "feedback_n",
         "feedback_sum", "feedback_sq")


@functools.lru_cache(maxsize=4096)
def index_of(day: str) -> int:
    """The index of the UTC day "YYYY-MM-DD" (days since 1970-01-01)."""
    return date.fromisoformat(day).toordinal() - _EPOCH


@functools.lru_cache(maxsize=4096)
def day_at(index: int) -> str:
    """The UTC day "YYYY-MM-DD" of a day index."""
    return date.fromordinal(index + _EPOCH).isoformat()


def block_increments(increments: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The block increments of daily rollup increments (dicts with tenant_id, day, dim, key
    and the sums): each daily one added to its block of every span, merged, sorted by the
    blocks' primary key (tenant_id, span, first_day, dim, key)."""
    sums: dict[tuple[str, int, str, str, str], dict[str, Any]] = {}
    for inc in increments:
        index = index_of(inc["day"])
        for span in SPANS:
            pk = (inc["tenant_id"], span, day_at(index - index % span), inc["dim"], inc["key"])
            acc = sums.get(pk)
            if acc is None:
                sums[pk] = {"tenant_id": pk[0], "span": span, "first_day": pk[2],
                            "dim": pk[3], "key": pk[4], **{n: inc[n] for n in _SUMS}}
            else:
                for name in _SUMS:
                    acc[name] += inc[name]
    return [sums[pk] for pk in sorted(sums)]


def decompose(first: int, today: int) -> tuple[list[int], dict[int, list[int]], int]:
    """The days from index `first` on, up to `today` and past it, as the fewest aligned blocks
    and single days: greedily from `first`, the longest aligned block starting on each day
    (a block holding today may reach past it: a summary counts days after today too, rows
    dated ahead of the clock, as it always has). Returns (the single days, {span: the first
    days of its blocks}, the last day covered); days after that one are read as days."""
    singles: list[int] = []
    blocks: dict[int, list[int]] = {}
    day = first
    while day <= today:
        for span in reversed(SPANS):
            if day % span == 0:
                blocks.setdefault(span, []).append(day)
                day += span
                break
        else:
            singles.append(day)
            day += 1
    return singles, blocks, day - 1
