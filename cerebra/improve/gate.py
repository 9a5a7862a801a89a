"""The evaluation gate: decides whether a candidate model (an adapter) replaces the serving
baseline, from a paired comparison on a task kit's held-out items, guard suites and the
perplexity of held-out general text.

Task: both sides answer the same held-out items; with a checker, accuracy of each side and
the exact McNemar test (one-sided, "candidate better"; a paired bootstrap CI is reported
too); without one, a judge compares the answers in both orders and a verdict counts only
when both orders agree (win rate with a Wilson interval, sign test on wins vs losses).

Guards: the other kits' held-out items (at most `guard_limit` each) and perplexity. A guard
regresses when its accuracy drops by more than `guard_tolerance` points — on the point
estimate, with no significance asked. Decoding is greedy, so an unchanged answer is no
noise: every difference is a real change of behaviour on that item; asking for a
significant drop as well would let an 8-point loss on 50 items through (p ≈ 0.1), which is
the regression the gate is there to stop. The noise it tolerates is the tolerance itself;
the guard's McNemar p ("candidate worse") is reported beside each drop.

Decision: promote only when the task gain is ≥ `min_gain` points AND its one-sided p <
`alpha` AND no guard drops more than `guard_tolerance` points AND perplexity rises by no
more than `ppl_tolerance` (relative); otherwise refuse, listing every reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from cerebra.errors import CerebraError, InvalidInput
from cerebra.improve.gate_store import GateStore  # stored reports; re-exported here
from cerebra.improve.rule import PromotionRule  # re-exported here
from cerebra.improve.stats import mcnemar, paired_bootstrap, win_rate

Answerer = Callable[[list[str]], list[str]]  # a batch of prompts -> their answers
Perplexity = Callable[[str], float]  # text -> perplexity under one side
Progress = Callable[[float, str], None]  # fraction done, a line for people
MAX_ITEMS_KEPT = 200  # per-item outcomes stored per suite
MAX_ANSWER_KEPT = 300  # characters of each stored answer
BATCH = 16


class GateError(CerebraError):
    """An answerer broke the batch contract (a different number of answers)."""

    status_code = 502
    code = "gate_error"


class KitItemLike(Protocol):
    @property
    def id(self) -> str: ...


class KitLike(Protocol):
    """What the gate reads of a kit (cerebra.kits.kit.Kit)."""

    @property
    def name(self) -> str: ...
    @property
    def eval(self) -> Sequence[Any]: ...
    def prompt(self, item: Any) -> str: ...
    def check(self, item: Any, answer: str) -> Any: ...


class JudgeLike(Protocol):
    def judge(self, prompt: str, answers: Mapping[str, str]) -> Any: ...


@dataclass
class SuiteResult:
    """One kit's comparison: checker accuracy (method "checker") or judged wins ("judge")."""

    kit: str
    method: Literal["checker", "judge"]
    n: int
    baseline: float  # accuracy in points; for "judge", the baseline's share of wins
    candidate: float
    gain: float  # points: candidate - baseline (judge: net wins over all items)
    p_better: float  # one-sided, candidate better
    p_worse: float  # one-sided, candidate worse
    p_two_sided: float
    bootstrap: dict[str, Any] | None = None
    wins: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class GateReport:
    """The gate's decision with everything it was made on (JSON via to_dict)."""

    decision: Literal["promote", "refuse"]
    reasons: list[str]
    rule: dict[str, Any]
    task: SuiteResult
    guards: list[SuiteResult]
    ppl: dict[str, Any] | None
    candidate: str = ""
    baseline: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)

    @property
    def promote(self) -> bool:
        return self.decision == "promote"

    @property
    def p_value(self) -> float:
        return self.task.p_better

    @property
    def gain(self) -> float:
        return self.task.gain

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _has_checker(kit: Any) -> bool:
    """A kit without a checker says so with `checker = None` (or `has_checker = False`)."""
    if hasattr(kit, "has_checker"):
        return bool(kit.has_checker)
    return getattr(kit, "checker", True) is not None


def _answer_all(answer: Answerer, prompts: list[str], tick: Callable[[int], None]) -> list[str]:
    out: list[str] = []
    for start in range(0, len(prompts), BATCH):
        batch = prompts[start:start + BATCH]
        got = list(answer(batch))
        if len(got) != len(batch):
            raise GateError(f"an answerer gave {len(got)} answers to {len(batch)} prompts")
        out.extend(str(a) for a in got)
        tick(len(batch))
    return out


def _passed(result: Any) -> bool:
    if hasattr(result, "passed"):
        return bool(result.passed)
    return float(result.score) >= 1.0


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_KEPT else text[:MAX_ANSWER_KEPT] + "…"


