"""Working memory in Redis: each session's two rings as Redis lists, shared by every server
process that uses the same Redis (`redis.url`).

A push is one Lua script (RPUSH, then LTRIM to the ring's capacity returning what fell off,
then PEXPIRE of both rings), so concurrent pushes to one session never lose or duplicate an
item and what falls off is handed to exactly one caller (who flushes it). Reads and clears
are MULTI transactions; a removal is LREM of the exact stored value. Redis down:
`WorkingMemoryUnavailable` (503), never a raw connection error.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

from cerebra.memory.working import (
    KINDS,
    Kind,
    SessionKey,
    SessionState,
    WorkingItem,
    WorkingMemoryUnavailable,
)

log = logging.getLogger("cerebra.memory.working")

PREFIX = "cerebra:working:"

# KEYS: the item's ring, the session's other ring. ARGV: item JSON, capacity, ttl in ms
# (0: no expiry). Returns the items that fell off, oldest first.
_PUSH = """
redis.call('RPUSH', KEYS[1], ARGV[1])
local cap = tonumber(ARGV[2])
local n = redis.call('LLEN', KEYS[1])
local fallen = {}
if n > cap then
  fallen = redis.call('LRANGE', KEYS[1], 0, n - cap - 1)
  redis.call('LTRIM', KEYS[1], n - cap, -1)
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return fallen
"""


def ring_key(key: SessionKey, kind: Kind) -> str:
    """The Redis list of one ring; every part percent-encoded, so ':' in an id is safe."""
    parts = (key.tenant_id, key.user_id, key.agent_id, key.session_id)
    return PREFIX + ":".join(quote(p, safe="") for p in parts) + ":" + kind


class RedisWorkingMemory:
    """Sessions in Redis under `cerebra:working:`; see the module docstring."""

    def __init__(self, url: str, *, turns: int = 8, notes: int = 20, ttl_s: float = 3600.0,
                 client: Any = None) -> None:
        import redis  # optional dependency: only when working memory lives in Redis

        self.turns, self.notes, self.ttl_s = turns, notes, ttl_s
        self.client: Any = client or redis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0)
        parts = urlsplit(url)
        self.where = f"Redis at {parts.hostname or 'localhost'}:{parts.port or 6379}"
        self._error: type[Exception] = redis.RedisError
        self._push = self.client.register_script(_PUSH)

    def _unavailable(self, exc: Exception) -> WorkingMemoryUnavailable:
        log.warning("working memory store unreachable: %s", exc)
        return WorkingMemoryUnavailable(
            f"the working-memory store ({self.where}) cannot be reached; try again shortly")

    def push(self, key: SessionKey, item: WorkingItem) -> list[WorkingItem]:
        cap = self.turns if item.kind == "turn" else self.notes
        if cap <= 0:
            return [item]
        other: Kind = "note" if item.kind == "turn" else "turn"
        ttl_ms = max(1, int(self.ttl_s * 1000)) if self.ttl_s > 0 else 0
        try:
            fallen = self._push(keys=[ring_key(key, item.kind), ring_key(key, other)],
                                args=[item.to_json(), cap, ttl_ms])
        except self._error as exc:
            raise self._unavailable(exc) from None
        return [WorkingItem.from_json(raw) for raw in fallen]

    def _ranges(self, key: SessionKey, kinds: tuple[Kind, ...], *, delete: bool) -> list[Any]:
        try:
            with self.client.pipeline(transaction=True) as pipe:
                for kind in kinds:
                    pipe.lrange(ring_key(key, kind), 0, -1)
                if delete:
                    pipe.delete(*(ring_key(key, kind) for kind in kinds))
                return list(pipe.execute())[: len(kinds)]
        except self._error as exc:
            raise self._unavailable(exc) from None

    def state(self, key: SessionKey) -> SessionState:
        turns, notes = self._ranges(key, KINDS, delete=False)
        return SessionState(tuple(WorkingItem.from_json(r) for r in turns),
                            tuple(WorkingItem.from_json(r) for r in notes))

    def remove(self, key: SessionKey, kind: Kind, item_id: str) -> WorkingItem | None:
        (raws,) = self._ranges(key, (kind,), delete=False)
        for raw in raws:
            item = WorkingItem.from_json(raw)
            if item.id != item_id:
                continue
            try:  # 0: it fell off or was removed meanwhile
                removed = self.client.lrem(ring_key(key, kind), 1, raw)
            except self._error as exc:
                raise self._unavailable(exc) from None
            return item if removed else None
        return None

    def clear(self, key: SessionKey, kinds: tuple[Kind, ...] = KINDS) -> list[WorkingItem]:
        rings = self._ranges(key, kinds, delete=True)
        items = [WorkingItem.from_json(raw) for raws in rings for raw in raws]
        return sorted(items, key=lambda i: i.created_at)

    def close(self) -> None:
        self.client.close()
