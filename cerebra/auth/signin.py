"""Sign-in: the OAuth2 password and refresh-token grants and the wallet sign-in, each
ending in an access token (a JWT) and a refresh token.

What a token grants is worked out at every issue, refreshes included: the user's current
role scopes (a disabled or deleted user gets nothing and loses its refresh tokens),
narrowed by the scope the login asked for, and — for a wallet sign-in under a token gate —
less the gated scopes while the wallet holds less than the gate's balance (or the balance
cannot be read).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from anyio import to_thread

from cerebra.auth.identity import IdentityStore, UserRecord
from cerebra.auth.principal import Principal, Role, Scope, scopes_of
from cerebra.auth.refresh import InvalidGrant, RefreshGrant, RefreshTokens
from cerebra.auth.solana import TokenGate
from cerebra.auth.tokens import TokenService
from cerebra.auth.wallet import WalletNonces
from cerebra.errors import CerebraError, Conflict, NotFound, Unauthorized

BAD_LOGIN = "invalid username or password"
_KNOWN = frozenset(s.value for s in Scope)


class OAuthError(CerebraError):
    """An RFC 6749 §5.2 error that is the request's fault (invalid_request, invalid_scope,
    unsupported_grant_type): 400, with the RFC's code as the error type."""

    status_code = 400

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


def parse_scope(scope: str | None) -> frozenset[Scope] | None:
    """An OAuth `scope` parameter (space-separated) → scopes; None when absent."""
    if scope is None or not scope.strip():
        return None
    out: set[Scope] = set()
    for item in scope.split():
        try:
            out.add(Scope(item))
        except ValueError:
            raise OAuthError("invalid_scope", f"unknown scope {item!r}", field="scope") from None
    return frozenset(out)


@dataclass(frozen=True)
class Issued:
    """The answer to a successful grant."""

    access_token: str
    expires_in: int
    refresh_token: str
    principal: Principal
    withheld: frozenset[Scope] = frozenset()

    def to_oauth(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token, "token_type": "bearer",
            "expires_in": self.expires_in, "refresh_token": self.refresh_token,
            "scope": " ".join(sorted(self.principal.scopes)),
        }
        if self.withheld:
            body["withheld_scopes"] = sorted(self.withheld)
        return body


class SignIn:
    """Password, refresh and wallet grants over the identity store and the token stores."""

    def __init__(self, identity: IdentityStore, tokens: TokenService, refresh: RefreshTokens,
                 nonces: WalletNonces, gate: TokenGate | None = None) -> None:
        self.identity = identity
        self.tokens = tokens
        self.refresh = refresh
        self.nonces = nonces
        self.gate = gate

    async def _issue(self, user: UserRecord, grant: RefreshGrant, secret: str,
                     requested: frozenset[Scope] | None) -> Issued:
        allowed = scopes_of(Role(r) for r in user.roles)
        if grant.scopes is not None:
            allowed &= frozenset(Scope(s) for s in grant.scopes if s in _KNOWN)
        if requested is not None:
            if not requested <= allowed:
                extra = ", ".join(sorted(requested - allowed))
                raise OAuthError("invalid_scope", f"not granted: {extra}", field="scope")
            allowed = requested
        withheld: frozenset[Scope] = frozenset()
        if grant.kind == "wallet" and self.gate is not None and user.wallet:
            withheld = (await self.gate.withheld(user.wallet)) & allowed
        principal = dataclasses.replace(
            user.principal(kind=grant.kind, credential_id=grant.family_id),
            scopes=allowed - withheld)
        return Issued(self.tokens.issue_access(principal), int(self.tokens.access_ttl_s),
                      secret, principal, withheld)

    async def password(self, tenant_id: str, username: str, password: str,
                       scope: str | None = None) -> Issued:
        requested = parse_scope(scope)
        user = await to_thread.run_sync(self.identity.authenticate, tenant_id, username,
                                        password)
        if user is None:
            raise InvalidGrant(BAD_LOGIN, field="password")
        if requested is not None:  # the grant remembers the narrowing for its refreshes
            allowed = scopes_of(Role(r) for r in user.roles)
            if not requested <= allowed:
                extra = ", ".join(sorted(requested - allowed))
                raise OAuthError("invalid_scope", f"not granted: {extra}", field="scope")
        secret, grant = await to_thread.run_sync(lambda: self.refresh.issue(
            user.tenant_id, user.id, kind="token",
            scopes=None if requested is None else [s.value for s in requested]))
        return await self._issue(user, grant, secret, None)

    async def refreshed(self, secret: str, scope: str | None = None) -> Issued:
        requested = parse_scope(scope)
        new_secret, grant = await to_thread.run_sync(self.refresh.rotate, secret)
        try:
            user = await to_thread.run_sync(self.identity.get_user, grant.tenant_id,
                                            grant.user_id)
        except NotFound:
            user = None
        if user is None or user.disabled:
            await to_thread.run_sync(self.refresh.revoke_family, grant.family_id)
            raise InvalidGrant("the user of this refresh token is disabled or gone",
                               field="refresh_token")
        return await self._issue(user, grant, new_secret, requested)

    async def wallet(self, wallet: str, nonce: str, signature: str) -> Issued:
        challenge = await to_thread.run_sync(self.nonces.verify, wallet, nonce, signature)
        user = await to_thread.run_sync(self._wallet_user, challenge.tenant_id,
                                        challenge.wallet)
        secret, grant = await to_thread.run_sync(lambda: self.refresh.issue(
            user.tenant_id, user.id, kind="wallet"))
        return await self._issue(user, grant, secret, None)

    def _wallet_user(self, tenant_id: str, wallet: str) -> UserRecord:
        """The wallet's user in the tenant, created (role user) on its first sign-in."""
        user = self.identity.user_by_wallet(wallet)
        if user is None:
            try:
                user = self.identity.create_user(tenant_id, f"wallet:{wallet}",
                                                 roles=[Role.USER], wallet=wallet)
            except Conflict:  # a concurrent first sign-in of the same wallet
                user = self.identity.user_by_wallet(wallet)
        if user is None or user.tenant_id != tenant_id:
            raise Unauthorized("this wallet belongs to another tenant", field="wallet")
        if user.disabled:
            raise Unauthorized("this wallet's user is disabled", field="wallet")
        return user
