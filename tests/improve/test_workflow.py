"""Workflows: every mistake names its key and line; `extends:` chains (and cycles);
environment overrides; the templates; the mapping to the trainer's TrainConfig."""

from __future__ import annotations

from pathlib import Path

import pytest

from cerebra.improve.workflow import (
    TEMPLATES_DIR,
    Workflow,
    WorkflowError,
    load_workflow,
    templates,
    validate,
)


def _error(text: str, **kwargs: object) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        load_workflow(text, **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(("text", "line", "field", "words"), [
    ("name: a\nlora_r: 4\nlora_rr: 8\n", 3, "lora_rr", "unknown key (did you mean lora_r?)"),
    ("name: a\n\n\nlearning_rate: fast\n", 4, "learning_rate", "must be a number"),
    ("name: a\nlora_r: 8.5\n", 2, "lora_r", "must be a whole number"),
    ("name: a\nlora_r: '8'\n", 2, "lora_r", "must be a whole number"),
    ("name: a\nlora_r: 0\n", 2, "lora_r", "must be ≥ 1"),
    ("name: a\nlora_alpha: 0\n", 2, "lora_alpha", "must be > 0"),
    ("name: a\nlearning_rate: 2\n", 2, "learning_rate", "must be ≤ 1"),
    ("name: a\nlearning_rate: -1e-4\n", 2, "learning_rate", "must be > 0"),
    ("name: a\nnum_epochs: 0\nmax_steps: 0\n", 3, "max_steps", "both 0"),
    ("name: a\nstage: ppo\n", 2, "stage", "must be one of 'sft' or 'dpo'"),
    ("name: a\npromotion:\n  alpha: 0.05\n  min_gain: -3\n", 4, "promotion.min_gain", "≥ 0"),
    ("name: a\neval:\n  guards: [ok, 'not ok']\n", 3, "eval.guards.1", "not a valid name"),
    ("name: a\nlora_r: 4\nlora_r: 8\n", 3, "lora_r", "given twice"),
    ("name: a\nepochs: 1\nnum_epochs: 2\n", 2, "epochs", "the same key as num_epochs"),
    ("name: a\neval: yes\n", 2, "eval", "must be a mapping"),
])
def test_every_error_names_the_key_and_its_line(text: str, line: int, field: str,
                                                  words: str) -> None:
    error = _error(text)
    assert error.field == field
    assert error.extra["line"] == line
    assert error.message.startswith(f"line {line}: {field}: ")
    assert words in error.message
    assert error.status_code == 422
    assert error.to_dict()["line"] == line


def test_bad_yaml_and_shapes_name_their_line() -> None:
    assert _error("name: a\nlora_r: [1,\n").message.startswith("line 3: not YAML")
    assert _error("- a\n- b\n").message == "line 1: a workflow is a mapping of keys"
    assert "aliases are not accepted" in _error("a: &x [1]\nb: *x\n").message
    missing = _error("lora_r: 4\n")
    assert missing.field == "name" and missing.message == "name: required"


def test_qlora_is_refused_naming_adapter_where_it_cannot_run() -> None:
    pytest.importorskip("torch")
    import importlib.util

    import torch

    if importlib.util.find_spec("bitsandbytes") and torch.cuda.is_available():
        assert load_workflow("name: a\nadapter: qlora\n").adapter == "qlora"
        return
    error = _error("name: a\nadapter: qlora\n")
    assert error.field == "adapter" and "line 2: adapter: qlora needs" in error.message


def test_a_child_overrides_its_template_key_by_key() -> None:
    wf = load_workflow("name: mine\nextends: quick\nlora_r: 4\npromotion:\n  min_gain: 5\n")
    assert (wf.name, wf.lora_r, wf.max_steps) == ("mine", 4, 20)  # quick's max_steps
    assert wf.lora_alpha == 16  # from quick
    assert wf.learning_rate == pytest.approx(1e-4)  # from sft-lora-cpu, two levels up
    assert wf.promotion.min_gain == 5 and wf.promotion.alpha == 0.05  # merged, not replaced
    assert wf.eval.limit == 50


def test_an_inherited_bad_value_names_the_file_it_came_from(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("lora_r: 4\n\nlora_dropout: 0.9\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\n")
    error = _error(tmp_path / "child.yaml")  # type: ignore[arg-type]
    assert error.message.startswith("base.yaml line 3: lora_dropout: must be ≤ 0.5")
    assert "line" not in error.extra  # not a line of the document itself


def test_extends_chains_through_files_and_refuses_cycles(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nlora_r: 2\n")
    (tmp_path / "b.yaml").write_text("extends: quick\nseed: 7\n")
    wf = load_workflow(tmp_path / "a.yaml")
    assert (wf.name, wf.lora_r, wf.seed, wf.max_steps) == ("a", 2, 7, 20)
    (tmp_path / "b.yaml").write_text("extends: c.yaml\n")
    (tmp_path / "c.yaml").write_text("extends: a.yaml\n")
    error = _error(tmp_path / "a.yaml")  # type: ignore[arg-type]
    assert "cycle (b.yaml → c.yaml → a.yaml → b.yaml)" in error.message
    assert error.field == "extends"


def test_text_may_not_extend_a_file_nor_an_unknown_name() -> None:
    assert "only from a local file" in _error("name: a\nextends: /etc/passwd.yaml\n").message
    error = _error("name: a\nextends: nope\n")
    assert error.message.startswith("line 2: extends: no template or stored workflow 'nope'")


def test_extends_a_stored_workflow_through_lookup() -> None:
    stored = {"house": "extends: quick\nlora_r: 2\n"}
    wf = load_workflow("name: a\nextends: house\n", lookup=stored.get)
    assert (wf.lora_r, wf.max_steps) == (2, 20)


def test_environment_overrides_are_typed_by_the_schema() -> None:
    env = {"CEREBRA_WORKFLOW_LORA_R": "4", "CEREBRA_WORKFLOW_LEARNING_RATE": "1e-4",
           "CEREBRA_WORKFLOW_TARGET_MODULES": "q_proj, v_proj",
           "CEREBRA_WORKFLOW_PROMOTION__MIN_GAIN": "7.5", "OTHER": "ignored"}
    wf = load_workflow("name: a\nlora_r: 16\n", env=env)
    assert wf.lora_r == 4 and wf.learning_rate == pytest.approx(1e-4)
    assert wf.lora_target_modules == ["q_proj", "v_proj"]
    assert wf.promotion.min_gain == 7.5
    assert load_workflow("name: a\nlora_r: 16\n").lora_r == 16  # no env: as written
    bad = _error("name: a\n", env={"CEREBRA_WORKFLOW_LORA_R": "zero"})
    assert bad.message == "CEREBRA_WORKFLOW_LORA_R: lora_r: must be a whole number"
    unknown = _error("name: a\n", env={"CEREBRA_WORKFLOW_LORA_RANK": "4"})
    assert unknown.field == "CEREBRA_WORKFLOW_LORA_RANK"


def test_no_variable_substitution_in_documents() -> None:
    error = _error("name: a\nbase_model: '${HOME}'\n", env={"HOME": "/root"})
    assert error.field == "base_model"  # taken literally, and not a model name


def test_every_template_is_valid_and_trains() -> None:
    names = templates()
    assert {"sft-lora-cpu", "dpo-lora-cpu", "sft-lora-gpu", "quick"} <= set(names)
    assert all(names.values()), names  # each describes itself
    for name in names:
        wf = load_workflow(TEMPLATES_DIR / f"{name}.yaml")
        assert wf.name == name
        config = wf.train_config()
        assert config.stage == wf.stage and config.lora_r == wf.lora_r
    dpo = load_workflow(TEMPLATES_DIR / "dpo-lora-cpu.yaml")
    assert dpo.stage == "dpo" and dpo.train_config().lr == pytest.approx(2e-5)


def test_train_config_maps_every_training_key() -> None:
    wf = validate({"name": "a", "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
                   "target_modules": ["q_proj"], "learning_rate": 1e-3, "num_epochs": 0,
                   "max_steps": 12, "batch_size": 2, "gradient_accumulation_steps": 3,
                   "sequence_len": 64, "seed": 5, "dpo_beta": 0.2, "device": "cpu",
                   "save_steps": 4, "save_total_limit": 2})
    config = wf.train_config()
    assert (config.lora_r, config.lora_alpha, config.lora_dropout) == (4, 8.0, 0.1)
    assert config.target_modules == ("q_proj",)
    assert (config.max_steps, config.batch_size, config.gradient_accumulation) == (12, 2, 3)
    assert (config.max_seq_len, config.seed, config.dpo_beta) == (64, 5, 0.2)
    assert (config.device, config.save_steps, config.save_total_limit) == ("cpu", 4, 2)
    assert validate({"name": "b", "num_epochs": 3}).train_config().max_steps is None


def test_fields_as_json_are_validated_by_the_same_schema() -> None:
    with pytest.raises(WorkflowError) as caught:
        validate({"name": "a", "lora_r": 0})
    assert caught.value.message == "lora_r: must be ≥ 1"
    assert Workflow.model_validate({"name": "a", "epochs": 2}).num_epochs == 2
    wf = validate({"name": "a", "datasets": ["support@3", "faq"]})
    assert wf.dataset_refs() == [("support", 3), ("faq", None)]
