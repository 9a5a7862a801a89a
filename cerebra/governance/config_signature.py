"""Signed configuration: an HMAC-SHA256 over the effective settings, checked at start-up.

What is signed: the canonical JSON (keys sorted, no spaces, UTF-8) of every setting, top
level and per group, as pydantic holds it after reading the environment and `.env` — secret
values included in the clear (they never leave: only the HMAC does), paths as strings —
less `config_signature` itself and `secret_key`, which is the HMAC's key. No setting is
volatile (none has a random or time-based default), so the same environment signs the same.

Why HMAC keyed with `secret_key` rather than Ed25519: the check runs where the secret
already lives, and someone who can change a setting but does not hold the secret cannot
produce a matching signature; keep CEREBRA_SECRET_KEY in a secret store apart from the rest.
The development default secret is refused for signing and for checking.

`cerebra config sign` prints the signature (`hmac-sha256:<hex>`) for the environment it runs
in; set it as CEREBRA_CONFIG_SIGNATURE and `serve` refuses to start (one line, exit 2) when
the effective settings no longer match.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from cerebra.config import DEV_SECRET, Settings
from cerebra.errors import CerebraError

PREFIX = "hmac-sha256:"
UNSIGNED = frozenset({"config_signature", "secret_key"})


class ConfigSignatureError(CerebraError):
    """The effective settings do not match CEREBRA_CONFIG_SIGNATURE (or cannot be signed)."""

    status_code = 500
    code = "config_signature_mismatch"


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def canonical(settings: Settings) -> bytes:
    """The bytes that are signed (see the module docstring)."""
    doc = {name: _plain(getattr(settings, name))
           for name in type(settings).model_fields if name not in UNSIGNED}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def _key(settings: Settings) -> bytes:
    secret = settings.secret_key.get_secret_value()
    if not secret or secret == DEV_SECRET:
        raise ConfigSignatureError(
            "a config signature needs a real CEREBRA_SECRET_KEY (not the development "
            "default)", field="secret_key")
    return secret.encode("utf-8")


def sign(settings: Settings) -> str:
    """The signature of `settings`, to set as CEREBRA_CONFIG_SIGNATURE."""
    digest = hmac.new(_key(settings), canonical(settings), hashlib.sha256).hexdigest()
    return PREFIX + digest


def verify(settings: Settings) -> bool:
    """True when a signature is set and matches; False when none is set; raises
    ConfigSignatureError on a mismatch or a malformed signature."""
    given = settings.config_signature
    if not given:
        return False
    if not given.startswith(PREFIX):
        raise ConfigSignatureError(
            f"CEREBRA_CONFIG_SIGNATURE must start with {PREFIX!r} (from `cerebra config "
            "sign`)", field="config_signature")
    if not hmac.compare_digest(given.strip(), sign(settings)):
        raise ConfigSignatureError(
            "the effective settings do not match CEREBRA_CONFIG_SIGNATURE (a setting "
            "changed since `cerebra config sign`?); refusing to start",
            field="config_signature")
    return True
