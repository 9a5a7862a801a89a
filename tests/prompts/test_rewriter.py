"""The rewriter: rule and model variants are stored as versions, scored on the same inputs
by a (deterministic) judge, and adopted as production only on a significant win."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from cerebra.errors import InvalidInput, NotFound
from cerebra.prompts.rewriter import PromptRewriter
from cerebra.prompts.template_store import TemplateStore


@dataclass(frozen=True)
class Scores:
    scores: Mapping[str, float]


class BulletJudge:
    """Scores an answer 1 when it has bullet points, else 0 (deterministic)."""

    def __init__(self) -> None:
        self.calls = 0

    def judge(self, prompt: str, answers: Mapping[str, str]) -> Scores:
        self.calls += 1
        return Scores({cid: 1.0 if "\n- " in text else 0.0 for cid, text in answers.items()})


def answer(prompt: str) -> str:
    """A model that uses bullets only when the prompt asks for them."""
    return "Yes.\n- one\n- two" if "bullet" in prompt else "Yes, one and two."


INPUTS = [{"topic": f"topic {i}"} for i in range(10)]


def test_adopts_a_variant_that_wins_significantly(templates: TemplateStore) -> None:
    templates.add("explain", "Explain {{ topic }}.")
    judge = BulletJudge()
    report = PromptRewriter(templates, judge=judge, answer=answer).rewrite("explain", INPUTS)
    by_origin = {c.origin: c for c in report.candidates}
    winner = by_origin["rewrite:output_format"]
    assert report.adopted == winner.version
    assert templates.get("explain").version == winner.version
    assert "bullet points" in templates.get("explain").source
    assert winner.significance is not None and winner.significance.p_value is not None
    assert winner.significance.p_value < report.alpha
    # every variant kept as a version, with its origin and parent
    versions = templates.versions("explain")
    assert len(versions) == 1 + len(report.candidates)
    assert {v.origin for v in versions[1:]} == set(by_origin)
    assert all(v.parent_version == 1 for v in versions[1:])
    assert by_origin["rewrite:constraints"].significance.winner is None  # type: ignore[union-attr]
    assert judge.calls == len(INPUTS) * len(report.candidates)


def test_no_adoption_without_significance(templates: TemplateStore) -> None:
    templates.add("explain", "Explain {{ topic }}.")
    rewriter = PromptRewriter(templates, judge=BulletJudge(), answer=answer)
    # three wins out of three are not significant (one-sided Wilcoxon: p = 1/8)
    small = rewriter.rewrite("explain", INPUTS[:3], rules=["output_format"])
    assert small.adopted is None and small.candidates[0].scores == (1.0, 1.0, 1.0)
    assert templates.get("explain").version == 1
    assert "stays on version 1" in small.notes[0]
    # no difference at all: nothing adopted either, and the variant is still kept
    flat = rewriter.rewrite("explain", INPUTS, rules=["constraints"])
    assert flat.adopted is None and templates.get("explain").version == 1
    assert len(templates.versions("explain")) == 3


def test_model_variant_checked_before_it_counts(templates: TemplateStore) -> None:
    templates.add("explain", "Explain {{ topic }}.")

    def good_model(prompt: str) -> str:
        assert "Explain {{ topic }}." in prompt
        return "```\nExplain {{ topic }}. Use bullet points.\n```"

    report = PromptRewriter(templates, judge=BulletJudge(), model=good_model,
                            model_name="fake", answer=answer).rewrite(
        "explain", INPUTS, rules=[])
    assert report.candidates[0].origin == "model:fake"
    assert report.adopted == 2
    assert templates.get("explain").source == "Explain {{ topic }}. Use bullet points."

    for reply, why in [("Explain {{ subject }}.", "changed the variables"),
                       ("{{ topic.__class__ }}", "refused"),
                       ("Explain {{ topic }}. Use bullet points. ", "unchanged")]:
        report = PromptRewriter(templates, judge=BulletJudge(), model=lambda _p, r=reply: r,
                                answer=answer).rewrite("explain", INPUTS, rules=[],
                                                       label="production")
        assert report.candidates[0].version is None and why in report.candidates[0].skipped
        assert report.adopted is None


def test_rule_already_present_is_skipped_and_bad_input(templates: TemplateStore) -> None:
    templates.add("explain", "Explain {{ topic }}.")
    rewriter = PromptRewriter(templates, judge=BulletJudge(), answer=answer)
    rewriter.rewrite("explain", INPUTS, rules=["output_format"])
    again = rewriter.rewrite("explain", INPUTS, rules=["output_format"])
    assert again.candidates[0].skipped == "the template already says this"
    with pytest.raises(InvalidInput) as caught:
        rewriter.rewrite("explain", [{"wrong": 1}])
    assert caught.value.field == "variables.topic"
    with pytest.raises(InvalidInput):
        rewriter.rewrite("explain", INPUTS, rules=["nope"])
    with pytest.raises(InvalidInput):
        rewriter.rewrite("explain", [])
    with pytest.raises(NotFound):
        rewriter.rewrite("missing", INPUTS)
