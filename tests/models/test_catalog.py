"""The model catalog: YAML/env/API entries, verification, per-entry refusal, hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cerebra.errors import InvalidInput, ModelVerificationError
from cerebra.isolated import run_in_child
from cerebra.models.catalog import Catalog
from cerebra.models.registry import ModelRegistry
from cerebra.models.signing import (
    WeightVerifier,
    public_key_text,
    sign_weights,
    weights_digest,
)
from cerebra.testing import FakeModel


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "w.gguf"
    path.parent.mkdir()
    path.write_bytes(b"weights" * 1000)
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_file_loads_entries_and_refuses_only_the_bad_ones(tmp_path: Path, weights: Path) -> None:
    good = weights_digest(weights)
    catalog_file = write(tmp_path / "models.yaml", f"""
default: second
models:
  - {{name: first, kind: fake, path: models/w.gguf, sha256: "{good}",
     options: {{reply: "from first"}}}}
  - {{name: second, kind: fake, options: {{reply: "from ${{WHO}}"}}}}
  - {{name: tampered, kind: llamacpp, path: models/w.gguf, sha256: "{"0" * 64}"}}
  - {{name: missing, kind: llamacpp, path: models/nope.gguf}}
  - {{name: odd, kind: teleport}}
  - {{name: typo, kind: fake, colour: blue}}
  - {{kind: fake}}
""")
    reg = ModelRegistry()
    report = Catalog(reg, environ={"WHO": "env"}).load_file(catalog_file)
    assert report.loaded == ["first", "second"] and reg.names() == ["first", "second"]
    assert reg.default_name == "second"
    assert reg.get().generate.__self__ is reg.get("second")  # type: ignore[attr-defined]
    errors = {e.name: e.message for e in report.errors}
    assert set(errors) == {"tampered", "missing", "odd", "typo", "#6"}
    assert str(weights) in errors["tampered"] and "sha256" in errors["tampered"]
    assert "nope.gguf" in errors["missing"] and "does not exist" in errors["missing"]
    assert "unknown kind 'teleport'" in errors["odd"]
    assert "colour" in errors["typo"] and "name" in errors["#6"]
    assert all(e.source == str(catalog_file) for e in report.errors)
    assert "tampered" in reg.failures() and str(catalog_file) in reg.failures()["tampered"]
    from cerebra.models.base import GenerationRequest

    assert reg.get("second").generate(GenerationRequest(prompt="hi")).text == "from env"


def test_reload_hot_swaps_changes_keeps_the_rest_and_keeps_old_on_bad_update(
        tmp_path: Path, weights: Path) -> None:
    path = tmp_path / "models.yaml"
    write(path, """
models:
  a: {kind: fake, options: {reply: "a1"}}
  b: {kind: fake, options: {reply: "b1"}}
  c: {kind: fake}
""")
    reg = ModelRegistry()
    catalog = Catalog(reg)
    assert catalog.load_file(path).loaded == ["a", "b", "c"]
    a, b = reg.get("a"), reg.get("b")
    write(path, f"""
models:
  a: {{kind: fake, options: {{reply: "a2"}}}}
  b: {{kind: fake, options: {{reply: "b1"}}}}
  c: {{kind: fake, path: models/w.gguf, sha256: "{"1" * 64}"}}
