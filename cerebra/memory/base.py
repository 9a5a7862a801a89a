"""Memory types and the MemoryBackend seam that SQLite and PostgreSQL implement.

A backend stores rows and answers candidate queries (full text, vector, tag, recent);
ranking, fusion and embedding live above it in MemoryStore, so every backend ranks alike.
Filters reach a backend already parsed (cerebra.memory.filters) and are compiled into its
SQL, so they apply inside candidate queries rather than after a top-k cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.memory.facts import Fact
from cerebra.memory.filters import Node
from cerebra.memory.text import TermStats


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
    # uid of a near-duplicate to merge this item into, or "#n": the n-th item of its batch
    merge_into: str | None = None
    # the statements it makes (cerebra.memory.facts); None: not extracted, none are recorded
    facts: tuple[Fact, ...] | None = None
    # passage vectors of a long text, one row each (cerebra.memory.passages); None: none
    passages: np.ndarray | None = None


@dataclass(frozen=True)
class MemoryChange:
    """An edit of one memory; None leaves a field as it is. Text edits carry their index data."""

    text: str | None = None
    terms: str | None = None
    content_hash: str | None = None
    embedding: np.ndarray | None = None
    embedding_model: str | None = None
    tags: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    importance: float | None = None
    expires_at: float | None = None
    clear_expiry: bool = False
    facts: tuple[Fact, ...] | None = None  # the new text's statements; None: left as they are
    passages: np.ndarray | None = None  # the new text's passage vectors (with `text` only)


@dataclass(frozen=True)
class MemoryVersion:
    """One version of a memory: replaced ones come from history, the last one is current."""

    uid: str
    version: int
    text: str
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    importance: float
    event: str  # "add", "update" or "merge": how this version came to be replaced / made
    valid_from: float
    valid_to: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.uid,
            "version": self.version,
            "text": self.text,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "importance": self.importance,
            "event": self.event,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
        }


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
    version: int = 1
    # its validity in time (cerebra.memory.supersession.summary), when it was looked up
    validity: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.validity is None else dict(self.validity)
        return extra | {
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
            "version": self.version,
        }


@dataclass(frozen=True)
class MemoryHit:
    memory: Memory
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    # absolute evidence of relevance (raw cosine, query coverage): cerebra.memory.relevance
    evidence: dict[str, float] = field(default_factory=dict)

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


@dataclass(frozen=True)
class SearchCandidates:
    """Everything fusion needs for one query: both candidate pools (best first), the rows
    of every candidate, and the scope's BM25 statistics (None: use the text pool's scores).

    A backend may offer `search_candidates(scope, terms, vector, limit, tags, where)`
    returning this in fewer round trips; cerebra.memory.retrieval.gather_candidates builds
    it from the protocol's methods otherwise."""

    text: list[Candidate]
    vector: list[Candidate]
    memories: dict[int, Memory]
    stats: TermStats | None = None


@runtime_checkable
class MemoryBackend(Protocol):
    """Storage and candidate generation for memories.

    Every write (a batch put, an update, a delete) is one transaction: a memory is either
    present in its row, tags, full-text index and vector index, or absent from all of them.
    `where` is a parsed filter, applied inside each query. Expired memories are invisible
    to reads and are removed by `prune`.
    """

    name: str

    def put(self, items: Sequence[NewMemory]) -> list[str]:
        """Store items in one transaction; returns their uids (existing uid for duplicates)."""
        ...

    def get(self, scope: Scope, uid: str) -> Memory | None: ...

    def fetch(self, row_ids: Sequence[int]) -> list[Memory]: ...

    def update(self, scope: Scope, uid: str, change: MemoryChange) -> Memory | None:
        """Apply `change`, keeping the replaced version in history; None if not found."""
        ...

    def history(self, scope: Scope, uid: str) -> list[MemoryVersion]: ...

    def delete(self, scope: Scope, uids: Sequence[str]) -> int: ...

    def delete_scope(self, scope: Scope) -> int:
        """Hard delete of every memory in scope: rows, tags, full text, vectors, history."""
        ...

    def prune(self, scope: Scope, *, threshold: float, older_than: float | None, now: float) -> int:
        """Delete expired memories, and those whose value is below threshold (created
        before `older_than` when it is given). Value = importance + salience / 2, in 0..1."""
        ...

    def adjust_salience(self, scope: Scope, uids: Sequence[str], delta: float) -> int: ...

    def text_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]: ...

    def vector_candidates(
        self,
        scope: Scope,
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        where: Node | None = None,
    ) -> list[Candidate]: ...

    def by_tag(
        self, scope: Scope, tag: str, limit: int, where: Node | None = None
    ) -> list[Memory]: ...

    def recent(self, scope: Scope, limit: int, where: Node | None = None) -> list[Memory]: ...

    def count(self, scope: Scope) -> int: ...

    def integrity(self) -> dict[str, int]:
        """Counts for consistency checks: rows, and rows missing from text or vector index."""
        ...

    def close(self) -> None: ...
