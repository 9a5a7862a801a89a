"""Wallet sign-in: single-use challenges (nonces) and the Ed25519 check of a Solana-style
wallet's signature over the challenge's exact message.

The server hands out a nonce and a message naming the wallet, the tenant, the nonce and
its expiry; the wallet signs the message's UTF-8 bytes; the server checks the signature
with the wallet's public key (its base58 address) and then spends the nonce with one
conditional UPDATE (`… WHERE used_at IS NULL`), so a replayed signature finds it spent.
A failed signature does not spend the nonce: nobody but the wallet can produce a good one.

A challenge is issued for any well-formed address (base58, 32–44 characters, what the API's
schema states): whether it decodes to a 32-byte key is not a rule a short pattern can state,
and a challenge for an address that is no Ed25519 key is harmless — nothing can sign it, so
its verification is refused (401, field "wallet") like any other signature that does not hold.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import base58
from sqlalchemy import Engine, delete, insert, select, update

from cerebra.db.schema import wallet_nonces
from cerebra.errors import InvalidInput, Unauthorized

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
WALLET_CHARS = (32, 44)  # a 32-byte key in base58 (leading zero bytes are "1"s)
_BASE58 = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


def check_address(wallet: str) -> str:
    """The address, stripped, when it is base58 of 32–44 characters (InvalidInput if not):
    the form of a wallet address, whether or not it decodes to a 32-byte key."""
    text = wallet.strip()
    low, high = WALLET_CHARS
    if not low <= len(text) <= high or not set(text) <= _BASE58:
        raise InvalidInput(f"wallet must be a base58 address of {low}–{high} characters",
                           field="wallet")
    return text


def parse_wallet(wallet: str) -> bytes:
    """The 32-byte Ed25519 public key of a base58 wallet address (InvalidInput if not)."""
    try:
        raw = base58.b58decode(wallet.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise InvalidInput("wallet must be a base58 public key", field="wallet") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise InvalidInput(f"wallet must be a base58 public key of {PUBLIC_KEY_BYTES} bytes",
                           field="wallet")
    return raw


def decode_signature(signature: str) -> bytes:
    """The 64 signature bytes from base58 (what Solana wallets show) or base64."""
    text = signature.strip()
    candidates: list[bytes] = []
    with contextlib.suppress(ValueError, UnicodeEncodeError):
        candidates.append(base58.b58decode(text.encode("ascii")))
    with contextlib.suppress(binascii.Error, ValueError):
        candidates.append(base64.b64decode(text, validate=True))
    for raw in candidates:
        if len(raw) == SIGNATURE_BYTES:
            return raw
    raise Unauthorized("the signature must be 64 bytes in base58 or base64",
                       field="signature")


def verify_signature(wallet: str, message: str, signature: str) -> None:
    """Unauthorized unless `signature` is the wallet's Ed25519 signature of `message`."""
    from nacl.exceptions import BadSignatureError, CryptoError
    from nacl.signing import VerifyKey

    try:
        key = parse_wallet(wallet)
    except InvalidInput as exc:  # a challenge was issued to it: nothing can sign it
        raise Unauthorized(f"{exc.message}: no signature can verify", field="wallet") from None
    raw = decode_signature(signature)
    try:
        VerifyKey(key).verify(message.encode("utf-8"), raw)
    except (BadSignatureError, CryptoError, ValueError):
        raise Unauthorized("the signature does not verify: not this wallet's signature of "
                           "the challenge message", field="signature") from None


@dataclass(frozen=True)
class Challenge:
    nonce: str
    tenant_id: str
    wallet: str
    message: str
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return {"nonce": self.nonce, "message": self.message, "expires_at": self.expires_at}


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def challenge_message(domain: str, wallet: str, tenant_id: str, nonce: str,
                      issued_at: float, expires_at: float) -> str:
    """The text the wallet signs (in the manner of Sign-In With Solana)."""
    return (
        f"{domain} wants you to sign in with your Solana account:\n{wallet}\n\n"
        f"Sign in to Cerebra (tenant {tenant_id}).\n\n"
        f"Nonce: {nonce}\nIssued At: {_iso(issued_at)}\nExpiration Time: {_iso(expires_at)}"
    )


class WalletNonces:
    """Single-use sign-in challenges in the database."""

    def __init__(self, engine: Engine, *, ttl_s: float = 300.0, domain: str = "cerebra") -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.engine = engine
        self.ttl_s = ttl_s
        self.domain = domain

    def issue(self, tenant_id: str, wallet: str, *, now: float | None = None) -> Challenge:
        wallet = check_address(wallet)
        now = time.time() if now is None else now
        nonce = secrets.token_urlsafe(24)
        expires = now + self.ttl_s
        message = challenge_message(self.domain, wallet, tenant_id, nonce, now, expires)
        with self.engine.begin() as conn:
            conn.execute(delete(wallet_nonces).where(wallet_nonces.c.expires_at <= now))
            conn.execute(insert(wallet_nonces).values(
                nonce=nonce, tenant_id=tenant_id, wallet=wallet, message=message,
                created_at=now, expires_at=expires, used_at=None))
        return Challenge(nonce, tenant_id, wallet, message, expires)

    def pending(self, nonce: str, wallet: str, *, now: float | None = None) -> Challenge:
        """The unspent, unexpired challenge `nonce` issued to `wallet` (Unauthorized naming
        why not: unknown, another wallet's, already used, expired)."""
        now = time.time() if now is None else now
        with self.engine.connect() as conn:
            row = conn.execute(select(wallet_nonces).where(
                wallet_nonces.c.nonce == nonce)).first()
        if row is None or row.wallet != wallet.strip():
            raise Unauthorized("unknown nonce for this wallet: ask /auth/wallet/nonce",
                               field="nonce")
        if row.used_at is not None:
            raise Unauthorized("the nonce was already used (a replayed sign-in)", field="nonce")
        if row.expires_at <= now:
            raise Unauthorized("the nonce has expired: ask /auth/wallet/nonce again",
                               field="nonce")
        return Challenge(row.nonce, row.tenant_id, row.wallet, row.message, row.expires_at)

    def spend(self, challenge: Challenge, *, now: float | None = None) -> None:
        """Mark the nonce used, once: Unauthorized when another request spent it first."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            done = conn.execute(update(wallet_nonces).where(
                wallet_nonces.c.nonce == challenge.nonce, wallet_nonces.c.used_at.is_(None),
                wallet_nonces.c.expires_at > now).values(used_at=now))
        if done.rowcount != 1:
            raise Unauthorized("the nonce was already used (a replayed sign-in)", field="nonce")

    def verify(self, wallet: str, nonce: str, signature: str, *,
               now: float | None = None) -> Challenge:
        """The challenge, spent, when `signature` is the wallet's over its message."""
        challenge = self.pending(nonce, wallet, now=now)
        verify_signature(challenge.wallet, challenge.message, signature)
        self.spend(challenge, now=now)
        return challenge

    def purge(self, *, now: float | None = None) -> int:
        """Delete challenges that expired, spent or not (issue() does it too); how many."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(wallet_nonces).where(
                wallet_nonces.c.expires_at <= (time.time() if now is None else now)))
        return int(done.rowcount)
