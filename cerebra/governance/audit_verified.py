"""Incremental verification of the database's audit chains: each tenant's verified prefix is
kept (`audit_verified`), and a verification walks only the entries after it.

What an incremental verification covers, and what it does not: it first checks that the
prefix's last entry (the anchor) is still there, unchanged (its stored hash, and its content
matching that hash) and that the number of signed checkpoints up to it is unchanged; then it
walks the entries after the anchor to the recorded head exactly as a whole-chain walk would
(numbering, hashes, links, checkpoints, head). A change *inside* the prefix that leaves the
anchor and the checkpoint count alone (an earlier entry modified, re-hashed, moved) is not
seen by it; a whole-chain walk (`full=True`, the `audit-verify` periodic job,
`cerebra audit verify`) sees it. When the anchor check fails, the verification walks the
whole chain instead, and that walk names the entry.

A walk that started at the chain's first entry is a whole-chain ("full") walk whatever asked
for it, and is recorded as the last full walk. A failed verification never moves the
prefix; a failed full walk clears it (the next verification walks everything again), so a
chain known to be broken is never reported from a prefix verified before.

Entries and checkpoints appended while a walk runs are left for the next one: the head is
read first, and anything past it counts only when the head, read again, still does not
cover it (a forged entry past the head); a concurrent append covers its own entries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from cerebra.db.schema import audit_verified
from cerebra.governance.audit import GENESIS, ChainEntry
from cerebra.governance.audit_sinks import DatabaseAuditSink
from cerebra.governance.audit_verify import ChainReport, Resume, verify_chain

if TYPE_CHECKING:
    from cerebra.config import Settings
    from cerebra.jobs.base import JobRunner

log = logging.getLogger("cerebra.audit")


@dataclass(frozen=True)
class LastFull:
    """The last whole-chain walk: when it ended, its outcome, the entries it walked."""
    at: float
    ok: bool
    entries: int
    problem: str | None = None


@dataclass(frozen=True)
class VerifiedState:
    """A tenant's stored state: the verified prefix (`seq` 0: none) and the last full walk."""
    seq: int = 0
    hash: str = GENESIS
    checkpoints: int = 0
    verified_at: float | None = None
    last_full: LastFull | None = None


@dataclass(frozen=True)
class Verification:
    """One verification: its report; `mode` "incremental" (walked the entries after
    `verified_from`) or "full" (walked everything: `verified_from` 0); `fell_back` says why a
    full walk ran when an incremental one was asked for (None: it did not)."""
    report: ChainReport
    mode: str
    verified_from: int
    last_full: LastFull | None
    fell_back: str | None = None

    def to_dict(self) -> dict[str, Any]:
        report, problem, last = self.report, self.report.problem, self.last_full
        return {
            "ok": report.ok, "entries": report.entries, "checkpoints": report.checkpoints,
            "head": report.head_hash,
            "problem": None if problem is None else {
                "seq": problem.seq, "kind": problem.kind, "message": problem.message},
            "mode": self.mode, "verified_from": self.verified_from, "fell_back": self.fell_back,
            "last_full": None if last is None else {
                "at": last.at, "ok": last.ok, "entries": last.entries, "problem": last.problem},
        }


def load_state(engine: Engine, tenant_id: str) -> VerifiedState:
    with engine.connect() as conn:
        row = conn.execute(select(audit_verified)
                           .where(audit_verified.c.tenant_id == tenant_id)).first()
    if row is None:
        return VerifiedState()
    last = (None if row.full_at is None else
            LastFull(float(row.full_at), bool(row.full_ok), int(row.full_entries or 0),
                     row.full_problem))
    if row.verified_at is None:
        return VerifiedState(last_full=last)
    return VerifiedState(int(row.seq), str(row.hash), int(row.checkpoints),
                         float(row.verified_at), last)


def _ensure_row(engine: Engine, tenant_id: str) -> None:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    with engine.begin() as conn:
        conn.execute(upsert(audit_verified).on_conflict_do_nothing(index_elements=["tenant_id"]),
                     {"tenant_id": tenant_id, "seq": 0, "hash": GENESIS, "checkpoints": 0})


def _save_prefix(engine: Engine, tenant_id: str, report: ChainReport, at: float,
                 seen_full_at: float | None) -> None:
    """Store an intact walk's end as the prefix, unless a full walk ended meanwhile (it may
    have found the chain broken and cleared the prefix)."""
    _ensure_row(engine, tenant_id)
    unchanged = (audit_verified.c.full_at.is_(None) if seen_full_at is None
                 else audit_verified.c.full_at == seen_full_at)
    with engine.begin() as conn:
        conn.execute(update(audit_verified)
                     .where(audit_verified.c.tenant_id == tenant_id, unchanged)
                     .values(seq=report.entries, hash=report.head_hash,
                             checkpoints=report.checkpoints, verified_at=at))


