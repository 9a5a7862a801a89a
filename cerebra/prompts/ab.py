"""A/B tests between two versions of a template: deterministic assignment, recorded outcomes
and a significance test — and the tests themselves (`compare_samples`, `compare_paired`),
which the rewriter uses too.

A key (a user, a session, a request) always lands in the same arm: sha256(test id, key) read
as a number in [0, 1) below `split` → b. Outcomes are numbers: feedback (0/1 or -1..1) or
judge scores. `compare_samples` uses a two-proportion z test when every outcome is 0 or 1
and Welch's t test otherwise (scipy), two-sided, and names the better arm only below alpha.
"""

from __future__ import annotations

import builtins
import hashlib
import math
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from sqlalchemy import Engine, insert, select

from cerebra.context import RequestContext, tenant_of
from cerebra.db.schema import ab_outcomes, ab_tests
from cerebra.errors import Conflict, InvalidInput, NotFound
from cerebra.prompts.template_store import TemplateStore, check_name

Arm = Literal["a", "b"]


class Scored(Protocol):
    """What is read from a judge's verdict (cerebra.judging's Verdict has it)."""

    @property
    def scores(self) -> Mapping[str, float]: ...


class Judge(Protocol):
    """Any judge of cerebra.judging (checker, model, panel) — or a test's own."""

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Scored: ...

KIND_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_KIND = re.compile(KIND_PATTERN)


@dataclass(frozen=True)
class Significance:
    """The comparison of two samples: which test, its p-value, and the winner below alpha."""

    test: str  # two-proportion-z | welch-t | wilcoxon | none
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    statistic: float | None
    p_value: float | None  # None: too few outcomes to test
    alpha: float
    winner: Arm | None  # None: no significant difference (yet)

    @property
    def significant(self) -> bool:
        return self.winner is not None

    def to_dict(self) -> dict[str, Any]:
        return {"test": self.test, "n_a": self.n_a, "n_b": self.n_b,
                "mean_a": _round(self.mean_a), "mean_b": _round(self.mean_b),
                "difference": _round(self.mean_b - self.mean_a),
                "statistic": _round(self.statistic), "p_value": _round(self.p_value),
                "alpha": self.alpha, "significant": self.significant, "winner": self.winner}


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidInput("alpha must be between 0 and 1", field="alpha")
    return float(alpha)


def compare_samples(a: Sequence[float], b: Sequence[float], *,
                    alpha: float = 0.05) -> Significance:
    """Two independent samples: two-proportion z when all values are 0/1, else Welch's t."""
    from scipy import stats

    alpha = _check_alpha(alpha)
    mean_a, mean_b = _mean(a), _mean(b)
    if len(a) < 2 or len(b) < 2:
        return Significance("none", len(a), len(b), mean_a, mean_b, None, None, alpha, None)
    if all(v in (0, 1) for v in (*a, *b)):
        pooled = (sum(a) + sum(b)) / (len(a) + len(b))
        se = math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
        if se == 0:
            return Significance("two-proportion-z", len(a), len(b), mean_a, mean_b, 0.0, 1.0,
                                alpha, None)
        z = (mean_b - mean_a) / se
        p = float(2 * stats.norm.sf(abs(z)))
        test, statistic = "two-proportion-z", z
    else:
        if _spread(a) == 0 and _spread(b) == 0:
            p = 1.0 if mean_a == mean_b else 0.0  # no variance at all: the means decide
            statistic = math.copysign(math.inf, mean_b - mean_a) if p == 0 else 0.0
        else:
            result = stats.ttest_ind(b, a, equal_var=False)
            statistic, p = float(result.statistic), float(result.pvalue)
        test = "welch-t"
    winner: Arm | None = None
    if p < alpha and mean_a != mean_b:
        winner = "b" if mean_b > mean_a else "a"
    return Significance(test, len(a), len(b), mean_a, mean_b, statistic, p, alpha, winner)


def compare_paired(a: Sequence[float], b: Sequence[float], *,
                   alpha: float = 0.05) -> Significance:
    """Paired samples (the same inputs under a and b): one-sided Wilcoxon signed-rank test
    that b beats a. Only b can win: it is the candidate against the incumbent a."""
    from scipy import stats

    alpha = _check_alpha(alpha)
    if len(a) != len(b):
        raise InvalidInput("paired samples need the same length", field="scores")
    mean_a, mean_b = _mean(a), _mean(b)
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if len(diffs) < 2 or not any(diffs):
        return Significance("wilcoxon", len(a), len(b), mean_a, mean_b, None,
                            None if len(diffs) < 2 else 1.0, alpha, None)
    result = stats.wilcoxon(diffs, alternative="greater", zero_method="zsplit")
    p = float(result.pvalue)
    winner: Arm | None = "b" if p < alpha and mean_b > mean_a else None
    return Significance("wilcoxon", len(a), len(b), mean_a, mean_b, float(result.statistic),
                        p, alpha, winner)


def _spread(values: Sequence[float]) -> float:
    return max(values) - min(values) if values else 0.0


def assign_arm(test_id: str, key: str, split: float) -> Arm:
    """The arm `key` always gets in test `test_id` (b for a share `split` of keys)."""
    digest = hashlib.sha256(f"{test_id}\0{key}".encode()).digest()
    return "b" if int.from_bytes(digest[:8], "big") / 2**64 < split else "a"


@dataclass(frozen=True)
class ABTest:
    id: str
    name: str
    version_a: int
    version_b: int
    split: float
    created_at: float

    def version(self, arm: Arm) -> int:
        return self.version_a if arm == "a" else self.version_b

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version_a": self.version_a,
                "version_b": self.version_b, "split": self.split,
                "created_at": self.created_at}


