"""`cerebra prompts …` on the configured database: add versions, list, show, label, render
(stored, and a folder's file), A/B create/record/compare, a rewrite with a checker judge;
misuse is one line on stderr and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.cli.main import main
from tests.helpers import run_cli


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    main(list(args))
    return capsys.readouterr().out


def test_templates_from_the_command_line(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    added = json.loads(_run(capsys, "prompts", "add", "welcome", "Hi {{ name }}.", "--json"))
    assert added["version"] == 1 and added["labels"] == ["production"]
    (tmp_path / "v2.j2").write_text("Hello {{ name }}. {{ modifiers }}")
    staged = json.loads(_run(capsys, "prompts", "add", "welcome", f"@{tmp_path / 'v2.j2'}",
                             "--label", "staging", "--note", "warmer", "--json"))
    assert staged["version"] == 2 and staged["note"] == "warmer"
    listed = json.loads(_run(capsys, "prompts", "list", "--json"))
    assert listed == [{"name": "welcome", "latest": 2, "versions": 2,
                       "labels": {"production": 1, "staging": 2}}]
    assert "staging=2" in _run(capsys, "prompts", "list")
    assert _run(capsys, "prompts", "render", "welcome", "--var", "name=Bob") == "Hi Bob.\n"
    assert _run(capsys, "prompts", "render", "welcome", "--vars", '{"name": "Bob"}',
                "--label", "staging", "--mood", "calm") == (
        "Hello Bob. Respond in a calm and steady mood.\n")
    _run(capsys, "prompts", "label", "welcome", "production", "2")
    shown = json.loads(_run(capsys, "prompts", "show", "welcome", "--json"))
    assert shown["version"] == 2 and sorted(shown["labels"]) == ["production", "staging"]
    assert "warmer" in _run(capsys, "prompts", "show", "welcome")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "file.j2").write_text("File {{ n }}")
    assert _run(capsys, "prompts", "render", "file", "--folder", str(folder),
                "--var", "n=3") == "File 3\n"
    # tenants are separate
    assert json.loads(_run(capsys, "prompts", "list", "--tenant", "other", "--json")) == []


def test_ab_and_rewrite_from_the_command_line(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    _run(capsys, "prompts", "add", "t", "Explain {{ topic }}.")
    _run(capsys, "prompts", "add", "t", "Explain {{ topic }} simply.")
    test_id = _run(capsys, "prompts", "ab", "create", "t", "1", "2").strip()
    for i in range(30):
        _run(capsys, "prompts", "ab", "record", test_id, "1" if i % 3 else "0", "--arm", "b")
        _run(capsys, "prompts", "ab", "record", test_id, "0", "--arm", "a")
    compared = json.loads(_run(capsys, "prompts", "ab", "compare", test_id, "--json"))
    assert compared["comparison"]["winner"] == "b"
    assert "winner: b" in _run(capsys, "prompts", "ab", "compare", test_id)
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps([{"topic": f"t{i}"} for i in range(10)]))
    report = json.loads(_run(capsys, "prompts", "rewrite", "t", "--inputs", str(inputs),
                             "--no-answer", "--judge-contains", "bullet points",
                             "--rule", "output_format", "--json"))
    assert report["adopted"] == 3
    assert json.loads(_run(capsys, "prompts", "show", "t", "--json"))["version"] == 3


@pytest.mark.parametrize("args, needle", [
    (("prompts", "show", "nobody"), "unknown template 'nobody'"),
    (("prompts", "add", "t", "{{ ''.__class__ }}"), "sandbox refuses access to '__class__'"),
    (("prompts", "add", "bad name", "x"), "template name"),
    (("prompts", "render", "nobody"), "unknown template"),
    (("prompts", "render", "x", "--var", "novalue"), "write name=value"),
    (("prompts", "ab", "compare", "0" * 32), "unknown A/B test"),
    (("prompts", "ab", "record", "0" * 32, "1", "--arm", "c"), "--arm is a or b"),
])
def test_misuse_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                       args: tuple[str, ...], needle: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_missing_variable_in_a_subprocess() -> None:
    assert run_cli("prompts", "add", "t", "Hi {{ name }}").returncode == 0
    missing = run_cli("prompts", "render", "t")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "'name'" in missing.stderr
    assert run_cli("prompts", "label", "t", "production", "5").returncode == 2