def _winner(verdict: Any) -> str | None:
    return getattr(verdict, "winner", None)


def _judged(judge: JudgeLike, prompt: str, base: str, cand: str) -> str:
    """'candidate', 'baseline' or 'tie': both orders must name the same winner. A judge
    that showed both orders itself (its verdict's `agreement` is measured, as the pairwise
    model judge's is, a disagreement already a tie) is asked once."""
    verdict = judge.judge(prompt, {"baseline": base, "candidate": cand})
    first = _winner(verdict)
    if getattr(verdict, "agreement", None) is None:
        second = _winner(judge.judge(prompt, {"candidate": cand, "baseline": base}))
        first = first if first == second else None
    return first if first in ("baseline", "candidate") else "tie"


class _Run:
    """One evaluation: answers both sides on suites, reporting progress as it goes."""

    def __init__(self, baseline: Answerer, candidate: Answerer, total: int,
                 progress: Progress | None, judge: JudgeLike | None, seed: int) -> None:
        self.baseline, self.candidate = baseline, candidate
        self.total, self.done = max(1, total), 0
        self.progress, self.judge, self.seed = progress, judge, seed

    def tick(self, n: int, what: str = "") -> None:
        self.done += n
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total), what)

    def suite(self, kit: KitLike, items: Sequence[Any]) -> SuiteResult:
        started = time.perf_counter()
        prompts = [kit.prompt(item) for item in items]
        name = str(kit.name)
        base = _answer_all(self.baseline, prompts, lambda n: self.tick(n, f"{name}: baseline"))
        cand = _answer_all(self.candidate, prompts, lambda n: self.tick(n, f"{name}: candidate"))
        if _has_checker(kit):
            result = self._checked(kit, items, base, cand)
        else:
            if self.judge is None:
                raise InvalidInput(f"kit {name!r} has no checker: the gate needs a judge",
                                   field="judge")
            result = self._judged(kit, items, prompts, base, cand)
        result.seconds = round(time.perf_counter() - started, 3)
        return result

    def _checked(self, kit: KitLike, items: Sequence[Any], base: list[str],
                 cand: list[str]) -> SuiteResult:
        a = [_passed(kit.check(item, answer)) for item, answer in zip(items, base, strict=True)]
        b = [_passed(kit.check(item, answer)) for item, answer in zip(items, cand, strict=True)]
        n = len(items)
        test = mcnemar(a, b)
        worse = mcnemar(b, a).p_b_better
        boot = paired_bootstrap(a, b, seed=self.seed)
        acc_a = 100.0 * sum(a) / n if n else 0.0
        acc_b = 100.0 * sum(b) / n if n else 0.0
        kept = [{"id": str(getattr(item, "id", i)), "baseline": pa, "candidate": pb,
                 "baseline_answer": _clip(x), "candidate_answer": _clip(y)}
                for i, (item, pa, pb, x, y) in enumerate(zip(items, a, b, base, cand,
                                                              strict=True))][:MAX_ITEMS_KEPT]
        return SuiteResult(str(kit.name), "checker", n, acc_a, acc_b, acc_b - acc_a,
                           test.p_b_better, worse, test.p_two_sided, boot.to_dict(),
                           None, kept)

    def _judged(self, kit: KitLike, items: Sequence[Any], prompts: list[str],
                base: list[str], cand: list[str]) -> SuiteResult:
        assert self.judge is not None
        outcomes = [_judged(self.judge, p, x, y) for p, x, y in zip(prompts, base, cand,
                                                                      strict=True)]
        wins, losses = outcomes.count("candidate"), outcomes.count("baseline")
        n = len(items)
        rate = win_rate(wins, losses, n - wins - losses)
        worse = win_rate(losses, wins).p_b_better
        two = min(1.0, 2 * min(rate.p_b_better, worse)) if wins + losses else 1.0
        share_a = 100.0 * losses / n if n else 0.0
        share_b = 100.0 * wins / n if n else 0.0
        kept = [{"id": str(getattr(item, "id", i)), "outcome": o,
                 "baseline_answer": _clip(x), "candidate_answer": _clip(y)}
                for i, (item, o, x, y) in enumerate(zip(items, outcomes, base, cand,
                                                        strict=True))][:MAX_ITEMS_KEPT]
        return SuiteResult(str(kit.name), "judge", n, share_a, share_b, share_b - share_a,
                           rate.p_b_better, worse, two, None, rate.to_dict(), kept)


