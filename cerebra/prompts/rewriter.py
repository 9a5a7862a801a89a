"""PromptRewriter: variants of a template (rules, and a model), scored against the current
version on the same inputs by a judge, every variant kept as a version, and the best one
adopted as the new production version only when it wins with significance.

The loop, for a template's current (production) version and a set of inputs (variables):
1. candidates — each rule (explicit instructions, an output format, constraints, a role,
   step by step) that is not already in the text, and, given a model, the model's rewrite
   (kept only when it compiles in the sandbox and reads exactly the same variables);
2. every candidate is stored as a new version (origin `rewrite:<rule>` or `model:<name>`,
   parent the current version), so nothing is lost whether it wins or not;
3. for each input, the current version and the candidate are rendered (and answered, given
   an `answer` model); the judge scores both answers to the same input;
4. paired one-sided Wilcoxon signed-rank test per candidate, alpha Bonferroni-divided by
   the number of candidates; the significant candidate with the largest mean gain gets the
   label (production) — otherwise the label stays where it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from cerebra.context import RequestContext
from cerebra.errors import CerebraError, InvalidInput
from cerebra.prompts.ab import Judge, Significance, compare_paired
from cerebra.prompts.manager import PromptManager, TextModel
from cerebra.prompts.sandbox import check_source
from cerebra.prompts.template_store import PRODUCTION, TemplateStore, TemplateVersion


def _prepend(text: str) -> Callable[[str], str]:
    return lambda source: f"{text}\n\n{source}"


def _append(text: str) -> Callable[[str], str]:
    return lambda source: f"{source.rstrip()}\n\n{text}"


RuleName = Literal["explicit_instructions", "output_format", "constraints", "role",
                   "step_by_step"]
RULES: dict[str, Callable[[str], str]] = {
    "explicit_instructions": _prepend(
        "Read the request below carefully and do exactly what it asks."),
    "output_format": _append(
        "Format: start with a one-sentence answer, then give the details as short bullet "
        "points."),
    "constraints": _append(
        "Constraints: be accurate, say so when you are unsure, do not invent facts, and "
        "keep the answer under 150 words."),
    "role": _prepend("You are an expert assistant who answers precisely."),
    "step_by_step": _append("Think it through step by step, then give the final answer."),
}

assert set(RULES) == set(get_args(RuleName))

REWRITE_INSTRUCTION = (
    "Improve this prompt template so that a language model answers it better: make the "
    "instructions explicit, state the expected format and any constraints. Keep every "
    "{{{{ variable }}}} placeholder exactly as written and add no new ones. Reply with the "
    "improved template only.\n\nTemplate:\n{source}\n"
)
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\n(.*?)\n```$", re.DOTALL)
CURRENT, CANDIDATE = "current", "candidate"


@dataclass(frozen=True)
class Candidate:
    """One variant and how it did against the current version."""

    origin: str  # rewrite:<rule> | model:<name>
    version: int | None  # None: not stored (skipped)
    scores: tuple[float, ...] = ()
    baseline: tuple[float, ...] = ()
    significance: Significance | None = None
    skipped: str = ""  # why it was not evaluated

    def to_dict(self) -> dict[str, Any]:
        return {"origin": self.origin, "version": self.version, "skipped": self.skipped,
                "scores": [round(s, 6) for s in self.scores],
                "baseline": [round(s, 6) for s in self.baseline],
                "significance": None if self.significance is None
                else self.significance.to_dict()}


@dataclass(frozen=True)
class RewriteReport:
    name: str
    label: str
    current_version: int
    alpha: float  # per candidate, after the Bonferroni division
    candidates: tuple[Candidate, ...] = ()
    adopted: int | None = None  # the version the label now points at, when it moved
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label,
                "current_version": self.current_version, "alpha": self.alpha,
                "adopted": self.adopted, "candidates": [c.to_dict() for c in self.candidates],
                "notes": list(self.notes)}


def model_variant(source: str, model: TextModel) -> str:
    """The model's rewrite of `source`, without a code fence around it."""
    reply = model(REWRITE_INSTRUCTION.format(source=source)).strip()
    fenced = _FENCE.match(reply)
    return fenced.group(1).strip() if fenced else reply


