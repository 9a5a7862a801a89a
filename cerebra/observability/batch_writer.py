"""A background batch writer for sinks that must not lose rows: queue, batch, write in one
transaction, retry transient failures with bounded backoff, and spill what still cannot be
written to a local file that is replayed into the database later.

What happens to a batch the write function refuses:

- a transient error (the database locked, gone, restarting: `is_transient`) → retried up to
  `retries` times, waiting `backoff_s`, doubling up to `max_backoff_s`; still failing →
  appended to the spill file (fsync'd), replayed on the next start and after the next batch
  that commits;
- a permanent error (a constraint, a value the database refuses) → the batch is written
  row by row, so only the bad rows fail; those go to the spill file's rejected twin with
  their error, never replayed.

`dropped` counts only rows lost outright: no spill file configured, or the disk refusing the
spill too. The write function must be idempotent (a row can be handed over twice: a commit
that succeeded but reported an error, a replay after a crash).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import exc as sa_exc

from cerebra.observability.spill import SpillFile

log = logging.getLogger("cerebra.batch_writer")

T = TypeVar("T")


class _Control(enum.Enum):
    STOP = "stop"
    REPLAY = "replay"


def is_transient(error: BaseException) -> bool:
    """Worth retrying: the database was unavailable, not the data wrong."""
    if isinstance(error, sa_exc.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa_exc.OperationalError | sa_exc.InterfaceError
        )
    return isinstance(error, sa_exc.DisconnectionError | sa_exc.TimeoutError | OSError)


def describe(error: BaseException | None) -> str:
    """The error in one line, without the statement and its parameters (the row's text)."""
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        return f"{type(error).__name__}: {error.orig}"
    return repr(error)


@dataclass(frozen=True)
class WriterStats:
    written: int = 0  # rows committed from the queue
    retried: int = 0  # retry attempts (each one a batch written again after a backoff)
    spilled: int = 0  # rows appended to the spill file
    replayed: int = 0  # rows committed from the spill file
    rejected: int = 0  # rows refused for good (kept in the rejected file)
    dropped: int = 0  # rows lost: no spill file, or the spill failed too
    queued: int = 0  # rows (and replays) waiting now


class BatchWriter(Generic[T]):
    """`submit()` costs a queue append; one background thread (started on first use) writes."""

    def __init__(
        self,
        write: Callable[[list[T]], None],
        spill: SpillFile[T] | None,
        *,
        name: str = "cerebra-batch-writer",
        batch_size: int = 200,
        interval_s: float = 0.05,
        retries: int = 4,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        is_transient: Callable[[BaseException], bool] = is_transient,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._write = write
        self.spill = spill
        self._name = name
        self._batch_size = max(1, batch_size)
        self._interval_s = interval_s
        self._retries = max(0, retries)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._is_transient = is_transient
        self.closing = threading.Event()  # set once close() stops waiting for the database
        self._sleep = sleep or self.closing.wait  # so close() cuts a backoff short
        self._queue: queue.Queue[T | _Control] = queue.Queue()
        self._cond = threading.Condition()
        self._wake = threading.Event()  # a full batch or a control item: stop gathering
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._spill_dirty = False  # something may wait in the spill file: replay after a commit
        self._stats = WriterStats()
        if spill is not None and spill.pending():  # left by an earlier run: replay it first
            self._enqueue(_Control.REPLAY)

    # -- the caller's side ------------------------------------------------------------------
    def submit(self, item: T) -> None:
        if self._closed:
            raise RuntimeError(f"{self._name} is closed")
        self._enqueue(item)

    def _enqueue(self, item: T | _Control) -> None:
        with self._cond:
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        self._queue.put(item)
        if isinstance(item, _Control) or self._queue.qsize() >= self._batch_size:
            self._wake.set()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted is in the database, spilled or rejected (and a
        pending replay has run); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush; what is still queued after `timeout` (the database hanging) is spilled."""
        if self._closed:
            return
        self._closed = True
        flushed = self.flush(timeout)
        self.closing.set()  # no more backoff: the batch in hand is spilled on its next failure
        if not flushed:
            left: list[T] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(item, _Control):
                    left.append(item)
                self._done(1)
            if left:
                log.warning("%s: closing with %d rows unwritten; spilling them", self._name,
                            len(left))
                self._spill_rows(left, "closed before the database accepted them")
        if self._thread is not None:
            self._queue.put(_Control.STOP)
            self._wake.set()
            self._thread.join(timeout=10)

    def stats(self) -> WriterStats:
        with self._cond:
            return dataclasses.replace(self._stats, queued=self._pending)

    def _count(self, **deltas: int) -> None:
        with self._cond:
            self._stats = dataclasses.replace(
                self._stats, **{k: getattr(self._stats, k) + d for k, d in deltas.items()}
            )

    def _done(self, n: int) -> None:
        with self._cond:
            self._pending -= n
            self._cond.notify_all()

    # -- the writer thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _Control.STOP:
                return
            if first is _Control.REPLAY:
                self._guarded(self.replay, 1)
                continue
            assert not isinstance(first, _Control)
            batch: list[T] = [first]
            then: _Control | None = None
            deadline = time.monotonic() + self._interval_s
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:  # sleep out the interval unless a batch fills first:
                    left = deadline - time.monotonic()  # waking per row would take the GIL
                    if left <= 0:  # from the requests once per row for nothing
                        break
                    self._wake.wait(left)
                    self._wake.clear()
                    continue
                if isinstance(item, _Control):
                    then = item
                    break
                batch.append(item)
            self._guarded(functools.partial(self._deliver, batch), len(batch))
            if then is _Control.REPLAY:
                self._guarded(self.replay, 1)
            elif then is _Control.STOP:
                return

    def _guarded(self, work: Callable[[], object], n: int) -> None:
        try:
            work()
        except Exception:  # a bug here must not stop the thread and hang every flush()
            log.exception("%s: unexpected error", self._name)
        finally:
            self._done(n)

    def _deliver(self, batch: list[T]) -> None:
        rows, attempt = batch, 0
        while True:
            rows, error = self._attempt(rows)
            if not rows:
                break
            if attempt >= self._retries or self.closing.is_set():
                log.error("%s: %d rows not written after %d attempts, spilling: %s",
                          self._name, len(rows), attempt + 1, describe(error))
                self._spill_rows(rows, describe(error))
                return
            delay = min(self._max_backoff_s, self._backoff_s * 2**attempt)
            attempt += 1
            self._count(retried=1)
            log.warning("%s: %d rows not written (%s); retry %d/%d in %.2fs",
                        self._name, len(rows), describe(error), attempt, self._retries, delay)
            self._sleep(delay)
        if self._spill_dirty:  # the database answers again: empty the spill file now
            self.replay()

    def _attempt(self, batch: list[T], *, counter: str = "written") -> tuple[
        list[T], BaseException | None
    ]:
        """Write `batch` once (row by row if it holds a bad row); the rows still to write
        (the database failed transiently) and that error."""
        try:
            self._write(batch)
        except Exception as error:
            if self._is_transient(error):
                return batch, error
            if len(batch) == 1:
                self._reject(batch, error)
                return [], None
            log.warning("%s: batch of %d refused (%s); writing row by row",
                        self._name, len(batch), describe(error))
        else:
            self._count(**{counter: len(batch)})
            return [], None
        for i, row in enumerate(batch):
            try:
                self._write([row])
            except Exception as error:
                if self._is_transient(error):  # the database went away: the rest waits
                    return batch[i:], error
                self._reject([row], error)
            else:
                self._count(**{counter: 1})
        return [], None

    def _reject(self, rows: list[T], error: BaseException) -> None:
        log.error("%s: %d row(s) refused for good, kept aside: %s",
                  self._name, len(rows), describe(error))
        if self.spill is None:
            self._count(dropped=len(rows))
            return
        try:
            self.spill.reject([(row, describe(error)) for row in rows])
        except OSError:
            log.exception("%s: could not keep %d refused rows", self._name, len(rows))
            self._count(dropped=len(rows))
        else:
            self._count(rejected=len(rows))

    def _spill_rows(self, rows: list[T], error: str) -> None:
        if self.spill is None:
            log.error("%s: no spill file; %d rows lost", self._name, len(rows))
            self._count(dropped=len(rows))
            return
        lines: list[bytes] = []
        for row in rows:
            try:
                lines.append(self.spill.encode(row))
            except (TypeError, ValueError) as exc:  # not JSON: it could never be replayed
                self._reject([row], exc)
        try:
            self.spill.append(lines)
        except OSError:
            log.exception("%s: could not spill %d rows; lost", self._name, len(lines))
            self._count(dropped=len(lines))
            return
        self._spill_dirty = True
        self._count(spilled=len(lines))

    def replay(self) -> None:
        """Write what the spill file holds (one attempt per batch, no backoff); what the
        database still refuses stays there for the next replay."""
        if self.spill is None or not self.spill.pending():
            self._spill_dirty = False
            return

        def deliver(rows: list[T]) -> bool:
            left, error = self._attempt(rows, counter="replayed")
            if left:
                log.warning("%s: replay of %s stopped, %d rows wait for the database: %s",
                            self._name, self.spill.path if self.spill else "", len(left),
                            describe(error))
            return not left

        try:
            result = self.spill.replay(deliver, self._batch_size)
        except OSError:
            log.exception("%s: could not replay the spill file", self._name)
            self._spill_dirty = True
            return
        self._spill_dirty = result.remaining > 0
        if result.replayed or result.skipped:
            log.info("%s: replayed %d rows from %s (%d unreadable lines set aside)",
                     self._name, result.replayed, self.spill.path, result.skipped)
