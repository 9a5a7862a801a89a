"""`cerebra agents …` on the configured database: a career from the command line (create,
record, show with history, mentor, clone, combine, sandbox, list with --json and as a
table, ask with a fake model), and misuse: one line on stderr and exit status 2."""

from __future__ import annotations

import json

import pytest

from cerebra.cli.main import main
from tests.helpers import run_cli


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    main(list(args))
    return capsys.readouterr().out


def test_a_career_from_the_command_line(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    created = json.loads(_run(capsys, "agents", "create", "alice", "--trait", "brave",
                              "--trait", "curious", "--json"))
    assert created["title"] == "novice" and created["traits"] == ["brave", "curious"]
    for outcome in ("true", "yes", "1", "0.9", "win"):
        last = json.loads(_run(capsys, "agents", "record", "alice", outcome, "--reason",
                               "match", "--json"))
    assert last["title"] == "promoted" and last["n"] == 5
    shown = json.loads(_run(capsys, "agents", "show", "alice", "--json"))
    assert [h["to_title"] for h in shown["history"]] == ["novice", "promoted"]
    table = _run(capsys, "agents", "show", "alice")
    assert "promoted" in table and "confident" in table
    assert json.loads(_run(capsys, "agents", "mentor", "alice", "bob", "--json"))[
        "mentor_id"] == "alice"
    assert json.loads(_run(capsys, "agents", "clone", "alice", "alice_clone", "--json"))[
        "mentor_id"] == "alice"
    child = json.loads(_run(capsys, "agents", "combine", "alice", "bob", "carol", "--json"))
    assert child["parents"] == ["alice", "bob"]
    _run(capsys, "agents", "sandbox", "bob", "--reason", "review")
    listed = json.loads(_run(capsys, "agents", "list", "--json"))
    assert [(a["id"], a["title"]) for a in listed] == [
        ("alice", "promoted"), ("alice_clone", "novice"), ("bob", "sandboxed"),
        ("carol", "novice")]
    assert "alice_clone" in _run(capsys, "agents", "list")
    sandboxed = json.loads(_run(capsys, "agents", "list", "--title", "sandboxed", "--json"))
    assert [a["id"] for a in sandboxed] == ["bob"]
    other = json.loads(_run(capsys, "agents", "list", "--tenant", "other", "--json"))
    assert other == []
    monkeypatch.setenv("CEREBRA_MODEL__FAKE", "true")
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    from cerebra.config import get_settings

    get_settings.cache_clear()
    answer = json.loads(_run(capsys, "agents", "ask", "alice", "hello", "--json"))
    assert answer["agent_id"] == "alice" and answer["answer"]


@pytest.mark.parametrize("args, needle", [
    (("agents", "show", "nobody"), "unknown agent 'nobody'"),
    (("agents", "record", "nobody", "true"), "unknown agent"),
    (("agents", "create", "no spaces"), "id must be"),
    (("agents", "list", "--title", "boss"), "title is one of"),
])
def test_misuse_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                       args: tuple[str, ...], needle: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_bad_outcome_and_sandboxed_ask_in_a_subprocess() -> None:
    assert run_cli("agents", "create", "bob").returncode == 0
    bad = run_cli("agents", "record", "bob", "maybe")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "outcome 'maybe'" in bad.stderr
    assert run_cli("agents", "sandbox", "bob", "--reason", "lost").returncode == 0
    refused = run_cli("agents", "ask", "bob", "hello",
                      env={"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake"})
    assert refused.returncode == 2 and "sandboxed" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
