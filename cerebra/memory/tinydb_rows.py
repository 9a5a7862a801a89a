"""The TinyDB backend's documents: a memory row and a history version as JSON, and back.

A memory document holds what the SQL backends spread over tables: scope, text, the indexed
full-text terms (cerebra.memory.text.terms, space-joined), tags, metadata, the lifecycle
fields and the embedding as base64 of its float32 bytes (exact, and a quarter of the size
of a JSON list of floats). `Row` is a decoded document: the Memory, its terms, its content
hash and its vector.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from cerebra.memory.base import Memory, MemoryChange, MemoryVersion, NewMemory, Scope
from cerebra.memory.sqlvocab import stored_scope

SCOPE_FIELDS = ("tenant_id", "user_id", "agent_id", "session_id")


@dataclass(frozen=True)
class Row:
    memory: Memory
    terms: list[str]
    content_hash: str
    vector: np.ndarray | None
    term_set: frozenset[str] = frozenset()


def encode_vector(vector: np.ndarray | None) -> str | None:
    if vector is None:
        return None
    return base64.b64encode(np.asarray(vector, dtype=np.float32).tobytes()).decode("ascii")


def decode_vector(blob: str | None) -> np.ndarray | None:
    return None if not blob else np.frombuffer(base64.b64decode(blob), dtype=np.float32)


def row_from_doc(doc_id: int, doc: dict[str, Any]) -> Row:
    memory = Memory(
        uid=doc["uid"],
        text=doc["text"],
        tenant_id=doc["tenant_id"],
        user_id=doc["user_id"],
        agent_id=doc["agent_id"],
        session_id=doc["session_id"],
        tags=tuple(doc["tags"]),
        metadata=copy.deepcopy(doc["metadata"]),  # callers may change theirs, not the store's
        importance=float(doc["importance"]),
        salience=float(doc["salience"]),
        source=doc["source"],
        created_at=float(doc["created_at"]),
        updated_at=float(doc["updated_at"]),
        expires_at=None if doc["expires_at"] is None else float(doc["expires_at"]),
        row_id=doc_id,
        version=int(doc["version"]),
    )
    terms = doc["terms"].split() if isinstance(doc.get("terms"), str) else []
    vector = decode_vector(doc.get("embedding"))
    return Row(memory, terms, doc["content_hash"], vector, frozenset(terms))


def new_document(uid: str, item: NewMemory, now: float) -> dict[str, Any]:
    """The document of a new memory (version 1, salience 0)."""
    return {
        **stored_scope(item.scope),
        "uid": uid,
        "text": item.text,
        "terms": item.terms,
        "content_hash": item.content_hash,
        "tags": list(dict.fromkeys(item.tags)),
        "metadata": copy.deepcopy(item.metadata),
        "source": item.source,
        "importance": item.importance,
        "salience": 0.0,
        "created_at": item.created_at if item.created_at is not None else now,
        "updated_at": now,
        "expires_at": item.expires_at,
        "embedding": encode_vector(item.embedding),
        "embedding_model": item.embedding_model,
        "version": 1,
    }


def changed_fields(m: Memory, change: MemoryChange, now: float) -> dict[str, Any]:
    """The document fields an update of `m` by `change` writes (a new version)."""
    fields: dict[str, Any] = {"version": m.version + 1, "updated_at": now}
    if change.text is not None:
        fields.update(
            text=change.text,
            content_hash=change.content_hash,
            terms=change.terms or "",
            embedding=encode_vector(change.embedding),
            embedding_model=change.embedding_model,
        )
    if change.tags is not None:
        fields["tags"] = list(dict.fromkeys(change.tags))
    if change.metadata is not None:
        fields["metadata"] = copy.deepcopy(change.metadata)
    if change.importance is not None:
        fields["importance"] = change.importance
    if change.clear_expiry or change.expires_at is not None:
        fields["expires_at"] = None if change.clear_expiry else change.expires_at
    return fields


def version_document(m: Memory, event: str, now: float) -> dict[str, Any]:
    """The history document of `m`'s current version, replaced now by `event`."""
    return {
        "memory_uid": m.uid,
        "tenant_id": m.tenant_id,
        "version": m.version,
        "text": m.text,
        "tags": list(m.tags),
        "metadata": m.metadata,
        "importance": m.importance,
        "event": event,
        "valid_from": m.updated_at,
        "valid_to": now,
    }


def version_from_doc(uid: str, d: dict[str, Any]) -> MemoryVersion:
    return MemoryVersion(
        uid,
        int(d["version"]),
        d["text"],
        tuple(d["tags"]),
        copy.deepcopy(d["metadata"]),
        float(d["importance"]),
        d["event"],
        float(d["valid_from"]),
        float(d["valid_to"]),
    )


def scope_test(scope: Scope) -> list[tuple[str, str]]:
    """The (field, value) pairs a memory of `scope` has, beyond its tenant."""
    return [(k, v) for k, v in scope.as_filters().items() if k != "tenant_id"]


def in_scope(memory: Memory, pairs: list[tuple[str, str]]) -> bool:
    return all(getattr(memory, name) == value for name, value in pairs)


def is_live(memory: Memory, now: float) -> bool:
    return memory.expires_at is None or memory.expires_at > now
