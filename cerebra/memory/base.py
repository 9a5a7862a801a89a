"""Memory types and the MemoryBackend seam that SQLite and PostgreSQL implement.

A backend stores rows and answers candidate queries (full text, vector, tag, recent);
ranking, fusion and embedding live above it in MemoryStore, so every backend ranks alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cerebra.db.schema import DEFAULT_TENANT


@dataclass(frozen=True)
class Scope:
    """Who a memory belongs to. In queries, None means "any"; in writes it is stored as ""."""

    tenant_id: str = DEFAULT_TENANT
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None

    def as_filters(self) -> dict[str, str]:
        out = {"tenant_id": self.tenant_id}
        for name in ("user_id", "agent_id", "session_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def key(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.tenant_id, self.user_id, self.agent_id, self.session_id)


@dataclass(frozen=True)
class NewMemory:
    text: str
    scope: Scope
    terms: str  # normalised full-text terms (see cerebra.memory.text)
    content_hash: str
    embedding: np.ndarray | None = None
    embedding_model: str | None = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    importance: float = 0.5
    source: str = "user"
    created_at: float | None = None
    expires_at: float | None = None


@dataclass(frozen=True)
class Memory:
    uid: str
    text: str
    tenant_id: str
    user_id: str
    agent_id: str
    session_id: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    importance: float
    salience: float
    source: str
    created_at: float
    updated_at: float
    expires_at: float | None
    row_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "text": self.text,
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "importance": self.importance,
            "salience": self.salience,
            "source": self.source,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class MemoryHit:
    memory: Memory
    score: float
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self, explain: bool = False) -> dict[str, Any]:
        out = self.memory.to_dict()
        out["score"] = round(self.score, 6)
        if explain:
            out["signals"] = {k: round(v, 6) for k, v in self.signals.items()}
        return out


@dataclass(frozen=True)
class Candidate:
    """A row id with a backend-native score (higher is better)."""

    row_id: int
    score: float


@runtime_checkable
class MemoryBackend(Protocol):
    """Storage and candidate generation for memories. Writes of a batch are atomic."""

    name: str

    def put(self, items: Sequence[NewMemory]) -> list[str]:
        """Store items in one transaction; returns their uids (existing uid for duplicates)."""
        ...

    def get(self, scope: Scope, uid: str) -> Memory | None: ...

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]: ...

    def delete(self, scope: Scope, uids: Sequence[str]) -> int: ...

    def delete_scope(self, scope: Scope) -> int: ...

    def text_candidates(
        self, scope: Scope, terms: Sequence[str], limit: int, tags: Sequence[str] = ()
    ) -> list[Candidate]: ...

    def vector_candidates(
        self, scope: Scope, vector: np.ndarray, limit: int, tags: Sequence[str] = ()
    ) -> list[Candidate]: ...

    def by_tag(self, scope: Scope, tag: str, limit: int) -> list[Memory]: ...

    def recent(self, scope: Scope, limit: int) -> list[Memory]: ...

    def count(self, scope: Scope) -> int: ...

    def close(self) -> None: ...
