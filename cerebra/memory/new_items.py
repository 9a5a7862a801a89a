"""Prepared writes: the arguments of `MemoryStore.add` and `add_many` checked and turned into
NewMemory items (clean text, its indexed terms and hash, tags, metadata, importance, expiry),
each problem an InvalidInput naming its field (`items[n].field` in a batch)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cerebra.errors import InvalidInput
from cerebra.memory.base import NewMemory, Scope
from cerebra.memory.facts import Fact
from cerebra.memory.text import content_hash, terms_text
from cerebra.memory.validation import (
    expiry,
    importance_value,
    metadata_value,
    tag_values,
    validate_text,
)

BATCH_FIELDS = frozenset({"text", "tags", "importance", "metadata", "created_at", "ttl",
                          "expires_at"})


def new_memory(
    text: Any,
    scope: Scope,
    *,
    max_chars: int,
    tags: Iterable[str] = (),
    importance: float = 0.5,
    metadata: dict[str, Any] | None = None,
    source: str = "user",
    created_at: float | None = None,
    ttl: float | None = None,
    expires_at: float | None = None,
    facts: tuple[Fact, ...] | None = None,
) -> NewMemory:
    """One memory to store in `scope`, checked."""
    clean = validate_text(text, max_chars=max_chars)
    if created_at is not None and (
        isinstance(created_at, bool) or not isinstance(created_at, int | float)
    ):
        raise InvalidInput("created_at must be a UNIX time", field="created_at")
    return NewMemory(
        text=clean,
        scope=scope,
        terms=terms_text(clean),
        content_hash=content_hash(clean),
        tags=tag_values(tags),
        metadata=metadata_value(metadata),
        importance=importance_value(importance),
        source=str(source)[:32],
        created_at=None if created_at is None else float(created_at),
        expires_at=expiry(ttl, expires_at, time.time()),
        facts=facts,
    )


def new_batch(items: Any, scope: Scope, *, max_chars: int, source: str) -> list[NewMemory]:
    """A batch: each item a text or a dict with `text` and any of BATCH_FIELDS."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidInput("items must be a list", field="items")
    prepared = []
    for n, item in enumerate(items):
        spec: Mapping[str, Any] = {"text": item} if isinstance(item, str | bytes) else item
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"items[{n}] must be a text or an object", field=f"items[{n}]")
        unknown = set(spec) - BATCH_FIELDS
        if unknown:
            raise InvalidInput(
                f"items[{n}] has unknown fields: {', '.join(sorted(unknown))}",
                field=f"items[{n}]",
            )
        try:
            prepared.append(new_memory(
                spec.get("text"), scope, max_chars=max_chars,
                tags=spec.get("tags") or (), importance=spec.get("importance", 0.5),
                metadata=spec.get("metadata"), source=source,
                created_at=spec.get("created_at"), ttl=spec.get("ttl"),
                expires_at=spec.get("expires_at"),
            ))
        except InvalidInput as exc:
            raise InvalidInput(
                f"items[{n}]: {exc.message}", field=f"items[{n}].{exc.field}"
            ) from exc
    return prepared
