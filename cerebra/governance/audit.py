"""Audit events and their hash chain: what an entry holds, how it is hashed and linked, and
the signed checkpoints over a chain's head.

Each tenant has its own chain (entries 1, 2, 3, … with no gap). An entry's hash is SHA-256
over a canonical JSON of its sequence number, the previous entry's hash and every field of
the event, so changing, removing, adding or moving one entry breaks a link that
`cerebra.governance.audit_verify` finds. Every `checkpoint_every` entries a checkpoint
signs (tenant, seq, head hash, count) with Ed25519: a chain rewritten from the start, hashes
and all, still fails at the first checkpoint it covers unless the signing key was taken too.
One chain per tenant (rather than one global chain) lets a tenant's export be checked on its
own, and processes appending for different tenants do not wait for each other.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from cerebra.db.schema import DEFAULT_TENANT
from cerebra.ids import new_id

GENESIS = "0" * 64  # the "previous hash" of each chain's first entry

ACTIONS = (
    "request", "login", "login.failed", "key.create", "key.revoke", "policy.decision",
    "catalog.change", "model.swap", "memory.delete", "config.change",
)  # the actions Cerebra records; others may be recorded too


def canonical(value: Any) -> str:
    """The one JSON text a value hashes as: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


@dataclass(frozen=True)
class AuditEvent:
    """One action: who (actor) did what (action) to what (target), with what outcome."""

    action: str
    actor: str = ""  # principal label, credential id or user
    target: str = ""
    outcome: str = "ok"
    tenant_id: str = DEFAULT_TENANT
    details: dict[str, Any] = field(default_factory=dict)
    constitution_hash: str = ""  # the active constitution's hash, set by the caller
    trace_id: str = ""
    time: float = 0.0  # set by `stamped()` (UNIX seconds) when left 0
    event_id: str = ""  # set by `stamped()`; a sink stores each event id once

    def stamped(self, constitution_hash: str = "") -> AuditEvent:
        """This event with an id and a time (kept when already set) and, when it has none,
        `constitution_hash`; itself when nothing is missing."""
        if (self.event_id and self.time and self.tenant_id
                and (self.constitution_hash or not constitution_hash)):
            return self
        return replace(self, event_id=self.event_id or new_id(),
                       time=self.time or time.time(), tenant_id=self.tenant_id or DEFAULT_TENANT,
                       constitution_hash=self.constitution_hash or constitution_hash)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name (`details` itself, not a copy: callers read it to hash or
        write it). Not `dataclasses.asdict`, whose deep copy was most of an event's cost."""
        return {name: getattr(self, name) for name in _EVENT_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


_EVENT_FIELDS = tuple(f.name for f in fields(AuditEvent))


def entry_hash(seq: int, prev_hash: str, event: AuditEvent) -> str:
    """SHA-256 (hex) over the canonical JSON of seq, prev_hash and the event's fields."""
    payload = {"seq": seq, "prev_hash": prev_hash, **event.to_dict()}
    return hashlib.sha256(canonical(payload).encode()).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    """An event at its place in its tenant's chain."""

    seq: int
    prev_hash: str
    hash: str
    event: AuditEvent

    def self_consistent(self) -> bool:
        return entry_hash(self.seq, self.prev_hash, self.event) == self.hash

    def to_line(self) -> dict[str, Any]:
        """As one export / JSON-lines record."""
        return {"type": "entry", "seq": self.seq, "prev_hash": self.prev_hash,
                "hash": self.hash, **self.event.to_dict()}

    @classmethod
    def from_line(cls, data: dict[str, Any]) -> ChainEntry:
        return cls(seq=int(data["seq"]), prev_hash=str(data["prev_hash"]),
                   hash=str(data["hash"]), event=AuditEvent.from_dict(data))


def link(head_seq: int, head_hash: str, events: Iterable[AuditEvent]) -> list[ChainEntry]:
    """Chain `events` after the head (seq, hash): seq head+1, head+2, …"""
    out: list[ChainEntry] = []
    seq, prev = head_seq, head_hash
    for event in events:
        seq += 1
        digest = entry_hash(seq, prev, event)
        out.append(ChainEntry(seq, prev, digest, event))
        prev = digest
    return out


@dataclass(frozen=True)
class Checkpoint:
    """A signature over a chain's head: (tenant, seq, hash, count) signed with Ed25519."""

    tenant_id: str
    seq: int
    hash: str
    count: int
    public_key: str  # hex of the Ed25519 verify key
    signature: str  # hex
    created_at: float = 0.0

    def message(self) -> bytes:
        return signed_message(self.tenant_id, self.seq, self.hash, self.count)

    def signature_ok(self) -> bool:
        from nacl.exceptions import BadSignatureError
        from nacl.signing import VerifyKey

        try:
            VerifyKey(bytes.fromhex(self.public_key)).verify(
                self.message(), bytes.fromhex(self.signature))
        except (BadSignatureError, ValueError, TypeError):
            return False
        return True

    def to_line(self) -> dict[str, Any]:
        return {"type": "checkpoint", **asdict(self)}

    @classmethod
    def from_line(cls, data: dict[str, Any]) -> Checkpoint:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def signed_message(tenant_id: str, seq: int, head_hash: str, count: int) -> bytes:
    return canonical({"tenant_id": tenant_id, "seq": seq, "hash": head_hash,
                      "count": count}).encode()


class Signer:
    """Signs checkpoints with one Ed25519 key."""

    def __init__(self, seed: bytes) -> None:
        from nacl.signing import SigningKey

        self._key = SigningKey(seed)
        self.public_key = self._key.verify_key.encode().hex()

    def checkpoint(self, tenant_id: str, entry: ChainEntry) -> Checkpoint:
        message = signed_message(tenant_id, entry.seq, entry.hash, entry.seq)
        signature = self._key.sign(message).signature.hex()
        return Checkpoint(tenant_id, entry.seq, entry.hash, entry.seq, self.public_key,
                          signature, time.time())

    @classmethod
    def from_hex(cls, text: str) -> Signer:
        seed = bytes.fromhex(text.strip())
        if len(seed) != 32:
            raise ValueError("an audit signing key is 32 bytes (64 hex digits)")
        return cls(seed)

    @classmethod
    def from_file(cls, path: Path) -> Signer:
        """The key in `path` (hex seed); created with mode 0600 (and its public key beside
        it, `<name>.pub`) when missing."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(os.urandom(32).hex() + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        signer = cls.from_hex(path.read_text())
        pub = path.with_name(path.name + ".pub")
        if not pub.exists():
            pub.write_text(signer.public_key + "\n")
        return signer


def checkpoints_for(entries: Sequence[ChainEntry], tenant_id: str, signer: Signer | None,
                    every: int) -> list[Checkpoint]:
    """The checkpoints due among freshly chained entries (each seq that is a multiple of
    `every`)."""
    if signer is None or every <= 0:
        return []
    return [signer.checkpoint(tenant_id, e) for e in entries if e.seq % every == 0]
