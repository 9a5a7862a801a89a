"""The cost summary read from aligned blocks of days equals a direct aggregate of the
interactions: random data (rows written late, back-dated by months, a few dated ahead of the
clock, feedback afterwards) and random windows (crossing block boundaries, days=1, up to a
year) on SQLite and PostgreSQL — per day, total, and each breakdown's top keys in order, ties
by key. Costs are multiples of 1/4 USD, so every sum is exact and a tie is a tie. Also: the
blocks equal the sum of their days on every column, the decomposition is the fewest aligned
pieces, and migration 0034 backfills the blocks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select

from cerebra.db.cost_tables import cost_blocks, cost_rollups
from cerebra.db.migrate import downgrade, upgrade
from cerebra.db.schema import interactions
from cerebra.observability import costs
from cerebra.observability.costs import BREAKDOWNS, CostReader
from cerebra.observability.costs_blocks import SPANS, decompose
from cerebra.observability.ledger import InteractionRecord, Ledger

DAY = 86400
BASE = 20_480 * DAY  # a day index that is a multiple of 64: 2026-01-27
FIELDS = {"model": "model", "key": "credential_id", "user": "user_id", "agent": "agent_id"}
SUMS = ("cost", "requests", "prompt_tokens", "completion_tokens", "feedback_n",
        "feedback_sum", "feedback_sq")

# one interaction: (days before now (negative: ahead), second of the day, user, model,
# credential, agent, cost in quarters of a USD, tokens, late, feedback)
row_st = st.tuples(st.integers(-2, 200), st.integers(0, DAY - 1), st.integers(0, 6),
                   st.integers(0, 2), st.integers(0, 2), st.integers(0, 1), st.integers(0, 8),
                   st.integers(1, 50), st.booleans(), st.sampled_from([None, 0.0, 0.5, 1.0]))


@pytest.fixture
def top3(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(costs, "TOP", 3)  # so the cut between ties is tested too
    yield


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _records(rows: list[tuple[Any, ...]], now: float) -> list[tuple[InteractionRecord, bool,
                                                                     float | None]]:
    out = []
    for back, sec, user, model, cred, agent, quarters, tokens, late, fb in rows:
        at = (int(now // DAY) - back) * DAY + sec
        rec = InteractionRecord(
            trace_id=uuid.uuid4().hex, tenant_id="default", endpoint="query",
            model=f"m{model}", prompt="p", rendered_prompt="p", response="r",
            prompt_tokens=tokens, completion_tokens=tokens // 2 + 1, latency_ms=1.0,
            user_id=["", "ana", "bo", "cy", "di", "ed", "fa"][user], agent_id=["", "scout"][agent],
            credential_id=["", "k1", "k2"][cred], created_at=at, cost_usd=quarters / 4)
        out.append((rec, late, fb))
    return out


def _write(engine: Engine, recs: list[tuple[InteractionRecord, bool, float | None]]) -> None:
    with engine.begin() as conn:
        for table in (cost_blocks, cost_rollups, interactions):
            conn.execute(delete(table))
    ledger = Ledger(engine)
    ledger._insert([r for r, late, _ in recs if not late])
    ledger._insert([r for r, late, _ in recs if late])  # back-dated rows arriving later
    for rec, _, fb in recs:
        if fb is not None:
            assert ledger.set_feedback(rec.trace_id, fb, None, rec.tenant_id)
    ledger.close()


def _expected(recs: list[InteractionRecord], now: float, days: int) -> dict[str, Any]:
    today = int(now // DAY)
    span = [_day((today - i) * DAY) for i in range(days - 1, -1, -1)]
    first = span[0]
    per_day: dict[str, list[float]] = {}
    groups: dict[str, dict[str, list[float]]] = {name: {} for name in BREAKDOWNS}
    for rec in recs:
        day = _day(rec.created_at)
        if day < first:
            continue
        add = (rec.cost_usd, 1, rec.prompt_tokens + rec.completion_tokens)
        acc = per_day.setdefault(day, [0.0, 0, 0])
        for i, v in enumerate(add):
            acc[i] += v
        for name, dim in BREAKDOWNS.items():
            acc = groups[name].setdefault(getattr(rec, FIELDS[dim]) or "", [0.0, 0, 0])
            for i, v in enumerate(add):
                acc[i] += v
    by_day = [{"day": d, "cost": float(per_day.get(d, [0.0])[0]),
               "requests": int(per_day.get(d, [0, 0])[1]),
               "tokens": int(per_day.get(d, [0, 0, 0])[2])} for d in span]
    out: dict[str, Any] = {"currency": "USD", "total": sum(d["cost"] for d in by_day),
                           "by_day": by_day}
    for name, keys in groups.items():
        ranked = sorted(keys.items(), key=lambda kv: (-kv[1][0], kv[0]))[:costs.TOP]
        out[name] = [{"key": k, "cost": float(c), "requests": int(n), "tokens": int(t)}
                     for k, (c, n, t) in ranked]
    return out


def _blocks_are_sums_of_days(engine: Engine) -> None:
    with engine.connect() as conn:
        daily = [dict(r._mapping) for r in conn.execute(select(cost_rollups))]
        blocks = {(r.tenant_id, r.span, r.first_day, r.dim, r.key): tuple(
            round(float(getattr(r, n)), 9) for n in SUMS)
            for r in conn.execute(select(cost_blocks))}
    want: dict[tuple[Any, ...], list[float]] = {}
    for row in daily:
        index = int(datetime.fromisoformat(row["day"] + "T00:00:00+00:00").timestamp()) // DAY
        for span in SPANS:
            first = _day((index - index % span) * DAY)
            acc = want.setdefault((row["tenant_id"], span, first, row["dim"], row["key"]),
                                  [0.0] * len(SUMS))
            for i, n in enumerate(SUMS):
                acc[i] += float(row[n])
    assert blocks == {k: tuple(round(v, 9) for v in acc) for k, acc in want.items()}


@settings(max_examples=30, deadline=None, derandomize=True, phases=(Phase.explicit,
          Phase.generate), suppress_health_check=list(HealthCheck))
@given(rows=st.lists(row_st, min_size=1, max_size=60),
       today=st.integers(0, 130), second=st.integers(0, DAY - 1),
       windows=st.lists(st.integers(1, 366), min_size=1, max_size=4))
@example(rows=[(0, 5, 1, 0, 0, 0, 4, 10, False, None), (1, 5, 2, 1, 0, 0, 4, 10, True, 0.5),
               (64, 5, 3, 2, 1, 1, 8, 10, True, None), (-1, 5, 4, 0, 2, 0, 2, 10, False, 1.0)],
         today=63, second=100, windows=[1, 2, 64, 65, 90])
@example(rows=[(b, 7, b % 7, b % 3, b % 3, b % 2, b % 5, 3, b % 4 == 0, None)
               for b in range(0, 120, 3)],
         today=64, second=0, windows=[1, 4, 15, 16, 17, 30, 90, 128])
def test_block_summary_equals_a_direct_aggregate(
    sql_engine: Engine, top3: None, rows: list[tuple[Any, ...]], today: int, second: int,
    windows: list[int],
) -> None:
    now = float(BASE + today * DAY + second)
    recs = _records(rows, now)
    _write(sql_engine, recs)
    reader = CostReader(sql_engine)
    for days in windows:
        assert reader.summary("default", days, now=now) == _expected(
            [r for r, _, _ in recs], now, days), days
    _blocks_are_sums_of_days(sql_engine)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(first=st.integers(0, 400), length=st.integers(1, 400))
def test_a_window_is_the_fewest_aligned_pieces(first: int, length: int) -> None:
    today = first + length - 1
    singles, blocks, covered = decompose(first, today)
    days = sorted([*singles, *(d + i for span, starts in blocks.items() for d in starts
                               for i in range(span))])
    assert days == list(range(first, covered + 1)) and covered >= today
    assert all(d % span == 0 and span in SPANS for span, starts in blocks.items()
               for d in starts)
    fewest = [0] * (length + 1)  # fewest pieces covering first+i..today (and maybe more)
    for i in range(length - 1, -1, -1):
        day = first + i
        fewest[i] = 1 + min(fewest[min(i + s, length)] for s in (1, *SPANS) if day % s == 0)
    assert len(singles) + sum(map(len, blocks.values())) == fewest[0]


def test_the_migration_backfills_the_blocks(sql_engine: Engine) -> None:
    now = float(BASE + 40 * DAY)
    recs = _records([(b, 11 * b, b % 7, b % 3, b % 3, b % 2, b % 9, 5, b % 3 == 0,
                      0.5 if b % 4 else None) for b in range(0, 150, 2)], now)
    _write(sql_engine, recs)
    downgrade(sql_engine, "0033")
    upgrade(sql_engine)
    with sql_engine.connect() as conn:
        assert conn.execute(select(cost_blocks.c.span)).first() is not None
    _blocks_are_sums_of_days(sql_engine)
    for days in (1, 30, 90, 200):
        assert CostReader(sql_engine).summary("default", days, now=now) == _expected(
            [r for r, _, _ in recs], now, days)
