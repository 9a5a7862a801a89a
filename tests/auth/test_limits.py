"""Conformance suite of the limiters (in-process and Redis, real redis-server): sliding rate
windows, token windows settled to real use, budget holds settled or released, all-or-nothing
reservations, lapsed holds, concurrency; plus Limits parsing and the errors' HTTP shape."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cerebra.auth.limits import (
    NANO,
    Budget,
    BudgetExhausted,
    InProcessLimiter,
    Limiter,
    Limits,
    RateLimited,
    Window,
    period_bounds,
)
from cerebra.errors import InvalidInput
from tests.helpers import running_redis

# Noon (UTC) of the day the tests run: Redis expires budget keys at the real clock (a day
# after their period ends), so a fixed date in the past would expire them on arrival.
T0 = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0).timestamp()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["inprocess", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "inprocess":
        yield InProcessLimiter()
        return
    import redis

    from cerebra.auth.limits_redis import RedisLimiter

    url = request.getfixturevalue("redis_url")
    redis.Redis.from_url(url).flushdb()
    lim = RedisLimiter(url)
    yield lim
    lim.close()


def rpm(limit: int, key: str = "k") -> Window:
    return Window(key=f"{key}:rpm", limit=limit, amount=1, unit="requests", subject="key")


def tpm(limit: int, amount: int, key: str = "k") -> Window:
    return Window(key=f"{key}:tpm", limit=limit, amount=amount, unit="tokens", subject="key")


def budget(limit: int, amount: int, key: str = "t:day") -> Budget:
    _, ends = period_bounds(T0, "daily")
    return Budget(key=key, limit=limit, amount=amount, period="daily", resets_at=ends,
                  subject="tenant")


def test_requests_window_slides(limiter: Limiter) -> None:
    limiter.reserve([rpm(2)], now=T0, hold_s=60)
    limiter.reserve([rpm(2)], now=T0 + 30, hold_s=60)
    with pytest.raises(RateLimited) as refused:
        limiter.reserve([rpm(2)], now=T0 + 45, hold_s=60)
    assert refused.value.retry_after_s == 15  # the entry of T0 leaves the window at T0 + 60
    assert refused.value.status_code == 429
    assert refused.value.headers() == {"Retry-After": "15"}
    assert refused.value.to_dict()["type"] == "rate_limited"
    limiter.reserve([rpm(2)], now=T0 + 60, hold_s=60)  # T0's entry is out; T0+30's is in
    with pytest.raises(RateLimited):
        limiter.reserve([rpm(2)], now=T0 + 61, hold_s=60)


def test_a_released_request_still_counts(limiter: Limiter) -> None:
    r = limiter.reserve([rpm(1)], now=T0, hold_s=60)
    limiter.release(r, now=T0 + 1)
    with pytest.raises(RateLimited):
        limiter.reserve([rpm(1)], now=T0 + 2, hold_s=60)


def test_tokens_window_is_settled_to_real_use(limiter: Limiter) -> None:
    first = limiter.reserve([tpm(150, 100)], now=T0, hold_s=60)
    with pytest.raises(RateLimited):
        limiter.reserve([tpm(150, 60)], now=T0 + 1, hold_s=60)
    limiter.settle(first, tokens=40, cost=0, now=T0 + 2)  # used 40 of the 100 held
    second = limiter.reserve([tpm(150, 60)], now=T0 + 3, hold_s=60)
    limiter.release(second, now=T0 + 4)  # a failure uses no tokens
    limiter.reserve([tpm(150, 110)], now=T0 + 5, hold_s=60)


def test_a_request_bigger_than_the_token_limit_is_refused(limiter: Limiter) -> None:
    with pytest.raises(RateLimited) as refused:
        limiter.reserve([tpm(100, 101)], now=T0, hold_s=60)
    assert "101 tokens" in refused.value.message
    assert refused.value.extra["limit"] == "tokens_per_min"


def test_budget_holds_settle_and_release(limiter: Limiter) -> None:
    a = limiter.reserve([budget(10, 3)], now=T0, hold_s=600)
    b = limiter.reserve([budget(10, 3)], now=T0, hold_s=600)
    c = limiter.reserve([budget(10, 3)], now=T0, hold_s=600)
    with pytest.raises(BudgetExhausted) as refused:
        limiter.reserve([budget(10, 3)], now=T0 + 1, hold_s=600)
    err = refused.value
    assert err.status_code == 402 and err.to_dict()["type"] == "budget_exhausted"
    midnight = (datetime.fromtimestamp(T0, UTC).replace(hour=0) + timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")  # the next midnight (UTC) after T0
    assert err.to_dict()["resets_at"] == midnight
    assert err.headers() == {"Retry-After": str(12 * 3600 - 1), "X-Budget-Reset": midnight}
    limiter.settle(a, tokens=0, cost=1, now=T0 + 2)  # 1 spent, 6 held
    limiter.reserve([budget(10, 3)], now=T0 + 3, hold_s=600)  # 1 + 9 = 10: fits exactly
    assert limiter.usage("t:day", now=T0 + 3) == (1, 9)
    limiter.release(b, now=T0 + 4)
    limiter.settle(c, tokens=0, cost=3, now=T0 + 5)
    assert limiter.usage("t:day", now=T0 + 5) == (4, 3)


def test_all_or_nothing(limiter: Limiter) -> None:
    limiter.reserve([budget(5, 5, key="full")], now=T0, hold_s=600)
    with pytest.raises(BudgetExhausted):
        limiter.reserve([rpm(1), tpm(100, 50), budget(5, 1, key="full")], now=T0, hold_s=600)
    # nothing of the refused reservation was held
    limiter.reserve([rpm(1), tpm(100, 100)], now=T0 + 1, hold_s=600)


def test_a_hold_never_settled_lapses_but_a_late_settle_is_charged(limiter: Limiter) -> None:
    lost = limiter.reserve([budget(10, 10)], now=T0, hold_s=30)  # its server died
    with pytest.raises(BudgetExhausted):
        limiter.reserve([budget(10, 1)], now=T0 + 29, hold_s=30)
    limiter.reserve([budget(10, 4)], now=T0 + 31, hold_s=30)
    assert limiter.usage("t:day", now=T0 + 31) == (0, 4)
    limiter.settle(lost, tokens=0, cost=2, now=T0 + 32)  # the money was spent after all
    assert limiter.usage("t:day", now=T0 + 32) == (2, 4)


def test_large_budgets_stay_exact(limiter: Limiter) -> None:
    big = 3_000_000 * NANO  # $3M in nano-dollars: past 2^51, beyond %.14g
    limiter.reserve([budget(big, big - 7)], now=T0, hold_s=60)
    with pytest.raises(BudgetExhausted):
        limiter.reserve([budget(big, 8)], now=T0, hold_s=60)
    limiter.reserve([budget(big, 7)], now=T0, hold_s=60)
    assert limiter.usage("t:day", now=T0) == (0, big)


def test_concurrent_reservations_never_overspend(limiter: Limiter) -> None:
    admitted: list[object] = []
    refused: list[Exception] = []
    start = threading.Barrier(20)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            try:
                admitted.append(limiter.reserve([budget(10 * 7, 7), rpm(1000)], now=T0,
                                                hold_s=600))
            except BudgetExhausted as exc:
                refused.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 10 and len(refused) == 90
    assert limiter.usage("t:day", now=T0) == (0, 70)


def test_two_redis_limiters_share_one_state(redis_url: str) -> None:
    import redis

    from cerebra.auth.limits_redis import RedisLimiter

    redis.Redis.from_url(redis_url).flushdb()
    one, two = RedisLimiter(redis_url), RedisLimiter(redis_url)
    r = one.reserve([budget(5, 5)], now=T0, hold_s=60)
    with pytest.raises(BudgetExhausted):
        two.reserve([budget(5, 1)], now=T0, hold_s=60)
    one.settle(r, tokens=0, cost=4, now=T0)
    two.reserve([budget(5, 1)], now=T0, hold_s=60)
    assert two.usage("t:day", now=T0) == (4, 1)
    one.close()
    two.close()


def test_periods() -> None:
    noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()
    assert period_bounds(noon, "daily") == (
        "2026-11-30", datetime(2026, 12, 1, tzinfo=UTC).timestamp())
    dec = datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()
    assert period_bounds(dec, "monthly") == (
        "2026-12", datetime(2027, 1, 1, tzinfo=UTC).timestamp())


def test_limits_parse_and_merge() -> None:
    limits = Limits.parse({"requests_per_min": 10, "daily_budget": 1.5})
    assert limits == Limits(requests_per_min=10, daily_budget=1.5)
    defaults = Limits(requests_per_min=100, tokens_per_min=1000, monthly_budget=0.0)
    assert limits.over(defaults) == Limits(10, 1000, 1.5, None)
    assert Limits.parse({"requests_per_min": 0}).over(defaults).requests_per_min is None
    assert Limits().unlimited and not limits.unlimited
    for bad, field in [({"rpm": 1}, "limits"), ({"requests_per_min": -1}, "requests_per_min"),
                       ({"requests_per_min": 1.5}, "requests_per_min"),
                       ({"daily_budget": True}, "daily_budget"),
                       ({"daily_budget": "1"}, "daily_budget")]:
        with pytest.raises(InvalidInput) as err:
            Limits.parse(bad)
        assert (err.value.field or "").endswith(field)

