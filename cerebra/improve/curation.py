"""Curation: training rows in, fewer and cleaner rows out, with a report counting what each
step removed or changed.

Steps, in order (each can be turned off through `CurationOptions`):

1. quality — empty prompt or answer, an answer that repeats the prompt, degenerate
   repetition (a few word trigrams repeated over and over, or one character run), a
   preference pair whose chosen and rejected answers are the same;
2. length — prompt and answer(s) outside [min, max] characters;
3. PII — the policy engine's PII detectors (cerebra.governance.pii) on every text: scrub
   (placeholders), drop the row, or keep; counted by kind. A `policy` engine, when given,
   is asked too: a denial drops the row, a redaction uses its text;
4. exact duplicates — the same normalised texts (NFKC, case-folded, whitespace collapsed);
5. decontamination — a row sharing any word n-gram with an evaluation text is dropped
   (below);
6. near duplicates — a row whose prompt's embedding has cosine ≥ threshold with a row
   kept before *and* the same (normalised) answers: a reworded question with the same
   answer adds nothing. Rows with different answers are kept however alike their prompts:
   a templated task ("Normalise the date: 3 March 2021" / "… 4 March 2021") differs only
   in the few words that decide the answer, and on the shipped kits the prompt-and-answer
   embedding alone removed 25–53% of the training rows at cosine 0.95;
7. balanced sampling — at most `cap` rows per task, source or label (the answer), drawn
   with a fixed seed, then at most `max_rows` in all.

Decontamination uses word 8-grams by default. GPT-3 (Brown et al. 2020, appendix C) took
N from each benchmark's 5th-percentile item length, between 8 and 13; the kits' items are
short (a sentence to extract from, a date to normalise), so 13-grams would miss most of
them and 8 — GPT-3's floor — is the default. An evaluation text shorter than N words but
at least `min_eval_words` long is matched as a whole (its word sequence anywhere in a row);
shorter ones (labels like "positive") are not evidence of a leak and are skipped. Eval
texts default to every installed kit's (cerebra.kits.registry.eval_texts).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from cerebra.governance.pii import find_pii, redact
from cerebra.governance.policy import Action, PolicyContext, PolicyEngine
from cerebra.improve.rows import PrefPair, Row, SftRow

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
_RUN = re.compile(r"(.)\1{39,}", re.DOTALL)  # one character 40 times in a row


@dataclass(frozen=True)
class CurationOptions:
    quality: bool = True
    min_prompt_chars: int = 1
    max_prompt_chars: int = 8000
    min_answer_chars: int = 1
    max_answer_chars: int = 8000
    pii: Literal["scrub", "drop", "keep"] = "scrub"
    exact_dedup: bool = True
    decontaminate: bool = True
    ngram: int = 8
    min_eval_words: int = 4
    near_dup_threshold: float | None = 0.95  # None: no near-duplicate step
    balance_by: Literal["task", "source", "label"] | None = None
    cap: int | None = None  # rows per group when balancing
    max_rows: int | None = None
    seed: int = 0


@dataclass
class CurationReport:
    """What curation did: rows in and out, and per step what it removed (with reasons)."""

    input_rows: int = 0
    output_rows: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    pii: dict[str, int] = field(default_factory=dict)  # findings by kind
    eval_texts: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def step(self, name: str, before: int, after: int, **detail: Any) -> None:
        self.steps.append({"step": name, "in": before, "removed": before - after, **detail})

    def removed(self, name: str) -> int:
        return sum(s["removed"] for s in self.steps if s["step"] == name)

    def to_dict(self) -> dict[str, Any]:
        return {"input_rows": self.input_rows, "output_rows": self.output_rows,
                "steps": self.steps, "pii": self.pii, "eval_texts": self.eval_texts,
                "options": self.options, "notes": self.notes}


def normalise(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def answers(row: Row) -> tuple[str, ...]:
    return (row.chosen, row.rejected) if isinstance(row, PrefPair) else (row.completion,)


def texts(row: Row) -> tuple[str, ...]:
    return (row.prompt, *answers(row))


def degenerate(text: str) -> bool:
    """A run of one character 40 times, or ≥ 12 word trigrams of which under 30% differ."""
    if _RUN.search(text):
        return True
    w = words(text)
    grams = [tuple(w[i:i + 3]) for i in range(len(w) - 2)]
    return len(grams) >= 12 and len(set(grams)) / len(grams) < 0.3


def _quality(row: Row) -> str | None:
    if not row.prompt.strip() or not all(a.strip() for a in answers(row)):
        return "empty"
    if isinstance(row, PrefPair) and normalise(row.chosen) == normalise(row.rejected):
        return "chosen_equals_rejected"
    if isinstance(row, SftRow) and normalise(row.completion) == normalise(row.prompt):
        return "answer_repeats_prompt"
    if any(degenerate(t) for t in answers(row)):
        return "repetition"
    return None


def _length(row: Row, o: CurationOptions) -> str | None:
    if not o.min_prompt_chars <= len(row.prompt) <= o.max_prompt_chars:
        return "prompt_length"
    if not all(o.min_answer_chars <= len(a) <= o.max_answer_chars for a in answers(row)):
        return "answer_length"
    return None


def _with_texts(row: Row, new: Sequence[str]) -> Row:
    if isinstance(row, PrefPair):
        return replace(row, prompt=new[0], chosen=new[1], rejected=new[2])
    return replace(row, prompt=new[0], completion=new[1])


def _pii(row: Row, mode: str, policy: PolicyEngine | None, kinds: Counter[str]
         ) -> tuple[Row | None, str | None]:
    """The row scrubbed (or None and why it is dropped)."""
    out = []
    for i, text in enumerate(texts(row)):
        if policy is not None:
            decision = policy.evaluate("input" if i == 0 else "output", text, PolicyContext())
            if decision.action is Action.DENY:
                return None, "policy_denied"
            if decision.action is Action.REDACT and decision.text is not None:
                kinds.update(r.split(":", 1)[1] for r in decision.fired if r.startswith("pii:"))
                text = decision.text
        findings = find_pii(text)
        kinds.update(f.kind.value for f in findings)
        if findings and mode == "drop":
            return None, "pii"
        out.append(redact(text, findings) if findings and mode == "scrub" else text)
    return _with_texts(row, out), None


class NgramIndex:
    """Word n-grams of evaluation texts (and the shorter texts whole) to test rows against."""

    def __init__(self, eval_texts: Iterable[str], n: int = 8, min_words: int = 4) -> None:
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        self.short: dict[int, set[tuple[str, ...]]] = defaultdict(set)
        self.count = 0
        for text in eval_texts:
            w = words(text)
            if len(w) >= n:
                self.grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
            elif len(w) >= min_words:
                self.short[len(w)].add(tuple(w))
            else:
                continue
            self.count += 1

    def hits(self, text: str) -> bool:
        w = words(text)
        if any(tuple(w[i:i + self.n]) in self.grams for i in range(len(w) - self.n + 1)):
            return True
        return any(tuple(w[i:i + size]) in items for size, items in self.short.items()
                   for i in range(len(w) - size + 1))


def near_duplicates(vectors: np.ndarray, threshold: float,
                    answers_of: Sequence[tuple[str, ...]] | None = None,
                    block: int = 512) -> list[bool]:
    """Greedy, in order: a row is dropped when a row kept before has cosine ≥ threshold
    with it and (when `answers_of` is given) the same answers. Rows must be L2-normalised
    (the Embedder contract)."""
    n = len(vectors)
    keep = np.zeros(n, dtype=bool)
    for start in range(0, n, block):
        sims = vectors[start:start + block] @ vectors[:start + block].T
        for j in range(sims.shape[0]):
            i = start + j
            close = [int(k) for k in np.flatnonzero((sims[j, :i] >= threshold) & keep[:i])]
            if answers_of is not None:
                close = [k for k in close if answers_of[k] == answers_of[i]]
            keep[i] = not close
    return [bool(k) for k in keep]


def default_eval_texts(report: CurationReport) -> list[str]:
    """Every installed kit's evaluation texts (part F's registry)."""
    try:
        from cerebra.kits.registry import eval_texts
    except ImportError:  # pragma: no cover - the kits part is absent
        report.notes.append("no kits registry: nothing to decontaminate against")
        return []
    return list(eval_texts())


def _filter(rows: list[Row], report: CurationReport, name: str,
            why: Callable[[Row], str | None]) -> list[Row]:
    kept, reasons = [], Counter[str]()
    for row in rows:
        reason = why(row)
        if reason is None:
            kept.append(row)
        else:
            reasons[reason] += 1
    report.step(name, len(rows), len(kept), reasons=dict(reasons))
    return kept


def _group(row: Row, by: str) -> str:
    if by == "label":
        return normalise(answers(row)[0])
    return str(getattr(row, by) or "")


def balance(rows: list[Row], by: str | None, cap: int | None, max_rows: int | None,
            seed: int) -> list[Row]:
    """At most `cap` rows per group and `max_rows` in all, drawn with `seed`, in order."""
    rng = random.Random(seed)
    chosen = set(range(len(rows)))
    if by is not None and cap is not None:
        groups: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            groups[_group(row, by)].append(i)
        for key in sorted(groups):
            members = groups[key]
            if len(members) > cap:
                chosen -= set(members) - set(rng.sample(members, cap))
    if max_rows is not None and len(chosen) > max_rows:
        chosen = set(rng.sample(sorted(chosen), max_rows))
    return [rows[i] for i in sorted(chosen)]


def curate(rows: Sequence[Row], *, eval_texts: Iterable[str] | None = None,
           embedder: Any = None, policy: PolicyEngine | None = None,
           options: CurationOptions | None = None) -> tuple[list[Row], CurationReport]:
    """The rows that pass every step, in their order, and the report. `eval_texts`: None →
    the installed kits'; `embedder`: an Embedder (cerebra.memory.embedders) for near
    duplicates, None skips that step; `policy`: a PolicyEngine also asked about PII."""
    o = options or CurationOptions()
    report = CurationReport(input_rows=len(rows), options=asdict(o))
    out = list(rows)
    if o.quality:
        out = _filter(out, report, "quality", _quality)
    out = _filter(out, report, "length", lambda r: _length(r, o))
    if o.pii != "keep" or policy is not None:
        kinds: Counter[str] = Counter()
        scrubbed: list[Row] = []
        reasons: Counter[str] = Counter()
        changed = 0
        for row in out:
            new, why = _pii(row, o.pii, policy, kinds)
            if new is None:
                reasons[why or "pii"] += 1
                continue
            changed += new != row
            scrubbed.append(new)
        report.step("pii", len(out), len(scrubbed), action=o.pii, scrubbed_rows=changed,
                    reasons=dict(reasons))
        report.pii = dict(sorted(kinds.items()))
        out = scrubbed
    if o.exact_dedup:
        seen: set[tuple[str, ...]] = set()

        def duplicate(row: Row) -> str | None:
            key = tuple(normalise(t) for t in texts(row))
            if key in seen:
                return "duplicate"
            seen.add(key)
            return None

        out = _filter(out, report, "exact_duplicates", duplicate)
    if o.decontaminate:
        index = NgramIndex(default_eval_texts(report) if eval_texts is None else eval_texts,
                           o.ngram, o.min_eval_words)
        report.eval_texts = index.count
        out = _filter(out, report, "decontamination",
                      lambda r: "eval_overlap" if any(index.hits(t) for t in texts(r))
                      else None)
    if embedder is not None and o.near_dup_threshold is not None and out:
        vectors = np.asarray(embedder.embed([r.prompt for r in out]), dtype=np.float32)
        keep = near_duplicates(vectors, o.near_dup_threshold,
                               [tuple(normalise(a) for a in answers(r)) for r in out])
        before = len(out)
        out = [r for r, k in zip(out, keep, strict=True) if k]
        report.step("near_duplicates", before, len(out), threshold=o.near_dup_threshold,
                    embedder=str(getattr(embedder, "model_id", type(embedder).__name__)))
    if (o.balance_by is not None and o.cap is not None) or o.max_rows is not None:
        before = len(out)
        out = balance(out, o.balance_by, o.cap, o.max_rows, o.seed)
        report.step("balance", before, len(out), by=o.balance_by, cap=o.cap,
                    max_rows=o.max_rows, seed=o.seed)
    report.output_rows = len(out)
    return out, report
