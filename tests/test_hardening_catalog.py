"""Catalog entries over the API: no `${VAR}` expansion, no api_key_env, files only under the
model directories, hosts only from the allow-list; the listing shows no secrets or
environment-derived values; the default model cannot be removed out from under the service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cerebra.config import Settings
from cerebra.errors import CerebraError, InvalidInput
from cerebra.models.catalog import Catalog, DefaultModelInUse
from cerebra.models.catalog_policy import EntryPolicy, EntryRefused
from cerebra.models.registry import ModelRegistry
from cerebra.server.app import create_app


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    inside, outside = tmp_path / "models", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (inside / "ok.gguf").write_bytes(b"w")
    (outside / "secret.gguf").write_bytes(b"w")
    return inside, outside


def catalog(inside: Path, hosts: tuple[str, ...] = ()) -> Catalog:
    return Catalog(ModelRegistry(), environ={"HOME": "/home/leak", "KEY": "sk-leak"},
                   policy=EntryPolicy.of([inside], hosts))


def refused(cat: Catalog, spec: dict[str, object]) -> CerebraError:
    with pytest.raises((EntryRefused, InvalidInput)) as info:
        cat.submit(spec)
    assert spec["name"] not in cat.registry
    return info.value


def test_api_entries_never_expand_variables_nor_name_key_variables(
        dirs: tuple[Path, Path]) -> None:
    cat = catalog(dirs[0], ("127.0.0.1",))
    err = refused(cat, {"name": "a", "kind": "openai", "base_url": "http://${HOME}/v1"})
    assert err.status_code == 422 and err.field == "base_url" and "/home/leak" not in err.message
    err = refused(cat, {"name": "b", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                        "model": "${PATH:-x}"})
    assert err.field == "model"
    err = refused(cat, {"name": "c", "kind": "fake", "options": {"reply": "${KEY}"}})
    assert err.field == "options.reply"
    err = refused(cat, {"name": "d", "kind": "anthropic", "base_url": "http://127.0.0.1:9",
                        "api_key_env": "HOME"})
    assert err.status_code == 422 and err.field == "api_key_env"
    # the operator's own catalog still expands, and may name a key's variable
    report = cat.load_text('[{name: op, kind: fake, options: {reply: "${HOME}"}}]')
    assert report.ok and "op" in cat.registry


def test_api_files_only_under_the_model_directories(dirs: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    inside, outside = dirs
    cat = catalog(inside)
    assert cat.submit({"name": "ok", "kind": "fake", "path": str(inside / "ok.gguf")})
    for path in (outside / "secret.gguf", inside / ".." / "elsewhere" / "secret.gguf",
                 Path("models/ok.gguf")):
        err = refused(cat, {"name": "x", "kind": "fake", "path": str(path)})
        assert err.status_code == 403 and err.field == "path"
    link = inside / "link.gguf"
    link.symlink_to(outside / "secret.gguf")
    assert refused(cat, {"name": "x", "kind": "fake", "path": str(link)}).field == "path"
    err = refused(cat, {"name": "x", "kind": "fake", "path": str(inside / "ok.gguf"),
                        "lora": str(outside)})
    assert err.field == "lora"
    err = refused(cat, {"name": "x", "kind": "fake", "options": {"model_path": "/etc"}})
    assert err.status_code == 403 and err.field == "options.model_path"


@pytest.mark.parametrize(("hosts", "url", "ok"), [
    ((), "http://127.0.0.1:9/v1", False),
    (("127.0.0.1",), "http://127.0.0.1:9/v1", True),
    (("127.0.0.1:8000",), "http://127.0.0.1:9/v1", False),
    (("127.0.0.1:9",), "http://127.0.0.1:9/v1", True),
    (("*.example.com",), "https://api.example.com/v1", True),
    (("*.example.com",), "https://example.com.evil.net/v1", False),
    (("allowed.test",), "http://allowed.test@127.0.0.1:9/v1", False),
    (("allowed.test",), "http://127.0.0.1:9\\@allowed.test/v1", False),
    (("allowed.test",), "file:///etc/passwd", False),
])
def test_api_hosts_only_from_the_allow_list(dirs: tuple[Path, Path], hosts: tuple[str, ...],
                                            url: str, ok: bool) -> None:
    cat = catalog(dirs[0], hosts)
    spec = {"name": "r", "kind": "openai", "base_url": url, "model": "m"}
    if ok:
        assert cat.submit(spec).name == "r"
    else:
        err = refused(cat, spec)
        assert err.status_code == 403 and err.field == "base_url"


def test_a_remote_kind_without_base_url_is_held_to_its_default_host(
        dirs: tuple[Path, Path]) -> None:
    spec = {"name": "c", "kind": "anthropic", "model": "claude-x", "api_key": "k"}
    assert refused(catalog(dirs[0]), spec).field == "base_url"
    assert catalog(dirs[0], ("api.anthropic.com",)).submit(spec).name == "c"
    sneaky = {**spec, "options": {"base_url": "http://127.0.0.1:9"}}
    assert refused(catalog(dirs[0], ("api.anthropic.com",)), sneaky).field == "options.base_url"


def test_the_default_model_cannot_be_removed_until_another_is_default(
        dirs: tuple[Path, Path]) -> None:
    cat = catalog(dirs[0])
    cat.submit({"name": "a", "kind": "fake", "default": True})
    cat.submit({"name": "b", "kind": "fake"})
    with pytest.raises(DefaultModelInUse) as info:
        cat.remove("a")
    assert info.value.status_code == 409 and "'a'" in info.value.message
    assert cat.registry.names() == ["a", "b"]
    cat.submit({"name": "b", "kind": "fake", "default": True})  # hot swap, now the default
    cat.remove("a")
    assert cat.registry.names() == ["b"] and cat.registry.default_name == "b"


# -- through the HTTP API -------------------------------------------------------------------

OPERATOR = """
models:
  - {name: op-remote, kind: openai, base_url: "http://127.0.0.1:9/${OP_PATH}/v1",
     model: gpt-4o-mini, api_key: "${OP_KEY}"}
  - {name: op-keyed, kind: anthropic, base_url: "http://127.0.0.1:9", api_key_env: OP_KEY}
  - {name: local, kind: fake, default: true, options: {reply: "local here"}}
