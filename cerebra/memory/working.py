"""Working memory: a bounded per-session ring buffer of recent turns and scratch notes.

A session is keyed by tenant, user, agent and session id (`SessionKey`, from the typed
RequestContext). Each session holds two rings: turns (the last `turns` exchanges) and notes
(the last `notes` scratch notes), and the whole session expires `ttl_s` seconds after its
last write. A push returns what fell off the ring, so the caller can flush it into
long-term memory (cerebra.memory.working_session decides what flushing means).

`WorkingMemory` is the seam; `InProcessWorkingMemory` (the default) lives in this process,
`RedisWorkingMemory` (cerebra.memory.working_redis) shares one state between replicas.
Both are synchronous, like MemoryStore: the Brain calls them from its worker threads.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from cerebra.context import RequestContext
from cerebra.errors import CerebraError

Kind = Literal["turn", "note"]
KINDS: tuple[Kind, ...] = ("turn", "note")


class WorkingMemoryUnavailable(CerebraError):
    """The working-memory store (Redis) cannot be reached. HTTP 503."""

    status_code = 503
    code = "working_memory_unavailable"


@dataclass(frozen=True)
class SessionKey:
    """Whose session: tenant, user, agent and the session id the client chose."""

    tenant_id: str
    user_id: str
    agent_id: str
    session_id: str

    @classmethod
    def of(cls, context: RequestContext) -> SessionKey:
        return cls(context.tenant_id, context.user_id, context.agent_id, context.session_id)


@dataclass(frozen=True)
class WorkingItem:
    """One entry: a turn (the exchange as Brain stored it, `memory_id` its long-term copy)
    or a scratch note. `prompt` (turns) is the user's text, to skip turns the client's
    conversation already carries."""

    id: str
    kind: Kind
    text: str
    created_at: float
    memory_id: str | None = None
    prompt: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkingItem:
        data = json.loads(raw)
        return cls(**data)


@dataclass(frozen=True)
class SessionState:
    """A session's contents, oldest first in each ring."""

    turns: tuple[WorkingItem, ...] = ()
    notes: tuple[WorkingItem, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.turns or self.notes)


class WorkingMemory(Protocol):
    """Storage of sessions' rings. Every change is atomic per session."""

    turns: int  # capacity of the turn ring
    notes: int  # capacity of the note ring
    ttl_s: float  # a session lives this long after its last write (0: forever)

    def push(self, key: SessionKey, item: WorkingItem) -> list[WorkingItem]:
        """Append `item` to its kind's ring, trim it, renew the session's expiry; returns
        the items that fell off (oldest first)."""
        ...

    def state(self, key: SessionKey) -> SessionState: ...

    def remove(self, key: SessionKey, kind: Kind, item_id: str) -> WorkingItem | None:
        """Delete one item of `kind` by id; None when the session has no such item."""
        ...

    def clear(self, key: SessionKey, kinds: tuple[Kind, ...] = KINDS) -> list[WorkingItem]:
        """Empty the rings of `kinds`; returns what they held (oldest first)."""
        ...

    def close(self) -> None: ...


class _Session:
    __slots__ = ("expires", "rings")

    def __init__(self) -> None:
        self.rings: dict[Kind, deque[WorkingItem]] = {"turn": deque(), "note": deque()}
        self.expires = float("inf")


class InProcessWorkingMemory:
    """Sessions in a dict under one lock, in order of their last write (so of expiry): each
    push drops the expired ones from the front, and at most `max_sessions` are kept (the
    least recently written goes first)."""

    def __init__(self, *, turns: int = 8, notes: int = 20, ttl_s: float = 3600.0,
                 max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.turns, self.notes, self.ttl_s = turns, notes, ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[SessionKey, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def _capacity(self, kind: Kind) -> int:
        return self.turns if kind == "turn" else self.notes

    def _live(self, key: SessionKey, now: float) -> _Session | None:
        session = self._sessions.get(key)
        if session is not None and session.expires <= now:
            del self._sessions[key]
            return None
        return session

    def push(self, key: SessionKey, item: WorkingItem) -> list[WorkingItem]:
        cap = self._capacity(item.kind)
        if cap <= 0:
            return [item]  # a ring of no size: it falls off at once
        now = self._clock()
        with self._lock:
            session = self._live(key, now)
            if session is None:
                session = self._sessions[key] = _Session()
            ring = session.rings[item.kind]
            ring.append(item)
            fallen = [ring.popleft() for _ in range(len(ring) - cap)]
            session.expires = now + self.ttl_s if self.ttl_s > 0 else float("inf")
            self._sessions.move_to_end(key)  # least recently written first: soonest to expire
            while self._sessions and (len(self._sessions) > self.max_sessions or (
                    next(iter(self._sessions.values())).expires <= now)):
                self._sessions.popitem(last=False)
            return fallen

    def state(self, key: SessionKey) -> SessionState:
        with self._lock:
            session = self._live(key, self._clock())
            if session is None:
                return SessionState()
            return SessionState(tuple(session.rings["turn"]), tuple(session.rings["note"]))

    def remove(self, key: SessionKey, kind: Kind, item_id: str) -> WorkingItem | None:
        with self._lock:
            session = self._live(key, self._clock())
            if session is None:
                return None
            ring = session.rings[kind]
            for item in ring:
                if item.id == item_id:
                    ring.remove(item)
                    self._drop_if_empty(key, session)
                    return item
            return None

    def clear(self, key: SessionKey, kinds: tuple[Kind, ...] = KINDS) -> list[WorkingItem]:
        with self._lock:
            session = self._live(key, self._clock())
            if session is None:
                return []
            out: list[WorkingItem] = []
            for kind in kinds:
                out.extend(session.rings[kind])
                session.rings[kind].clear()
            self._drop_if_empty(key, session)
            return sorted(out, key=lambda i: i.created_at)

    def _drop_if_empty(self, key: SessionKey, session: _Session) -> None:
        if not any(session.rings.values()):
            del self._sessions[key]

    def __len__(self) -> int:
        """Sessions held (expired ones not yet met included)."""
        return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
