"""Feedback on an answer: the rating is stored once on its interaction and reaches what
produced the answer — the router's decision (the bandit learns) and the recalled memories
(salience rises for good answers and falls for bad ones). `Brain.feedback` is the entry
point; the server's feedback route and the CLI call it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cerebra.context import RequestContext
from cerebra.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from cerebra.memory.store import MemoryStore
    from cerebra.observability.ledger import Ledger
    from cerebra.routing.router import Router


def apply_feedback(
    ledger: Ledger,
    memory: MemoryStore,
    router: Router | None,
    trace_id: str,
    quality: float,
    comment: str | None = None,
    *,
    context: RequestContext,
) -> dict[str, Any]:
    """Rate the answer `trace_id` (quality 0..1, higher is better), once, within the
    context's tenant (and user, for a confined caller); what it reached, as data."""
    if isinstance(quality, bool) or not isinstance(quality, int | float):
        raise InvalidInput("quality must be a number between 0 and 1", field="quality")
    if not 0.0 <= float(quality) <= 1.0:
        raise InvalidInput("quality must be between 0 and 1", field="quality")
    row = ledger.get(trace_id, context=context)
    if row is None:
        raise NotFound(f"no interaction with trace id {trace_id!r}", field="trace_id")
    if not ledger.set_feedback(trace_id, float(quality), comment, context.tenant_id):
        raise InvalidInput("this answer has feedback already", field="trace_id")
    result: dict[str, Any] = {"trace_id": trace_id, "quality": float(quality)}
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