""")
    report = catalog.load_file(path)
    assert report.loaded == ["a"] and report.unchanged == ["b"] and report.removed == []
    assert reg.get("a") is not a and reg.get("b") is b
    assert [e.name for e in report.errors] == ["c"] and "c" in reg  # old c keeps serving
    write(path, "models:\n  a: {kind: fake, options: {reply: a2}}\n  c: {kind: fake}\n")
    report = catalog.load_file(path)
    assert report.removed == ["b"] and reg.names() == ["a", "c"] and report.ok
    assert "c" not in reg.failures()
    write(path, "models: [ {name: a, kind: fake")  # broken YAML: nothing changes
    report = catalog.load_file(path)
    assert "invalid YAML" in report.errors[0].message and reg.names() == ["a", "c"]
    write(path, "models:\n  a: {kind: fake, enabled: false}\n  c: {kind: fake}\n")
    assert catalog.load_file(path).removed == ["a"] and reg.names() == ["c"]
    missing = catalog.load_file(tmp_path / "absent.yaml")
    assert "cannot read" in missing.errors[0].message and reg.names() == ["c"]


def test_sources_do_not_prune_each_other(tmp_path: Path) -> None:
    reg = ModelRegistry()
    catalog = Catalog(reg)
    catalog.load_text('[{"name": "from-env", "kind": "fake"}]', source="env")
    catalog.add({"name": "from-api", "kind": "fake"})
    catalog.load_file(write(tmp_path / "m.yaml", "- {name: from-file, kind: fake}\n"))
    catalog.load_file(write(tmp_path / "m.yaml", "[]\n"))
    assert reg.names() == ["from-api", "from-env"]


def test_signatures_and_require_verified(tmp_path: Path, weights: Path) -> None:
    key = Ed25519PrivateKey.generate()
    signature = sign_weights(weights, private_key=key)
    hmac_sig = sign_weights(weights, hmac_key=b"k")
    verifier = WeightVerifier(trusted_keys=[key.public_key()], hmac_keys=[b"k"],
                              require_verified=True)
    reg = ModelRegistry()
    report = Catalog(reg, verifier=verifier).load_file(write(tmp_path / "m.yaml", f"""
- {{name: signed, kind: fake, path: {weights}, signature: "{signature}"}}
- {{name: hmac, kind: fake, path: {weights}, signature: "{hmac_sig}"}}
- {{name: forged, kind: fake, path: {weights}, signature: "{sign_weights(
        weights, private_key=Ed25519PrivateKey.generate())}"}}
- {{name: unpinned, kind: fake, path: {weights}}}
- {{name: remote-no-weights, kind: fake}}
"""))
    assert reg.names() == ["hmac", "remote-no-weights", "signed"]
    errors = {e.name: e.message for e in report.errors}
    assert "Ed25519 signature does not match" in errors["forged"]
    assert "unverified" in errors["unpinned"] and str(weights) in errors["unpinned"]


def test_lora_is_verified_too(tmp_path: Path, weights: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"lora")
    reg = ModelRegistry()
    catalog = Catalog(reg)
    with pytest.raises(ModelVerificationError, match="adapter"):
        catalog.add({"name": "x", "kind": "fake", "lora": str(adapter),
                     "lora_sha256": "2" * 64})
    assert "x" not in reg


def test_api_add_replace_remove_and_describe() -> None:
    reg = ModelRegistry()
    catalog = Catalog(reg, environ={"KEY": "sk-test"})
    first = catalog.add({"name": "m", "kind": "fake", "default": True,
                         "price": {"input_per_mtok": 2.0, "output": 3e-6},
                         "context_length": 512})
    caps = reg.get("m").capabilities
    assert caps.cost_per_input_token == pytest.approx(2e-6) and caps.max_context == 512
    assert caps.cost_per_output_token == pytest.approx(3e-6)
    assert catalog.add({"name": "m", "kind": "fake"}) is not first and reg.get("m") is not first
    catalog.add({"name": "gw", "kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                 "model": "gpt-4o-mini", "api_key": "${KEY}"})
    gw = reg.get("gw")
    assert type(gw).__name__ == "OpenAIHTTPBackend"
    assert gw.capabilities.cost_per_input_token > 0  # the built-in price table
    rows = {r["name"]: r for r in catalog.describe()}
    assert rows["gw"]["source"] == "api" and "api_key" not in rows["gw"] and rows["m"]["healthy"]
    with pytest.raises(InvalidInput, match="base_url"):
        catalog.add({"name": "bad", "kind": "openai"})
    with pytest.raises(InvalidInput, match="options"):
        catalog.add({"name": "bad", "kind": "fake", "options": {"no_such_option": 1}})
    with pytest.raises(InvalidInput, match="NOT_SET"):
        catalog.add({"name": "bad", "kind": "anthropic", "api_key_env": "NOT_SET"})
    catalog.remove("gw")
    assert reg.names() == ["m"] and [r["name"] for r in catalog.describe()] == ["m"]


def test_catalog_and_direct_registry_use_mix() -> None:
    reg = ModelRegistry()
    reg.add(FakeModel(name="builtin"))
    report = Catalog(reg).load_text("models: {extra: {kind: fake, default: true}}")
    assert report.ok and reg.default_name == "extra" and reg.names() == ["builtin", "extra"]
    bad = Catalog(reg).load_text("default: ghost\nmodels: []")
    assert "default model is not serving" in bad.errors[0].message
    assert "a catalog is a list" in Catalog(reg).load_text("42").errors[0].message


def gemma_through_the_catalog(path: Path, sha256: str, signature: str, public_key: str
                              ) -> dict[str, Any]:
    """In a child process (llama.cpp: a native crash must not end the test run): the packaged
    GGUF signed and pinned, and a wrongly pinned copy; what loaded, and one generation."""
    from cerebra.models.base import GenerationRequest

    reg = ModelRegistry()
    catalog = Catalog(reg, verifier=WeightVerifier(trusted_keys=[public_key],
                                                   require_verified=True))
    report = catalog.load_text(f"""
