"""The kit format: kit.yaml, train.jsonl and eval.jsonl validated with errors naming the file,
the line and the key; prompts rendered in a sandbox without the reference; every checker
kind scoring a right and a wrong answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cerebra.kits.kit import Kit, KitError, KitItem, load_kit
from tests.kits.helpers import KIT_YAML, write_kit


def _error(folder: Path) -> str:
    with pytest.raises(KitError) as caught:
        load_kit(folder)
    return caught.value.message


def test_a_valid_kit_loads_with_its_items_and_a_stable_hash(tmp_path: Path) -> None:
    kit = load_kit(write_kit(tmp_path / "k"))
    assert (kit.name, kit.task, len(kit.train), len(kit.eval)) == ("demo", "demo", 3, 3)
    assert kit.eval[0] == KitItem("e0", "eval question 0", "b0", {})
    assert kit.prompt(kit.eval[0]) == "Q: eval question 0\nA:"
    assert kit.completion(kit.eval[0]) == " b0"
    assert load_kit(tmp_path / "k").content_hash == kit.content_hash
    (tmp_path / "k" / "eval.jsonl").write_text('{"id": "x", "input": "y", "reference": "z"}\n')
    assert load_kit(tmp_path / "k").content_hash != kit.content_hash


@pytest.mark.parametrize(("yaml_text", "wanted"), [
    (KIT_YAML.format(name="demo") + "colour: red\n", "line 7: colour: Extra inputs"),
    (KIT_YAML.format(name="demo").replace("normalized", "fuzzy"), "line 6: checker.kind"),
    (KIT_YAML.format(name="Bad Name"), "line 1: name: String should match"),
    (KIT_YAML.format(name="demo") + "max_tokens: 0\n", "line 7: max_tokens"),
    ("name: [unclosed\n", "line 2: not valid YAML"),
    ("- a list\n", "must be a mapping"),
    (KIT_YAML.format(name="demo").replace("{{ input }}", "{% if %}"), "prompt_template"),
])
def test_kit_yaml_errors_name_the_line_and_key(tmp_path: Path, yaml_text: str,
                                               wanted: str) -> None:
    message = _error(write_kit(tmp_path / "k", yaml_text=yaml_text))
    assert "kit.yaml" in message and wanted in message


def test_jsonl_errors_name_the_file_and_line(tmp_path: Path) -> None:
    folder = write_kit(tmp_path / "k")
    lines = (folder / "eval.jsonl").read_text().splitlines()
    (folder / "eval.jsonl").write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    assert "eval.jsonl line 2: not JSON" in _error(folder)
    write_kit(folder, eval_=[{"id": "1", "input": "x", "reference": "y"},
                             {"id": "2", "input": "z"}])
    assert "eval.jsonl line 2: reference: required by the checker" in _error(folder)
    write_kit(folder, eval_=[{"id": "1", "input": "x", "reference": "y"},
                             {"id": "1", "input": "z", "reference": "y"}])
    assert "eval.jsonl line 2: id: duplicate id '1'" in _error(folder)
    write_kit(folder, eval_=[{"id": "1", "input": "   ", "reference": "y"}])
    assert "eval.jsonl line 1: input: required" in _error(folder)
    write_kit(folder, eval_=[])
    assert "eval.jsonl: no items" in _error(folder)
    (folder / "eval.jsonl").unlink()
    assert "eval.jsonl: missing" in _error(folder)


def test_train_and_eval_must_not_share_an_input(tmp_path: Path) -> None:
    folder = write_kit(tmp_path / "k", train=[{"id": "t", "input": "Same  Question?",
                                               "reference": "a"}],
                       eval_=[{"id": "e", "input": "same question", "reference": "a"}])
    assert "repeats the input of eval item 'e'" in _error(folder)


def test_the_prompt_sees_the_item_fields_but_never_the_reference(tmp_path: Path) -> None:
    text = KIT_YAML.format(name="demo").replace("Q: {{ input }}", "[{{ topic }}] {{ input }}")
    kit = load_kit(write_kit(tmp_path / "k", yaml_text=text, eval_=[
        {"id": "1", "input": "x", "reference": "secret", "topic": "maths"}]))
    assert kit.prompt(kit.eval[0]) == "[maths] x\nA:"
    leaky = text.replace("{{ topic }}", "{{ reference }}")
    assert "reference" in _error(write_kit(tmp_path / "k2", yaml_text=leaky, eval_=[
        {"id": "1", "input": "x", "reference": "secret", "topic": "maths"}]))


def test_the_template_runs_in_a_sandbox(tmp_path: Path) -> None:
    text = KIT_YAML.format(name="demo").replace(
        "Q: {{ input }}", "{{ input.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(KitError):
        load_kit(write_kit(tmp_path / "k", yaml_text=text))


def test_answers_are_cut_at_the_stop_sequence_and_checked(tmp_path: Path) -> None:
    kit = load_kit(write_kit(tmp_path / "k"))
    item = kit.eval[1]
    assert kit.check(item, " B1.\nQ: next question").passed
    assert kit.check(item, "\n\n b1\nQ: next question").passed  # the first line with text
    wrong = kit.check(item, " b2\nb1")
    assert not wrong.passed and wrong.score == 0 and "expected 'b1'" in wrong.reason


def _kit_with(tmp_path: Path, checker: str, eval_: list[dict[str, Any]],
              checker_py: str | None = None) -> Kit:
    text = KIT_YAML.format(name="demo").replace("  kind: normalized\n", checker)
    return load_kit(write_kit(tmp_path / "k", yaml_text=text, eval_=eval_, train=[],
                              checker=checker_py))


def test_every_checker_kind(tmp_path: Path) -> None:
    item = {"id": "1", "input": "q", "reference": "42"}
    numeric = _kit_with(tmp_path / "n", "  kind: numeric\n  abs_tol: 0.5\n", [item])
    assert numeric.check(numeric.eval[0], " about 42.3").passed
    assert not numeric.check(numeric.eval[0], " 41").passed
    regex = _kit_with(tmp_path / "r", "  kind: regex\n  pattern: '^\\d{4}-\\d\\d$'\n",
                      [{"id": "1", "input": "q"}])
    assert regex.check(regex.eval[0], " 2023-05").passed
    assert not regex.check(regex.eval[0], " May 2023").passed
    exact = _kit_with(tmp_path / "e", "  kind: exact\n", [item])
    assert exact.check(exact.eval[0], " 42 ").passed
    contains = _kit_with(tmp_path / "c", "  kind: normalized\n  contains: true\n", [item])
    assert contains.check(contains.eval[0], "It is 42.").passed
    assert not contains.check(contains.eval[0], "It is 420.").passed


def test_json_schema_with_a_field_match(tmp_path: Path) -> None:
    checker = ("  kind: json_schema\n  match_reference: true\n  schema:\n    type: object\n"
               "    required: [name, amount]\n")
    kit = _kit_with(tmp_path, checker, [{"id": "1", "input": "q",
                                         "reference": {"name": "Anna Costa", "amount": 39}}])
    item = kit.eval[0]
    assert json.loads(item.reference or "") == {"name": "Anna Costa", "amount": 39}
    assert kit.check(item, ' {"name": "anna costa", "amount": 39.0}').passed
    half = kit.check(item, ' {"name": "Anna Costa", "amount": 40}')
    assert not half.passed and half.score == 0.5 and "amount" in half.reason
    assert not kit.check(item, ' {"name": "Anna Costa"}').passed
    assert kit.check(item, " no json").reason == "the answer holds no JSON"


def test_a_function_checker_sees_the_reference_and_runs_sandboxed(tmp_path: Path) -> None:
    source = ("def check(answer):\n"
              "    return answer.strip()[::-1] == REFERENCE and ITEM['id'] == '1'\n")
    kit = _kit_with(tmp_path, "  kind: function\n  file: checker.py\n",
                    [{"id": "1", "input": "q", "reference": "cba"}], checker_py=source)
    assert kit.check(kit.eval[0], " abc").passed
    assert not kit.check(kit.eval[0], " cba").passed
    hang = _kit_with(tmp_path / "h",
                     "  kind: function\n  time_limit_s: 0.5\n  file: checker.py\n",
                     [{"id": "1", "input": "q"}],
                     checker_py="def check(a):\n    while True: pass\n")
    result = hang.check(hang.eval[0], "x")
    assert not result.passed and result.reason.startswith("failed:")


def test_a_function_checker_must_compile(tmp_path: Path) -> None:
    with pytest.raises(KitError, match=r"checker.py line 2: the checker does not compile"):
        _kit_with(tmp_path, "  kind: function\n  file: checker.py\n",
                  [{"id": "1", "input": "q"}], checker_py="def check(a):\n  return (\n")
    with pytest.raises(KitError, match="exactly one of source and file"):
        _kit_with(tmp_path / "b", "  kind: function\n", [{"id": "1", "input": "q"}])
