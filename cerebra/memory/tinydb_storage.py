"""TinyDB storage for the memory backend: one JSON file, written atomically, with transactions.

TinyDB's own JSONStorage rewrites its file in place (seek, write, truncate), so a crash in
the middle of a write leaves a torn file. `AtomicJSONStorage` keeps the data in memory and
writes a new file beside the old one, fsyncs it and renames it over the old one (then fsyncs
the folder), so the file always holds one complete committed state.

`transaction()` groups TinyDB operations (each of which would write the file) into one
write at the end, or none: on an exception, the in-memory data is dropped and read back
from the file, so a failed batch leaves nothing behind. Transactions nest (the outermost
one writes).

One process owns a file: opening takes an exclusive `flock` on `<file>.lock`, and a second
opener (another process, or a second storage in this one) gets an error instead of
silently losing the first one's writes. Threads share one storage under the backend's lock.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb.storages import Storage


class StoreBusy(RuntimeError):
    """The file is open in another storage (process)."""


class AtomicJSONStorage(Storage):
    """A JSON file replaced atomically on every commit; reads come from memory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_handle = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_handle.close()
            raise StoreBusy(f"{self.path} is open in another process or store") from exc
        self._data: dict[str, dict[str, Any]] | None = None
        self._loaded = False
        self._depth = 0
        self._dirty = False
        self.discards = 0  # dropped transactions: caches of the data must be rebuilt

    # -- TinyDB's Storage interface ----------------------------------------------------
    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self._loaded:
            self._data = self._load()
            self._loaded = True
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self._loaded = True
        self._dirty = True
        if not self._depth:
            self._commit()

    def close(self) -> None:
        if not self._lock_handle.closed:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Operations inside are written once at the end, or not at all on an exception."""
        self._depth += 1
        try:
            yield
        except BaseException:
            if self._depth == 1:
                self._discard()
            raise
        finally:
            self._depth -= 1
        if self._depth == 0 and self._dirty:
            self._commit()

    def _commit(self) -> None:
        """Write the data; if that fails, fall back to what the file holds."""
        try:
            self._flush()
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        """Drop uncommitted changes: the next read loads the committed file."""
        self._dirty = False
        self._loaded = False
        self._data = None
        self.discards += 1

    # -- the file ----------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]] | None:
        if not self.path.exists():
            return None
        raw = self.path.read_text(encoding="utf-8")
        return json.loads(raw) if raw.strip() else None

    def _flush(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                # dumps, not dump: dump streams through the pure-Python encoder (10x slower)
                handle.write(json.dumps(self._data or {}, separators=(",", ":")))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        self._dirty = False
