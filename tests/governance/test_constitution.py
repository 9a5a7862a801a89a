"""The constitution: validation errors name the key; the SHA3-512 hash covers the meaning;
Ed25519 signatures fail on any changed byte of meaning, a wrong key, a forged envelope;
versions are kept and one is active; `cerebra constitution …`; start-up refuses a bad
signature when signatures are required."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cerebra.brain import Brain
from cerebra.cli.main import main
from cerebra.config import Settings, get_settings
from cerebra.governance.constitution import (
    ConstitutionError,
    generate_keypair,
    load,
    parse,
    sign,
    signature_path,
    verify,
)
from cerebra.governance.versions import VersionStore, active_constitution_hash
from tests.helpers import free_port, run_cli

DOC = """\
name: house-rules
version: 3
denied_patterns:
  - id: launch-codes
    pattern: "(?i)launch codes?"
denied_topics:
  - id: weapons
    keywords: [nerve agent, bioweapon]
pii:
  email: redact
  card: refuse
max_tokens: 256
disclaimers:
  - id: medical
    text: "This is not medical advice."
    keywords: [diagnosis, dosage]
permissions:
  roles:
    user: {models: ["small-*"], tools: []}
"""


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    out = {}
    for name in ("alice", "mallory"):
        private, public = generate_keypair()
        path = tmp_path / f"{name}.key"
        path.write_text(private)
        out[name] = (path, public)
    return out


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "constitution.yaml"
    path.write_text(DOC)
    return path


# -- the document ---------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "key"), [
    ("pii:\n  card: shred\n", "pii.card"),
    ("denied_paterns: []\n", "denied_paterns"),
    ("denied_patterns:\n  - id: x\n    pattern: '(unclosed'\n", "denied_patterns.0.pattern"),
    ("max_tokens: 0\n", "max_tokens"),
    ("denied_topics:\n  - id: t\n    keywords: []\n", "denied_topics.0.keywords"),
])
def test_a_bad_document_names_the_key(change: str, key: str) -> None:
    with pytest.raises(ConstitutionError, match=rf"constitution: {key}:") as caught:
        parse(change)
    assert caught.value.field == key


def test_the_hash_covers_meaning_not_layout() -> None:
    base = parse(DOC)
    relaid = yaml.safe_dump(yaml.safe_load(DOC), sort_keys=True, default_flow_style=True)
    assert parse("# a comment\n" + relaid).hash == base.hash
    assert base.hash.startswith("sha3-512:") and len(base.digest) == 64
    assert parse(DOC.replace("256", "257")).hash != base.hash


# -- signatures -----------------------------------------------------------------------------
def test_sign_and_verify(doc: Path, keys: dict[str, tuple[Path, str]]) -> None:
    key, public = keys["alice"]
    sign(doc, key)
    loaded = verify(doc, [public])
    assert loaded.signer == public and loaded.hash == load(doc).hash
    envelope = json.loads(signature_path(doc).read_text())
    assert envelope["hash"] == loaded.hash and envelope["public_key"] == public


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, len(DOC.encode()) - 1),
       byte=st.integers(0x20, 0x7E))
def test_one_changed_byte_fails_verification_unless_the_meaning_is_unchanged(
        tmp_path: Path, keys: dict[str, tuple[Path, str]], position: int, byte: int) -> None:
    key, public = keys["alice"]
    path = tmp_path / "c.yaml"
    path.write_text(DOC)
    sign(path, key)
    raw = bytearray(DOC.encode())
    if raw[position] == byte:
        byte = byte + 1 if byte < 0x7E else 0x20
    raw[position] = byte
    path.write_bytes(bytes(raw))
    try:
        same = yaml.safe_load(bytes(raw)) == yaml.safe_load(DOC)
    except yaml.YAMLError:
        same = False
    if same:  # e.g. a changed comment or quote style: the signed meaning still holds
        assert verify(path, [public]).signer == public
    else:
        with pytest.raises(ConstitutionError):
            verify(path, [public])


def test_a_single_value_byte_changed_fails(doc: Path, keys: dict[str, tuple[Path, str]]) -> None:
    key, public = keys["alice"]
    sign(doc, key)
    doc.write_text(DOC.replace("card: refuse", "card: redact"))
    with pytest.raises(ConstitutionError, match="changed since it was signed"):
        verify(doc, [public])


def test_wrong_keys_fail(doc: Path, keys: dict[str, tuple[Path, str]]) -> None:
    alice, alice_pub = keys["alice"]
    mallory, _ = keys["mallory"]
    sign(doc, mallory)  # a valid signature by a key nobody trusts
    with pytest.raises(ConstitutionError, match="not among the trusted keys"):
        verify(doc, [alice_pub])
    envelope = json.loads(signature_path(doc).read_text())
    envelope["public_key"] = alice_pub  # claims alice signed it: the signature does not verify
    signature_path(doc).write_text(json.dumps(envelope))
    with pytest.raises(ConstitutionError, match="bad signature"):
        verify(doc, [alice_pub])
    sign(doc, alice)
    envelope = json.loads(signature_path(doc).read_text())
    sig = bytearray(base64.b64decode(envelope["signature"]))
    sig[10] ^= 1
    envelope["signature"] = base64.b64encode(bytes(sig)).decode()
    signature_path(doc).write_text(json.dumps(envelope))
    with pytest.raises(ConstitutionError, match="bad signature"):
        verify(doc, [alice_pub])


def test_a_missing_signature(doc: Path) -> None:
    with pytest.raises(ConstitutionError, match="no signature"):
        verify(doc, None)
    assert verify(doc, None, require_signature=False).signer is None


# -- versions -------------------------------------------------------------------------------
def test_versions_are_kept_and_one_is_active(tmp_path: Path, doc: Path,
                                             keys: dict[str, tuple[Path, str]]) -> None:
    key, public = keys["alice"]
    store = VersionStore(tmp_path / "home" / "constitutions")
    sign(doc, key)
    first = store.activate(doc, require_signature=True, trusted_keys=[public])
    doc.write_text(DOC.replace("256", "512"))
    sign(doc, key)
    second = store.activate(doc, require_signature=True, trusted_keys=[public])
    assert (first["version"], second["version"]) == (1, 2)
    assert store.active()["hash"] == second["hash"] != first["hash"]  # type: ignore[index]
    doc.write_text(DOC)
    sign(doc, key)
    again = store.activate(doc, require_signature=True, trusted_keys=[public])
    assert again["version"] == 1 and store.active()["version"] == 1  # type: ignore[index]
    assert len(store.versions()) == 2
    for v in store.versions():
        kept = store.folder / v["file"]
        assert verify(kept, [public]).hash == v["hash"]
    doc.write_text(DOC.replace("256", "1"))  # changed after signing: refused, nothing kept
    with pytest.raises(ConstitutionError):
        store.activate(doc, require_signature=False, trusted_keys=None)
    assert len(store.versions()) == 2 and store.active()["version"] == 1  # type: ignore[index]


# -- the CLI --------------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Iterator[object]:
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "home"))

    def run(*args: str, **env: str) -> tuple[int, str, str]:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    yield run
    get_settings.cache_clear()


def test_cli_keygen_sign_verify_activate_show(cli: object, tmp_path: Path, doc: Path) -> None:
    run = cli  # type: ignore[assignment]
    code, out, _ = run("constitution", "keygen", "--out", str(tmp_path / "k.key"), "--json")
    assert code == 0
    public = json.loads(out)["public_key"]
    assert (tmp_path / "k.key").stat().st_mode & 0o077 == 0
    code, out, _ = run("constitution", "sign", str(doc), "--key", str(tmp_path / "k.key"))
    assert code == 0 and load(doc).hash in out
    code, out, _ = run("constitution", "verify", str(doc), "--json")
    assert code == 0 and json.loads(out)["signer"] == public
    strict = {"CEREBRA_POLICY__REQUIRE_SIGNATURE": "true",
              "CEREBRA_POLICY__TRUSTED_KEYS": json.dumps([public])}
    code, out, _ = run("constitution", "activate", str(doc), **strict)
    assert code == 0 and "version 1" in out
    code, out, _ = run("constitution", "show", "--json")
    shown = json.loads(out)
    assert shown["hash"] == load(doc).hash and shown["signer"] == public
    assert shown["version"] == 1 and shown["signature"] == "valid"
    assert shown["rules"]["pii"] == {"email": "redact", "card": "refuse"}
    doc.write_text(DOC.replace("launch", "lunch"))
    code, _, err = run("constitution", "verify", str(doc))
    assert code == 2 and err.count("\n") == 1 and "changed since it was signed" in err
    code, _, err = run("constitution", "activate", str(doc))
    assert code == 2 and "changed since it was signed" in err
    code, _, err = run("constitution", "keygen", "--out", str(tmp_path / "k.key"))
    assert code == 2 and "refusing to overwrite" in err


# -- start-up -------------------------------------------------------------------------------
def _settings(tmp_path: Path, **policy: object) -> Settings:
    return Settings(home=tmp_path / "home", model={"fake": True}, memory={"embedder": "fake"},
                    health={"interval_s": 0}, policy=policy)


def test_start_up_refuses_a_bad_signature_when_required(
        tmp_path: Path, doc: Path, keys: dict[str, tuple[Path, str]]) -> None:
    key, public = keys["alice"]
    sign(doc, key)
    good = _settings(tmp_path, constitution=doc, require_signature=True, trusted_keys=[public])
    brain = Brain.from_settings(good)
    try:
        assert active_constitution_hash() == load(doc).hash
        assert brain.guards[0].name == "policy"
    finally:
        brain.close()
    doc.write_text(DOC.replace("256", "4096"))  # tampered after signing
    with pytest.raises(ConstitutionError, match="changed since it was signed"):
        Brain.from_settings(good)
    sign(doc, keys["mallory"][0])
    with pytest.raises(ConstitutionError, match="not among the trusted keys"):
        Brain.from_settings(_settings(tmp_path, constitution=doc, require_signature=True,
                                      trusted_keys=[public]))
    signature_path(doc).unlink()
    with pytest.raises(ConstitutionError, match="no signature"):
        Brain.from_settings(_settings(tmp_path, constitution=doc, require_signature=True,
                                      trusted_keys=[public]))
    brain = Brain.from_settings(_settings(tmp_path, constitution=doc))  # not required: runs
    brain.close()


def test_serve_refuses_a_tampered_constitution_with_one_line(
        tmp_path: Path, doc: Path, keys: dict[str, tuple[Path, str]]) -> None:
    key, public = keys["alice"]
    sign(doc, key)
    doc.write_text(DOC.replace("256", "4096"))
    result = run_cli("serve", "--no-engine-check", "--port", str(free_port()), env={
        "CEREBRA_HOME": str(tmp_path / "home"), "CEREBRA_MODEL__FAKE": "true",
        "CEREBRA_MEMORY__EMBEDDER": "fake", "CEREBRA_POLICY__CONSTITUTION": str(doc),
        "CEREBRA_POLICY__REQUIRE_SIGNATURE": "true",
        "CEREBRA_POLICY__TRUSTED_KEYS": json.dumps([public]),
    }, timeout=120)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0])  # one line, last
    assert "changed since it was signed" in errors[0]
