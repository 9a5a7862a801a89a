"""Turn positions of conversations: the next turn of each (tenant, user, agent, session).

Brain stores every exchange with its session and turn so that retrieval's neighbouring-turn,
session and speaker signals work on the memories real users create. The next turn comes
from a bounded in-process cache, seeded on a miss from the latest stored exchange of that
scope, so the request path pays one database read per conversation, not per exchange.
Replicas sharing a database may give two exchanges the same turn; retrieval tolerates that
(neighbours at equal distance are looked up alike).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cerebra.context import RequestContext
from cerebra.memory.store import MemoryStore

ScopeKey = tuple[str, str, str, str]


class TurnCounter:
    def __init__(self, store: MemoryStore, *, tag: str = "exchange", max_scopes: int = 10_000):
        self.store = store
        self.tag = tag
        self.max_scopes = max_scopes
        self._last: OrderedDict[ScopeKey, int] = OrderedDict()
        self._lock = threading.Lock()

    def next(self, context: RequestContext) -> int:
        """Reserve and return the next turn index (0 for a conversation's first exchange)."""
        key = (context.tenant_id, context.user_id, context.agent_id, context.session_id)
        with self._lock:
            last = self._last.get(key)
            if last is not None:
                self._last[key] = last + 1
                self._last.move_to_end(key)
                return last + 1
        seeded = self._stored_last(context) + 1  # outside the lock: a database read
        with self._lock:
            current = self._last.get(key)
            turn = seeded if current is None else max(seeded, current + 1)
            self._last[key] = turn
            self._last.move_to_end(key)
            while len(self._last) > self.max_scopes:
                self._last.popitem(last=False)
        return turn

    def _stored_last(self, context: RequestContext) -> int:
        latest = self.store.by_tag(
            context.agent_id,
            self.tag,
            k=1,
            user_id=context.user_id,
            session_id=context.session_id,
            context=context,
        )
        if not latest:
            return -1
        try:
            return int(latest[0].metadata.get("turn", -1))
        except (TypeError, ValueError):
            return -1