"""


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OP_PATH", "private-path-7f3a")
    monkeypatch.setenv("OP_KEY", "sk-operator-secret-91b2")
    settings = Settings(home=tmp_path / "h", model={"embedded": False},
                        memory={"embedder": "fake"}, health={"interval_s": 0},
                        catalog={"inline": OPERATOR, "allowed_hosts": ["127.0.0.1"]})
    with TestClient(create_app(settings)) as c:
        yield c


def test_listing_shows_no_secret_nor_environment_value(client: TestClient) -> None:
    r = client.get("/api/models")
    assert r.status_code == 200
    text = r.text
    for leak in ("private-path-7f3a", "sk-operator-secret-91b2", "OP_KEY", str(Path.home())):
        assert leak not in text
    rows = {row["name"]: row for row in r.json()["catalog"]}
    assert rows["op-remote"]["host"] == "127.0.0.1:9" and rows["op-remote"]["kind"] == "openai"
    assert rows["op-remote"]["model"] == "gpt-4o-mini" and "base_url" not in rows["op-remote"]


def test_api_refusals_are_json_naming_the_field(client: TestClient) -> None:
    r = client.post("/api/models", json={"name": "h", "kind": "openai",
                                         "base_url": "http://${HOME}/v1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "base_url"
    r = client.post("/api/models", json={"name": "k", "kind": "openai", "api_key_env": "PATH",
                                         "base_url": "http://127.0.0.1:9/v1"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "api_key_env"
    r = client.post("/api/models", json={"name": "e", "kind": "openai",
                                         "base_url": "http://evil.test/v1"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "base_url"
    assert r.json()["error"]["type"] == "catalog_entry_refused"
    r = client.post("/api/models", json={"name": "f", "kind": "fake", "path": "/etc/passwd"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "path"
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert not {"h", "k", "e", "f"} & set(names)
    ok = client.post("/api/models", json={"name": "g", "kind": "openai", "model": "m",
                                          "base_url": "http://127.0.0.1:9/v1"})
    assert ok.status_code == 201, ok.text


def test_deleting_the_default_model_is_refused_and_the_service_keeps_answering(
        client: TestClient) -> None:
    r = client.delete("/api/models/local")
    assert r.status_code == 409 and "local" in r.json()["error"]["message"]
    ask = {"prompt": "hi", "memory": False}  # no model named: the default answers
    answer = client.post("/api/llm/query", json=ask)
    assert answer.status_code == 200 and answer.json()["answer"] == "local here"
    assert client.post("/api/models", json={"name": "next", "kind": "fake", "default": True,
                                            "options": {"reply": "next here"}}).status_code == 201
    assert client.delete("/api/models/local").status_code == 200
    answer = client.post("/api/llm/query", json=ask)
    assert answer.status_code == 200 and answer.json()["answer"] == "next here"
