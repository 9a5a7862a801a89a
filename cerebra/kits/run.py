"""Evaluate a model on a kit's held-out items: render each prompt, get answers from an
`Answerer` (a batch of prompts → answers, the gate's shape), check each with the kit's
checker, and report accuracy with a Wilson interval.

`brain_answerer(brain, kit, model=None)` answers through the Brain's raw completion path (no
memory, no persona, greedy decoding, the kit's max_tokens and stop sequences), which is the
path the server serves `/v1/completions` on; `model` picks a registered model or adapter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from cerebra.context import DEFAULT_CONTEXT, RequestContext
from cerebra.errors import InvalidInput
from cerebra.kits.kit import Kit, KitItem

if TYPE_CHECKING:
    from cerebra.brain import Brain

Answerer = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class ItemResult:
    id: str
    answer: str
    passed: bool
    score: float
    reason: str


@dataclass(frozen=True)
class KitRun:
    kit: str
    model: str
    total: int
    passed: int
    accuracy: float
    low: float  # Wilson 95% interval of the accuracy
    high: float
    mean_score: float
    seconds: float
    items: list[ItemResult] = field(default_factory=list)

    def to_dict(self, *, items: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not items:
            out.pop("items")
        return out


def wilson(passed: int, total: int, z: float = 1.96) -> tuple[float, float]:
    if total == 0:
        return 0.0, 1.0
    p = passed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def select(kit: Kit, limit: int | None = None, *, split: str = "eval") -> list[KitItem]:
    if split not in ("eval", "train"):
        raise InvalidInput("split must be eval or train", field="split")
    items = kit.eval if split == "eval" else kit.train
    if limit is not None:
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        items = items[:limit]
    return items


def evaluate(kit: Kit, answer: Answerer, *, limit: int | None = None, model: str = "",
             split: str = "eval", batch: int = 16) -> KitRun:
    """Answer the kit's items (the first `limit`) in batches and check every answer."""
    items = select(kit, limit, split=split)
    started = time.perf_counter()
    results: list[ItemResult] = []
    for at in range(0, len(items), batch):
        chunk = items[at: at + batch]
        answers = answer([kit.prompt(item) for item in chunk])
        if len(answers) != len(chunk):
            raise InvalidInput(f"the answerer gave {len(answers)} answers for {len(chunk)} "
                               "prompts", field="answerer")
        for item, text in zip(chunk, answers, strict=True):
            check = kit.check(item, text)
            results.append(ItemResult(item.id, text, check.passed, check.score, check.reason))
    passed = sum(r.passed for r in results)
    total = len(results)
    low, high = wilson(passed, total)
    return KitRun(kit=kit.name, model=model, total=total, passed=passed,
                  accuracy=passed / total if total else 0.0, low=low, high=high,
                  mean_score=sum(r.score for r in results) / total if total else 0.0,
                  seconds=time.perf_counter() - started, items=results)


def brain_answerer(brain: Brain, kit: Kit, *, model: str | None = None,
                   context: RequestContext | None = None) -> Answerer:
    """Answers through Brain.ask as raw completions (greedy, the kit's length and stops)."""
    stop: Sequence[str] = tuple(s for s in kit.spec.stop if s)

    def answer(prompts: list[str]) -> list[str]:
        out = []
        for prompt in prompts:
            reply = brain.ask(prompt, raw=True, memory=False, model=model,
                              max_tokens=kit.spec.max_tokens, temperature=0.0, stop=stop,
                              endpoint="kits", context=context or DEFAULT_CONTEXT)
            out.append(reply.answer)
        return out

    return answer
