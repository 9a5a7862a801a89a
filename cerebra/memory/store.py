"""MemoryStore: the memory API used by Brain, the server and the CLI.

It validates input, embeds text, merges duplicates, and asks the backend for candidates
(full text and vector, with filters applied inside the queries) that
cerebra.memory.retrieval fuses into one ranked list. Lifecycle: update with history,
delete / delete_all, salience feedback (`reinforce`), TTL, `prune` and a background pruner.
The store holds no tenant: every call acts for the tenant of its `context` (a
RequestContext; the default tenant without one), so one store serves every tenant.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cerebra.context import RequestContext, tenant_of
from cerebra.errors import InvalidInput, NotFound
from cerebra.memory import temporal
from cerebra.memory.base import (
    Memory,
    MemoryBackend,
    MemoryChange,
    MemoryHit,
    MemoryVersion,
    NewMemory,
    Scope,
)
from cerebra.memory.embedders import Embedder
from cerebra.memory.facts import Fact
from cerebra.memory.filtered import filtered
from cerebra.memory.filters import parse_filter
from cerebra.memory.new_items import new_batch, new_memory
from cerebra.memory.passages import embed_with_passages
from cerebra.memory.query_vectors import QueryVector, embed_one
from cerebra.memory.relevance import floor_of
from cerebra.memory.retrieval import RetrievalWeights, hybrid_search
from cerebra.memory.sqlvocab import stored_scope
from cerebra.memory.text import content_hash, terms, terms_text
from cerebra.memory.validation import (
    check_prune,
    confined_value,
    expiry,
    importance_value,
    metadata_value,
    tag_values,
    validate_text,
)
from cerebra.offload import Offload

READ_YOUR_WRITES_S = 5.0  # a search waits at most this for pending write-behind vectors

__all__ = ["MemoryStore", "validate_text"]

if TYPE_CHECKING:
    from cerebra.jobs.base import JobRunner
    from cerebra.memory.learned_weights import LearnedWeights
    from cerebra.memory.pruner import Pruner
    from cerebra.memory.write_behind import VectorBackfill


class MemoryStore:
    """Long-term memory over any MemoryBackend, scoped by tenant / user / agent / session.

    `near_duplicate_threshold` (cosine, e.g. 0.95) merges a new memory into an existing one
    of the same scope that is at least that similar; None (the default) keeps both.
    `salience_rate` is how far one unit of feedback moves a memory's salience (-1..1).
    `supersession` records what memories state (cerebra.memory.temporal): recall then
    prefers the fact current at the moment a query asks about.
    `MemoryStore()` without a backend uses the configured database (migrated first).
    `learned` (cerebra.memory.learned_weights), when set, gives each tenant or agent the
    weights it learned from feedback; `weights` are then the defaults they stay around.
    """

    def __init__(
        self,
        backend: MemoryBackend | None = None,
        embedder: Embedder | None = None,
        *,
        weights: RetrievalWeights | None = None,
        max_chars: int = 20_000,
        near_duplicate_threshold: float | None = None,
        salience_rate: float = 0.1,
        supersession: bool = True,
    ) -> None:
        if near_duplicate_threshold is not None and not 0 < near_duplicate_threshold <= 1:
            raise InvalidInput(
                "near_duplicate_threshold must be in (0, 1]", field="near_duplicate_threshold"
            )
        if backend is None:
            from cerebra.memory.configured import configured_backend

            backend = configured_backend()
        self.backend = backend
        self._embedder = embedder
        self.weights = weights or RetrievalWeights()
        self.max_chars = max_chars
        self.near_duplicate_threshold = near_duplicate_threshold
        self.salience_rate = salience_rate
        self.supersession = supersession
        self.learned: LearnedWeights | None = None
        # write-behind vectors (cerebra.memory.write_behind), set by enable_write_behind
        self.backfill: VectorBackfill | None = None
        # searches' query embeddings, beside their full-text half (threads started on use)
        self.queries = Offload(workers=4, name="cerebra-query-embed")

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:  # built on first use, never at import or construction
            from cerebra.memory.configured import load_embedder

            self._embedder = load_embedder()  # the one `memory.embedder` names
        return self._embedder

    def scope(
        self,
        agent_id: str | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        context: RequestContext | None = None,
    ) -> Scope:
        """The scope of a call: the tenant from `context` (default tenant without one), and
        the agent / user / session named explicitly (None: any, in queries)."""
        for name, value in (
            ("agent_id", agent_id),
            ("user_id", user_id),
            ("session_id", session_id),
        ):
            if value is not None and (not isinstance(value, str) or len(value) > 200):
                raise InvalidInput(f"{name} must be a string of at most 200 characters", field=name)
        if context is not None:
            user_pin, agent_pin = context.confinement()
            user_id = confined_value("user_id", user_id, user_pin)
            agent_id = confined_value("agent_id", agent_id, agent_pin)
        return Scope(
            tenant_of(context), user_id=user_id, agent_id=agent_id, session_id=session_id
        )

    def _owned(self, context: RequestContext | None) -> Scope:
        """The scope of a call by memory id: the tenant, and the user (and agent) the
        principal is confined to — another user's memory id is simply not found."""
        if context is None:
            return Scope(tenant_of(None))
        user_pin, agent_pin = context.confinement()
        return Scope(context.tenant_id, user_id=user_pin, agent_id=agent_pin)

    def weights_for(self, scope: Scope) -> RetrievalWeights:
        """The weights a search in `scope` ranks with (learned ones, when there are)."""
        learned = self.learned
        return self.weights if learned is None else learned.weights_for(
            scope.tenant_id, scope.agent_id)

    def _backend(self, filters: Any) -> MemoryBackend:
        return filtered(self.backend, parse_filter(filters))

    # -- writes -----------------------------------------------------------------------
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
        expires_at: float | None = None,
        context: RequestContext | None = None,
        facts: tuple[Fact, ...] | None = None,
        vectors_later: bool = False,  # see put()
    ) -> str:
        """Store one memory and return its id (the existing id if the text is a duplicate);
        `facts`: the statements it makes, when the caller knows them (else extracted)."""
        item = new_memory(
            text,
            self.scope(agent_id, user_id=user_id, session_id=session_id, context=context),
            max_chars=self.max_chars,
            tags=tags,
            importance=importance,
            metadata=metadata,
            source=source,
            created_at=created_at,
            ttl=ttl,
            expires_at=expires_at,
            facts=facts,
        )
        return self.put([item], vectors_later=vectors_later)[0]

    def add_many(
        self,
        agent_id: str | None,
        items: Sequence[str | Mapping[str, Any]],
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        source: str = "user",
        context: RequestContext | None = None,
    ) -> list[str]:
        """Store a batch atomically: each item is a text or a dict with `text` and any of
        tags, importance, metadata, created_at, ttl, expires_at. Returns ids in order."""
        scope = self.scope(agent_id, user_id=user_id, session_id=session_id, context=context)
        return self.put(new_batch(items, scope, max_chars=self.max_chars, source=source))

    def put(self, items: Sequence[NewMemory], *, vectors_later: bool = False) -> list[str]:
        """Embed (one batch), mark near-duplicates, and store prepared items atomically.

        `vectors_later` (with write-behind on, `self.backfill`): store rows and full text now
        and let the backfill thread add the vectors within its linger (no near-duplicate
        merge: that needs the vector); embeds now where write-behind is off."""
        if not items:
            return []
        items = temporal.with_facts(items) if self.supersession else items
        if vectors_later and self.backfill is not None:
            uids = self.backend.put(items)
            self.backfill.submit(zip(uids, (i.text for i in items), strict=True))
            return uids
        vectors, passages = embed_with_passages(self.embedder, [i.text for i in items])
        model = self.embedder.model_id
        ready = [
            NewMemory(**{**i.__dict__, "embedding": vectors[n], "embedding_model": model,
                         "passages": passages[n]})
            for n, i in enumerate(items)
        ]
        if self.near_duplicate_threshold is not None:
            ready = self._mark_near_duplicates(ready, vectors, self.near_duplicate_threshold)
        return self.backend.put(ready)

    def _mark_near_duplicates(
        self, items: list[NewMemory], vectors: np.ndarray, threshold: float
    ) -> list[NewMemory]:
        out: list[NewMemory] = []
        for n, item in enumerate(items):
            exact = Scope(**stored_scope(item.scope))
            target: str | None = None
            for m in range(n):  # an earlier item of the same batch
                if items[m].scope == item.scope and float(vectors[m] @ vectors[n]) >= threshold:
                    target = f"#{m}"
                    break
            if target is None:
                found = self.backend.vector_candidates(exact, vectors[n], 1)
                if found and found[0].score >= threshold:
                    hit = self.backend.fetch([found[0].row_id])
                    target = hit[0].uid if hit else None
            out.append(NewMemory(**{**item.__dict__, "merge_into": target}) if target else item)
        return out

    def update(
        self,
        memory_id: str,
        *,
        text: Any = None,
        tags: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
        importance: float | None = None,
        ttl: float | None = None,
        expires_at: float | None = None,
        clear_expiry: bool = False,
        context: RequestContext | None = None,
    ) -> Memory:
        """Edit a memory; the replaced version stays readable through `history`."""
        fields: dict[str, Any] = {}
        if text is not None:
            clean = validate_text(text, max_chars=self.max_chars)
            vectors, passages = embed_with_passages(self.embedder, [clean])
            fields.update(
                text=clean,
                terms=terms_text(clean),
                content_hash=content_hash(clean),
                embedding=vectors[0],
                embedding_model=self.embedder.model_id,
                passages=passages[0],
            )
            if self.supersession and (old := self.backend.get(self._owned(context), memory_id)):
                fields["facts"] = temporal.changed_facts(old, clean, metadata_value(metadata))
        if tags is not None:
            fields["tags"] = tag_values(tags)
        if metadata is not None:
            fields["metadata"] = metadata_value(metadata)
        if importance is not None:
            fields["importance"] = importance_value(importance)
        fields["expires_at"] = expiry(ttl, expires_at, time.time())
        fields["clear_expiry"] = bool(clear_expiry)
        if not any(v is not None and v is not False for v in fields.values()):
            raise InvalidInput("nothing to update", field="text")
        memory = self.backend.update(self._owned(context), memory_id, MemoryChange(**fields))
        if memory is None:
            raise NotFound(f"memory {memory_id} not found", field="memory_id")
        return temporal.with_validity(self.backend, [memory])[0]

    def history(
        self, memory_id: str, *, context: RequestContext | None = None
    ) -> list[MemoryVersion]:
        """Every version of a memory, oldest first; the last one is the current version."""
        return self.backend.history(self._owned(context), memory_id)

    def reinforce(
        self,
        memory_ids: Sequence[str],
        reward: float,
        *,
        context: RequestContext | None = None,
    ) -> int:
        """Feedback on memories used in an answer: reward in [-1, 1] moves their salience."""
        if (
            isinstance(reward, bool)
            or not isinstance(reward, int | float)
            or not (-1 <= reward <= 1 and math.isfinite(reward))
        ):
            raise InvalidInput("reward must be a number between -1 and 1", field="reward")
        if isinstance(memory_ids, str):
            memory_ids = [memory_ids]
        delta = self.salience_rate * float(reward)
        return self.backend.adjust_salience(self._owned(context), list(memory_ids), delta)

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
        filters: Mapping[str, Any] | None = None,
        explain: bool = False,
        context: RequestContext | None = None,
        as_of: Any = None,
        relevant_only: bool = False,
        vectors_wait_s: float = READ_YOUR_WRITES_S,
    ) -> list[MemoryHit]:
        """Hybrid recall: full text + vector similarity + importance, salience and recency.
        `relevant_only` keeps only the hits that clear the weights' relevance floor (what
        Brain injects into a prompt; cerebra.memory.relevance). With write-behind, the
        search first waits up to `vectors_wait_s` for the vectors of what was acknowledged
        before it (read your writes); a memory still pending after that is found by its
        full text only."""
        if self.backfill is not None and vectors_wait_s > 0:
            self.backfill.flush(timeout=vectors_wait_s)
        query = validate_text(query, field="query", max_chars=self.max_chars)
        as_of = temporal.parse_as_of(as_of)
        moment = temporal.query_moment(query, as_of, time.time()) if self.supersession else None
        if k < 0:
            raise InvalidInput("k must be >= 0", field="k")
        scope = self.scope(agent_id, user_id=user_id, session_id=session_id, context=context)
        backend = self._backend(filters)
        if k == 0:
            return []
        vector: QueryVector = (  # embedded beside the full-text half where that overlaps
            self.queries.submit(embed_one, self.embedder, query)
            if getattr(backend, "overlaps_query_embedding", False)
            else self.embedder.embed([query])[0])
        weights = self.weights_for(scope)
        hits = hybrid_search(
            backend, scope, terms(query), vector, k=k, weights=weights,
            tags=tag_values(tags), stale=temporal.staleness(backend, moment, query),
        )
        if self.supersession and not relevant_only:  # validity for output, not for prompts
            hits = temporal.hits_with_validity(backend, hits)
        return floor_of(weights).keep(hits) if relevant_only else hits

    def similar(
        self,
        agent_id: str | None,
        text: Any,
        *,
        k: int = 5,
        tags: Sequence[str] = (),
        filters: Mapping[str, Any] | None = None,
        context: RequestContext | None = None,
        **scope: Any,
    ) -> list[MemoryHit]:
        """Pure semantic neighbours of `text`."""
        text = validate_text(text, max_chars=self.max_chars)
        where = parse_filter(filters)
        vector = self.embedder.embed([text])[0]
        found = self.backend.vector_candidates(
            self.scope(agent_id, context=context, **scope), vector, k, tag_values(tags), where=where
        )
        memories = {m.row_id: m for m in self.backend.fetch([c.row_id for c in found])}
        return [
            MemoryHit(memories[c.row_id], c.score, {"vector": c.score})
            for c in found
            if c.row_id in memories
        ]

    def by_tag(
        self,
        agent_id: str | None,
        tag: str,
        *,
        k: int = 50,
        filters: Mapping[str, Any] | None = None,
        context: RequestContext | None = None,
        **scope: Any,
    ) -> list[Memory]:
        tag_values([tag])
        where = self.scope(agent_id, context=context, **scope)
        return self.backend.by_tag(where, tag, k, parse_filter(filters))

    def recent(
        self,
        agent_id: str | None = None,
        *,
        k: int = 20,
        filters: Mapping[str, Any] | None = None,
        context: RequestContext | None = None,
        **scope: Any,
    ) -> list[Memory]:
        where = self.scope(agent_id, context=context, **scope)
        return self.backend.recent(where, k, parse_filter(filters))

    def get(self, memory_id: str, *, context: RequestContext | None = None) -> Memory | None:
        memory = self.backend.get(self._owned(context), memory_id)
        return None if memory is None else temporal.with_validity(self.backend, [memory])[0]

    def count(
        self, agent_id: str | None = None, *, context: RequestContext | None = None, **scope: Any
    ) -> int:
        return self.backend.count(self.scope(agent_id, context=context, **scope))

    # -- deletion and upkeep ----------------------------------------------------------
    def delete(self, memory_id: str, *, context: RequestContext | None = None) -> bool:
        return self.backend.delete(self._owned(context), [memory_id]) > 0

    def delete_all(
        self,
        agent_id: str | None = None,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        context: RequestContext | None = None,
    ) -> int:
        """Hard delete of every memory in the scope (text, vectors, full text, history)."""
        return self.backend.delete_scope(
            self.scope(agent_id, user_id=user_id, session_id=session_id, context=context)
        )

    def prune(
        self,
        agent_id: str | None = None,
        *,
        threshold: float = 0.5,
        ttl: float | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        context: RequestContext | None = None,
    ) -> int:
        """Delete expired memories and those worth less than `threshold` (importance +
        salience / 2); with `ttl`, only memories older than `ttl` seconds are judged."""
        check_prune(threshold, ttl)
        now = time.time()
        return self.backend.prune(
            self.scope(agent_id, user_id=user_id, session_id=session_id, context=context),
            threshold=float(threshold),
            older_than=None if ttl is None else now - float(ttl),
            now=now,
        )

    def start_pruner(
        self,
        agent_id: str | None = None,
        *,
        interval: float = 3600,
        ttl: float | None = 86400,
        threshold: float = 0.5,
        user_id: str | None = None,
        session_id: str | None = None,
        context: RequestContext | None = None,
        runner: JobRunner | None = None,
    ) -> Pruner:
        """Run `prune` now and every `interval` seconds, as a periodic job of `runner` (a
        private one when None); one schedule per scope, named after it."""
        from cerebra.memory.pruner import Pruner

        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            raise InvalidInput("interval must be a positive number of seconds", field="interval")
        check_prune(threshold, ttl)
        self.scope(agent_id, user_id=user_id, session_id=session_id, context=context)
        return Pruner(
            lambda: self.prune(
                agent_id,
                threshold=threshold,
                ttl=ttl,
                user_id=user_id,
                session_id=session_id,
                context=context,
            ),
            interval=float(interval),
            runner=runner,
            name=f"memory-prune:{tenant_of(context)}:{agent_id or '*'}:{user_id or '*'}:"
            f"{session_id or '*'}",
        ).start()
