"""Routing decisions: what the router chose for one request, why, what happened, and the
reward it learned from; plus a bounded in-memory log of recent decisions.

The caller learns the decision from the answer itself (`RoutingResult` on the Generation or
the final StreamChunk, made by `Decision.result()`), never through a side channel.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from cerebra.models.base import Attempt, RoutingResult

__all__ = ["Attempt", "Decision", "DecisionLog"]


@dataclass
class Decision:
    """One routed request. `arm` is the strategy's pick; `served_by` whoever answered."""

    tenant_id: str
    agent_id: str
    scope: str  # the agent scope whose bandit state chose ("*" for tenant-wide)
    strategy: str
    arm: str
    reason: str
    features: dict[str, Any]
    candidates: list[str]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    attempts: list[Attempt] = field(default_factory=list)
    served_by: str | None = None
    ok: bool = False
    error: str = ""
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    quality: float | None = None
    reward: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attempts"] = [a.to_dict() for a in self.attempts]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        data = dict(data)
        attempts = [Attempt(**a) for a in data.pop("attempts", []) or []]
        return cls(attempts=attempts, **data)

    def result(self) -> RoutingResult:
        """The decision as the data that travels with the answer."""
        return RoutingResult(self.served_by, tuple(self.attempts), decision_id=self.id,
                             strategy=self.strategy, chosen=self.arm, reason=self.reason)


class DecisionLog:
    """The most recent decisions by id (bounded), for feedback and listing."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Decision] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, decision: Decision) -> None:
        with self._lock:
            self._items[decision.id] = decision
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get(self, decision_id: str) -> Decision | None:
        return self._items.get(decision_id)

    def recent(self, *, tenant_id: str | None = None, agent_id: str | None = None,
               limit: int = 50) -> list[Decision]:
        """Newest first, filtered by tenant and agent when given."""
        with self._lock:
            items = list(reversed(self._items.values()))
        out = []
        for d in items:
            if tenant_id is not None and d.tenant_id != tenant_id:
                continue
            if agent_id is not None and d.agent_id != agent_id:
                continue
            out.append(d)
            if len(out) >= limit:
                break
        return out
