"""Evaluating an Answerer on a kit: every held-out item answered in batches and checked,
accuracy with a Wilson interval; an answerer that loses answers is refused."""

from __future__ import annotations

import pytest

from cerebra.errors import InvalidInput
from cerebra.kits.registry import get_kit
from cerebra.kits.run import evaluate, wilson


def test_the_references_score_full_marks_and_echoes_none() -> None:
    kit = get_kit("date-iso")
    by_prompt = {kit.prompt(i): kit.completion(i) for i in kit.eval}
    batches: list[int] = []

    def oracle(prompts: list[str]) -> list[str]:
        batches.append(len(prompts))
        return [by_prompt[p] + "\nDate:" for p in prompts]

    run = evaluate(kit, oracle, limit=40, batch=16, model="oracle")
    assert (run.total, run.passed, run.accuracy, run.model) == (40, 40, 1.0, "oracle")
    assert batches == [16, 16, 8] and run.low > 0.9 and run.high == 1.0
    echo = evaluate(kit, lambda prompts: [p.split("Date: ")[1] for p in prompts], limit=10)
    assert echo.passed == 0 and echo.items[0].reason.startswith("expected")
    train = evaluate(kit, lambda prompts: [" 1999-01-01"] * len(prompts), split="train")
    assert train.total == len(kit.train) and train.items[0].id.startswith("date-train-")


def test_an_answerer_must_answer_every_prompt() -> None:
    kit = get_kit("ticket-triage")
    with pytest.raises(InvalidInput, match="gave 1 answers for 2 prompts"):
        evaluate(kit, lambda prompts: ["bug"], limit=2)
    with pytest.raises(InvalidInput):
        evaluate(kit, lambda prompts: prompts, limit=0)


def test_wilson_interval() -> None:
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.404, abs=1e-3) and high == pytest.approx(0.596, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)
