"""The audit chains as a JSON-lines file: a sink that appends to it and a reader that
verifies it (the sink's files and `cerebra audit export` files share one format).

Lines are `{"type": "entry", "seq", "prev_hash", "hash", <event fields>}`,
`{"type": "checkpoint", …}` and, in exports, `{"type": "chain", "tenant_id", "head_seq",
"head_hash"}` naming where a chain ended when it was exported. The file keeps its own chain
per tenant (numbered like the database's, but its own). Processes sharing the file append
under an exclusive lock (`<file>.lock`, flock): each first reads what others appended since
its last look (heads and event ids), so chains stay gap-free and an event id is written once.
A line torn by a crash mid-append is ended and skipped; the events in it come back from the
audit journal. The sink keeps the ids of the file's events in memory (about 100 bytes each).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cerebra.governance.audit import (
    GENESIS,
    AuditEvent,
    ChainEntry,
    Checkpoint,
    Signer,
    canonical,
    checkpoints_for,
    link,
)
from cerebra.governance.audit_sinks import by_tenant, unique

try:
    import fcntl
except ImportError:  # Windows: the lock holds within one process only
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cerebra.audit")


def dumps(record: dict[str, Any]) -> bytes:
    return canonical(record).encode() + b"\n"


class JsonlAuditSink:
    """Appends chained entries (and signed checkpoints) to a JSON-lines file."""

    name = "jsonl"

    def __init__(self, path: Path, *, signer: Signer | None = None,
                 checkpoint_every: int = 100, fsync: bool = True) -> None:
        self.path = Path(path)
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.fsync = fsync
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._thread_lock = threading.Lock()
        self._offset = 0  # how far this process has read the file
        self._torn = False  # the file ends inside a line (a crashed append)
        self._heads: dict[str, tuple[int, str]] = {}
        self._ids: set[str] = set()

    def append(self, events: Sequence[AuditEvent]) -> int:
        with self._thread_lock, self._locked():
            self._catch_up()
            groups = by_tenant([e for e in unique(events) if e.event_id not in self._ids])
            if not groups:
                return 0
            lines: list[bytes] = [b"\n"] if self._torn else []
            heads = dict(self._heads)
            added: list[str] = []
            for tenant, fresh in groups.items():
                entries = link(*heads.get(tenant, (0, GENESIS)), fresh)
                signed = {c.seq: c for c in checkpoints_for(
                    entries, tenant, self.signer, self.checkpoint_every)}
                for entry in entries:
                    lines.append(dumps(entry.to_line()))
                    if entry.seq in signed:
                        lines.append(dumps(signed[entry.seq].to_line()))
                heads[tenant] = (entries[-1].seq, entries[-1].hash)
                added.extend(e.event_id for e in fresh)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as fh:
                fh.write(b"".join(lines))
                fh.flush()
                if self.fsync:
                    os.fsync(fh.fileno())
                self._offset = fh.tell()
            self._torn = False
            self._heads = heads
            self._ids.update(added)
            return len(added)

    def _catch_up(self) -> None:
        """Read what was appended since the last look: heads and event ids."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return
        complete, _, rest = data.rpartition(b"\n")
        self._offset += len(complete) + 1 if complete or data.startswith(b"\n") else 0
        self._torn = bool(rest)
        if rest:
            log.warning("audit file %s ends inside a line (a crashed append); it is ended "
                        "before the next entries", self.path)
        for line in complete.split(b"\n") if complete else []:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("type") == "entry":
                self._heads[str(record["tenant_id"])] = (int(record["seq"]), str(record["hash"]))
                self._ids.add(str(record["event_id"]))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        pass


class JsonlChainSource:
    """The chains in a JSON-lines file (a sink's file or an export), in file order."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.unreadable: list[int] = []  # line numbers that are not JSON records
        self._entries: dict[str, list[ChainEntry]] = {}
        self._checkpoints: dict[str, list[Checkpoint]] = {}
        self._heads: dict[str, tuple[int, str]] = {}
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    self._take(record)
                except (ValueError, KeyError, TypeError):
                    self.unreadable.append(number)

    def _take(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        tenant = str(record["tenant_id"])
        if kind == "entry":
            self._entries.setdefault(tenant, []).append(ChainEntry.from_line(record))
        elif kind == "checkpoint":
            self._checkpoints.setdefault(tenant, []).append(Checkpoint.from_line(record))
        elif kind == "chain":
            self._heads[tenant] = (int(record["head_seq"]), str(record["head_hash"]))
        else:
            raise ValueError(f"unknown record type {kind!r}")

    def tenants(self) -> list[str]:
        return sorted({*self._entries, *self._checkpoints, *self._heads})

    def hashes(self, tenant_id: str) -> dict[str, int]:
        return {e.hash: e.seq for e in self._entries.get(tenant_id, [])}

    def entries(self, tenant_id: str) -> Iterator[ChainEntry]:
        return iter(self._entries.get(tenant_id, []))

    def checkpoints(self, tenant_id: str) -> list[Checkpoint]:
        return list(self._checkpoints.get(tenant_id, []))

    def head(self, tenant_id: str) -> tuple[int, str] | None:
        return self._heads.get(tenant_id)
