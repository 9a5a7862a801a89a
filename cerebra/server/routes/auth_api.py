"""Sign-in routes (public): the OAuth2 token endpoint (password and refresh_token grants,
RFC 6749), refresh-token revocation (RFC 7009) and the wallet sign-in (nonce, then a signed
challenge).

`POST /token` takes a form body (application/x-www-form-urlencoded), as RFC 6749 asks; the
tenant is the form field `tenant`, else `client_id` (the OAuth client names its tenant),
else "default". Errors keep the RFC's codes as the error type: `invalid_request`,
`unsupported_grant_type`, `invalid_scope` → 400; `invalid_grant` (a wrong password, a
refresh token unknown, expired, revoked or reused) → 401 like every credential that does
not hold here (the RFC says 400; clients treat both as "log in again"). Logins and failed
logins go to the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cerebra.auth.refresh import RefreshTokens, RevokedFamilies
from cerebra.auth.signin import Issued, OAuthError, SignIn
from cerebra.auth.solana import gate_of
from cerebra.auth.wallet import WalletNonces
from cerebra.context import RequestContext
from cerebra.errors import CerebraError, NotFound
from cerebra.governance.audit_setup import record_action
from cerebra.server.auth import authenticator_of, public
from cerebra.server.request_schemas import revoke_form, token_grants

router = APIRouter(tags=["auth"], dependencies=[Depends(public)])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid_request, unsupported_grant_type or invalid_scope"},
    401: {"description": "invalid_grant: the credentials or the token do not hold"},
    422: {"description": "a malformed body"},
}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def sign_in_of(app: FastAPI) -> SignIn:
    """The app's SignIn, built on first use over the Authenticator's stores."""
    found = getattr(app.state, "sign_in", None)
    if isinstance(found, SignIn):
        return found
    settings = app.state.settings
    authenticator = authenticator_of(app)
    engine = authenticator.identity.engine
    families = authenticator.tokens.families  # revocations here are refused at once
    forget = families.forget if isinstance(families, RevokedFamilies) else None
    sign_in = SignIn(
        authenticator.identity, authenticator.tokens,
        RefreshTokens(engine, ttl_s=settings.auth.refresh_ttl_s, on_revoke=forget),
        WalletNonces(engine, ttl_s=settings.auth.wallet_nonce_ttl_s),
        gate_of(settings),
    )
    app.state.sign_in = sign_in
    return sign_in


def _audit(request: Request, action: str, tenant: str, who: str, *,
           error: CerebraError | None = None, details: dict[str, Any] | None = None,
           issued: Issued | None = None) -> None:
    audit = getattr(request.app.state.brain, "audit", None)
    context = RequestContext(tenant_id=tenant, user_id=who,
                             principal=issued.principal if issued else None)
    facts = dict(details or {})
    if error is not None:
        facts["reason"] = error.message
    record_action(audit, context, action, who, outcome="refused" if error else "ok",
                  details=facts)


def _granted(issued: Issued) -> JSONResponse:
    return JSONResponse(issued.to_oauth(), headers=_NO_STORE)


class TokenForm(BaseModel):
    """POST /token's form; request_schemas.token_grants states the grants' rules."""

    model_config = ConfigDict(json_schema_extra=token_grants)
    grant_type: str | None = Field(default=None, max_length=64)
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    refresh_token: str | None = Field(default=None, max_length=200)
    scope: str | None = Field(default=None, max_length=1024)
    tenant: str | None = Field(default=None, max_length=64)
    client_id: str | None = Field(default=None, max_length=64)


class RevokeForm(BaseModel):
    model_config = ConfigDict(json_schema_extra=revoke_form)
    token: str | None = Field(default=None, max_length=4096)
    token_type_hint: str | None = Field(default=None, max_length=64)


@router.post("/token", responses=_ERRORS)
async def token(request: Request, form: Annotated[TokenForm, Form()]) -> JSONResponse:
    """OAuth2 token endpoint: `grant_type=password` (username, password, optional scope,
    tenant or client_id) or `grant_type=refresh_token` (refresh_token, optional scope)."""
    grant_type, username, password = form.grant_type, form.username, form.password
    refresh_token, scope, tenant, client_id = (form.refresh_token, form.scope, form.tenant,
                                               form.client_id)
    sign_in = sign_in_of(request.app)
    if grant_type == "password":
        if not username or password is None:
            raise OAuthError("invalid_request", "the password grant needs username and "
                             "password", field="username" if not username else "password")
        tenant_id = tenant or client_id or "default"
        try:
            issued = await sign_in.password(tenant_id, username, password, scope)
        except CerebraError as exc:
            _audit(request, "auth.login", tenant_id, username, error=exc,
                   details={"method": "password"})
            raise
        _audit(request, "auth.login", tenant_id, issued.principal.user_id, issued=issued,
               details={"method": "password", "username": username})
        return _granted(issued)
    if grant_type == "refresh_token":
        if not refresh_token:
            raise OAuthError("invalid_request", "the refresh_token grant needs refresh_token",
                             field="refresh_token")
        try:
            issued = await sign_in.refreshed(refresh_token, scope)
        except CerebraError as exc:
            _audit(request, "auth.refresh", tenant or client_id or "", "", error=exc,
                   details={"method": "refresh_token"})
            raise
        _audit(request, "auth.refresh", issued.principal.tenant_id, issued.principal.user_id,
               issued=issued, details={"method": "refresh_token"})
        return _granted(issued)
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is required", field="grant_type")
    raise OAuthError("unsupported_grant_type",
                     f"unsupported grant_type {grant_type!r} (password, refresh_token)",
                     field="grant_type")


@router.post("/auth/revoke", responses=_ERRORS)
def revoke(request: Request, form: Annotated[RevokeForm, Form()]) -> dict[str, bool]:
    """Log out (RFC 7009): revoke a refresh token's whole family. An unknown token, or an
    access token (short-lived, not revocable), answers 200 with revoked false."""
    token = form.token
    if not token:
        raise OAuthError("invalid_request", "token is required", field="token")
    sign_in = sign_in_of(request.app)
    grant = sign_in.refresh.revoke(token)
    if grant is not None:
        _audit(request, "auth.logout", grant.tenant_id, grant.user_id,
               details={"family": grant.family_id})
    return {"revoked": grant is not None}


# base58's alphabet; an Ed25519 key of 32 bytes is 32 to 44 of its characters. The nonce
# route accepts every such address (a challenge for one that is no 32-byte key cannot be
# signed, so it is harmless); /auth/wallet/verify refuses those with 401 (field "wallet").
_BASE58_KEY = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"


class NonceRequest(BaseModel):
    wallet: str = Field(min_length=32, max_length=44, pattern=_BASE58_KEY,
                        description="base58 Ed25519 public key (32 bytes); any base58 "
                                    "address of 32-44 characters gets a challenge")
    tenant: str = Field("default", min_length=1, max_length=64)


class NonceReply(BaseModel):
    nonce: str
    message: str = Field(description="the exact text the wallet signs (UTF-8)")
    expires_at: float


class WalletVerifyRequest(BaseModel):
    wallet: str = Field(min_length=32, max_length=44, pattern=_BASE58_KEY)
    nonce: str = Field(min_length=1, max_length=64)
    signature: str = Field(min_length=1, max_length=200,
                           description="Ed25519 signature of the message, base58 or base64")


@router.post("/auth/wallet/nonce", response_model=NonceReply,
             responses={404: {"description": "unknown tenant"}, 422: _ERRORS[422]})
def wallet_nonce(request: Request, body: NonceRequest) -> NonceReply:
    """A single-use sign-in challenge for the wallet (expires after auth.wallet_nonce_ttl_s)."""
    sign_in = sign_in_of(request.app)
    if not sign_in.identity.tenant_exists(body.tenant):
        raise NotFound(f"unknown tenant {body.tenant!r}", field="tenant")
    challenge = sign_in.nonces.issue(body.tenant, body.wallet)
    return NonceReply(**challenge.to_dict())


@router.post("/auth/wallet/verify", responses=_ERRORS)
async def wallet_verify(request: Request, body: WalletVerifyRequest) -> JSONResponse:
    """Sign in with the wallet's signature of the challenge: an access and a refresh token
    (the wallet's user is created, role user, on its first sign-in). Under a token gate the
    gated scopes are withheld below the balance (listed as withheld_scopes)."""
    sign_in = sign_in_of(request.app)
    try:
        issued = await sign_in.wallet(body.wallet, body.nonce, body.signature)
    except CerebraError as exc:
        _audit(request, "auth.login", "", body.wallet, error=exc, details={"method": "wallet"})
        raise
    _audit(request, "auth.login", issued.principal.tenant_id, issued.principal.user_id,
           issued=issued, details={"method": "wallet", "wallet": body.wallet,
                                   "withheld": sorted(issued.withheld)})
    return _granted(issued)
