"""Response cache: exact match, LRU + TTL in memory, Redis (a real server), streaming replay."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path

import pytest

from cerebra.context import RequestContext
from cerebra.models.base import GenerationRequest, Message, ModelBackend
from cerebra.models.cache import CachedBackend, MemoryStore, RedisStore, make_store, request_key
from cerebra.testing import FakeModel

REQ = GenerationRequest(messages=(Message("user", "What is the capital of France?"),),
                        max_tokens=16, temperature=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_lru_and_ttl() -> None:
    clock = Clock()
    store = MemoryStore(max_entries=2, clock=clock)
    store.set("a", b"1", 10)
    store.set("b", b"2", 10)
    assert store.get("a") == b"1"  # a is now most recent
    store.set("c", b"3", 10)
    assert store.get("b") is None and store.get("a") == b"1" and len(store) == 2
    clock.now += 11
    assert store.get("a") is None and store.get("c") is None
    store.set("d", b"4", 0)
    assert store.get("d") is None
    with pytest.raises(ValueError):
        MemoryStore(max_entries=0)


def test_key_is_exact_over_everything_that_shapes_the_answer() -> None:
    base = request_key("m", REQ)
    assert base == request_key("m", REQ.with_())
    for changed in (REQ.with_(max_tokens=17), REQ.with_(temperature=0.1), REQ.with_(seed=1),
                    REQ.with_(stop=("x",)), REQ.with_(extra={"lora": "a"}),
                    REQ.with_(messages=(Message("user", "What is the capital of Spain?"),))):
        assert request_key("m", changed) != base
    assert request_key("other", REQ) != base
    assert request_key("m", REQ.with_(extra={"f": object()})) is None


def test_agents_of_one_tenant_share_an_entry_and_tenants_do_not() -> None:
    def ask(cached: CachedBackend, **context: str) -> None:
        cached.generate(REQ.with_(context=RequestContext(**context)))

    inner = FakeModel("Paris is the capital.", name="m")
    cached = CachedBackend(inner, MemoryStore(), ttl_s=60)
    ask(cached, tenant_id="acme", agent_id="support", user_id="ana", session_id="s1")
    ask(cached, tenant_id="acme", agent_id="sales", user_id="bo", session_id="s2")
    assert len(inner.calls) == 1 and cached.hits == 1  # one tenant: one entry
    ask(cached, tenant_id="globex", agent_id="support", user_id="ana", session_id="s1")
    assert len(inner.calls) == 2 and cached.misses == 2  # another tenant: never shared
    ask(cached, tenant_id="globex", agent_id="ops")
    assert len(inner.calls) == 2
    # scope keys in extra (where older callers put them) split nothing either
    legacy = REQ.with_(extra={"tenant_id": "x", "agent_id": "y"},
                       context=RequestContext(tenant_id="acme"))
    assert request_key("m", legacy) == request_key("m", REQ.with_(
        context=RequestContext(tenant_id="acme", agent_id="z")))
    assert request_key("m", legacy) != request_key("m", REQ)  # the default tenant


def test_generate_hits_after_first_miss() -> None:
    inner = FakeModel("Paris is the capital.", name="m")
    cached = CachedBackend(inner, MemoryStore(), ttl_s=60)
    first, second = cached.generate(REQ), cached.generate(REQ)
    assert len(inner.calls) == 1 and (cached.hits, cached.misses) == (1, 1)
    assert second.text == first.text and second.usage == first.usage
    assert second.model == "m" and second.finish_reason == first.finish_reason
    cached.generate(REQ.with_(max_tokens=3))
    assert len(inner.calls) == 2
    assert cached.name == "m" and cached.capabilities == inner.capabilities
    assert cached.count_tokens("a b") == 2 and cached.probe().ok and cached.calls is inner.calls


def test_ttl_expiry_refetches() -> None:
    clock = Clock()
    inner = FakeModel(name="m")
    cached = CachedBackend(inner, MemoryStore(clock=clock), ttl_s=5)
    cached.generate(REQ)
    clock.now += 6
    cached.generate(REQ)
    assert len(inner.calls) == 2


def test_streams_replay_and_fill_the_cache() -> None:
    inner = FakeModel("one two three four", name="m")
    cached = CachedBackend(inner)
    live = list(cached.stream(REQ))
    replay = list(cached.stream(REQ))
    assert len(inner.calls) == 1
    assert "".join(c.text for c in replay) == "".join(c.text for c in live) == "one two three four"
    assert len(replay) > 2  # replayed piece by piece, not as one blob
    assert replay[-1].usage == live[-1].usage and replay[-1].finish_reason == "stop"
    assert cached.generate(REQ).text == "one two three four" and len(inner.calls) == 1


def test_abandoned_stream_is_not_stored() -> None:
    inner = FakeModel("one two three four", name="m")
    cached = CachedBackend(inner)
    stream = cached.stream(REQ)
    next(stream)
    assert isinstance(stream, Generator)
    stream.close()
    cached.generate(REQ)
    assert len(inner.calls) == 2


def test_deterministic_only_and_unkeyable_requests_bypass() -> None:
    inner = FakeModel(name="m")
    cached = CachedBackend(inner, deterministic_only=True)
    sampled = REQ.with_(temperature=0.8)
    cached.generate(sampled)
    cached.generate(sampled)
    assert len(inner.calls) == 2
    cached.generate(sampled.with_(seed=7))
    cached.generate(sampled.with_(seed=7))
    assert len(inner.calls) == 3
    odd = REQ.with_(extra={"callback": object()})
    cached.generate(odd)
    cached.generate(odd)
    assert len(inner.calls) == 5


async def test_async_paths_share_the_cache() -> None:
    inner = FakeModel("alpha beta", name="m")
    cached = CachedBackend(inner)
    assert (await cached.agenerate(REQ)).text == "alpha beta"
    chunks = [c async for c in cached.astream(REQ)]
    assert "".join(c.text for c in chunks) == "alpha beta" and len(inner.calls) == 1
    other = REQ.with_(max_tokens=1)
    streamed = [c async for c in cached.astream(other)]
    assert (await cached.agenerate(other)).text == "".join(c.text for c in streamed)
    assert len(inner.calls) == 2


def test_make_store_chooses_by_url(redis_url: str) -> None:
    assert isinstance(make_store(None), MemoryStore)
    store = make_store(redis_url)
    assert isinstance(store, RedisStore)
    store.close()


def _redis_backend(url: str, inner: ModelBackend, prefix: str, ttl: float = 60) -> CachedBackend:
    return CachedBackend(inner, RedisStore(url, prefix=prefix), ttl_s=ttl)


def test_redis_cache_is_shared_between_replicas_and_expires(redis_url: str) -> None:
    inner = FakeModel("shared answer", name="m")
    replica_a = _redis_backend(redis_url, inner, "t1:")
    replica_b = _redis_backend(redis_url, inner, "t1:")
    assert replica_a.generate(REQ).text == "shared answer"
    assert replica_b.generate(REQ).text == "shared answer"
    assert len(inner.calls) == 1 and replica_b.hits == 1
    assert "".join(c.text for c in replica_b.stream(REQ)) == "shared answer"
    assert len(inner.calls) == 1

    short_a = _redis_backend(redis_url, inner, "t1s:", ttl=0.2)
    short_b = _redis_backend(redis_url, inner, "t1s:", ttl=0.2)
    short_a.generate(REQ)
    assert len(inner.calls) == 2
    key = request_key("m", REQ)
    assert key is not None
    store = RedisStore(redis_url, prefix="t1s:")
    deadline = time.monotonic() + 30  # Redis expires the entry itself (PX)
    while store.get(key) is not None:
        assert time.monotonic() < deadline, "Redis kept the entry past its TTL"
        time.sleep(0.02)
    short_b.generate(REQ)
    assert len(inner.calls) == 3 and short_b.hits == 0


async def test_redis_cache_async(redis_url: str) -> None:
    inner = FakeModel("async answer", name="m")
    cached = _redis_backend(redis_url, inner, "t2:")
    assert (await cached.agenerate(REQ)).text == "async answer"
    assert (await cached.agenerate(REQ)).text == "async answer"
    assert [c.text async for c in cached.astream(REQ)][-1] == ""
    assert len(inner.calls) == 1 and cached.hits == 2


def test_redis_clear_touches_only_its_prefix(redis_url: str) -> None:
    mine, theirs = RedisStore(redis_url, prefix="mine:"), RedisStore(redis_url, prefix="theirs:")
    mine.set("k", b"1", 60)
    theirs.set("k", b"2", 60)
    mine.clear()
    assert mine.get("k") is None and theirs.get("k") == b"2"


def test_unreachable_redis_never_fails_a_request(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    inner = FakeModel("still answered", name="m")
    cached = CachedBackend(inner, RedisStore(f"redis://127.0.0.1:{port}/0",
                                             socket_timeout_s=0.2))
    assert cached.generate(REQ).text == "still answered"
    assert "".join(c.text for c in cached.stream(REQ)) == "still answered"
    assert len(inner.calls) == 2
