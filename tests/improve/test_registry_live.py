"""Deploy and roll back through the API of a running server on the real Gemma while
requests run in a loop: no request fails, answers after a promotion come from the adapter,
after the rollbacks from the base again; GET /v1/models lists the served adapter; scopes,
tenants, paths and corrupt files are refused as JSON errors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import bearer, live_gemma_server
from tests.models.gguf_lora import make_gguf_lora

pytestmark = [pytest.mark.slow, pytest.mark.engine_in_process]  # a live server, real model

BASE = "gemma-3-270m"
NAME = f"{BASE}:legal"
PROMPT = "The capital of France is"


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, gguf_path: Path, gguf_sha256: str) -> Any:
    from cerebra.auth.identity import IdentityStore

    with live_gemma_server(monkeypatch, gguf_path, gguf_sha256) as (url, app):
        identity = IdentityStore(app.state.brain.engine)
        identity.create_tenant("other")
        keys = {role: bearer(identity.create_key("default", role=role)[0])
                for role in ("admin", "read-only")}
        keys["other"] = bearer(identity.create_key("other", role="admin")[0])
        folder = Path(app.state.brain.settings.home) / "adapters"
        folder.mkdir(parents=True, exist_ok=True)
        yield url, keys, folder


def ask(client: httpx.Client, model: str, key: dict[str, str]) -> httpx.Response:
    return client.post("/v1/completions", headers=key, json={
        "model": model, "prompt": PROMPT, "max_tokens": 8, "temperature": 0.0})


def text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["text"])


def test_promote_and_roll_back_while_requests_run(live: Any, gguf_path: Path) -> None:
    url, keys, folder = live
    admin = keys["admin"]
    zero = make_gguf_lora(gguf_path, folder / "zero.gguf", zero_b=True)
    tuned = make_gguf_lora(gguf_path, folder / "tuned.gguf", scale=0.2, seed=1)
    with httpx.Client(base_url=url, timeout=300) as client:
        first = client.post("/api/v1/models/deploy", headers=admin, json={
            "path": str(zero), "base": BASE, "name": "legal", "reason": "a no-op adapter"})
        assert first.status_code == 200, first.text
        base = text(ask(client, BASE, admin))
        assert text(ask(client, NAME, admin)) == base  # a zero LoRA changes nothing
        listed = client.get("/v1/models", headers=admin).json()
        assert NAME in {m["id"] for m in listed["data"]}

        phase = ["before"]
        seen: list[tuple[str, str, int, str]] = []  # phase at start, at end, status, text
        stop = threading.Event()

        def loop() -> None:
            with httpx.Client(base_url=url, timeout=300) as mine:
                while not stop.is_set():
                    start = phase[0]
                    response = ask(mine, NAME, admin)
                    body = response.json()
                    seen.append((start, phase[0], response.status_code,
                                 body["choices"][0]["text"] if response.status_code == 200
                                 else str(body)))

        threads = [threading.Thread(target=loop) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            tuned_deploy = client.post("/api/v1/models/deploy", headers=admin, json={
                "path": str(tuned), "base": BASE, "name": "legal"})
            assert tuned_deploy.status_code == 200, tuned_deploy.text
            phase[0] = "tuned"
            adapted = text(ask(client, NAME, admin))
            assert adapted != base
            assert text(ask(client, BASE, admin)) == base  # the base name keeps the base
            _wait_for(seen, "tuned")
            back = client.post(f"/api/v1/models/{NAME}/rollback", headers=admin,
                               json={"reason": "live test"})
            assert back.status_code == 200, back.text
            assert back.json()["version"]["id"] == first.json()["version"]["id"]
            phase[0] = "zero"
            _wait_for(seen, "zero")
            plain = client.post(f"/api/v1/models/{NAME}/rollback", headers=admin)
            assert plain.status_code == 200 and plain.json()["base"] is True, plain.text
            phase[0] = "base"
            _wait_for(seen, "base")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=300)
        assert [s for s in seen if s[2] != 200] == []  # no request failed
        steady = {(start, answer) for start, end, _, answer in seen if start == end}
        assert {a for p, a in steady if p == "tuned"} == {adapted}
        assert {a for p, a in steady if p in ("zero", "base")} == {base}
        versions = client.get("/api/v1/models/versions", headers=keys["read-only"],
                              params={"name": NAME}).json()
        assert [p["action"] for p in versions["history"][NAME]] == [
            "deploy", "deploy", "rollback", "rollback"]


def _wait_for(seen: list[tuple[str, str, int, str]], phase: str) -> None:
    """Until a request that started and ended in `phase` has been answered (the loop runs
    on; each request is bounded by its 8 tokens)."""
    import time

    deadline = time.monotonic() + 300
    while not any(s[0] == s[1] == phase for s in seen):
        assert time.monotonic() < deadline, f"no request completed in phase {phase}"
        time.sleep(0.05)


def test_refusals_are_json_errors(live: Any, gguf_path: Path, tmp_path: Path) -> None:
    url, keys, folder = live
    lora = make_gguf_lora(gguf_path, folder / "a.gguf", scale=0.2, seed=2)
    outside = make_gguf_lora(gguf_path, tmp_path / "outside.gguf", seed=3)
    body = {"path": str(lora), "base": BASE, "name": "legal"}
    with httpx.Client(base_url=url, timeout=300) as client:
        denied = client.post("/api/v1/models/deploy", headers=keys["read-only"], json=body)
        assert denied.status_code == 403 and "error" in denied.json()
        refused = client.post("/api/v1/models/deploy", headers=keys["admin"],
                              json={**body, "path": str(outside)})
        assert refused.status_code == 403, refused.text
        both = client.post("/api/v1/models/deploy", headers=keys["admin"],
                           json={**body, "version_id": "0" * 32})
        assert both.status_code == 422
        ok = client.post("/api/v1/models/deploy", headers=keys["admin"], json=body)
        assert ok.status_code == 200, ok.text
        version = ok.json()["version"]["id"]
        theirs = client.post("/api/v1/models/deploy", headers=keys["other"],
                             json={"version_id": version})
        assert theirs.status_code == 404
        assert client.post(f"/api/v1/models/{NAME}/rollback",
                           headers=keys["other"]).status_code == 404
        assert client.get("/api/v1/models/versions",
                          headers=keys["other"]).json()["versions"] == []
        served = text(ask(client, NAME, keys["admin"]))
        second = make_gguf_lora(gguf_path, folder / "b.gguf", scale=0.2, seed=4)
        with second.open("r+b") as fh:
            added = client.post("/api/v1/models/deploy", headers=keys["admin"], json={
                **body, "path": str(second)})
            assert added.status_code == 200  # then corrupt a served file and roll forward
            fh.seek(-16, 2)
            fh.write(b"\xff" * 16)
        rolled = client.post(f"/api/v1/models/{NAME}/rollback", headers=keys["admin"])
        assert rolled.json()["version"]["id"] == version
        again = client.post("/api/v1/models/deploy", headers=keys["admin"],
                            json={"version_id": added.json()["version"]["id"]})
        assert again.status_code == 422, again.text
        assert "changed since it was added" in again.json()["error"]["message"]
        assert text(ask(client, NAME, keys["admin"])) == served  # serving unchanged
