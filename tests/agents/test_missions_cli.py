"""`cerebra missions …` and `cerebra teams …`: a mission added from YAML and run with a fake
model (one agent promoted, another sandboxed, as `cerebra agents list` shows), its runs and
outcomes; today's daily missions once; a team created, KPIs recorded until it reassigns; and
misuse: one line on stderr and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.cli.main import main
from tests.helpers import run_cli

YAML = """\
agents: [{agent}]
max_tokens: 8
prompts:
{prompts}
"""


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    main(list(args))
    return capsys.readouterr().out


def _mission(tmp_path: Path, name: str, agent: str, pattern: str) -> str:
    prompts = "".join(f"  - prompt: Question {i}\n    check: {{kind: regex, expected: "
                      f"'{pattern}'}}\n" for i in range(10))
    path = tmp_path / f"{name}.yaml"
    path.write_text(YAML.format(agent=agent, prompts=prompts))
    return str(path)


def test_missions_from_the_command_line(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("CEREBRA_MODEL__FAKE", "true")
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    from cerebra.config import get_settings

    get_settings.cache_clear()
    _run(capsys, "agents", "create", "ada")
    _run(capsys, "agents", "create", "bo")
    assert "added mission easy" in _run(capsys, "missions", "add",
                                        _mission(tmp_path, "easy", "ada", "."))
    _run(capsys, "missions", "add", _mission(tmp_path, "hard", "bo", "^zzz$"))
    listed = json.loads(_run(capsys, "missions", "list", "--json"))
    assert [m["name"] for m in listed] == ["easy", "hard"]
    easy = json.loads(_run(capsys, "missions", "run", "easy", "--json"))
    assert easy["summary"]["agents"]["ada"]["passed"] == 10
    table = _run(capsys, "missions", "run", "hard")
    assert "sandboxed" in table and "0/10" in table
    agents = json.loads(_run(capsys, "agents", "list", "--json"))
    assert [(a["id"], a["title"]) for a in agents] == [("ada", "promoted"), ("bo", "sandboxed")]
    runs = json.loads(_run(capsys, "missions", "runs", "hard", "--json"))
    assert len(runs) == 1 and runs[0]["trigger"] == "manual"
    one = json.loads(_run(capsys, "missions", "runs", "--id", runs[0]["id"], "--json"))
    assert len(one["outcomes"]) == 10 and not one["outcomes"][0]["passed"]
    daily = json.loads(_run(capsys, "missions", "run", "--json"))  # today's, once
    assert sorted(r["mission"] for r in daily) == ["easy", "hard"]
    assert "no daily mission left" in _run(capsys, "missions", "run")
    get_settings.cache_clear()


def test_teams_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    made = json.loads(_run(capsys, "teams", "create", "biz1", "--role", "marketing",
                           "--role", "dev", "--window", "2", "--json"))
    assert [r["agent_id"] for r in made["roles"]] == ["biz1.marketing.1", "biz1.dev.1"]
    assert "met" in _run(capsys, "teams", "kpi", "biz1", "dev", "0.9")
    _run(capsys, "teams", "kpi", "biz1", "marketing", "0.1")
    moved = _run(capsys, "teams", "kpi", "biz1", "marketing", "0.2", "--note", "week 2")
    assert "reassigned to biz1.marketing.2" in moved
    shown = json.loads(_run(capsys, "teams", "show", "biz1", "--json"))
    assert shown["roles"][0]["agent_id"] == "biz1.marketing.2"
    assert "biz1.marketing.2" in _run(capsys, "teams", "show", "biz1")
    assert json.loads(_run(capsys, "teams", "list", "--json")) == ["biz1"]
    assert json.loads(_run(capsys, "teams", "list", "--tenant", "other", "--json")) == []


@pytest.mark.parametrize("args, needle", [
    (("missions", "run", "nope"), "unknown mission 'nope'"),
    (("missions", "runs", "--id", "nope"), "unknown mission run 'nope'"),
    (("missions", "add", "/no/such/file.yaml"), "cannot read"),
    (("teams", "show", "nope"), "unknown venture 'nope'"),
    (("teams", "kpi", "nope", "dev", "1"), "unknown venture 'nope'"),
    (("teams", "create", "bad name", "--role", "dev"), "name must be"),
])
def test_misuse_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                       args: tuple[str, ...], needle: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_a_broken_mission_file_in_a_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("prompts: [{prompt: hi}]\n")
    bad = run_cli("missions", "add", str(path))
    assert bad.returncode == 2 and "has no check" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0, bad.stderr