class PromptRewriter:
    """Generate, evaluate and (on a significant win) adopt variants of stored templates."""

    def __init__(self, templates: TemplateStore, *, judge: Judge,
                 model: TextModel | None = None, model_name: str = "model",
                 answer: TextModel | None = None) -> None:
        self.templates = templates
        self.judge = judge
        self.model = model  # writes a variant
        self.model_name = model_name
        self.answer = answer  # answers each rendered prompt; None: the prompt is judged

    def candidates(self, current: TemplateVersion,
                   rules: Sequence[str] | None = None) -> list[tuple[str, str | None, str]]:
        """(origin, source or None, why skipped) for each rule and the model."""
        chosen = list(RULES) if rules is None else list(rules)
        unknown = [r for r in chosen if r not in RULES]
        if unknown:
            raise InvalidInput(f"unknown rule {unknown[0]!r} (known: {', '.join(RULES)})",
                               field="rules")
        out: list[tuple[str, str | None, str]] = []
        for rule in chosen:
            source = RULES[rule](current.source)
            added = source.replace(current.source, "").strip()
            if added and added in current.source:
                out.append((f"rewrite:{rule}", None, "the template already says this"))
            else:
                out.append((f"rewrite:{rule}", source, ""))
        if self.model is not None:
            origin = f"model:{self.model_name}"[:200]
            try:
                source = model_variant(current.source, self.model)
                variables = check_source(source, current.name)
            except CerebraError as error:
                out.append((origin, None, f"the model's rewrite was refused: {error.message}"))
            else:
                if variables != set(current.variables):
                    out.append((origin, None, "the model's rewrite changed the variables "
                                f"({sorted(variables)} instead of {list(current.variables)})"))
                elif source.strip() == current.source.strip():
                    out.append((origin, None, "the model returned the template unchanged"))
                else:
                    out.append((origin, source, ""))
        return out

    def rewrite(
        self,
        name: str,
        inputs: Sequence[Mapping[str, Any]],
        *,
        rules: Sequence[str] | None = None,
        label: str = PRODUCTION,
        alpha: float = 0.05,
        agent_id: str = "rewriter",
        context: RequestContext | None = None,
    ) -> RewriteReport:
        """Rewrite `name` (its `label` version), evaluate on `inputs`, adopt on a win."""
        if not inputs or len(inputs) > 200:
            raise InvalidInput("give 1-200 inputs (the variables of each case)",
                               field="inputs")
        if not 0 < alpha < 1:
            raise InvalidInput("alpha must be between 0 and 1", field="alpha")
        current = self.templates.get(name, label=label, context=context)
        manager = PromptManager(templates=self.templates, context=context)
        tasks = [manager.render(agent_id, name, version=current.version, variables=values)
                 for values in inputs]  # 422 here: the inputs do not fit the template
        baseline_answers = [self._answer(task) for task in tasks]
        proposals = self.candidates(current, rules)
        evaluated = [p for p in proposals if p[1] is not None]
        per_alpha = alpha / max(1, len(evaluated))
        results: list[Candidate] = []
        for origin, source, why in proposals:
            if source is None:
                results.append(Candidate(origin, None, skipped=why))
                continue
            stored = self.templates.add(name, source, origin=origin,
                                        parent_version=current.version,
                                        note=f"variant of version {current.version}",
                                        context=context)
            mine, theirs = [], []
            for values, task, incumbent in zip(inputs, tasks, baseline_answers, strict=True):
                prompt = manager.render(agent_id, name, version=stored.version, variables=values)
                verdict = self.judge.judge(task, {CURRENT: incumbent,
                                                  CANDIDATE: self._answer(prompt)})
                theirs.append(float(verdict.scores.get(CURRENT, 0.0)))
                mine.append(float(verdict.scores.get(CANDIDATE, 0.0)))
            results.append(Candidate(origin, stored.version, tuple(mine), tuple(theirs),
                                     compare_paired(theirs, mine, alpha=per_alpha)))
        winners = [c for c in results if c.significance is not None
                   and c.significance.significant]
        adopted = None
        if winners:
            best = max(winners, key=lambda c: (c.significance.mean_b - c.significance.mean_a
                                               if c.significance else 0.0))
            assert best.version is not None
            self.templates.set_label(name, label, best.version, context=context)
            adopted = best.version
        notes = () if winners else (
            f"no variant beat version {current.version} at alpha {alpha}; "
            f"{label!r} stays on version {current.version}",)
        return RewriteReport(name, label, current.version, per_alpha, tuple(results), adopted,
                             notes)

    def _answer(self, prompt: str) -> str:
        return self.answer(prompt) if self.answer is not None else prompt