def _ppl(ppl: tuple[Perplexity, Perplexity], text: str) -> dict[str, Any]:
    """Both sides' perplexity; a side that cannot be measured (its model or adapter does
    not load, its child process dies) is an error in the result, which refuses."""
    started = time.perf_counter()
    try:
        base, cand = float(ppl[0](text)), float(ppl[1](text))
    except (CerebraError, RuntimeError, OSError) as exc:
        return {"baseline": None, "candidate": None, "relative_change": None,
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "seconds": round(time.perf_counter() - started, 3)}
    change = (cand - base) / base if base > 0 and math.isfinite(base) else math.inf
    return {"baseline": base, "candidate": cand, "relative_change": change,
            "seconds": round(time.perf_counter() - started, 3)}


def decide(rule: PromotionRule, task: SuiteResult, guards: Sequence[SuiteResult],
           ppl: Mapping[str, Any] | None) -> list[str]:
    """Every reason to refuse; none means promote."""
    reasons = []
    if task.n == 0:
        reasons.append(f"task {task.kit!r} has no held-out items")
    if task.gain < rule.min_gain:
        reasons.append(f"task gain {task.gain:+.2f} points is below the required "
                       f"{rule.min_gain:g}")
    if not task.p_better < rule.alpha:
        reasons.append(f"task gain not significant: one-sided p = {task.p_better:.4g} "
                       f"≥ alpha {rule.alpha:g}")
    for guard in guards:
        if -guard.gain > rule.guard_tolerance:
            reasons.append(f"guard {guard.kit!r} dropped {-guard.gain:.2f} points "
                           f"(tolerance {rule.guard_tolerance:g}; p worse = "
                           f"{guard.p_worse:.3g})")
    if ppl is not None and ppl.get("error"):
        reasons.append(f"perplexity could not be measured: {ppl['error']}")
    elif ppl is not None:
        change = float(ppl["relative_change"])
        if not change <= rule.ppl_tolerance:
            reasons.append(f"perplexity of general text rose {100 * change:.1f} % "
                           f"(tolerance {100 * rule.ppl_tolerance:g} %)")
    return reasons


def evaluate_gate(task_kit: KitLike, guard_kits: Sequence[KitLike], baseline: Answerer,
                  candidate: Answerer, rule: PromotionRule | Mapping[str, Any] | None = None,
                  *, judge: JudgeLike | None = None,
                  ppl: tuple[Perplexity, Perplexity] | None = None,
                  ppl_text: str | None = None, limit: int | None = None,
                  guard_limit: int | None = 100, progress: Progress | None = None,
                  seed: int = 0, candidate_name: str = "", baseline_name: str = ""
                  ) -> GateReport:
    """Compare `candidate` with `baseline` and decide (see the module's docstring).

    `limit` caps the task's held-out items, `guard_limit` each guard's; `ppl` is a pair of
    callables (baseline, candidate) giving the perplexity of `ppl_text` (default: the
    shipped general text, cerebra.improve.perplexity.general_text()); None skips it.
    """
    rule = _rule(rule)
    started = time.perf_counter()
    items = list(task_kit.eval)[:limit] if limit is not None else list(task_kit.eval)
    guard_items = [(kit, list(kit.eval)[:guard_limit] if guard_limit is not None
                    else list(kit.eval)) for kit in guard_kits if kit.name != task_kit.name]
    total = 2 * (len(items) + sum(len(g) for _, g in guard_items))
    run = _Run(baseline, candidate, total, progress, judge, seed)
    task = run.suite(task_kit, items)
    guards = [run.suite(kit, g) for kit, g in guard_items]
    ppl_result = None
    if ppl is not None:
        if ppl_text is None:
            from cerebra.improve.perplexity import general_text
            ppl_text = general_text()
        ppl_result = _ppl(ppl, ppl_text)
    reasons = decide(rule, task, guards, ppl_result)
    timings = {"task_s": task.seconds, "guards_s": round(sum(g.seconds for g in guards), 3),
               "ppl_s": ppl_result["seconds"] if ppl_result else 0.0,
               "total_s": round(time.perf_counter() - started, 3)}
    return GateReport("refuse" if reasons else "promote", reasons, rule.model_dump(), task,
                      guards, ppl_result, candidate_name, baseline_name, timings)


def _rule(rule: PromotionRule | Mapping[str, Any] | Any | None) -> PromotionRule:
    """A PromotionRule from itself, a mapping, or any object with its fields (a workflow's)."""
    if rule is None:
        return PromotionRule()
    if isinstance(rule, PromotionRule):
        return rule
    if isinstance(rule, Mapping):
        return PromotionRule.model_validate(dict(rule))
    names = PromotionRule.model_fields
    return PromotionRule.model_validate({k: getattr(rule, k) for k in names if hasattr(rule, k)})


__all__ = ["Answerer", "GateError", "GateReport", "GateStore", "PromotionRule", "SuiteResult",
           "decide", "evaluate_gate"]
