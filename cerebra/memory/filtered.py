"""A backend view whose candidate queries carry one parsed metadata filter (applied inside
the backend's own queries), so retrieval runs unchanged over filtered candidates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from cerebra.memory.base import Candidate, MemoryBackend, Scope, SearchCandidates
from cerebra.memory.filters import Node
from cerebra.memory.retrieval import gather_candidates


def filtered(backend: MemoryBackend, where: Node | None) -> MemoryBackend:
    """`backend` itself without a filter, else a view that passes `where` to every query."""
    return backend if where is None else cast(MemoryBackend, _Filtered(backend, where))


class _Filtered:
    """A backend view whose candidate queries carry one parsed filter."""

    def __init__(self, backend: MemoryBackend, where: Node) -> None:
        self._backend = backend
        self._where = where

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def text_candidates(
        self, scope: Scope, terms: Sequence[str], limit: int, tags: Sequence[str] = (), **_: Any
    ) -> list[Candidate]:
        return self._backend.text_candidates(scope, terms, limit, tags, where=self._where)

    def vector_candidates(
        self, scope: Scope, vector: np.ndarray, limit: int, tags: Sequence[str] = (), **_: Any
    ) -> list[Candidate]:
        return self._backend.vector_candidates(scope, vector, limit, tags, where=self._where)

    def search_candidates(
        self,
        scope: Scope,
        terms: Sequence[str],
        vector: np.ndarray,
        limit: int,
        tags: Sequence[str] = (),
        **_: Any,
    ) -> SearchCandidates:
        inner = getattr(self._backend, "search_candidates", None)
        if callable(inner):
            found: SearchCandidates = inner(scope, terms, vector, limit, tags, where=self._where)
            return found
        return gather_candidates(cast(MemoryBackend, self), scope, terms, vector, limit, tags)
