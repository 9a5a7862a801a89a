"""Verifying and exporting audit chains: walk each in order and name the first entry that
is wrong; write them out as JSON lines with their checkpoints.

What is checked, per tenant chain: numbers run 1, 2, 3, … with no gap and no repeat; each
entry's hash matches its content; each entry links to the previous entry's hash; each signed
checkpoint's signature is good, made by a trusted key, and matches the entry it covers; the
chain ends where the recorded head says (the database keeps the head beside the chain, so a
removed or added last entry shows too). The first failure is named with what it looks like:
modified, deleted, inserted, reordered or a bad checkpoint signature.

A walk can resume after a prefix an earlier walk found intact (`Resume`: that prefix's last
seq and hash and the checkpoints among it): it then checks only the entries after it, and
tampering inside the prefix goes unseen until a whole-chain walk (cerebra.governance.
audit_verified keeps the prefix and decides when to walk everything).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cerebra.governance.audit import GENESIS, ChainEntry, Checkpoint


@dataclass(frozen=True)
class Problem:
    tenant_id: str
    seq: int
    kind: str  # modified | deleted | inserted | reordered | bad checkpoint signature
    message: str

    def __str__(self) -> str:
        return f"tenant {self.tenant_id}: entry {self.seq}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class ChainReport:
    tenant_id: str
    entries: int
    checkpoints: int
    head_hash: str
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Resume:
    """Where a walk resumes: after entry `seq` (hash `hash`), a prefix verified before, with
    `checkpoints` signed checkpoints among its entries. Resume(0, GENESIS, 0) is the start."""
    seq: int
    hash: str
    checkpoints: int = 0


class ChainSource(Protocol):
    """What verification reads: the database or a JSON-lines file."""

    def tenants(self) -> list[str]: ...

    def hashes(self, tenant_id: str) -> dict[str, int]: ...  # entry hash → seq

    def entries(self, tenant_id: str) -> Iterator[ChainEntry]: ...  # ordered by seq

    def checkpoints(self, tenant_id: str) -> list[Checkpoint]: ...

    def head(self, tenant_id: str) -> tuple[int, str] | None: ...  # None: not recorded


def verify_chain(
    tenant_id: str,
    entries: Iterable[ChainEntry],
    checkpoints: Sequence[Checkpoint],
    *,
    head: tuple[int, str] | None = None,
    hashes: Mapping[str, int] | None = None,
    trusted_keys: Collection[str] = (),
    resume: Resume | None = None,
) -> ChainReport:
    """Check one chain; `hashes` (every stored hash → its seq) tells a moved entry from a
    changed one; `trusted_keys` (hex), when given, are the only keys a checkpoint may use.

    With `resume`, `entries` are those after `resume.seq` (one at or before it reads as
    inserted) and the walk links the first to `resume.hash`; checkpoints at or before it are
    not looked at (the report counts `resume.checkpoints` for them), and `hashes` need only
    hold the entries after it: an entry moved there from inside the prefix then reads as
    "modified", not "reordered". Nothing inside the prefix is checked."""
    start = resume or Resume(0, GENESIS, 0)
    checkpoints = [c for c in checkpoints if c.seq > start.seq]
    by_seq = {c.seq: c for c in checkpoints}
    hashes = hashes or {}
    count, prev_hash = start.seq, start.hash

    def fail(seq: int, kind: str, message: str) -> ChainReport:
        return ChainReport(tenant_id, count, start.checkpoints + len(checkpoints), prev_hash,
                           Problem(tenant_id, seq, kind, message))

    if head is not None and head[0] < count:  # the head moved back over the prefix
        return fail(head[0] + 1, "inserted", f"it lies beyond the recorded head (entry {head[0]})")
    for entry in entries:
        seq, expected = entry.seq, count + 1
        if head is not None and seq > head[0]:
            return fail(seq, "inserted", f"it lies beyond the recorded head (entry {head[0]})")
        if seq < expected:
            where = "before the chain's first entry" if seq < 1 else "a second entry numbered so"
            return fail(seq, "inserted", where)
        if seq > expected:
            return fail(expected, "deleted",
                        f"it is missing: the chain jumps from entry {expected - 1} to {seq}")
        consistent = entry.self_consistent()
        if entry.prev_hash != prev_hash:
            other = hashes.get(entry.prev_hash)
            if other is not None and other != seq - 1:
                return fail(seq, "reordered",
                            f"it links to the entry now at {other}, not to entry {seq - 1}")
            if consistent and seq > 1 and seq - 1 != start.seq:  # (the resume entry is intact)
                return fail(seq - 1, "modified",
                            f"changed and re-hashed: entry {seq} links to another hash")
            return fail(seq, "modified", "its link to the previous entry was changed")
        if not consistent:
            return fail(seq, "modified", "its content does not match its hash")
        checkpoint = by_seq.get(seq)
        if checkpoint is not None:
            if not checkpoint.signature_ok():
                return fail(seq, "bad checkpoint signature", "the signature does not verify")
            if trusted_keys and checkpoint.public_key not in trusted_keys:
                return fail(seq, "bad checkpoint signature",
                            f"signed by key {checkpoint.public_key[:16]}…, not the audit key")
            if checkpoint.hash != entry.hash or checkpoint.count != seq:
                return fail(seq, "modified",
                            "it differs from the signed checkpoint (the chain was rewritten)")
        count, prev_hash = seq, entry.hash
    beyond = [c.seq for c in checkpoints if c.seq > count]
    if beyond:
        return fail(count + 1, "deleted",
                    f"a signed checkpoint covers entry {min(beyond)}, the chain ends at {count}")
    if head is not None:
        if head[0] > count:
            return fail(count + 1, "deleted",
                        f"it is missing: the recorded head is entry {head[0]}, "
                        f"the chain ends at {count}")
        if count and head[1] != prev_hash:
            return fail(count, "modified", "it does not match the recorded head")
    return ChainReport(tenant_id, count, start.checkpoints + len(checkpoints), prev_hash)


def verify_source(source: ChainSource, trusted_keys: Collection[str] = (),
                  tenant_id: str | None = None) -> list[ChainReport]:
    """Every tenant's chain (or one tenant's) in `source`."""
    tenants = [tenant_id] if tenant_id is not None else source.tenants()
    return [
        verify_chain(t, source.entries(t), source.checkpoints(t), head=source.head(t),
                     hashes=source.hashes(t), trusted_keys=trusted_keys)
        for t in tenants
    ]


def export_lines(source: ChainSource, tenant_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Each chain (or one tenant's) as records: a "chain" line naming its head, then its
    entries in order, each checkpoint after the entry it signs. The head is read first and
    entries past it (appended meanwhile) are left for the next export."""
    for tenant in [tenant_id] if tenant_id is not None else source.tenants():
        head = source.head(tenant)
        checkpoints = {c.seq: c for c in source.checkpoints(tenant)}
        if head is not None:
            yield {"type": "chain", "tenant_id": tenant, "head_seq": head[0],
                   "head_hash": head[1]}
        for entry in source.entries(tenant):
            if head is not None and entry.seq > head[0]:
                break
            yield entry.to_line()
            if (checkpoint := checkpoints.pop(entry.seq, None)) is not None:
                yield checkpoint.to_line()
