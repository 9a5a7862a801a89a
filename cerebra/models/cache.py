"""Response cache: a ModelBackend wrapping another that answers repeated requests from a store.

A request hits only on an exact match of everything that shapes the answer (model, messages,
prompt, sampling parameters, stop sequences, seed, extra) within the cache scope of its
context (the tenant). Stores: an in-memory LRU with a TTL
(default) or Redis (`redis://…`), shared by replicas. Streaming replays: a hit is streamed
back from the stored answer; a miss streams from the model and is stored once the stream
completes (an abandoned, failed, cancelled or timed-out answer stores nothing). A store that
fails (Redis down) never fails a request: the cache is bypassed and the error logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, replace
from typing import Any, Protocol

from cerebra.models.base import (
    Generation,
    GenerationRequest,
    ModelBackend,
    StreamChunk,
    ToolCall,
    Usage,
)
from cerebra.models.cache_stores import MemoryStore, RedisStore
from cerebra.models.cancellation import STOP_REASONS
from cerebra.models.wrapper import WrapperBackend

log = logging.getLogger(__name__)

__all__ = ["CacheStore", "CachedBackend", "MemoryStore", "RedisStore", "make_store",
           "request_key"]


class CacheStore(Protocol):
    """Bytes by key with a time to live; sync and async pairs."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None: ...

    def clear(self) -> None: ...


def make_store(redis_url: str | None = None, *, max_entries: int = 1024,
               prefix: str = "cerebra:cache:") -> CacheStore:
    """Redis when a URL is configured, else the in-memory LRU."""
    if redis_url:
        return RedisStore(redis_url, prefix=prefix)
    return MemoryStore(max_entries=max_entries)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


# Who a request is for lives in `request.context`; these keys in `extra` (where older callers
# put them) shape no answer, and would only split the cache.
_SCOPE_KEYS = frozenset({"tenant_id", "user_id", "agent_id", "session_id"})


