"""Weight verification: pins, Ed25519 and HMAC signatures, folders, require_verified."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cerebra.errors import InvalidInput, ModelVerificationError
from cerebra.models.signing import (
    WeightVerifier,
    load_public_key,
    public_key_text,
    sign_weights,
    weights_digest,
)


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


def test_pin_accepts_matching_and_refuses_other_naming_the_file(weights: Path) -> None:
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    result = WeightVerifier().verify(weights, sha256=digest.upper())
    assert result.verified and result.methods == ("sha256",) and result.sha256 == digest
    with pytest.raises(ModelVerificationError) as err:
        WeightVerifier().verify(weights, sha256="0" * 64)
    assert str(weights) in err.value.message and "sha256" in err.value.message


def test_changed_file_is_rehashed(weights: Path) -> None:
    verifier = WeightVerifier()
    digest = weights_digest(weights)
    verifier.verify(weights, sha256=digest)
    weights.write_bytes(b"tampered")
    with pytest.raises(ModelVerificationError):
        verifier.verify(weights, sha256=digest)


def test_ed25519_signature_with_trusted_key(weights: Path) -> None:
    key = Ed25519PrivateKey.generate()
    signature = sign_weights(weights, private_key=key)
    assert signature.startswith("ed25519:")
    other = Ed25519PrivateKey.generate().public_key()
    verifier = WeightVerifier(trusted_keys=[public_key_text(other), key.public_key()])
    assert verifier.verify(weights, signature=signature).methods == ("ed25519",)
    with pytest.raises(ModelVerificationError, match="does not match"):
        WeightVerifier(trusted_keys=[other]).verify(weights, signature=signature)
    with pytest.raises(ModelVerificationError, match="no trusted key"):
        WeightVerifier().verify(weights, signature=signature)
    weights.write_bytes(b"replaced weights")
    with pytest.raises(ModelVerificationError, match=str(weights)):
        verifier.verify(weights, signature=signature)


def test_pem_hex_and_base64_public_keys_load() -> None:
    pub = Ed25519PrivateKey.generate().public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for text in (pem.decode(), raw.hex(), public_key_text(pub)):
        assert load_public_key(text).public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
    with pytest.raises(InvalidInput):
        load_public_key("not a key!")


def test_hmac_signature(weights: Path) -> None:
    signature = sign_weights(weights, hmac_key=b"s3cret")
    assert signature.startswith("hmac-sha256:")
    assert WeightVerifier(hmac_keys=["s3cret"]).verify(
        weights, signature=signature).methods == ("hmac-sha256",)
    with pytest.raises(ModelVerificationError, match="HMAC"):
        WeightVerifier(hmac_keys=["wrong"]).verify(weights, signature=signature)


def test_malformed_signature_is_refused(weights: Path) -> None:
    with pytest.raises(ModelVerificationError, match="signature must be"):
        WeightVerifier(hmac_keys=["k"]).verify(weights, signature="md5:abc")
    with pytest.raises(ModelVerificationError, match="base64"):
        WeightVerifier(trusted_keys=[Ed25519PrivateKey.generate().public_key()]).verify(
            weights, signature="ed25519:***")


def test_pin_and_signature_both_checked(weights: Path) -> None:
    key = Ed25519PrivateKey.generate()
    verifier = WeightVerifier(trusted_keys=[key.public_key()])
    result = verifier.verify(weights, sha256=weights_digest(weights),
                             signature=sign_weights(weights, private_key=key))
    assert result.methods == ("sha256", "ed25519")
    with pytest.raises(ModelVerificationError):
        verifier.verify(weights, sha256="1" * 64, signature=sign_weights(weights, private_key=key))


def test_require_verified_refuses_unpinned_and_missing(weights: Path, tmp_path: Path) -> None:
    assert not WeightVerifier().verify(weights).verified
    with pytest.raises(ModelVerificationError, match="unverified"):
        WeightVerifier(require_verified=True).verify(weights)
    with pytest.raises(ModelVerificationError, match="does not exist"):
        WeightVerifier().verify(tmp_path / "missing.gguf", sha256="0" * 64)


def test_folder_digest_covers_names_and_contents(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    (folder / "sub").mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
    first = weights_digest(folder)
    assert WeightVerifier().verify(folder, sha256=first).verified
    (folder / "sub" / "weights.bin").write_bytes(b"\x01" * 10)
    assert weights_digest(folder) != first
    (folder / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
    (folder / "sub" / "weights.bin").rename(folder / "sub" / "other.bin")
    assert weights_digest(folder) != first
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelVerificationError, match="empty"):
        weights_digest(empty)
