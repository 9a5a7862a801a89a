"""Synthetic augmentation: paraphrases of SFT prompts made by a local model, each kept only
when the task's checker still passes the paraphrased prompt with the original answer.

`augment(rows, paraphrase, check, n_per_row)` is the step; `keeps_answer_facts` the check the
loop uses (cerebra.improve.loop, `CycleOptions.augment`); `model_paraphraser(models)` is
the default paraphraser: a model from the models registry (a local one, by name) asked to
rewrite the prompt, with a fixed seed per attempt so a run is repeatable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cerebra.improve.curation import normalise
from cerebra.improve.rows import Row, SftRow

PARAPHRASE_PROMPT = (
    "Rewrite the following request in different words. Keep every fact, number and name "
    "exactly; do not answer it. Reply with the rewritten request only.\n\nRequest: {prompt}")


@dataclass
class AugmentReport:
    rows: int = 0  # SFT rows offered
    attempts: int = 0  # paraphrases asked for
    kept: int = 0
    same: int = 0  # the paraphrase was the prompt again (or repeated one)
    failed_check: int = 0
    errors: int = 0  # the paraphraser raised

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def add(self, other: AugmentReport) -> None:
        for key, value in other.__dict__.items():
            setattr(self, key, getattr(self, key) + value)


def keeps_answer_facts(original: str, paraphrase: str, answer: str) -> bool:
    """Whether `paraphrase` still states every fact of the `original` prompt that the
    answer repeats: each number and each word of the answer (3+ characters, compared
    normalised) found in the original must be found in the paraphrase too. A paraphrase
    that drops a name, a date part or an amount the answer depends on would teach the model
    to invent it."""
    def tokens(text: str) -> set[str]:
        return {t for t in re.findall(r"[0-9]+|[^\W\d_]{3,}", normalise(text))}

    needed = tokens(answer) & tokens(original)
    return needed <= tokens(paraphrase)


def augment(rows: Sequence[Row], paraphrase: Callable[[str], str],
            check: Callable[[SftRow], bool], n_per_row: int = 1, *,
            max_prompt_chars: int = 8000) -> tuple[list[Row], AugmentReport]:
    """The rows, each SFT row followed by up to `n_per_row` checked paraphrases of its
    prompt (source "<source>+paraphrase", same trace and task). Preference pairs pass
    through unchanged. A paraphrase equal to the prompt or to an earlier one, empty, too
    long, or failing `check` is not kept."""
    if n_per_row < 0:
        raise ValueError("n_per_row must be ≥ 0")
    report = AugmentReport()
    out: list[Row] = []
    for row in rows:
        out.append(row)
        if not isinstance(row, SftRow):
            continue
        report.rows += 1
        seen = {normalise(row.prompt)}
        for _ in range(n_per_row):
            report.attempts += 1
            try:
                text = paraphrase(row.prompt).strip()
            except Exception:  # a paraphraser's failure skips one attempt
                report.errors += 1
                continue
            if not text or len(text) > max_prompt_chars or normalise(text) in seen:
                report.same += 1
                continue
            seen.add(normalise(text))
            candidate = replace(row, prompt=text, source=f"{row.source}+paraphrase"[:200])
            if not check(candidate):
                report.failed_check += 1
                continue
            report.kept += 1
            out.append(candidate)
    return out, report


def model_paraphraser(models: Any, model: str | None = None, *, temperature: float = 0.8,
                      max_tokens: int = 256, seed: int = 0) -> Callable[[str], str]:
    """A paraphraser backed by a model of a ModelRegistry (`model`: its name; None: the
    registry's default). Each call uses the next seed, so attempts differ but a run repeats."""
    from cerebra.models.base import GenerationRequest, Message

    counter = iter(range(seed, seed + 2**31))

    def paraphrase(prompt: str) -> str:
        backend = models.get(model)
        request = GenerationRequest(
            messages=(Message("user", PARAPHRASE_PROMPT.format(prompt=prompt)),),
            max_tokens=max_tokens, temperature=temperature, seed=next(counter))
        return str(backend.generate(request).text)

    return paraphrase
