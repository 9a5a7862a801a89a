"""A panel of judges: every member judges the same answers, and the panel combines them —
by majority (each member's winner is one vote, or its weight; a member's tie abstains; the
most votes win, a shared lead is a tie) or weighted (scores averaged with the weights; the
single best wins). Pairwise comparisons follow the combined scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from cerebra.errors import InvalidInput
from cerebra.judging.base import (
    JudgeProtocol,
    Verdict,
    check_answers,
    comparisons_from_scores,
    winner_of,
)

PanelMode = Literal["majority", "weighted"]


class PanelJudge:
    """Combines `judges` (with `weights`, default 1 each) by `mode`."""

    def __init__(self, judges: Sequence[JudgeProtocol], *, weights: Sequence[float] | None = None,
                 mode: PanelMode = "majority", name: str | None = None) -> None:
        if not judges:
            raise InvalidInput("a panel needs at least one judge", field="judges")
        weights = list(weights) if weights is not None else [1.0] * len(judges)
        if len(weights) != len(judges):
            raise InvalidInput("one weight per judge", field="weights")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise InvalidInput("weights must be non-negative and not all zero", field="weights")
        if mode not in ("majority", "weighted"):
            raise InvalidInput("mode must be 'majority' or 'weighted'", field="mode")
        self.judges = list(judges)
        self.weights = weights
        self.mode: PanelMode = mode
        self.name = name or f"panel:{mode}({', '.join(j.name for j in self.judges)})"

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        check_answers(answers)
        verdicts = [j.judge(prompt, answers) for j in self.judges]
        ids = list(answers)
        total = sum(self.weights)
        if self.mode == "majority":
            votes = dict.fromkeys(ids, 0.0)
            for verdict, weight in zip(verdicts, self.weights, strict=True):
                if verdict.winner is not None:
                    votes[verdict.winner] += weight
            scores = {cid: votes[cid] / total for cid in ids}
            winner = winner_of(votes) if any(votes.values()) else None
        else:
            scores = {cid: sum(w * v.scores.get(cid, 0.0)
                               for v, w in zip(verdicts, self.weights, strict=True)) / total
                      for cid in ids}
            winner = winner_of(scores)
        measured = [(v.agreement, w) for v, w in zip(verdicts, self.weights, strict=True)
                    if v.agreement is not None and w > 0]
        agreement = (sum(a * w for a, w in measured) / sum(w for _, w in measured)
                     if measured else None)
        rationale = " | ".join(
            f"{v.judge} (weight {w:g}): {v.winner or 'tie'}" + (f" — {v.rationale}"
                                                               if v.rationale else "")
            for v, w in zip(verdicts, self.weights, strict=True))
        failures = tuple(f"{v.judge}: {f}" for v in verdicts for f in v.failures)
        return Verdict(winner=winner, scores=scores, rationale=rationale, judge=self.name,
                       agreement=agreement, comparisons=comparisons_from_scores(scores),
                       failures=failures)
