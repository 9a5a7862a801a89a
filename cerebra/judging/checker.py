"""The checker judge: scores answers to tasks with verifiable answers — exact or normalised
match, regex, JSON Schema, numeric tolerance, or a Python function run in a limited child
process (cerebra.judging.sandbox). Cheap, deterministic and order-blind.

`Check` is one rule (built with Check.exact/normalized/regex/json_schema/numeric/function;
bad rules — a regex that does not compile, an invalid schema — are refused at construction);
`CheckerJudge(check)` turns its score per answer into a Verdict.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema_rs

from cerebra.errors import InvalidInput
from cerebra.judging.base import Verdict, check_answers, comparisons_from_scores, winner_of
from cerebra.judging.sandbox import run_check

CheckKind = Literal["exact", "normalized", "regex", "json_schema", "numeric", "function"]
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def normalize(text: str) -> str:
    """Casefolded NFKC text, whitespace collapsed, quotes and punctuation at the edges off."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(text)
    while start < end and _edge(text[start]):
        start += 1
    while end > start and _edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _edge(ch: str) -> bool:
    """Punctuation, quotes, markdown marks or space: what may wrap an answer."""
    return ch.isspace() or ch in "*_`~" or unicodedata.category(ch).startswith("P")


@dataclass(frozen=True)
class CheckResult:
    score: float  # in [0, 1]
    reason: str


@dataclass(frozen=True)
class Check:
    """One verifiable rule. Use the constructors; `expected` depends on the kind."""

    kind: CheckKind
    expected: Any
    contains: bool = False  # exact/normalized: the expected text anywhere, as whole words
    flags: int = 0  # regex
    abs_tol: float = 1e-6  # numeric
    rel_tol: float = 0.0  # numeric
    time_limit_s: float = 2.0  # function
    memory_mb: int = 256  # function

    @classmethod
    def exact(cls, expected: str, *, contains: bool = False) -> Check:
        return cls("exact", _text(expected, "expected"), contains=contains)

    @classmethod
    def normalized(cls, expected: str, *, contains: bool = False) -> Check:
        return cls("normalized", _text(expected, "expected"), contains=contains)

    @classmethod
    def regex(cls, pattern: str, *, flags: int = re.IGNORECASE) -> Check:
        try:
            re.compile(pattern, flags)
        except re.error as exc:
            raise InvalidInput(f"the pattern does not compile: {exc}", field="pattern") from None
        return cls("regex", pattern, flags=flags)

    @classmethod
    def json_schema(cls, schema: Mapping[str, Any]) -> Check:
        try:
            jsonschema_rs.validator_for(dict(schema))
        except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
            raise InvalidInput(f"the JSON Schema is invalid: {exc}", field="schema") from None
        return cls("json_schema", dict(schema))

    @classmethod
    def numeric(cls, expected: float, *, abs_tol: float = 1e-6, rel_tol: float = 0.0) -> Check:
        if isinstance(expected, bool) or not isinstance(expected, int | float) \
                or not math.isfinite(expected):
            raise InvalidInput("the expected value must be a finite number", field="expected")
        if abs_tol < 0 or rel_tol < 0:
            raise InvalidInput("tolerances cannot be negative", field="abs_tol")
        return cls("numeric", float(expected), abs_tol=abs_tol, rel_tol=rel_tol)

    @classmethod
    def function(cls, source: str, *, time_limit_s: float = 2.0, memory_mb: int = 256) -> Check:
        """`source` defines `check(answer) -> bool | float`; it runs in a child process."""
        try:
            compile(source, "<checker>", "exec")
        except SyntaxError as exc:
            raise InvalidInput(f"the checker does not compile: {exc}", field="source") from None
        if not 0 < time_limit_s <= 60:
            raise InvalidInput("time_limit_s must be in (0, 60]", field="time_limit_s")
        if not 16 <= memory_mb <= 4096:
            raise InvalidInput("memory_mb must be in [16, 4096]", field="memory_mb")
        return cls("function", source, time_limit_s=time_limit_s, memory_mb=memory_mb)

    def score(self, answer: str) -> CheckResult:
        if self.kind in ("exact", "normalized"):
            return self._match(answer)
        if self.kind == "regex":
            found = re.search(self.expected, answer, self.flags)
            return (CheckResult(1.0, f"matches /{self.expected}/") if found
                    else CheckResult(0.0, f"does not match /{self.expected}/"))
        if self.kind == "json_schema":
            return _schema_check(self.expected, answer)
        if self.kind == "numeric":
            return self._numeric(answer)
        run = run_check(self.expected, answer, time_limit_s=self.time_limit_s,
                        memory_mb=self.memory_mb)
        if not run.ok:
            return CheckResult(0.0, f"failed: {run.reason}")
        return CheckResult(run.score, f"check() gave {run.score:g}")

    def _match(self, answer: str) -> CheckResult:
        norm = normalize if self.kind == "normalized" else str.strip
        want, got = norm(self.expected), norm(answer)
        if self.contains:
            hit = re.search(rf"(?<!\w){re.escape(want)}(?!\w)", got) is not None
        else:
            hit = want == got
        how = "contains" if self.contains else "equals"
        return (CheckResult(1.0, f"{how} {self.expected!r}") if hit
                else CheckResult(0.0, f"expected {self.expected!r}, got {_clip(answer)!r}"))

    def _numeric(self, answer: str) -> CheckResult:
        numbers = _NUMBER.findall(answer)
        if not numbers:
            return CheckResult(0.0, "no number in the answer")
        got = float(numbers[-1].replace(",", ""))  # the last number is the answer
        if math.isclose(got, self.expected, rel_tol=self.rel_tol, abs_tol=self.abs_tol):
            return CheckResult(1.0, f"{got:g} is within tolerance of {self.expected:g}")
        return CheckResult(0.0, f"{got:g} is not {self.expected:g}")


class CheckerJudge:
    """Scores every answer with one Check; the single best wins, equal scores tie, and
    when every answer scores 0 nobody wins."""

    def __init__(self, check: Check, *, name: str | None = None) -> None:
        self.check = check
        self.name = name or f"checker:{check.kind}"

    def score(self, answer: str) -> CheckResult:
        return self.check.score(answer)

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Verdict:
        check_answers(answers)
        results = {cid: self.check.score(text) for cid, text in answers.items()}
        scores = {cid: r.score for cid, r in results.items()}
        rationale = "; ".join(f"{cid}: {r.score:g} ({r.reason})" for cid, r in results.items())
        failures = tuple(f"{cid}: {r.reason}" for cid, r in results.items()
                         if r.reason.startswith("failed:"))
        winner = winner_of(scores) if max(scores.values()) > 0 else None  # none passed
        return Verdict(winner=winner, scores=scores, rationale=rationale,
                       judge=self.name, agreement=1.0,  # order cannot change a check
                       comparisons=comparisons_from_scores(scores), failures=failures)


def extract_json(text: str) -> Any:
    """The JSON value in an answer: the whole text, a ```json fence, or the first object or
    array in it. Raises ValueError when there is none."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                return decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON value in the text")


def _schema_check(schema: dict[str, Any], answer: str) -> CheckResult:
    try:
        value = extract_json(answer)
    except ValueError:
        return CheckResult(0.0, "the answer holds no JSON")
    errors = list(jsonschema_rs.validator_for(schema).iter_errors(value))
    if errors:
        return CheckResult(0.0, f"does not match the schema: {errors[0].message}")
    return CheckResult(1.0, "matches the schema")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text", field=name)
    return value


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
