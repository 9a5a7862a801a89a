"""Refresh tokens: opaque random secrets (stored as SHA-256 hashes) in rotation families.

A login starts a family and hands out its first token. Each refresh marks the presented
token used and issues the next one in the same family, with a fresh lifetime. A token that
was already used coming back means it was copied (a thief or its owner replaying it), so
the whole family is revoked — the newer token too — and the caller has to log in again.
Logout revokes the family. The rotation is one conditional UPDATE (`… WHERE used_at IS NULL
AND revoked_at IS NULL`) checked by its row count, so of two concurrent refreshes with the
same token exactly one wins and the other counts as reuse.

An access token names its family (its `cid` claim), so revoking a family also ends the
access tokens it issued: `RevokedFamilies` answers "is this family revoked?" for the
authenticator, cached `cache_s` like API keys; the RefreshTokens that revokes calls its
`on_revoke`, so in this process the refusal is immediate, and other processes see it within
`cache_s`.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from cerebra.db.schema import refresh_tokens
from cerebra.errors import Unauthorized

REFRESH_PREFIX = "cr-"


class InvalidGrant(Unauthorized):
    """RFC 6749's invalid_grant: credentials or a refresh token that do not hold. 401."""

    code = "invalid_grant"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": 'Bearer realm="cerebra", error="invalid_grant"'}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class RefreshGrant:
    """What a refresh token stands for: who, in which family, with which scopes."""

    token_id: str
    family_id: str
    tenant_id: str
    user_id: str
    kind: str  # token (password flow) | wallet
    scopes: tuple[str, ...] | None  # the login's grant; None: the user's role scopes
    expires_at: float


def _grant(row: Any) -> RefreshGrant:
    return RefreshGrant(
        token_id=row.id, family_id=row.family_id, tenant_id=row.tenant_id,
        user_id=row.user_id, kind=row.kind or "token",
        scopes=None if row.scopes is None else tuple(row.scopes), expires_at=row.expires_at,
    )


class RefreshTokens:
    """Issue, rotate and revoke refresh tokens in the database."""

    def __init__(self, engine: Engine, *, ttl_s: float = 1_209_600.0,
                 on_revoke: Callable[[], None] | None = None) -> None:
        """`on_revoke`: called after every revocation (the authenticator's family cache)."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.engine = engine
        self.ttl_s = ttl_s
        self.on_revoke = on_revoke

    def _revoked(self, count: int) -> int:
        if self.on_revoke is not None:
            self.on_revoke()
        return count

    def issue(
        self, tenant_id: str, user_id: str, *, kind: str = "token",
        scopes: Iterable[str] | None = None, family_id: str | None = None,
        now: float | None = None,
    ) -> tuple[str, RefreshGrant]:
        """A new token (the secret, shown once; its grant), in a new family unless given."""
        with self.engine.begin() as conn:
            return self._insert(conn, tenant_id, user_id, kind=kind, family_id=family_id,
                                scopes=None if scopes is None else sorted(scopes),
                                now=time.time() if now is None else now)

    def _insert(self, conn: Any, tenant_id: str, user_id: str, *, kind: str,
                family_id: str | None, scopes: list[str] | None,
                now: float) -> tuple[str, RefreshGrant]:
        secret = REFRESH_PREFIX + secrets.token_urlsafe(32)
        row = {
            "id": "rt_" + secrets.token_hex(8), "family_id": family_id or
            "rf_" + secrets.token_hex(8), "tenant_id": tenant_id, "user_id": user_id,
            "token_hash": _hash(secret), "issued_at": now, "expires_at": now + self.ttl_s,
            "used_at": None, "revoked_at": None, "kind": kind, "scopes": scopes,
        }
        conn.execute(insert(refresh_tokens).values(**row))
        return secret, _grant(type("Row", (), row))

    def _row(self, secret: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(refresh_tokens).where(
                refresh_tokens.c.token_hash == _hash(secret))).first()

    def rotate(self, secret: str, *, now: float | None = None) -> tuple[str, RefreshGrant]:
        """Use `secret` once: the next token of its family. InvalidGrant naming why not
        (unknown, revoked, expired, reused — which revokes the family)."""
        now = time.time() if now is None else now
        row = self._row(secret) if secret.startswith(REFRESH_PREFIX) else None
        if row is None:
            raise InvalidGrant("unknown refresh token", field="refresh_token")
        if row.revoked_at is not None:
            raise InvalidGrant("the refresh token has been revoked", field="refresh_token")
        if row.used_at is not None:
            self.revoke_family(row.family_id, now=now)
            raise InvalidGrant(
                "the refresh token was already used: its family is revoked, log in again",
                field="refresh_token", reason="reused")
        if row.expires_at <= now:
            raise InvalidGrant("the refresh token has expired", field="refresh_token")
        with self.engine.begin() as conn:
            done = conn.execute(update(refresh_tokens).where(
                refresh_tokens.c.id == row.id, refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None)).values(used_at=now))
            if done.rowcount == 1:
                return self._insert(conn, row.tenant_id, row.user_id, kind=row.kind,
                                    family_id=row.family_id, scopes=row.scopes, now=now)
        # another refresh with the same token won the race: that is a reuse
        self.revoke_family(row.family_id, now=now)
        raise InvalidGrant(
            "the refresh token was already used: its family is revoked, log in again",
            field="refresh_token", reason="reused")

    def revoke_family(self, family_id: str, *, now: float | None = None) -> int:
        """Revoke every live token of a family; how many were revoked."""
        with self.engine.begin() as conn:
            done = conn.execute(update(refresh_tokens).where(
                refresh_tokens.c.family_id == family_id,
                refresh_tokens.c.revoked_at.is_(None),
            ).values(revoked_at=time.time() if now is None else now))
        return self._revoked(int(done.rowcount))

    def revoke(self, secret: str) -> RefreshGrant | None:
        """Logout: revoke the family of `secret`; its grant, or None for an unknown token."""
        row = self._row(secret) if secret.startswith(REFRESH_PREFIX) else None
        if row is None:
            return None
        self.revoke_family(row.family_id)
        return _grant(row)

    def revoke_user(self, tenant_id: str, user_id: str) -> int:
        """Revoke every refresh token of a user (a disabled user, a password change)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(refresh_tokens).where(
                refresh_tokens.c.tenant_id == tenant_id, refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=time.time()))
        return self._revoked(int(done.rowcount))


class RevokedFamilies:
    """Whether a refresh family is revoked — every token of it revoked, or none of it left —
    read from the database and cached `cache_s` (0: every time)."""

    _MAX_CACHED = 10_000

    def __init__(self, engine: Engine, *, cache_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.cache_s = cache_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def revoked(self, tenant_id: str, family_id: str) -> bool:
        now = self._clock()
        hit = self._cache.get((tenant_id, family_id))
        if hit is not None and now - hit[0] < self.cache_s:
            return hit[1]
        with self.engine.connect() as conn:
            live = conn.execute(select(func.count()).select_from(refresh_tokens).where(
                refresh_tokens.c.family_id == family_id,
                refresh_tokens.c.tenant_id == tenant_id,
                refresh_tokens.c.revoked_at.is_(None))).scalar_one()
        answer = not live
        with self._lock:
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            self._cache[(tenant_id, family_id)] = (now, answer)
        return answer

    def forget(self) -> None:
        """Drop every cached answer (after a revocation in this process)."""
        with self._lock:
            self._cache.clear()
