"""Stores for the response cache: an in-memory LRU with per-entry TTL, and Redis.

Both keep bytes under string keys with a time to live and offer sync and async pairs; the
Redis store makes one asyncio client per event loop (a redis.asyncio connection belongs to
the loop that opened it).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any


class MemoryStore:
    """A thread-safe LRU of at most `max_entries` values, each expiring after its TTL."""

    def __init__(self, max_entries: int = 1024, clock: Any = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self.max_entries = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires <= self._clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._data[key] = (self._clock() + ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None:
        self.set(key, value, ttl_s)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class RedisStore:
    """Entries in Redis under `prefix`, expiring through Redis itself (SET … PX)."""

    def __init__(self, url: str, *, prefix: str = "cerebra:cache:",
                 socket_timeout_s: float = 1.0) -> None:
        import redis  # optional dependency: only when a Redis URL is configured

        self.url = url
        self.prefix = prefix
        self._timeout = socket_timeout_s
        self._sync = redis.Redis.from_url(url, socket_timeout=socket_timeout_s,
                                          socket_connect_timeout=socket_timeout_s)
        self._async: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _client(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                client = aioredis.Redis.from_url(
                    self.url, socket_timeout=self._timeout,
                    socket_connect_timeout=self._timeout)
                self._async[loop] = client
            return client

    def get(self, key: str) -> bytes | None:
        value: Any = self._sync.get(self.prefix + key)
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            self._sync.set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))

    async def aget(self, key: str) -> bytes | None:
        value: Any = await self._client().get(self.prefix + key)
        return bytes(value) if value is not None else None

    async def aset(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s > 0:
            await self._client().set(self.prefix + key, value, px=max(1, int(ttl_s * 1000)))

    def clear(self) -> None:
        """Delete this store's keys (only those under its prefix)."""
        for key in self._sync.scan_iter(match=self.prefix + "*", count=500):
            self._sync.delete(key)

    def close(self) -> None:
        self._sync.close()
