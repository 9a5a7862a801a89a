"""Feedback on an answer: the rating is stored once on its interaction and reaches what
produced the answer — the router's decision (the bandit learns) and the recalled memories
(salience rises for good answers and falls for bad ones). `Brain.feedback` is the entry
point; the server's feedback route and the CLI call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound
from cerebra.improve.signals import Signal, SignalStore, checked, source_of

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore
    from cerebra.observability.ledger import Ledger
    from cerebra.routing.router import Router


def apply_feedback(
    ledger: Ledger,
    memory: MemoryStore,
    router: Router | None,
    trace_id: str,
    quality: float | None,
    comment: str | None = None,
    *,
    context: RequestContext,
    thumbs: bool | None = None,
    correction: str | None = None,
    label: str | None = None,
    source: str | None = None,
    signal: bool = True,
) -> dict[str, Any]:
    """Rate the answer `trace_id` (quality 0..1, higher is better; thumbs up is 1, down 0),
    once, within the context's tenant (and user, for a confined caller); what it reached,
    as data. Each part is also a signal on the trace (issue 11: a score or thumbs, a
    correction — the preferred answer —, a label naming its task) unless `signal` is False;
    a correction or a label alone leaves the rating for later."""
    if quality is None and thumbs is not None:
        quality = 1.0 if thumbs else 0.0
    if quality is None and correction is None and label is None:
        raise InvalidInput("give a quality, thumbs, a correction or a label", field="quality")
    if quality is not None and (isinstance(quality, bool)
                                or not isinstance(quality, int | float)):
        raise InvalidInput("quality must be a number between 0 and 1", field="quality")
    if quality is not None and not 0.0 <= float(quality) <= 1.0:
        raise InvalidInput("quality must be between 0 and 1", field="quality")
    # --- issue 11 (A1): the feedback's signals, checked before anything is written ---
    planned = _signals(trace_id, quality, comment, thumbs, correction, label,
                       source or source_of(context)) if signal else []
    row = ledger.get(trace_id, context=context)
    if row is None:
        raise NotFound(f"no interaction with trace id {trace_id!r}", field="trace_id")
    if quality is not None and not ledger.set_feedback(trace_id, float(quality), comment,
                                                       context.tenant_id):
        raise InvalidInput("this answer has feedback already", field="trace_id")
    result: dict[str, Any] = {"trace_id": trace_id}
    if planned:
        store = SignalStore(ledger.engine)
        result["signals"] = [store.add(context, s) for s in planned]
    if quality is None:
        return result
    result["quality"] = float(quality)
    used = [m["id"] for m in row["memories_used"] or []]
    if used:
        # quality 0..1 → reward -1..1: a bad answer lowers what it was built on
        result["memories_reinforced"] = memory.reinforce(
            used, 2.0 * quality - 1.0, context=context
        )
    decision_id = row.get("decision_id")
    if decision_id and router is not None:
        decision = router.feedback(decision_id, float(quality))
        result["router"] = {"decision_id": decision_id, "reward": decision.reward}
    return result


def _signals(trace_id: str, quality: float | None, comment: str | None, thumbs: bool | None,
             correction: str | None, label: str | None, source: str) -> list[Signal]:
    """The feedback as signals (issue 11, A1): the label first, so the others take its task."""
    out = []
    if label is not None:
        out.append(Signal("label", trace_id, text=label, source=source))
    if thumbs is not None:
        out.append(Signal("thumbs", trace_id, 1.0 if thumbs else 0.0, comment, source))
    elif quality is not None:
        out.append(Signal("score", trace_id, float(quality), comment, source))
    if correction is not None:
        out.append(Signal("correction", trace_id, text=correction, source=source))
    return [checked(s) for s in out]
