"""Working memory over HTTP (/api/working) and the CLI (`cerebra working …`): scoped to the
caller (another tenant's or user's session is not found), scopes enforced, bad input 422."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cerebra.cli.main import main
from cerebra.config import get_settings
from cerebra.server.app import create_app
from tests.helpers import api_world, run_cli, running_redis, running_server


def test_notes_turns_and_scoping_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    with api_world(monkeypatch) as w:
        c = w.client
        added = c.post("/api/working/notes", json={"session_id": "trip", "text": "budget 500"},
                       headers=w.user)
        assert added.status_code == 201, added.text
        note = added.json()["note"]
        assert added.json()["flushed"] == [] and note["kind"] == "note"
        asked = c.post("/api/llm/query", json={"prompt": "book the hotel",
                                               "session_id": "trip"}, headers=w.user)
        assert asked.status_code == 200, asked.text
        shown = c.get("/api/working/trip", headers=w.user).json()
        assert [n["text"] for n in shown["notes"]] == ["budget 500"]
        assert shown["turns"][0]["text"].startswith("User: book the hotel")
        assert shown["turns"][0]["memory_id"] == asked.json()["stored_memory_id"]

        # someone else's session of the same name: not found, never shown
        assert c.get("/api/working/trip", headers=w.other).status_code == 404
        second_user, _ = w.identity.create_key("default", role="user", user_id="bo")
        bo = {"Authorization": f"Bearer {second_user}"}
        missing = c.get("/api/working/trip", headers=bo)
        assert missing.status_code == 404 and "budget" not in missing.text
        assert c.delete("/api/working/trip", headers=bo).status_code == 404
        assert c.delete(f"/api/working/trip/notes/{note['id']}", headers=bo).status_code == 404
        named = c.get("/api/working/trip", params={"user_id": "someone"}, headers=bo)
        assert named.status_code == 403  # a user key acts for its own user only

        # scopes: reading needs memory:read, writing memory:write
        assert c.get("/api/working/trip", headers=w.reader).status_code == 404
        refused = c.post("/api/working/notes", json={"session_id": "trip", "text": "x"},
                         headers=w.reader)
        assert refused.status_code == 403
        assert refused.json()["error"]["required_scope"] == "memory:write"

        # deleting a note, then clearing with flush
        assert c.delete(f"/api/working/trip/notes/{note['id']}",
                        headers=w.user).json() == {"deleted": note["id"]}
        assert c.delete(f"/api/working/trip/notes/{note['id']}",
                        headers=w.user).status_code == 404
        c.post("/api/working/notes", json={"session_id": "trip", "text": "call at nine"},
               headers=w.user)
        cleared = c.delete("/api/working/trip", params={"kind": "notes", "flush": "true"},
                           headers=w.user).json()
        assert cleared["cleared"] == 1 and len(cleared["flushed"]) == 1
        kept = c.get(f"/api/memory/{cleared['flushed'][0]}", headers=w.user).json()
        assert kept["text"] == "call at nine" and kept["session_id"] == "trip"
        assert c.delete("/api/working/trip", params={"kind": "notes"},
                        headers=w.user).status_code == 404
        assert len(c.get("/api/working/trip", headers=w.user).json()["turns"]) == 1


BAD_NOTES: list[tuple[dict[str, object], str]] = [
    ({"text": "no session"}, "session_id"),
    ({"session_id": "s", "text": "   "}, "text"),
    ({"session_id": "s" * 201, "text": "x"}, "session_id"),
    ({"session_id": "s", "text": "x" * 20_001}, "text"),
    ({"session_id": "s", "text": "x", "metadata": "not an object"}, "metadata"),
]


def test_bad_input_is_422_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    with api_world(monkeypatch) as w:
        for body, field in BAD_NOTES:
            response = w.client.post("/api/working/notes", json=body, headers=w.admin)
            assert response.status_code == 422, (body, response.text)
            assert field in json.dumps(response.json()["error"]), body
        bad_kind = w.client.delete("/api/working/s", params={"kind": "some"}, headers=w.admin)
        assert bad_kind.status_code == 422
        assert w.client.get("/api/working/" + "s" * 201, headers=w.admin).status_code == 422


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`cerebra working …` in this process: (exit code, stdout, stderr)."""
    get_settings.cache_clear()
    try:
        main(["working", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_through_the_running_server(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake",
                        "CEREBRA_HEALTH__INTERVAL_S": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with running_server(create_app(get_settings())) as url:
        code, out, err = cli(capsys, "note", "pack the charger", "--session", "s 1", "--json",
                             "--server", url)
        assert code == 0, err
        note_id = json.loads(out)["note"]["id"]
        code, out, _ = cli(capsys, "show", "--session", "s 1", "--json", "--server", url)
        assert [n["text"] for n in json.loads(out)["notes"]] == ["pack the charger"]
        assert cli(capsys, "drop", note_id, "--session", "s 1", "--server", url)[0] == 0
        code, _, err = cli(capsys, "show", "--session", "s 1", "--server", url)
        assert code == 2 and err.count("\n") == 1
        assert "no working memory for session s 1" in err


def test_cli_here_over_redis_and_its_misuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "show", "--session", "s1")  # no server, no Redis
    assert code == 2 and "start `cerebra serve`" in err and err.count("\n") == 1
    code, _, err = cli(capsys, "clear", "--session", "s1", "--kind", "some")
    assert code == 2 and "--kind" in err
    with running_redis(tmp_path) as url:
        env = {"CEREBRA_REDIS__URL": url, "CEREBRA_MEMORY__EMBEDDER": "fake"}
        noted = run_cli("working", "note", "kept in redis", "--session", "s1", env=env)
        assert noted.returncode == 0, noted.stderr  # in another process, which then ends
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code, out, _ = cli(capsys, "show", "--session", "s1", "--json")
        assert [n["text"] for n in json.loads(out)["notes"]] == ["kept in redis"]
        code, out, _ = cli(capsys, "clear", "--session", "s1", "--flush")
        assert code == 0 and "1 kept in long-term memory" in out
