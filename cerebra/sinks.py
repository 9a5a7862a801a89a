"""Sinks: receivers of every finished interaction (the ledger first; audit and metrics next).

Brain hands each finished interaction — the query with its context and annotations, the
answer, and the ledger record built from them — to every sink in order. A sink that must
not lose data is durable itself (the ledger writes through the shared BatchWriter: retried,
then spilled to a local file and replayed); a failing sink is logged and never fails the
answer that was already generated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cerebra.exchange import Answer, Query
from cerebra.observability.ledger import InteractionRecord, Ledger

log = logging.getLogger("cerebra.sinks")


@dataclass(frozen=True)
class Interaction:
    """One finished exchange, as the sinks see it."""

    query: Query
    answer: Answer
    record: InteractionRecord


@runtime_checkable
class Sink(Protocol):
    name: str

    def receive(self, interaction: Interaction) -> None: ...

    def close(self) -> None: ...


class LedgerSink:
    """The interaction ledger as a sink: one row per interaction, durably."""

    name = "ledger"

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def receive(self, interaction: Interaction) -> None:
        self.ledger.record(interaction.record)

    def close(self) -> None:
        self.ledger.close()


def deliver(sinks: Sequence[Sink], interaction: Interaction) -> None:
    """Hand the interaction to every sink; one sink's failure does not stop the others."""
    for sink in sinks:
        try:
            sink.receive(interaction)
        except Exception:
            log.exception("sink %s failed on %s", sink.name, interaction.record.trace_id)


def close_all(sinks: Sequence[Sink]) -> None:
    for sink in reversed(sinks):
        try:
            sink.close()
        except Exception:
            log.exception("closing sink %s failed", sink.name)
