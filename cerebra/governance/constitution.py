"""The constitution: the YAML document of what may be said and used — its model, loading,
SHA3-512 hash over a canonical serialisation, and Ed25519 signatures over that hash.

The hash covers the document's meaning, not its bytes: the parsed YAML written as JSON with
sorted keys, no spaces, UTF-8 (comments and layout do not change it; any changed key or
value does). A signature is Ed25519 (PyNaCl) over the 64 raw bytes of that digest, kept in
`<file>.sig` beside the document (JSON: hash, the signer's public key, the signature).
Keys are the 32 raw bytes written in base64 (hex is accepted too). Versions and the active
one are kept by `cerebra.governance.versions`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cerebra.errors import CerebraError

SIG_FORMAT = "cerebra-constitution-signature/1"
HASH_PREFIX = "sha3-512:"
Stage = Literal["input", "output"]
BOTH: list[Stage] = ["input", "output"]


class ConstitutionError(CerebraError):
    """A constitution that does not load, or whose signature does not hold."""

    status_code = 422
    code = "constitution_invalid"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatternRule(_Doc):
    id: str
    pattern: str
    stages: list[Stage] = Field(default_factory=lambda: list(BOTH))
    action: Literal["deny", "flag"] = "deny"
    reason: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


class TopicRule(_Doc):
    id: str
    keywords: list[str] = Field(min_length=1)
    stages: list[Stage] = Field(default_factory=lambda: list(BOTH))
    action: Literal["deny", "flag"] = "deny"
    reason: str = ""


class PIIAction(StrEnum):
    ALLOW = "allow"
    REDACT = "redact"
    REFUSE = "refuse"


class PIIRules(_Doc):
    email: PIIAction = PIIAction.ALLOW
    phone: PIIAction = PIIAction.ALLOW
    card: PIIAction = PIIAction.ALLOW
    iban: PIIAction = PIIAction.ALLOW
    secret: PIIAction = PIIAction.ALLOW
    stages: list[Stage] = Field(default_factory=lambda: list(BOTH))


class Disclaimer(_Doc):
    """Appended to an answer whose prompt or text mentions a keyword, or to every answer."""

    id: str
    text: str = Field(min_length=1)
    keywords: list[str] = Field(default_factory=list)
    always: bool = False


class Permissions(_Doc):
    """What a role or an agent may use; a missing list means no restriction. Names may be
    shell-style patterns (`gpt-4o*`)."""

    models: list[str] | None = None
    tools: list[str] | None = None


class PermissionTable(_Doc):
    roles: dict[str, Permissions] = Field(default_factory=dict)
    agents: dict[str, Permissions] = Field(default_factory=dict)


class Constitution(_Doc):
    name: str = "constitution"
    version: str | int | None = None
    denied_patterns: list[PatternRule] = Field(default_factory=list)
    denied_topics: list[TopicRule] = Field(default_factory=list)
    pii: PIIRules = Field(default_factory=PIIRules)
    max_tokens: int | None = Field(None, ge=1)
    disclaimers: list[Disclaimer] = Field(default_factory=list)
    permissions: PermissionTable = Field(default_factory=PermissionTable)

    def summary(self) -> dict[str, Any]:
        pii = {k: v.value for k, v in self.pii.model_dump().items() if k != "stages"}
        return {
            "name": self.name,
            "version": self.version,
            "denied_patterns": [r.id for r in self.denied_patterns],
            "denied_topics": [r.id for r in self.denied_topics],
            "pii": {k: v for k, v in pii.items() if v != "allow"},
            "max_tokens": self.max_tokens,
            "disclaimers": [d.id for d in self.disclaimers],
            "roles": sorted(self.permissions.roles),
            "agents": sorted(self.permissions.agents),
        }


def canonical(data: Any) -> bytes:
    """The canonical serialisation the hash covers: sorted-key compact JSON in UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def digest(data: Any) -> bytes:
    return hashlib.sha3_512(canonical(data)).digest()


@dataclass(frozen=True)
class Loaded:
    """A parsed, validated constitution with its hash and (once verified) its signer."""

    doc: Constitution
    data: Any  # the parsed YAML the hash covers
    digest: bytes
    source: Path | None = None
    signer: str | None = None  # the base64 public key whose signature verified

    @property
    def hash(self) -> str:
        return HASH_PREFIX + self.digest.hex()


