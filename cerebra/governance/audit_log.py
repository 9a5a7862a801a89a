"""The audit log's writer: `record()` is cheap and durable at once; a background thread
chains the events into the sinks.

`record(event)` appends the event to this process's journal (`<dir>/<pid>-<id>.jsonl`, one
checksummed line, a plain write(): it survives the process being killed, SIGKILL included)
and queues it; the writer thread hands what is queued to every sink as one batch, retrying a
failing sink with backoff until it takes the batch, and empties the journal whenever every
recorded event is in every sink. So an event recorded before a request is answered is never
lost: if the process dies, the next AuditLog over the same folder finds the journal (its
owner's lock is gone), replays it — sinks store each event id once — and removes it.
`flush()` waits until every recorded event is in every sink (tests, shutdown); `close()`
flushes, stops the thread and keeps the journal when a sink still refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from cerebra.governance.audit import AuditEvent
from cerebra.governance.audit_sinks import AuditSink
from cerebra.observability.spill import frame, unframe

try:
    import fcntl
except ImportError:  # Windows: no journal locks; a journal is replayed only after close
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("cerebra.audit")


class AuditLog:
    """Records audit events into `sinks` (the database first), through a local journal."""

    def __init__(self, sinks: Sequence[AuditSink], *, journal_dir: Path | None = None,
                 batch_size: int = 500, backoff_s: float = 0.05,
                 max_backoff_s: float = 2.0, linger_s: float = 0.25) -> None:
        """`linger_s`: how long the writer waits for more events before storing a batch —
        the journal already holds them, so this costs no durability; one database append
        per burst instead of per event keeps the writer off the requests' GIL time."""
        self.sinks = list(sinks)
        self._linger_s = max(0.0, linger_s)
        self._flushers = 0  # callers waiting in flush(): the writer stops lingering
        self.constitution_hash = ""  # the active constitution's; set by the policy setup
        self.journal_dir = Path(journal_dir) if journal_dir is not None else None
        self._batch_size = max(1, batch_size)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._cond = threading.Condition()
        self._queue: deque[AuditEvent] = deque()
        self._recorded = 0  # events recorded by this process
        self._stored = 0  # of those, the ones every sink holds
        self._recovering = self.journal_dir is not None
        self._stopping = False
        self._closed = False
        self.closing = threading.Event()  # set when close() stops waiting for a sink
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self.journal: Path | None = None
        if self.journal_dir is not None:
            self.journal_dir.mkdir(parents=True, exist_ok=True)
            self.journal = self.journal_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            self._fd = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if fcntl is not None:  # held while this process lives: "not for replay"
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._start()  # replays what dead processes left first

    # -- the caller's side -------------------------------------------------------------------
    def record(self, event: AuditEvent) -> AuditEvent:
        """Journal and queue `event` (given an id and a time); returns it as stored.
        ValueError if its details are not JSON. An event without a constitution hash gets
        the active one's (`constitution_hash`)."""
        event = event.stamped(self.constitution_hash)
        line = frame(event.to_dict())
        with self._cond:
            if self._closed:
                raise RuntimeError("the audit log is closed")
            if self._fd is not None:
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view):]
            self._recorded += 1
            self._queue.append(event)
            self._start()
            # wake the writer only when it has something new to do: the first event after
            # it emptied the queue, or a full batch. While it lingers, a wake-up per event
            # would only make it take the GIL to find the batch still short.
            if len(self._queue) == 1 or len(self._queue) >= self._batch_size:
                self._cond.notify_all()
        return event

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every recorded event (and any replay) is in every sink."""
        with self._cond:
            self._flushers += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(
                    lambda: self._stored == self._recorded and not self._recovering, timeout)
            finally:
                self._flushers -= 1

    def close(self, timeout: float = 30.0) -> None:
        """Flush, stop the writer, close the sinks; a journal still holding events that a
        sink refused stays for the next start."""
        if self._closed:
            return
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = self._stopping = True
            self._cond.notify_all()
        self.closing.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._fd is not None:
            if flushed and self.journal is not None:
                with contextlib.suppress(OSError):
                    self.journal.unlink()
            else:
                log.error("audit: %d events not stored yet; kept in %s for the next start",
                          self._recorded - self._stored, self.journal)
            os.close(self._fd)  # releases the lock
            self._fd = None
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("closing audit sink %s failed", sink.name)

    # -- the writer thread -------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cerebra-audit",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        if self._recovering:
            try:
                self.recover()
            except Exception:
                log.exception("audit: replaying journals failed")
            with self._cond:
                self._recovering = False
                self._cond.notify_all()
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stopping)
                if not self._queue:
                    return
                if self._linger_s and not self._stopping:  # gather a batch
                    self._cond.wait_for(
                        lambda: len(self._queue) >= self._batch_size or self._stopping
                        or self._flushers > 0, timeout=self._linger_s)
                batch = [self._queue.popleft()
                         for _ in range(min(self._batch_size, len(self._queue)))]
            if not self._deliver(batch):  # closing with a sink down: the journal keeps them
                return
            with self._cond:
                self._stored += len(batch)
                if self._stored == self._recorded and self._fd is not None:
                    os.ftruncate(self._fd, 0)  # all stored: the journal starts over
                self._cond.notify_all()

    def _deliver(self, batch: list[AuditEvent]) -> bool:
        """Hand `batch` to every sink, retrying those that fail; False if closing first."""
        waiting, attempt = list(self.sinks), 0
        while True:
            failed = []
            for sink in waiting:
                try:
                    sink.append(batch)
                except Exception as exc:
                    log.warning("audit sink %s refused %d events (attempt %d): %s",
                                sink.name, len(batch), attempt + 1, exc)
                    failed.append(sink)
            if not failed:
                return True
            if self.closing.is_set():
                return False
            self.closing.wait(min(self._max_backoff_s, self._backoff_s * 2**attempt))
            waiting, attempt = failed, attempt + 1

    def recover(self) -> int:
        """Replay the journals of processes that are gone (their lock is free) into the
        sinks, then remove them; how many events were handed over."""
        if self.journal_dir is None:
            return 0
        total = 0
        for path in sorted(self.journal_dir.glob("*.jsonl")):
            if path == self.journal:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:  # another process replayed it first
                continue
            try:
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # its process is alive
                events = read_journal(path)
                for start in range(0, len(events), self._batch_size):
                    if not self._deliver(events[start:start + self._batch_size]):
                        return total
                    total += len(events[start:start + self._batch_size])
                path.unlink(missing_ok=True)
                if events:
                    log.info("audit: replayed %d journalled events from %s", len(events), path)
            finally:
                os.close(fd)
        return total


def read_journal(path: Path) -> list[AuditEvent]:
    """The events in a journal; a torn last line (killed mid-write, never acknowledged) and
    damaged lines are skipped with a warning."""
    events = []
    for number, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.from_dict(unframe(line)))
        except (ValueError, TypeError) as exc:
            log.warning("audit journal %s: line %d skipped (%s)", path, number, exc)
    return events
