"""User profiles over HTTP (/api/users/{id}/profile) and the CLI (`cerebra profile …`): a
user sees and edits only their own profile, admins any in their tenant, another tenant's
user is not found, unknown fields are 422 naming them, forgetting deletes the memories the
profile came from and is audited."""

from __future__ import annotations

import json

import pytest

from cerebra.cli.main import main
from cerebra.config import get_settings
from tests.helpers import api_world


def test_profile_routes_scoping_and_forgetting(monkeypatch: pytest.MonkeyPatch) -> None:
    with api_world(monkeypatch) as w:
        c = w.client
        secret, _ = w.identity.create_key("default", role="user", user_id="ana")
        ana = {"Authorization": f"Bearer {secret}"}
        said = [c.post("/api/memory", json={"text": text}, headers=ana).json()["id"]
                for text in ("I live in Paris", "I moved to Berlin", "I love tea")]
        chat = c.post("/api/memory", json={"text": "nice weather"}, headers=ana).json()["id"]

        shown = c.get("/api/users/ana/profile", headers=ana)
        assert shown.status_code == 200, shown.text
        assert shown.json()["attributes"] == {"lives_in": "berlin", "likes:tea": "yes"}
        home = next(e for e in shown.json()["entries"] if e["attribute"] == "lives_in")
        assert home["memory_ids"] == [said[1]]
        assert home["superseded"][0]["value"] == "paris"
        assert c.get("/api/users/ana/profile", headers=w.admin).json() == shown.json()
        operator, _ = w.identity.create_key("default", role="operator", user_id="op")
        assert c.get("/api/users/ana/profile", headers={
            "Authorization": f"Bearer {operator}"}).json() == shown.json()

        # another user's profile: refused to a user key; another tenant's user: not found
        assert c.get("/api/users/bo/profile", headers=ana).status_code == 403
        assert c.get("/api/users/ana/profile", headers=w.other).status_code == 404
        assert c.patch("/api/users/ana/profile", json={"job": "pilot"},
                       headers=w.other).status_code == 404
        assert c.delete("/api/users/ana/profile", headers=w.other).status_code == 404
        assert c.get("/api/users/nobody/profile", headers=w.admin).status_code == 404

        edited = c.patch("/api/users/ana/profile", json={
            "lives_in": "Rome", "likes": {"tea": None, "jazz": True}}, headers=ana)
        assert edited.status_code == 200, edited.text
        assert edited.json()["attributes"] == {"lives_in": "rome", "likes:jazz": "yes"}
        assert all(e["edited"] and e["confidence"] == 1.0 for e in edited.json()["entries"])
        unchanged = c.patch("/api/users/ana/profile", json={}, headers=ana)
        assert unchanged.json() == edited.json()
        refused = c.patch("/api/users/ana/profile", json={"job": "x"}, headers=w.reader)
        assert refused.status_code == 403
        assert refused.json()["error"]["required_scope"] == "memory:write"

        forgot = c.delete("/api/users/ana/profile", headers=ana)
        assert forgot.status_code == 200, forgot.text
        deleted = forgot.json()["memory_ids"]
        assert set(said) <= set(deleted) and chat not in deleted
        assert forgot.json()["deleted"] == len(deleted) == 6  # 3 stated + 3 edits
        assert all(c.get(f"/api/memory/{uid}", headers=ana).status_code == 404
                   for uid in deleted)
        assert c.get(f"/api/memory/{chat}", headers=ana).status_code == 200
        assert c.get("/api/users/ana/profile", headers=ana).json()["entries"] == []
        log = c.get("/api/audit/entries", headers=w.admin).json()["entries"]
        event = next(e for e in log if e["target"] == "profile:ana")
        assert event["action"] == "memory.delete"
        assert sorted(event["details"]["memory_ids"]) == sorted(deleted)


BAD_PATCHES: list[tuple[dict[str, object], str]] = [
    ({"shoe_size": 42}, "shoe_size"),
    ({"lives_in": ""}, "lives_in"),
    ({"likes": {"tea": "very"}}, "likes"),
    ({"favourite": ["blue"]}, "favourite"),
    ({"age": "x" * 401}, "age"),
]


def test_bad_patches_are_422_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    with api_world(monkeypatch) as w:
        w.client.post("/api/memory", json={"text": "I live in Paris", "user_id": "ana"},
                      headers=w.admin)
        for body, field in BAD_PATCHES:
            response = w.client.patch("/api/users/ana/profile", json=body, headers=w.admin)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["field"].split(".")[0] == field, body
        assert w.client.get("/api/users/ana/profile", headers=w.admin).json()[
            "attributes"] == {"lives_in": "paris"}  # nothing was stored


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`cerebra profile …` in this process: (exit code, stdout, stderr)."""
    get_settings.cache_clear()
    try:
        main(["profile", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_show_set_unset_forget(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    get_settings.cache_clear()
    assert main(["memory", "add", "I live in Paris", "--user", "ana"]) in (None, 0)
    capsys.readouterr()
    code, out, _ = cli(capsys, "show", "ana", "--json")
    assert code == 0 and json.loads(out)["attributes"] == {"lives_in": "paris"}
    code, out, _ = cli(capsys, "set", "ana", "likes:tea", "yes", "--json")
    assert code == 0 and json.loads(out)["attributes"]["likes:tea"] == "yes"
    code, out, _ = cli(capsys, "unset", "ana", "lives_in")
    assert code == 0 and "likes:tea" in out and "paris" not in out
    code, _, err = cli(capsys, "set", "ana", "shoe_size", "42")
    assert code == 2 and "shoe_size" in err and err.count("\n") == 1
    code, _, err = cli(capsys, "set", "ana", "likes:tea", "maybe")
    assert code == 2 and err.count("\n") == 1
    code, _, err = cli(capsys, "show", "nobody")
    assert code == 2 and "no profile for user nobody" in err
    code, _, err = cli(capsys, "forget", "ana")
    assert code == 2 and "--yes" in err
    code, out, _ = cli(capsys, "forget", "ana", "--yes")
    assert code == 0 and json.loads(out)["deleted"] == 3  # the memory and two edits
    code, _, err = cli(capsys, "show", "ana", "--json")
    assert code == 2 and "no profile for user ana" in err  # she has no memory left
