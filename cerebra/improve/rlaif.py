"""RLAIF: preference labels from a judge instead of a person. Prompts the brain answered more
than once with different answers (the tenant's interactions with the same prompt text) are
paired, and each pair is shown to the judge in BOTH orders; a preference that survives the
swap becomes an `rlaif` signal on the chosen trace carrying (prompt, chosen, rejected), with
trust 0.6 × the judge's own position-swap agreement (1.0 when it does not measure one).
A pair whose verdict follows the position (each order picks the first, or each the second)
or that ties in either order is skipped and counted; a pair labelled before by the same
judge is not asked again.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from cerebra.context import RequestContext
from cerebra.db.improve_tables import signals
from cerebra.db.schema import interactions
from cerebra.errors import CerebraError, InvalidInput
from cerebra.improve.signals import MAX_TEXT, Signal, SignalStore, default_trust
from cerebra.judging.base import JudgeProtocol, Verdict

SCAN = 5000  # the latest interactions looked at for repeated prompts


@dataclass
class RlaifReport:
    """What one labelling run did."""

    judge: str
    pairs: int = 0  # pairs shown to the judge (each in both orders)
    labelled: int = 0  # consistent preferences, stored as signals
    position_only: int = 0  # the verdict followed the order, not the answers
    ties: int = 0  # a tie (or no usable verdict) in at least one order
    failed: int = 0  # the judge raised
    already: int = 0  # labelled before by this judge
    signal_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"judge": self.judge, "pairs": self.pairs, "labelled": self.labelled,
                "position_only": self.position_only, "ties": self.ties,
                "failed": self.failed, "already": self.already,
                "signal_ids": list(self.signal_ids)}


def label_pairs(engine: Engine, context: RequestContext, judge: JudgeProtocol, *,
                task: str | None = None, limit: int = 50) -> RlaifReport:
    """Label up to `limit` pairs of differing answers to a repeated prompt (of the traces
    labelled `task`, when given) with `judge`, in both orders; see the module docstring."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1", field="limit")
    store = SignalStore(engine)
    source = f"rlaif:{judge.name}"
    base_trust = default_trust(source)
    report = RlaifReport(judge=judge.name)
    done = _labelled(engine, context, source)
    for prompt, first, second in _candidates(engine, context, task):
        if report.pairs >= limit:
            break
        if frozenset((first["trace_id"], second["trace_id"])) in done:
            report.already += 1
            continue
        report.pairs += 1
        try:
            one = judge.judge(prompt, {"A": first["response"], "B": second["response"]})
            two = judge.judge(prompt, {"A": second["response"], "B": first["response"]})
        except CerebraError:
            report.failed += 1
            continue
        pick_one = {"A": first, "B": second}.get(one.winner or "")
        pick_two = {"A": second, "B": first}.get(two.winner or "")
        if pick_one is None or pick_two is None:
            report.ties += 1
            continue
        if pick_one is not pick_two:  # A both times, or B both times
            report.position_only += 1
            continue
        chosen, rejected = pick_one, (second if pick_one is first else first)
        trust = base_trust * (_agreement(one) + _agreement(two)) / 2
        payload = {"prompt": prompt, "chosen": chosen["response"],
                   "rejected": rejected["response"], "chosen_trace": chosen["trace_id"],
                   "rejected_trace": rejected["trace_id"],
                   "agreement": [one.agreement, two.agreement]}
        reason = (one.rationale or two.rationale)[:MAX_TEXT] or None
        report.signal_ids.append(store.add(context, Signal(
            "rlaif", chosen["trace_id"], 1.0, reason, source, trust, task, payload)))
        report.labelled += 1
    return report


def _agreement(verdict: Verdict) -> float:
    return 1.0 if verdict.agreement is None else float(verdict.agreement)


def _labelled(engine: Engine, context: RequestContext, source: str) -> set[frozenset[str]]:
    """The trace pairs this source labelled already."""
    query = select(signals.c.payload).where(
        signals.c.tenant_id == context.tenant_id, signals.c.kind == "rlaif",
        signals.c.source == source)
    with engine.connect() as conn:
        payloads = conn.execute(query).scalars().all()
    return {frozenset((str(p.get("chosen_trace")), str(p.get("rejected_trace"))))
            for p in payloads if isinstance(p, Mapping)}


def _candidates(engine: Engine, context: RequestContext, task: str | None,
                ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(prompt, answer, other answer) for every pair of differing answers to the same prompt
    among the tenant's latest interactions, newest prompts first."""
    query = (select(interactions.c.trace_id, interactions.c.prompt, interactions.c.response)
             .where(interactions.c.tenant_id == context.tenant_id))
    if task is not None:
        tasked = select(signals.c.trace_id).where(
            signals.c.tenant_id == context.tenant_id, signals.c.task == task)
        query = query.where(interactions.c.trace_id.in_(tasked))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            query.order_by(interactions.c.id.desc()).limit(SCAN))]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        answers = groups[row["prompt"].strip()]
        if row["response"].strip() and all(
                row["response"].strip() != a["response"].strip() for a in answers):
            answers.append(row)
    out = []
    for prompt, answers in groups.items():
        for first, second in itertools.combinations(answers, 2):
            out.append((prompt, first, second))
    return out
