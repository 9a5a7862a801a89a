"""One bandit's side of the Redis exchange between Router replicas: its event log (a Redis
stream of reward updates), its snapshot, what this replica has published and applied, and
merging the shared history into the local strategy.

Every update is an event (replica, seq, arm, reward, prompt features). A replica applies
its own events at once and other replicas' events when it reads the stream; `seq` is
per replica and increasing, so duplicates (a publish retried after a dropped connection)
are skipped by `seen[replica] >= seq`. A snapshot is (strategy state, cursor, replica,
seq): it holds every event up to stream id `cursor`, plus the writer's own events up to
`seq` wherever they sit in the stream, so a new replica loads it, applies the stream
after `cursor` skipping those, and has exactly the union of what the writer had seen.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cerebra.errors import CerebraError
from cerebra.routing.bandits import Strategy
from cerebra.routing.features import PromptFeatures
from cerebra.routing.registry import strategy_from_state

log = logging.getLogger(__name__)

_SEQ = itertools.count(1)  # per process, so a re-created link never reuses a sequence number
Entry = tuple[str, Mapping[str, str]]  # stream id, fields


class BanditSlot(Protocol):
    """What the engine keeps per (tenant, scope): the strategy, its lock, a dirty flag."""

    strategy: Strategy
    lock: threading.Lock
    dirty: bool


@dataclass(frozen=True)
class Event:
    seq: int
    arm: str
    reward: float
    features: Mapping[str, Any] | None

    def row(self) -> list[Any]:
        return [self.seq, self.arm, self.reward, dict(self.features) if self.features else None]


def batch_fields(replica: str, events: list[Event]) -> dict[str, str]:
    """One stream entry for a batch of one replica's events (one XADD per bandit and cycle)."""
    return {"r": replica, "e": json.dumps([e.row() for e in events])}


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class Loaded:
    """A parsed snapshot: the strategy it holds and what it covers."""

    strategy: Strategy
    cursor: str
    replica: str
    seq: int


class SharedLink:
    """Event log, cursor and snapshot bookkeeping for one bandit; mutated under slot.lock."""

    def __init__(self, replica: str, prefix: str, slot: BanditSlot, max_pending: int) -> None:
        self.replica = replica
        self.stream = f"{prefix}:log"
        self.snapshot_key = f"{prefix}:snap"
        self.slot = slot
        self.attached = False
        self.stale = False  # reload from the shared snapshot on the next exchange
        self.behind: int | None = None  # updates in a fuller stored snapshot, last look
        self.cursor = "0-0"  # every other replica's event up to here is applied
        self.seq = 0  # this replica's newest event in the local state
        self.seen: dict[str, int] = {}  # replica -> newest seq applied
        self.pending: deque[Event] = deque(maxlen=max_pending)  # own, not yet published
        self.local: deque[Event] = deque(maxlen=max_pending)  # own, before attaching
        self.dropped = 0
        self.changed = False  # since the last snapshot
        self.last_snapshot = 0.0

    # -- request path (caller holds slot.lock) ------------------------------------------
    def record(self, arm: str, reward: float, features: Mapping[str, Any] | None) -> None:
        event = Event(next(_SEQ), arm, reward, features)
        self.seq = event.seq
        if self.attached:
            self.seen[self.replica] = event.seq
        queue = self.pending if self.attached else self.local
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append(event)
        self.changed = True

    # -- sync thread ----------------------------------------------------------------------
    def take_pending(self) -> list[Event]:
        with self.slot.lock:
            events = list(self.pending)
            self.pending.clear()
            return events

    def restore_pending(self, events: list[Event]) -> None:
        """Put back events whose publish failed (before anything recorded since)."""
        with self.slot.lock:
            self.pending.extendleft(reversed(events))

    def apply(self, entries: Iterable[Entry]) -> int:
        """Apply other replicas' events read from the stream; the number applied."""
        applied = 0
        with self.slot.lock:
            for entry_id, fields in entries:
                self.cursor = entry_id
                applied += self._apply_one(self.slot.strategy, fields)
            if applied:
                self.slot.dirty = True
                self.changed = True
        return applied

    def _apply_one(self, strategy: Strategy, fields: Mapping[str, str]) -> int:
        """Apply one entry's events not seen yet (by replica and seq); how many."""
        applied = 0
        try:
            replica = fields["r"]
            for seq, arm, reward, features in json.loads(fields["e"]):
                if int(seq) <= self.seen.get(replica, 0):
                    continue
                self.seen[replica] = int(seq)
                strategy.update(str(arm), float(reward), _features(features))
                applied += 1
        except (KeyError, ValueError, TypeError, CerebraError) as exc:
            log.warning("router shared state: bad event in %s ignored: %s", self.stream, exc)
        return applied

    def load_snapshot(self, raw: str | None) -> Loaded | None:
        """Parse a stored snapshot; None (logged) when absent or unusable."""
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            strategy = strategy_from_state(data["state"])
            stream_id(str(data["cursor"]))
            loaded = Loaded(strategy, str(data["cursor"]), str(data["replica"]), int(data["seq"]))
        except (KeyError, TypeError, ValueError, CerebraError) as exc:
            log.warning("router shared state: snapshot %s ignored: %s", self.snapshot_key, exc)
            return None
        old_rng = getattr(self.slot.strategy, "rng", None)
        if old_rng is not None and hasattr(strategy, "rng"):
            strategy.rng = old_rng  # keep a seeded replica reproducible
        return loaded

    def merge(self, loaded: Loaded | None, tail: list[Entry]) -> None:
        """Attach: the shared snapshot (or the local state when there is none) plus the
        stream after it, plus this replica's own updates made before attaching."""
        with self.slot.lock:
            if loaded is None and self.attached:
                self.stale = False  # nothing better to reload: keep what we have
                return
            local, unpublished = list(self.local), list(self.pending)
            if loaded is not None:
                strategy, self.cursor = loaded.strategy, loaded.cursor
                self.seen = {loaded.replica: loaded.seq}
            else:  # nothing shared yet: this replica's state (from the database) seeds it
                strategy, self.seen = self.slot.strategy, {}
            for entry_id, fields in tail:
                self.cursor = entry_id
                self._apply_one(strategy, fields)
            if loaded is not None:  # own updates not in the snapshot nor in the stream
                for event in [*local, *unpublished]:
                    strategy.update(event.arm, event.reward, _features(event.features))
            self.seen[self.replica] = max(self.seen.get(self.replica, 0), self.seq)
            self.pending.extend(local)
            self.local.clear()
            self.slot.strategy = strategy
            self.slot.dirty = self.changed = self.attached = True
            self.stale = False
            self.behind = None

    def updates(self) -> int:
        """How many updates the local strategy holds (all-time)."""
        return int(getattr(self.slot.strategy, "_step", 0))

    def snapshot(self) -> tuple[str, int]:
        """The snapshot as JSON, and how many updates it holds (its strategy's step)."""
        with self.slot.lock:
            self.changed = False
            state = self.slot.strategy.state()
            return json.dumps({"state": state, "cursor": self.cursor, "replica": self.replica,
                               "seq": self.seen.get(self.replica, 0)}), int(state.get("step", 0))


def _features(raw: Mapping[str, Any] | None) -> PromptFeatures | None:
    return PromptFeatures(**raw) if raw else None
