"""What judging deals in: the JudgeProtocol every judge satisfies, its Verdict, pairwise
Comparisons (the ratings' input), and a competition's entries and CompetitionResult.

A judge looks at one prompt and the answers of several contestants (contestant id → text)
and returns a Verdict: the winner (None for a tie), a score in [0, 1] per contestant, the
rationale, and — for judges that can show both orders — the position-swap agreement. A judge
never raises on what a model replied: an unparseable reply is a tie with its reason.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from cerebra.errors import InvalidInput

Outcome = Literal["a", "b", "tie"]  # a wins, b wins, or neither


@dataclass(frozen=True)
class Comparison:
    """One pairwise result between two contestants (what Bradley–Terry ratings are fitted on)."""

    a: str
    b: str
    outcome: Outcome

    def to_dict(self) -> dict[str, str]:
        return {"a": self.a, "b": self.b, "outcome": self.outcome}


@dataclass(frozen=True)
class Verdict:
    """A judge's decision on one prompt's answers."""

    winner: str | None  # the contestant id; None when the top is shared (a tie)
    scores: Mapping[str, float]  # per contestant, in [0, 1], higher is better
    rationale: str = ""
    judge: str = ""  # the judge's name
    agreement: float | None = None  # position-swap agreement in [0, 1]; None if not measured
    comparisons: tuple[Comparison, ...] = ()
    failures: tuple[str, ...] = ()  # why some judgement could not be made (unparseable, …)

    @property
    def tie(self) -> bool:
        return self.winner is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "rationale": self.rationale,
            "judge": self.judge,
            "agreement": self.agreement,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "failures": list(self.failures),
        }


@runtime_checkable
class JudgeProtocol(Protocol):
    """Anything that judges: checker, model judge, panel, or a plugin's own."""

    name: str

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        """Judge `answers` (contestant id → answer text) to `prompt`."""
        ...


@dataclass(frozen=True)
class Entry:
    """One contestant's run in a competition."""

    contestant_id: str
    kind: Literal["model", "agent"]
    answer: str
    model: str = ""  # the model that answered
    trace_id: str = ""  # the ledger's trace id, when it answered through Brain
    error: str = ""  # why it gave no answer (it then scores 0)
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"contestant_id": self.contestant_id, "kind": self.kind, "answer": self.answer,
                "model": self.model, "trace_id": self.trace_id, "error": self.error,
                "score": round(self.score, 6)}


@dataclass(frozen=True)
class CompetitionResult:
    """A judged competition: what each contestant answered and what the judge decided."""

    prompt: str
    entries: tuple[Entry, ...]
    verdict: Verdict
    tenant_id: str = "default"
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: float = field(default_factory=time.time)
    # what happened downstream: router feedback given, agents recorded/sandboxed, store id
    effects: Mapping[str, Any] = field(default_factory=dict)

    @property
    def winner_id(self) -> str | None:
        return self.verdict.winner

    @property
    def scores(self) -> Mapping[str, float]:
        return self.verdict.scores

    @property
    def rationale(self) -> str:
        return self.verdict.rationale

    @property
    def agreement(self) -> float | None:
        return self.verdict.agreement

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return self.verdict.comparisons

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "tenant_id": self.tenant_id, "prompt": self.prompt,
                "created_at": self.created_at, "winner_id": self.winner_id,
                "entries": [e.to_dict() for e in self.entries],
                "verdict": self.verdict.to_dict(), "effects": dict(self.effects)}


def check_answers(answers: Mapping[str, str]) -> None:
    """Refuse what no judge can work with: fewer than one answer, blank contestant ids."""
    if not answers:
        raise InvalidInput("there are no answers to judge", field="answers")
    for cid, text in answers.items():
        if not isinstance(cid, str) or not cid.strip():
            raise InvalidInput("a contestant id must be a non-empty string", field="answers")
        if not isinstance(text, str):
            raise InvalidInput(f"the answer of {cid!r} is not text", field="answers")


def winner_of(scores: Mapping[str, float]) -> str | None:
    """The contestant with the single highest score; None when the top is shared."""
    if not scores:
        return None
    best = max(scores.values())
    top = [cid for cid, s in scores.items() if s == best]
    return top[0] if len(top) == 1 else None


def comparisons_from_scores(scores: Mapping[str, float]) -> tuple[Comparison, ...]:
    """Every pair once (in the given order): the higher score wins, equal scores tie."""
    out = []
    for a, b in itertools.combinations(scores, 2):
        sa, sb = scores[a], scores[b]
        out.append(Comparison(a, b, "a" if sa > sb else "b" if sb > sa else "tie"))
    return tuple(out)


def scores_from_comparisons(ids: Sequence[str],
                            comparisons: Sequence[Comparison]) -> dict[str, float]:
    """Each contestant's share of points over its comparisons (win 1, tie ½); 0.5 if none."""
    points = dict.fromkeys(ids, 0.0)
    played = dict.fromkeys(ids, 0)
    for c in comparisons:
        played[c.a] += 1
        played[c.b] += 1
        if c.outcome == "tie":
            points[c.a] += 0.5
            points[c.b] += 0.5
        else:
            points[c.a if c.outcome == "a" else c.b] += 1.0
    return {cid: (points[cid] / played[cid] if played[cid] else 0.5) for cid in ids}