class ABTests:
    """A/B tests between template versions, per tenant, with their outcomes."""

    def __init__(self, engine: Engine, templates: TemplateStore | None = None) -> None:
        self.engine = engine
        self.templates = templates or TemplateStore(engine)

    def create(self, name: str, version_a: int, version_b: int, *, split: float = 0.5,
               context: RequestContext | None = None) -> ABTest:
        """A test of `name` between two of its versions (404 for an unknown template; 409
        when it lacks a version named: the body asks for what its state does not have; the
        same version twice is an A/A test, which shows the noise a comparison must beat)."""
        check_name(name)
        if isinstance(split, bool) or not isinstance(split, int | float) or not 0 < split < 1:
            raise InvalidInput("split must be between 0 and 1", field="split")
        self.templates.get(name, context=context)  # an unknown template: 404
        for field, version in (("version_a", version_a), ("version_b", version_b)):
            try:
                self.templates.get(name, version=version, context=context)
            except NotFound:
                raise Conflict(f"template {name!r} has no version {version} to test",
                               field=field) from None
        test = ABTest(uuid.uuid4().hex, name, version_a, version_b, float(split), time.time())
        with self.engine.begin() as conn:
            conn.execute(insert(ab_tests).values(tenant_id=tenant_of(context),
                                                 **test.to_dict()))
        return test

    def get(self, test_id: str, *, context: RequestContext | None = None) -> ABTest:
        with self.engine.connect() as conn:
            row = conn.execute(select(ab_tests).where(
                ab_tests.c.tenant_id == tenant_of(context), ab_tests.c.id == test_id)).first()
        if row is None:
            raise NotFound(f"unknown A/B test {test_id!r}", field="test_id")
        return ABTest(row.id, row.name, row.version_a, row.version_b, row.split,
                      row.created_at)

    def list(self, name: str | None = None, *,
             context: RequestContext | None = None) -> builtins.list[ABTest]:
        where = [ab_tests.c.tenant_id == tenant_of(context)]
        if name is not None:
            where.append(ab_tests.c.name == name)
        with self.engine.connect() as conn:
            rows = conn.execute(select(ab_tests).where(*where).order_by(
                ab_tests.c.created_at)).all()
        return [ABTest(r.id, r.name, r.version_a, r.version_b, r.split, r.created_at)
                for r in rows]

    def assign(self, test_id: str, key: str, *,
               context: RequestContext | None = None) -> tuple[Arm, int]:
        """The arm and template version `key` gets (the same every time)."""
        if not isinstance(key, str) or not key or len(key) > 200:
            raise InvalidInput("a key is 1-200 characters", field="key")
        test = self.get(test_id, context=context)
        arm = assign_arm(test.id, key, test.split)
        return arm, test.version(arm)

    def record(self, test_id: str, value: float, *, arm: Arm | None = None, key: str = "",
               kind: str = "feedback", context: RequestContext | None = None) -> Arm:
        """Record one outcome for `arm` (or for the arm `key` is assigned to)."""
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value) or abs(value) > 1e6:
            raise InvalidInput("an outcome is a finite number", field="value")
        if not isinstance(kind, str) or not _KIND.match(kind):
            raise InvalidInput("kind is 1-32 lowercase letters, digits or '_'", field="kind")
        if len(key) > 200:
            raise InvalidInput("a key is at most 200 characters", field="key")
        test = self.get(test_id, context=context)
        if arm is None:
            if not key:
                raise InvalidInput("name the arm or the key it was assigned by", field="arm")
            arm = assign_arm(test.id, key, test.split)
        elif arm not in ("a", "b"):
            raise InvalidInput("arm is a or b", field="arm")
        with self.engine.begin() as conn:
            conn.execute(insert(ab_outcomes).values(
                tenant_id=tenant_of(context), test_id=test.id, arm=arm, value=float(value),
                kind=kind, key=key, created_at=time.time()))
        return arm

    def outcomes(self, test_id: str, *, kind: str | None = None,
                 context: RequestContext | None = None) -> dict[Arm, builtins.list[float]]:
        self.get(test_id, context=context)
        where = [ab_outcomes.c.tenant_id == tenant_of(context), ab_outcomes.c.test_id == test_id]
        if kind is not None:
            where.append(ab_outcomes.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(select(ab_outcomes.c.arm, ab_outcomes.c.value).where(
                *where).order_by(ab_outcomes.c.id)).all()
        out: dict[Arm, builtins.list[float]] = {"a": [], "b": []}
        for row in rows:
            out["a" if row.arm == "a" else "b"].append(row.value)
        return out

    def compare(self, test_id: str, *, kind: str | None = None, alpha: float = 0.05,
                context: RequestContext | None = None) -> Significance:
        """The test's outcomes (of one kind, or all) compared: which arm wins, if any."""
        found = self.outcomes(test_id, kind=kind, context=context)
        return compare_samples(found["a"], found["b"], alpha=alpha)

    def record_judged(self, test_id: str, prompt: str, answer_a: str, answer_b: str,
                      judge: Judge, *, key: str = "",
                      context: RequestContext | None = None) -> dict[Arm, float]:
        """Have `judge` score both arms' answers to one prompt; record each as kind judge."""
        verdict = judge.judge(prompt, {"a": answer_a, "b": answer_b})
        scores: dict[Arm, float] = {"a": float(verdict.scores.get("a", 0.0)),
                                    "b": float(verdict.scores.get("b", 0.0))}
        for arm, value in scores.items():
            self.record(test_id, value, arm=arm, key=key, kind="judge", context=context)
        return scores