- name: gemma
  kind: llamacpp
  path: {path}
  sha256: {sha256}
  signature: "{signature}"
  context_length: 1024
  price: {{input_per_mtok: 0.01, output_per_mtok: 0.02}}
  options: {{n_threads: 2}}
- {{name: gemma-bad, kind: llamacpp, path: {path}, sha256: "{"3" * 64}"}}
""")
    gemma = reg.get("gemma") if "gemma" in report.loaded else None
    out = gemma.generate(GenerationRequest(prompt="The capital of France is", max_tokens=4,
                                           temperature=0.0)) if gemma else None
    return {"loaded": report.loaded, "refused": [e.name for e in report.errors],
            "capabilities": gemma.capabilities if gemma else None, "generation": out}


@pytest.mark.slow
def test_packaged_gguf_through_the_catalog_verified_and_priced(tmp_path: Path) -> None:
    from cerebra.models.weights import PackagedModel

    packaged = PackagedModel.load()
    path = packaged.assemble_into(tmp_path / "models")
    key = Ed25519PrivateKey.generate()
    result = run_in_child(gemma_through_the_catalog, path, packaged.expected_sha256,
                          sign_weights(path, private_key=key), public_key_text(key.public_key()))
    assert result["loaded"] == ["gemma"] and result["refused"] == ["gemma-bad"]
    assert result["capabilities"].max_context == 1024
    assert result["capabilities"].cost_per_output_token == pytest.approx(2e-8)
    out = result["generation"]
    assert out.usage.completion_tokens > 0 and out.model == "gemma"


def test_fake_kind_comes_from_cerebra_testing_on_first_use() -> None:
    """cerebra.models does not import cerebra.testing; an entry of kind fake imports it
    (cerebra.testing registers the kind itself) through the catalog's provider hook."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from cerebra.models.catalog import Catalog\n"
        "from cerebra.models.registry import ModelRegistry\n"
        "assert 'cerebra.testing' not in sys.modules, 'imported too early'\n"
        "catalog = Catalog(ModelRegistry())\n"
        "catalog.add({'name': 'f', 'kind': 'fake', 'options': {'reply': 'hi'}})\n"
        "assert 'cerebra.testing' in sys.modules\n"
        "print(type(catalog.registry.get('f')).__name__)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "FakeModel"
