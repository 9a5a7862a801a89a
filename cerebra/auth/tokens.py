"""Access tokens: short-lived JWTs (HS256 with the server's secret key) carrying the
principal, verified with an explicit algorithm allow-list (no `none`, no HS/RS confusion),
issuer, audience and required expiry.

A token from a sign-in names its refresh family (`cid`); with `families` set (the
authenticator's `RevokedFamilies`) a token whose family was revoked — logout, a reused refresh
token, a disabled user — is refused at once instead of living out its `access_ttl_s`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

import jwt

from cerebra.auth.principal import Principal, Role, Scope
from cerebra.errors import Unauthorized

ALGORITHMS = ("HS256",)  # the only algorithm accepted, whatever a token's header says
ISSUER = "cerebra"
AUDIENCE = "cerebra-api"
LEEWAY_S = 5.0
SIGNED_IN = ("token", "wallet")  # the principal kinds whose `credential_id` is a family


class FamilyCheck(Protocol):
    """Whether a refresh family was revoked (cerebra.auth.refresh.RevokedFamilies)."""

    def revoked(self, tenant_id: str, family_id: str) -> bool: ...


class TokenService:
    """Issues and verifies access tokens."""

    def __init__(self, secret: str, *, access_ttl_s: float = 900.0,
                 families: FamilyCheck | None = None) -> None:
        if len(secret) < 16:
            raise ValueError("the token signing key must be at least 16 characters")
        self._secret = secret
        self.access_ttl_s = access_ttl_s
        self.families = families

    def issue_access(self, principal: Principal, *, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": AUDIENCE, "sub": principal.user_id,
            "tid": principal.tenant_id, "roles": sorted(principal.roles),
            "scp": sorted(principal.scopes), "knd": principal.kind,
            "cid": principal.credential_id, "agt": principal.agent_id,
            "wal": principal.wallet, "jti": secrets.token_hex(8),
            "iat": int(now), "nbf": int(now), "exp": int(now + self.access_ttl_s),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHMS[0])

    def verify_access(self, token: str) -> Principal:
        """The token's principal; Unauthorized (naming why) for anything that does not hold."""
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=list(ALGORITHMS), audience=AUDIENCE,
                issuer=ISSUER, leeway=LEEWAY_S,
                options={"require": ["exp", "iat", "nbf", "sub", "tid", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the access token has expired", field="authorization") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the access token is not valid yet",
                               field="authorization") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the access token is invalid ({type(exc).__name__})",
                               field="authorization") from None
        try:
            principal = Principal(
                tenant_id=str(claims["tid"]), user_id=str(claims["sub"]),
                roles=frozenset(Role(r) for r in claims.get("roles", ())),
                scopes=frozenset(Scope(s) for s in claims.get("scp", ())),
                kind=str(claims.get("knd") or "token"), credential_id=str(claims.get("cid", "")),
                agent_id=str(claims.get("agt") or ""), wallet=claims.get("wal"),
            )
        except (ValueError, TypeError):
            raise Unauthorized("the access token's claims are invalid",
                               field="authorization") from None
        if (self.families is not None and principal.kind in SIGNED_IN
                and self.families.revoked(principal.tenant_id, principal.credential_id)):
            raise Unauthorized("the access token's sign-in has been revoked (logout or a "
                               "reused refresh token): log in again", field="authorization")
        return principal
