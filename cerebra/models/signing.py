"""Weight verification: a pinned SHA-256 and/or a signature (Ed25519 or HMAC-SHA256) over it.

What is signed is the weights' digest written as 64 lowercase hex characters (ASCII): for a
file its SHA-256, for a folder (a Hugging Face model or a PEFT adapter) the SHA-256 of a
manifest listing every file's relative path and SHA-256. Signatures are written
`ed25519:<base64>` or `hmac-sha256:<hex>`. With `require_verified`, weights that carry
neither a pin nor a signature are refused; a wrong pin or signature is always refused, with a
ModelVerificationError that names the file and the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cerebra.errors import InvalidInput, ModelVerificationError
from cerebra.models.weights import sha256_file

ED25519 = "ed25519"
HMAC_SHA256 = "hmac-sha256"


def _manifest_digest(folder: Path) -> str:
    lines = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder).as_posix()
        lines.append(f"{rel}\0{sha256_file(file)}\n")
    if not lines:
        raise ModelVerificationError(f"model folder {folder} is empty")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def weights_digest(path: Path) -> str:
    """SHA-256 hex of a weights file, or of the manifest of a weights folder."""
    if path.is_dir():
        return _manifest_digest(path)
    if not path.is_file():
        raise ModelVerificationError(f"model file {path} does not exist")
    return sha256_file(path)


def _decode_key_bytes(text: str) -> bytes:
    text = text.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise InvalidInput("a key must be PEM, hex or base64", field="key") from exc


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, or from its 32 raw bytes written in hex or base64."""
    data = text.encode() if isinstance(text, str) else text
    if b"BEGIN" in data:
        key = serialization.load_pem_public_key(data)
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidInput("the PEM key is not an Ed25519 public key", field="key")
        return key
    raw = _decode_key_bytes(data.decode())
    if len(raw) != 32:
        raise InvalidInput("an Ed25519 public key is 32 bytes", field="key")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw public key as base64 (what `trusted_keys` accepts)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign_digest(digest_hex: str, *, private_key: Ed25519PrivateKey | None = None,
                hmac_key: bytes | None = None) -> str:
    """A signature string for a digest: Ed25519 when a private key is given, else HMAC."""
    message = digest_hex.lower().encode("ascii")
    if private_key is not None:
        return f"{ED25519}:{base64.b64encode(private_key.sign(message)).decode()}"
    if hmac_key is not None:
        return f"{HMAC_SHA256}:{hmac.new(hmac_key, message, hashlib.sha256).hexdigest()}"
    raise InvalidInput("signing needs an Ed25519 private key or an HMAC key", field="key")


def sign_weights(path: Path, *, private_key: Ed25519PrivateKey | None = None,
                 hmac_key: bytes | None = None) -> str:
    """Sign a weights file or folder (for publishing a catalog entry)."""
    return sign_digest(weights_digest(path), private_key=private_key, hmac_key=hmac_key)


@dataclass(frozen=True)
class Verification:
    """What was checked for one weights path."""

    path: Path
    sha256: str
    methods: tuple[str, ...]  # e.g. ("sha256", "ed25519"); empty: unverified (allowed)

    @property
    def verified(self) -> bool:
        return bool(self.methods)


class WeightVerifier:
    """Checks weights against pins and signatures with trusted keys, under one policy."""

    def __init__(
        self,
        *,
        trusted_keys: Sequence[str | Ed25519PublicKey] = (),
        hmac_keys: Iterable[bytes | str] = (),
        require_verified: bool = False,
    ) -> None:
        self.trusted_keys = [k if isinstance(k, Ed25519PublicKey) else load_public_key(k)
                             for k in trusted_keys]
        self.hmac_keys = [k.encode() if isinstance(k, str) else k for k in hmac_keys]
        self.require_verified = require_verified
        self._digests: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def digest(self, path: Path) -> str:
        """The weights digest, remembered per (path, size, mtime) so reloads do not rehash."""
        if path.is_dir():
            return weights_digest(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ModelVerificationError(f"model file {path} does not exist") from exc
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        with self._lock:
            found = self._digests.get(key)
        if found is None:
            found = weights_digest(path)
            with self._lock:
                self._digests[key] = found
        return found

    def verify(self, path: Path, *, sha256: str | None = None,
               signature: str | None = None) -> Verification:
        """Raise ModelVerificationError (naming `path` and why) unless the weights pass."""
        if not path.exists():
            raise ModelVerificationError(f"model file {path} does not exist")
        if self.require_verified and not sha256 and not signature:
            raise ModelVerificationError(
                f"model file {path} is unverified: verification is required and the entry "
                "has neither a sha256 pin nor a signature"
            )
        if not sha256 and not signature:
            return Verification(path, "", ())
        actual = self.digest(path)
        methods: list[str] = []
        if sha256:
            if actual != sha256.strip().lower():
                raise ModelVerificationError(
                    f"model file {path} failed verification: sha256 {actual} != pinned "
                    f"{sha256.strip().lower()} (the file is corrupted or was replaced)"
                )
            methods.append("sha256")
        if signature:
            methods.append(self._check_signature(path, actual, signature))
        return Verification(path, actual, tuple(methods))

    def _check_signature(self, path: Path, digest_hex: str, signature: str) -> str:
        scheme, sep, value = signature.strip().partition(":")
        scheme = scheme.lower()
        message = digest_hex.encode("ascii")
        if not sep or scheme not in (ED25519, HMAC_SHA256):
            raise ModelVerificationError(
                f"model file {path}: signature must be '{ED25519}:<base64>' or "
                f"'{HMAC_SHA256}:<hex>', got {signature[:24]!r}"
            )
        if scheme == ED25519:
            if not self.trusted_keys:
                raise ModelVerificationError(
                    f"model file {path} has an Ed25519 signature but no trusted key is configured"
                )
            try:
                sig = base64.b64decode(value, validate=True)
            except binascii.Error as exc:
                raise ModelVerificationError(
                    f"model file {path}: the Ed25519 signature is not valid base64") from exc
            for key in self.trusted_keys:
                try:
                    key.verify(sig, message)
                except InvalidSignature:
                    continue
                return ED25519
            raise ModelVerificationError(
                f"model file {path} failed verification: the Ed25519 signature does not match "
                f"its sha256 {digest_hex} under any of the {len(self.trusted_keys)} trusted key(s)"
            )
        if not self.hmac_keys:
            raise ModelVerificationError(
                f"model file {path} has an HMAC signature but no HMAC key is configured")
        for secret in self.hmac_keys:
            expected = hmac.new(secret, message, hashlib.sha256).hexdigest()
            if hmac.compare_digest(expected, value.strip().lower()):
                return HMAC_SHA256
        raise ModelVerificationError(
            f"model file {path} failed verification: the HMAC-SHA256 signature does not match "
            f"its sha256 {digest_hex}"
        )
