"""Datasets API: upload (multipart and JSON) as versions, a bad line refused naming it, list,
show, export in both formats, curate into a new version, delete — scopes checked, and
another tenant's dataset a 404."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import ApiWorld, api_world

URL = "/api/v1/datasets"
ROWS = [{"messages": [{"role": "user", "content": f"question {i}"},
                      {"role": "assistant", "content": f"answer {i}"}]} for i in range(3)]
JSONL = "".join(json.dumps(r) + "\n" for r in ROWS)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiWorld]:
    with api_world(monkeypatch) as w:
        yield w


def upload(world: ApiWorld, text: str, headers: dict[str, str] | None = None,
           **fields: Any) -> Any:
    data = {"name": "faq", **{k: str(v).lower() if isinstance(v, bool) else v
                              for k, v in fields.items()}}
    return world.client.post(f"{URL}/upload", data=data,
                             files={"file": ("faq.jsonl", text.encode(), "application/jsonl")},
                             headers=headers or world.admin)


def test_upload_list_show_export(world: ApiWorld) -> None:
    first = upload(world, JSONL, task="faq")
    assert first.status_code == 201, first.text
    v1 = first.json()["version"]
    assert (v1["version"], v1["rows"], v1["kind"], v1["task"]) == (1, 3, "sft", "faq")
    second = world.client.post(f"{URL}/upload", json={"name": "faq", "text": JSONL},
                               headers=world.admin)
    assert second.status_code == 201, second.text
    assert second.json()["version"]["content_hash"] == v1["content_hash"]
    listed = world.client.get(URL, headers=world.reader).json()["datasets"]
    assert [(d["name"], d["latest_version"], d["rows"]) for d in listed] == [("faq", 2, 3)]
    shown = world.client.get(f"{URL}/faq", headers=world.reader).json()
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    exported = world.client.get(f"{URL}/faq/export", params={"version": 1},
                                headers=world.reader)
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert exported.text == JSONL
    trl = world.client.get(f"{URL}/faq/export", params={"format": "trl"}, headers=world.reader)
    assert json.loads(trl.text.splitlines()[0]) == {"prompt": "question 0",
                                                    "completion": "answer 0"}


def test_a_bad_line_is_named_and_nothing_written(world: ApiWorld) -> None:
    text = JSONL + '{"messages": [{"role": "user", "content": "no answer"}]}\n'
    response = upload(world, text)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["line"] == 4 and error["message"].startswith("line 4: ")
    assert world.client.get(f"{URL}/faq", headers=world.admin).status_code == 404
    skipped = upload(world, text, skip_invalid=True)
    assert skipped.status_code == 201
    assert skipped.json()["rejected"][0]["line"] == 4
    assert skipped.json()["version"]["rows"] == 3
    for body in ({"name": "faq"}, {"name": "../etc", "text": JSONL},
                 {"name": "faq", "text": JSONL, "format": "csv"},
                 {"name": "faq", "text": JSONL, "extra": 1}):
        response = world.client.post(f"{URL}/upload", json=body, headers=world.admin)
        assert response.status_code == 422, body
        assert "error" in response.json()
    raw = world.client.post(f"{URL}/upload", content=b"\xff\xfe", headers=world.admin)
    assert raw.status_code == 422


def test_curate_into_a_new_version(world: ApiWorld) -> None:
    dup = [*ROWS, ROWS[0], {"messages": [{"role": "user", "content": "mail a@example.com"},
                                         {"role": "assistant", "content": "done"}]}]
    upload(world, "".join(json.dumps(r) + "\n" for r in dup))
    response = world.client.post(f"{URL}/faq/curate", json={"near_dup_threshold": None},
                                 headers=world.admin)
    assert response.status_code == 201, response.text
    version = response.json()
    assert (version["version"], version["rows"]) == (2, 4)
    report = version["report"]["curation"]
    assert report["pii"] == {"email": 1}
    assert {s["step"]: s["removed"] for s in report["steps"]}["exact_duplicates"] == 1
    assert world.client.post(f"{URL}/faq/curate", json={"version": 9},
                             headers=world.admin).status_code == 404
    assert world.client.post(f"{URL}/faq/curate", json={"ngram": 2},
                             headers=world.admin).status_code == 422


def test_scopes_and_tenants(world: ApiWorld) -> None:
    assert upload(world, JSONL).status_code == 201
    assert upload(world, JSONL, headers=world.reader).status_code == 403  # read-only
    assert world.client.get(URL, headers=world.user).status_code == 403  # no training:read
    for method, path in (("GET", f"{URL}/faq"), ("GET", f"{URL}/faq/export"),
                         ("POST", f"{URL}/faq/curate"), ("DELETE", f"{URL}/faq")):
        response = world.client.request(method, path, headers=world.other,
                                        json={} if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.text)
    assert world.client.get(URL, headers=world.other).json() == {"datasets": []}
    deleted = world.client.delete(f"{URL}/faq", headers=world.admin)
    assert deleted.json() == {"name": "faq", "versions": 1}
    assert world.client.get(f"{URL}/faq", headers=world.admin).status_code == 404
