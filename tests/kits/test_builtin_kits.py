"""The shipped kits: each loads, holds at least 200 held-out items disjoint from its training
items, its checker passes the reference and fails a wrong answer, and the templated ones
rebuild identically from the seeded builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.judging.checker import normalize
from cerebra.kits.build import build
from cerebra.kits.registry import BUILTIN_DIR, builtin_kits, get_kit

NAMES = ["cerebra-docs", "date-iso", "invoice-extract", "ticket-triage"]


def test_four_kits_of_different_kinds_ship() -> None:
    kits = {k.name: k for k in builtin_kits()}
    assert sorted(kits) == NAMES
    assert len({k.task for k in kits.values()}) == 4
    assert {k.checker_kind for k in kits.values()} >= {"exact", "normalized", "json_schema"}


@pytest.mark.parametrize("name", NAMES)
def test_each_kit_has_200_held_out_items_disjoint_from_training(name: str) -> None:
    kit = get_kit(name)
    assert len(kit.eval) >= 200 and len(kit.train) >= 200
    train = {normalize(i.input) for i in kit.train}
    held_out = {normalize(i.input) for i in kit.eval}
    assert len(held_out) == len(kit.eval) and not train & held_out
    assert all(i.reference for i in kit.eval + kit.train)
    prompt = kit.prompt(kit.eval[0])
    assert kit.eval[0].input in prompt and (kit.eval[0].reference or "") not in prompt[-30:]


@pytest.mark.parametrize(("name", "wrong"), [
    ("date-iso", " 2019-28-04"), ("invoice-extract", ' {"person": "Nobody", "company": "X",'
                                                     ' "amount": 1}'),
    ("ticket-triage", " refund"), ("cerebra-docs", " something else")])
def test_each_checker_passes_the_reference_and_fails_a_wrong_answer(name: str,
                                                                    wrong: str) -> None:
    kit = get_kit(name)
    for item in kit.eval[:20]:
        assert kit.check(item, kit.completion(item) + "\nnext line").passed, item
        assert not kit.check(item, wrong).passed
        assert not kit.check(item, "").passed
    rows = kit.sft_rows()
    assert len(rows) == len(kit.train) and rows[0].prompt == kit.prompt(kit.train[0])
    assert rows[0].completion == " " + (kit.train[0].reference or "")
    assert rows[0].task == kit.task and rows[0].source == f"kit:{name}"


def test_the_templated_kits_rebuild_identically(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    build(root, tmp_path)
    for name in ["date-iso", "invoice-extract", "ticket-triage"]:
        for split in ("train.jsonl", "eval.jsonl"):
            assert (tmp_path / name / split).read_bytes() == \
                (BUILTIN_DIR / name / split).read_bytes(), (name, split)


@pytest.mark.parametrize("name", NAMES)
def test_each_kits_workflow_defaults_are_workflow_keys(name: str) -> None:
    import yaml

    from cerebra.improve.workflow import load_workflow

    kit = get_kit(name)
    text = f"extends: sft-lora-cpu\nname: {name}\ndatasets: [d]\n" + yaml.safe_dump(kit.workflow)
    workflow = load_workflow(text)
    assert workflow.max_steps == kit.workflow["max_steps"] and workflow.stage == "sft"
