"""MemoryStore: the memory API used by Brain, the server and the CLI.

It validates input, embeds text, asks the backend for candidates (full text and vector)
and fuses them with importance, salience and recency into one ranked list.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.errors import InvalidInput
from cerebra.memory.base import Memory, MemoryBackend, MemoryHit, NewMemory, Scope
from cerebra.memory.embedders import Embedder
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.text import content_hash, terms, terms_text


def validate_text(value: Any, *, field: str = "text", max_chars: int = 20_000) -> str:
    """Return `value` as clean text or raise InvalidInput naming the field and the problem."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{field} is not valid UTF-8", field=field) from exc
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{field} is not valid UTF-8 (lone surrogates)", field=field) from exc
    if not value.strip():
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(value) > max_chars:
        raise InvalidInput(
            f"{field} is {len(value)} characters; the maximum is {max_chars}", field=field
        )
    return value


class MemoryStore:
    """Long-term memory over any MemoryBackend, scoped by tenant / user / agent / session."""

    def __init__(
        self,
        backend: MemoryBackend,
        embedder: Embedder | None = None,
        *,
        tenant_id: str = DEFAULT_TENANT,
        weights: RetrievalWeights | None = None,
        max_chars: int = 20_000,
    ) -> None:
        self.backend = backend
        self._embedder = embedder
        self.tenant_id = tenant_id
        self.weights = weights or RetrievalWeights()
        self.max_chars = max_chars

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # built on first use, never at import or construction
            from cerebra.memory.embedders import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder()
        return self._embedder

    def scope(
        self,
        agent_id: str | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> Scope:
        return Scope(self.tenant_id, user_id=user_id, agent_id=agent_id, session_id=session_id)

    # -- writes -----------------------------------------------------------------------
    def _new(
        self,
        text: Any,
        scope: Scope,
        *,
        tags: Iterable[str] = (),
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
        source: str = "user",
        created_at: float | None = None,
        ttl: float | None = None,
    ) -> NewMemory:
        clean = validate_text(text, max_chars=self.max_chars)
        if not 0.0 <= float(importance) <= 1.0:
            raise InvalidInput("importance must be between 0 and 1", field="importance")
        tag_list = tuple(str(t) for t in tags)
        if any(not t.strip() for t in tag_list):
            raise InvalidInput("tags must be non-empty strings", field="tags")
        if ttl is not None and ttl <= 0:
            raise InvalidInput("ttl must be a positive number of seconds", field="ttl")
        now = time.time()
        return NewMemory(
            text=clean,
            scope=scope,
            terms=terms_text(clean),
            content_hash=content_hash(clean),
            tags=tag_list,
            metadata=dict(metadata or {}),
            importance=float(importance),
            source=source,
            created_at=created_at,
            expires_at=None if ttl is None else now + ttl,
        )

    def add(
        self,
        agent_id: str | None,
        text: Any,
        *,
        tags: Iterable[str] = (),
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        source: str = "user",
        created_at: float | None = None,
        ttl: float | None = None,
    ) -> str:
        """Store one memory and return its id (the existing id if the text is a duplicate)."""
        item = self._new(
            text,
            self.scope(agent_id, user_id=user_id, session_id=session_id),
            tags=tags,
            importance=importance,
            metadata=metadata,
            source=source,
            created_at=created_at,
            ttl=ttl,
        )
        return self.put([item])[0]

    def put(self, items: Sequence[NewMemory]) -> list[str]:
        """Embed (one batch) and store prepared items atomically."""
        if not items:
            return []
        vectors = self.embedder.embed([i.text for i in items])
        model = self.embedder.model_id
        ready = [
            NewMemory(**{**i.__dict__, "embedding": vectors[n], "embedding_model": model})
            for n, i in enumerate(items)
        ]
        return self.backend.put(ready)

    # -- reads ------------------------------------------------------------------------
    def search(
        self,
        agent_id: str | None,
        query: Any,
        *,
        k: int = 5,
        user_id: str | None = None,
        session_id: str | None = None,
        tags: Sequence[str] = (),
        explain: bool = False,
    ) -> list[MemoryHit]:
        """Hybrid recall: full text + vector similarity + importance, salience and recency."""
        query = validate_text(query, field="query", max_chars=self.max_chars)
        if k < 0:
            raise InvalidInput("k must be >= 0", field="k")
        scope = self.scope(agent_id, user_id=user_id, session_id=session_id)
        if k == 0:
            return []
        vector = self.embedder.embed([query])[0]
        return hybrid_search(
            self.backend, scope, terms(query), vector, k=k, weights=self.weights, tags=tags
        )

    def similar(
        self, agent_id: str | None, text: Any, *, k: int = 5, **scope: Any
    ) -> list[MemoryHit]:
        """Pure semantic neighbours of `text`."""
        text = validate_text(text, max_chars=self.max_chars)
        vector = self.embedder.embed([text])[0]
        found = self.backend.vector_candidates(self.scope(agent_id, **scope), vector, k)
        memories = {m.row_id: m for m in self.backend.fetch([c.row_id for c in found])}
        return [
            MemoryHit(memories[c.row_id], c.score, {"vector": c.score})
            for c in found
            if c.row_id in memories
        ]

    def by_tag(self, agent_id: str | None, tag: str, *, k: int = 50, **scope: Any) -> list[Memory]:
        return self.backend.by_tag(self.scope(agent_id, **scope), tag, k)

    def recent(self, agent_id: str | None, *, k: int = 20, **scope: Any) -> list[Memory]:
        return self.backend.recent(self.scope(agent_id, **scope), k)

    def get(self, memory_id: str) -> Memory | None:
        return self.backend.get(Scope(self.tenant_id), memory_id)

    def delete(self, memory_id: str) -> bool:
        return self.backend.delete(Scope(self.tenant_id), [memory_id]) > 0

    def delete_all(
        self,
        agent_id: str | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> int:
        return self.backend.delete_scope(
            self.scope(agent_id, user_id=user_id, session_id=session_id)
        )

    def count(self, agent_id: str | None = None, **scope: Any) -> int:
        return self.backend.count(self.scope(agent_id, **scope))