def _save_full(engine: Engine, tenant_id: str, report: ChainReport, at: float) -> LastFull:
    """Record a full walk; intact: its end is the prefix; broken: the prefix is cleared."""
    problem = None if report.problem is None else str(report.problem)
    prefix: dict[str, Any] = (
        {"seq": report.entries, "hash": report.head_hash, "checkpoints": report.checkpoints,
         "verified_at": at} if report.ok
        else {"seq": 0, "hash": GENESIS, "checkpoints": 0, "verified_at": None})
    _ensure_row(engine, tenant_id)
    with engine.begin() as conn:
        conn.execute(update(audit_verified).where(audit_verified.c.tenant_id == tenant_id)
                     .values(**prefix, full_at=at, full_ok=report.ok,
                             full_entries=report.entries, full_problem=problem))
    return LastFull(at, report.ok, report.entries, problem)


def _anchor_problem(sink: DatabaseAuditSink, tenant_id: str, state: VerifiedState) -> str | None:
    """Why the stored prefix cannot be resumed from (None: it can)."""
    anchor: ChainEntry | None = sink.entry(tenant_id, state.seq)
    if anchor is None:
        return f"entry {state.seq}, the end of the verified prefix, is missing"
    if anchor.hash != state.hash or not anchor.self_consistent():
        return f"entry {state.seq}, the end of the verified prefix, changed"
    if sink.checkpoints_through(tenant_id, state.seq) != state.checkpoints:
        return f"the signed checkpoints up to entry {state.seq} changed"
    return None


class _Appended:
    """Tells an entry or checkpoint appended while a walk ran (the head, read again, covers
    it) from one lying past the head that was read first."""

    def __init__(self, sink: DatabaseAuditSink, tenant_id: str, first: int) -> None:
        self.sink, self.tenant_id, self.first, self.now = sink, tenant_id, first, first

    def __call__(self, seq: int) -> bool:
        if seq <= self.first:
            return False
        if seq > self.now:
            self.now = (self.sink.head(self.tenant_id) or (0, GENESIS))[0]
        return seq <= self.now


def walk(sink: DatabaseAuditSink, tenant_id: str, *, trusted_keys: Collection[str] = (),
         resume: Resume | None = None) -> ChainReport:
    """Verify the chain (after `resume`, when given) up to the head as read first."""
    head = sink.head(tenant_id)
    appended = _Appended(sink, tenant_id, (head or (0, GENESIS))[0])
    after = None if resume is None else resume.seq
    checkpoints = [c for c in sink.checkpoints(tenant_id, after=after) if not appended(c.seq)]
    hashes = sink.hashes(tenant_id, after=after)

    def entries() -> Iterator[ChainEntry]:
        for entry in sink.entries(tenant_id, after=after):
            if appended(entry.seq):
                return
            yield entry

    return verify_chain(tenant_id, entries(), checkpoints, head=head, hashes=hashes,
                        trusted_keys=trusted_keys, resume=resume)


def verify_tenant(sink: DatabaseAuditSink, tenant_id: str, *,
                  trusted_keys: Collection[str] = (), full: bool = False,
                  clock: Callable[[], float] = time.time) -> Verification:
    """Verify one tenant's chain from its stored prefix (or all of it: `full`, no prefix,
    or the prefix's anchor changed) and store the outcome."""
    engine = sink.engine
    state = load_state(engine, tenant_id)
    resume: Resume | None = None
    fell_back: str | None = None
    if not full:
        if state.verified_at is None or state.seq == 0:
            fell_back = "no verified prefix yet"
        elif (fell_back := _anchor_problem(sink, tenant_id, state)) is None:
            resume = Resume(state.seq, state.hash, state.checkpoints)
    report = walk(sink, tenant_id, trusted_keys=trusted_keys, resume=resume)
    at = clock()
    if resume is None:
        last = _save_full(engine, tenant_id, report, at)
        if not report.ok:
            log.warning("audit chain broken: %s", report.problem)
        return Verification(report, "full", 0, last, fell_back)
    if report.ok:
        _save_prefix(engine, tenant_id, report, at, seen_full_at=(
            None if state.last_full is None else state.last_full.at))
    return Verification(report, "incremental", resume.seq, state.last_full)


def verify_all_full(engine: Engine, trusted_keys: Collection[str] = (),
                    clock: Callable[[], float] = time.time) -> list[Verification]:
    """Walk every tenant's whole chain and record each walk (the periodic job)."""
    sink = DatabaseAuditSink(engine)
    return [verify_tenant(sink, t, trusted_keys=trusted_keys, full=True, clock=clock)
            for t in sink.tenants()]


def schedule_audit_verify(engine: Engine, settings: Settings, jobs: JobRunner,
                          interval_s: float) -> None:
    """Walk every chain whole every `interval_s` seconds, first after one interval, as the
    runner's periodic job "audit-verify"; its result is the number of broken chains."""
    from cerebra.governance.audit_setup import trusted_keys

    def run(_ctx: Any) -> int:
        return sum(not v.report.ok for v in verify_all_full(engine, trusted_keys(settings)))

    jobs.schedule("audit-verify", run, interval_s, run_now=False)