def request_key(model: str, request: GenerationRequest) -> str | None:
    """The cache key of a request on `model`, or None when it cannot be keyed exactly.

    The context enters only as its cache scope (the tenant: answers are never shared across
    tenants, and are shared by the agents, users and sessions of one tenant)."""
    shape = asdict(replace(request, cancellation=None))  # the token shapes no answer
    del shape["cancellation"]
    del shape["context"]
    shape["extra"] = {k: v for k, v in shape["extra"].items() if k not in _SCOPE_KEYS}
    shape["scope"] = list(request.context.cache_scope())
    try:
        body = json.dumps([model, _jsonable(shape)], sort_keys=True,
                          separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None  # extra holds something that is not JSON: never guess a match
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _encode(gen: Generation) -> bytes:
    return json.dumps({
        "text": gen.text, "model": gen.model, "finish_reason": gen.finish_reason,
        "usage": [gen.usage.prompt_tokens, gen.usage.completion_tokens],
        "tool_calls": [[t.id, t.name, t.arguments] for t in gen.tool_calls],
    }).encode("utf-8")


def _decode(raw: bytes, latency_ms: float) -> Generation | None:
    try:
        data = json.loads(raw)
        return Generation(
            text=data["text"], model=data["model"], finish_reason=data["finish_reason"],
            usage=Usage(*data["usage"]), latency_ms=latency_ms,
            tool_calls=tuple(ToolCall(*t) for t in data["tool_calls"]),
        )
    except (ValueError, KeyError, TypeError):
        return None  # a corrupt entry is a miss


def _storable(finish_reason: str) -> bool:
    """Failed, cancelled and timed-out answers are partial: never replayed."""
    return finish_reason != "error" and finish_reason not in STOP_REASONS


_PIECES = re.compile(r"\S+\s*|\s+")


def _replay(gen: Generation) -> Iterator[StreamChunk]:
    for piece in _PIECES.findall(gen.text):
        yield StreamChunk(text=piece)
    yield StreamChunk(text="", finish_reason=gen.finish_reason, usage=gen.usage,
                      tool_calls=gen.tool_calls)


class CachedBackend(WrapperBackend):
    """Answers from `store` when it can, from `inner` otherwise (then stores the answer)."""

    def __init__(self, inner: ModelBackend, store: CacheStore | None = None, *,
                 ttl_s: float = 3600.0, name: str | None = None,
                 deterministic_only: bool = False) -> None:
        super().__init__(inner, name=name)
        self.store: CacheStore = store if store is not None else MemoryStore()
        self.ttl_s = ttl_s
        self.deterministic_only = deterministic_only
        self.hits = 0
        self.misses = 0
        self._count_lock = threading.Lock()

    def _key(self, request: GenerationRequest) -> str | None:
        if self.deterministic_only and request.temperature > 0 and request.seed is None:
            return None
        # a served adapter names its version (cerebra.models.adapters): a swap or rollback
        # behind the same name never answers from the replaced version's entries
        return request_key(str(getattr(self.inner, "cache_identity", self.inner.name)), request)

    def _count(self, hit: bool) -> None:
        with self._count_lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def _lookup(self, key: str, start: float) -> Generation | None:
        try:
            raw = self.store.get(key)
        except Exception as exc:
            log.warning("response cache read failed, bypassing: %s", exc)
            return None
        found = _decode(raw, (time.perf_counter() - start) * 1000) if raw else None
        self._count(found is not None)
        return found

    def _save(self, key: str, gen: Generation) -> None:
        if not _storable(gen.finish_reason):
            return
        try:
            self.store.set(key, _encode(gen), self.ttl_s)
        except Exception as exc:
            log.warning("response cache write failed: %s", exc)

    def generate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        key = self._key(request)
        if key is None:
            return self.inner.generate(request)
        found = self._lookup(key, start)
        if found is not None:
            return found
        gen = self.inner.generate(request)
        self._save(key, gen)
        return gen

    async def agenerate(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        key = self._key(request)
        if key is None:
            return await self.inner.agenerate(request)
        try:
            raw = await self.store.aget(key)
        except Exception as exc:
            log.warning("response cache read failed, bypassing: %s", exc)
            raw = None
        found = _decode(raw, (time.perf_counter() - start) * 1000) if raw else None
        self._count(found is not None)
        if found is not None:
            return found
        gen = await self.inner.agenerate(request)
        if _storable(gen.finish_reason):
            try:
                await self.store.aset(key, _encode(gen), self.ttl_s)
            except Exception as exc:
                log.warning("response cache write failed: %s", exc)
        return gen

    def stream(self, request: GenerationRequest) -> Iterator[StreamChunk]:
        key = self._key(request)
        if key is None:
            yield from self.inner.stream(request)
            return
        start = time.perf_counter()
        found = self._lookup(key, start)
        if found is not None:
            yield from _replay(found)
            return
        pieces: list[str] = []
        for chunk in self.inner.stream(request):
            pieces.append(chunk.text)
            yield chunk
            if chunk.finish_reason is not None:
                self._save(key, Generation(
                    text="".join(pieces), model=self.inner.name,
                    usage=chunk.usage or Usage(), finish_reason=chunk.finish_reason,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    tool_calls=chunk.tool_calls))

    async def astream(self, request: GenerationRequest) -> AsyncIterator[StreamChunk]:
        key = self._key(request)
        if key is None:
            async for chunk in self.inner.astream(request):
                yield chunk
            return
        start = time.perf_counter()
        try:
            raw = await self.store.aget(key)
        except Exception as exc:
            log.warning("response cache read failed, bypassing: %s", exc)
            raw = None
        found = _decode(raw, (time.perf_counter() - start) * 1000) if raw else None
        self._count(found is not None)
        if found is not None:
            for chunk in _replay(found):
                yield chunk
            return
        pieces: list[str] = []
        async for chunk in self.inner.astream(request):
            pieces.append(chunk.text)
            yield chunk
            if chunk.finish_reason is not None and _storable(chunk.finish_reason):
                gen = Generation(text="".join(pieces), model=self.inner.name,
                                 usage=chunk.usage or Usage(),
                                 finish_reason=chunk.finish_reason, tool_calls=chunk.tool_calls)
                try:
                    await self.store.aset(key, _encode(gen), self.ttl_s)
                except Exception as exc:
                    log.warning("response cache write failed: %s", exc)