def parse(text: str, *, source: Path | None = None) -> Loaded:
    where = str(source) if source else "constitution"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConstitutionError(f"{where}: not YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConstitutionError(f"{where}: the document must be a mapping")
    try:
        doc = Constitution.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first.get("loc", ())) or "(document)"
        raise ConstitutionError(f"{where}: {key}: {first.get('msg')}", field=key) from None
    return Loaded(doc=doc, data=data, digest=digest(data), source=source)


def load(path: Path) -> Loaded:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConstitutionError(f"cannot read constitution {path}: {exc}") from None
    return parse(text, source=path)


# -- keys and signatures ---------------------------------------------------------------------
def _raw(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        if re.fullmatch(r"[0-9a-fA-F]{64}", text):
            return bytes.fromhex(text)
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConstitutionError(f"{what} must be 32 bytes in base64 or hex") from None
    if len(raw) not in (32, 64):
        raise ConstitutionError(f"{what} must be 32 bytes in base64 or hex")
    return raw


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def generate_keypair() -> tuple[str, str]:
    """(private seed, public key), both base64."""
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    return b64(bytes(key)), b64(bytes(key.verify_key))


def load_signing_key(path: Path) -> Any:
    from nacl.signing import SigningKey

    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConstitutionError(f"cannot read key file {path}: {exc}", field="key") from None
    return SigningKey(_raw(text, f"key file {path}")[:32])


def public_key_of(path: Path) -> str:
    return b64(bytes(load_signing_key(path).verify_key))


def signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def sign(path: Path, key_file: Path) -> Path:
    """Sign the document at `path`; writes and returns `<path>.sig`."""
    loaded = load(path)
    key = load_signing_key(key_file)
    envelope = {
        "format": SIG_FORMAT,
        "hash": loaded.hash,
        "public_key": b64(bytes(key.verify_key)),
        "signature": b64(key.sign(loaded.digest).signature),
    }
    out = signature_path(path)
    out.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
    return out


def read_signature(path: Path) -> dict[str, str] | None:
    sig = signature_path(path)
    if not sig.exists():
        return None
    try:
        envelope = json.loads(sig.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConstitutionError(f"signature file {sig} does not parse: {exc}") from None
    if not isinstance(envelope, dict) or envelope.get("format") != SIG_FORMAT:
        raise ConstitutionError(f"signature file {sig} is not a {SIG_FORMAT} envelope")
    return {k: str(v) for k, v in envelope.items()}


def verify_loaded(loaded: Loaded, envelope: dict[str, str],
                  trusted_keys: list[str] | None = None) -> Loaded:
    """The constitution with its signer set, or ConstitutionError saying what does not hold:
    a changed document (hash mismatch), a bad signature, or a signer not trusted."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    where = loaded.source or "constitution"
    if envelope.get("hash") != loaded.hash:
        raise ConstitutionError(f"{where}: the document changed since it was signed "
                                "(its SHA3-512 hash differs from the signed one)")
    public = _raw(envelope.get("public_key", ""), "the signature's public_key")[:32]
    try:
        VerifyKey(public).verify(loaded.digest, _raw_sig(envelope.get("signature", "")))
    except BadSignatureError:
        raise ConstitutionError(f"{where}: bad signature (it does not verify under "
                                f"the key {b64(public)})") from None
    if trusted_keys is not None:
        trusted = {_raw(k, "a trusted key")[:32] for k in trusted_keys}
        if public not in trusted:
            raise ConstitutionError(f"{where}: signed by {b64(public)}, which is not among "
                                    "the trusted keys (policy.trusted_keys)")
    return Loaded(loaded.doc, loaded.data, loaded.digest, loaded.source, b64(public))


def _raw_sig(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConstitutionError("the signature is not base64") from None
    if len(raw) != 64:
        raise ConstitutionError("an Ed25519 signature is 64 bytes")
    return raw


def verify(path: Path, trusted_keys: list[str] | None = None, *,
           require_signature: bool = True) -> Loaded:
    """Load `path` and check its `.sig`. Without a signature file: ConstitutionError when
    one is required, else the document unsigned (signer None)."""
    loaded = load(path)
    envelope = read_signature(path)
    if envelope is None:
        if require_signature:
            raise ConstitutionError(f"{path}: no signature ({signature_path(path).name} "
                                    "is missing) and signatures are required")
        return loaded
    return verify_loaded(loaded, envelope, trusted_keys)
