"""Sinks: receivers of every finished interaction (the ledger first; audit and metrics next).

Brain hands each finished interaction — the query with its context and annotations, the
answer, and the ledger record built from them — to every sink in order. A sink that must
not lose data is durable itself (the ledger writes through the shared BatchWriter: retried,
then spilled to a local file and replayed); a failing sink is logged and never fails the
answer that was already generated. A sink whose class sets `follows_answer = True` may
receive the interaction just after the answer is sent, when the caller (a server) leaves
that work to its `Followups` (cerebra/followups.py); every other sink receives it before the
caller is answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cerebra.exchange import Answer, Query
from cerebra.observability.ledger import InteractionRecord, Ledger
from cerebra.observability.tracing import NO_TRACE

if TYPE_CHECKING:
    from cerebra.followups import Followups
    from cerebra.observability.tracing import NoTrace, Trace

log = logging.getLogger("cerebra.sinks")


@dataclass(frozen=True)
class Interaction:
    """One finished exchange, as the sinks see it; the ledger's record of it is built when a
    sink first reads it (often after the answer was sent)."""

    query: Query
    answer: Answer
    build_record: Callable[[], InteractionRecord] = field(repr=False, compare=False)

    @cached_property
    def record(self) -> InteractionRecord:
        return self.build_record()


@runtime_checkable
class Sink(Protocol):
    name: str

    def receive(self, interaction: Interaction) -> None: ...

    def close(self) -> None: ...


class LedgerSink:
    """The interaction ledger as a sink: one row per interaction, durably."""

    name = "ledger"
    follows_answer = True  # its row is queued for the batch writer either way

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def receive(self, interaction: Interaction) -> None:
        self.ledger.record(interaction.record)

    def close(self) -> None:
        self.ledger.close()


def deliver(sinks: Sequence[Sink], interaction: Interaction,
            trace: Trace | NoTrace = NO_TRACE) -> None:
    """Hand the interaction to every sink (each a step of the trace: ledger, audit, …); one
    sink's failure does not stop the others."""
    with trace.step("sinks") as sinks_step:
        for sink in sinks:
            with trace.step(sink.name, parent=sinks_step) as step:
                try:
                    sink.receive(interaction)
                except Exception as error:
                    log.exception("sink %s failed on %s", sink.name,
                                  interaction.record.trace_id)
                    step.set(**{"error.type": type(error).__name__})


def follows_answer(sink: Sink) -> bool:
    """Whether `sink` may receive an interaction after its answer was sent."""
    return bool(getattr(sink, "follows_answer", False))


def publish(sinks: Sequence[Sink], interaction: Interaction, trace: Trace | NoTrace,
            followups: Followups | None = None) -> None:
    """Deliver a finished interaction and end its trace: all of it now, or with `followups`
    (a server's) only the sinks that must have it before the answer (the audit event), the
    rest and the trace's end left to run once the answer is sent."""
    if followups is None:
        deliver(sinks, interaction, trace)
        trace.end()  # the trace is whole: kept and exported in the background
        return
    deliver([s for s in sinks if not follows_answer(s)], interaction, trace)
    later = [s for s in sinks if follows_answer(s)]
    if later:
        followups.add(deliver, later, interaction, trace)
    followups.add(trace.end)


def close_all(sinks: Sequence[Sink]) -> None:
    for sink in reversed(sinks):
        try:
            sink.close()
        except Exception:
            log.exception("closing sink %s failed", sink.name)
