"""A local spill file: records a sink could not write to its database, kept on disk until a
replay puts them there.

Append-only JSON lines, one record per line, each framed as `<crc32 hex> <json>\\n` and
fsync'd, so a line torn by a crash mid-append (or damaged later) fails its checksum and is
skipped with a warning instead of poisoning the rest. Records that can never be written (a
bad row, a torn line) go to a second file beside it, `<name>.rejected.jsonl`, with the error:
kept for a person to look at, never replayed. Appends and replays hold an exclusive lock on
`<name>.lock` (flock; on systems without it, a lock within the process), so processes that
share the data folder do not lose each other's lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

try:
    import fcntl
except ImportError:  # Windows: the lock only holds within one process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cerebra.spill")

T = TypeVar("T")


def frame(payload: dict[str, Any], *, strict: bool = True) -> bytes:
    """One line: checksum, space, compact JSON, newline. `strict=False` writes repr() for
    values JSON cannot hold (for the rejected file, which must take anything)."""
    text = json.dumps(
        payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
        default=None if strict else repr,
    ).encode()
    return b"%08x %s\n" % (zlib.crc32(text), text)


def unframe(line: bytes) -> dict[str, Any]:
    """The payload of one line (without its newline); ValueError if torn or damaged."""
    crc, sep, text = line.partition(b" ")
    if not sep or len(crc) != 8:
        raise ValueError("no checksum")
    try:
        expected = int(crc, 16)
    except ValueError:
        raise ValueError("no checksum") from None
    if zlib.crc32(text) != expected:
        raise ValueError("checksum mismatch")
    payload = json.loads(text)
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    return payload


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not possible everywhere (Windows)
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class ReplayResult:
    replayed: int = 0  # records handed over in batches that went through (committed or rejected)
    skipped: int = 0  # torn/damaged lines and undecodable records, moved to the rejected file
    remaining: int = 0  # records left in the file (the database failed again)


class SpillFile(Generic[T]):
    """Records of type T on disk; `encode`/`decode` turn one into a JSON object and back."""

    def __init__(
        self,
        path: Path,
        encode: Callable[[T], dict[str, Any]],
        decode: Callable[[dict[str, Any]], T],
    ) -> None:
        self.path = Path(path)
        self.rejected_path = self.path.with_name(self.path.stem + ".rejected.jsonl")
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._encode = encode
        self._decode = decode
        self._thread_lock = threading.RLock()
        self._depth = 0  # how deep the holding thread is in _locked()

    # -- writing ----------------------------------------------------------------------------
    def encode(self, item: T) -> bytes:
        """The framed line for `item`; ValueError/TypeError if it cannot be JSON."""
        return frame({"record": self._encode(item), "spilled_at": time.time()})

    def append(self, lines: Sequence[bytes]) -> None:
        """Append framed lines and fsync; OSError if the disk refuses."""
        if lines:
            with self._locked():
                self._append(self.path, lines)

    def reject(self, entries: Sequence[tuple[T, str]]) -> None:
        """Keep (record, error) entries in the rejected file; OSError if the disk refuses."""
        lines = []
        for item, error in entries:
            payload: dict[str, Any] = {"error": error, "rejected_at": time.time()}
            try:
                payload["record"] = self._encode(item)
            except Exception as exc:  # keep what can be said about it
                payload["record_repr"] = repr(item)
                payload["encode_error"] = repr(exc)
            lines.append(frame(payload, strict=False))
        if lines:
            with self._locked():
                self._append(self.rejected_path, lines)

    def _append(self, path: Path, lines: Sequence[bytes]) -> None:
        new = not path.exists()
        with open(path, "a+b") as fh:
            end = fh.seek(0, os.SEEK_END)
            prefix = b""
            if end:  # a line torn by a crash: end it, so it stays one bad line, not two
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    prefix = b"\n"
            fh.write(prefix + b"".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        if new:
            _fsync_dir(path.parent)

    # -- reading ----------------------------------------------------------------------------
    def pending(self) -> bool:
        """Whether the file holds anything to replay."""
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def read(self) -> tuple[list[T], list[tuple[str, bytes]]]:
        """The records in the file, and (error, line) for the lines that cannot be replayed:
        torn, damaged or undecodable. Holds no lock."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        records: list[T] = []
        bad: list[tuple[str, bytes]] = []
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            # a last line without its newline but with a sound checksum lost only the newline
            try:
                payload = unframe(line)
                records.append(self._decode(payload["record"]))
            except Exception as exc:
                what = "torn" if number == len(lines) else f"damaged ({exc})"
                log.warning(
                    "spill file %s: line %d is %s (a crash mid-append?); skipped, kept in %s",
                    self.path, number, what, self.rejected_path,
                )
                bad.append((f"line {number} {what}: {exc!r}", line))
        return records, bad

    def replay(self, deliver: Callable[[list[T]], bool], batch_size: int = 200) -> ReplayResult:
        """Hand the records to `deliver` in batches (True: all of it committed or rejected),
        then empty the file; if a batch fails, keep it and everything after it for the next
        replay (`deliver` must be idempotent: a record can be handed over twice)."""
        with self._locked():
            records, bad = self.read()
            if bad:
                self._append(self.rejected_path, [
                    frame({"error": err, "raw": raw.decode("utf-8", "replace"),
                           "rejected_at": time.time()}, strict=False)
                    for err, raw in bad
                ])
            done = 0
            for start in range(0, len(records), batch_size):
                if not deliver(records[start:start + batch_size]):
                    rest = records[start:]
                    self._rewrite([self.encode(r) for r in rest])
                    return ReplayResult(replayed=done, skipped=len(bad), remaining=len(rest))
                done += len(records[start:start + batch_size])
            self._rewrite([])
            return ReplayResult(replayed=done, skipped=len(bad))

    def _rewrite(self, lines: list[bytes]) -> None:
        """Replace the file's content atomically (a crash leaves the old or the new file)."""
        if not lines:
            if self.path.exists():
                with open(self.path, "r+b") as fh:
                    fh.truncate(0)
                    fh.flush()
                    os.fsync(fh.fileno())
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(b"".join(lines))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The file lock, re-entrant within a thread (a replay rejects rows while it holds it)."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._lock_path, "a+b") as fh:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    if fcntl is not None:
                        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
