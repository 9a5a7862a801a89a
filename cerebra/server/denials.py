"""The audit record of refused credentials: a 401 on a request that presented one (an
unknown, revoked or expired API key; a forged, expired or revoked access token) becomes an
`auth.denied` audit event — never for a request that sent no credentials at all.

The event names what is known of the credential and never the secret: an API key's id and
tenant when it exists (revoked, expired), else its first characters as `keys list` shows
them; an access token's tenant, user and sign-in (refresh family) when its signature holds
(expired, revoked), else only "access_token". Bounded so that refused guesses cannot flood
the log cheaply: at most `PER_CLIENT` events a minute per client address and `TOTAL` a
minute in all (each server process); what is dropped past that is counted, and the client's
next recorded event carries the count (`suppressed`). Nothing at all when the audit log is
off. The event goes through the audit log's journal like every other, so it is chained and
`cerebra audit verify` holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from cerebra.auth.identity import KEY_PREFIX, IdentityStore
from cerebra.auth.tokens import ALGORITHMS, AUDIENCE, ISSUER
from cerebra.governance.audit import AuditEvent

if TYPE_CHECKING:
    from fastapi import Request

    from cerebra.errors import Unauthorized
    from cerebra.governance.audit_log import AuditLog

log = logging.getLogger("cerebra.audit")

PER_CLIENT = 10  # events a minute per client address
TOTAL = 300  # events a minute in all, whatever the addresses
WINDOW_S = 60.0
KEY_SHOWN = 10  # the characters of a key `keys list` shows (identity's prefix)
_MAX_CLIENTS = 10_000


@dataclass(frozen=True)
class Credential:
    """What may be written down about a refused credential."""

    kind: str  # api_key | access_token
    tenant_id: str = ""
    target: str = ""  # the key id, the token's family, or the key's shown prefix
    details: tuple[tuple[str, str], ...] = ()


def describe(credential: str, identity: IdentityStore, secret_key: str) -> Credential:
    """What is known of a presented credential (its secret never included)."""
    if credential.startswith(KEY_PREFIX):
        record = identity.resolve_key(credential)
        if record is None:
            return Credential("api_key", target=credential[:KEY_SHOWN])
        return Credential("api_key", record.tenant_id, record.id,
                          (("key_state", record.state()), ("user_id", record.user_id)))
    try:  # the signature must hold; its times and revocation are what was refused
        claims = jwt.decode(credential, secret_key, algorithms=list(ALGORITHMS),
                            audience=AUDIENCE, issuer=ISSUER,
                            options={"verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.InvalidTokenError:
        return Credential("access_token")
    return Credential("access_token", str(claims.get("tid", "")), str(claims.get("cid", "")),
                      (("user_id", str(claims.get("sub", ""))),
                       ("token_kind", str(claims.get("knd", "")))))


class DenialLog:
    """Records refused credentials in the audit log, within its per-minute bounds."""

    def __init__(self, audit: AuditLog | None, *, per_client: int = PER_CLIENT,
                 total: int = TOTAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.audit = audit
        self.per_client = per_client
        self.total = total
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1.0
        self._count = 0
        self._clients: dict[str, int] = {}  # this window's events per client
        self._suppressed: dict[str, int] = {}  # dropped per client, until its next event

    def admit(self, client: str) -> int | None:
        """None when `client`'s event is over the bounds (counted as suppressed); else how
        many of its events were suppressed before this one."""
        now = self._clock()
        with self._lock:
            if now - self._window >= WINDOW_S:
                self._window, self._count = now, 0
                self._clients.clear()
            seen = self._clients.get(client, 0)
            if seen >= self.per_client or self._count >= self.total:
                if client in self._suppressed or len(self._suppressed) < _MAX_CLIENTS:
                    self._suppressed[client] = self._suppressed.get(client, 0) + 1
                return None
            if len(self._clients) >= _MAX_CLIENTS:
                self._clients.clear()
            self._clients[client] = seen + 1
            self._count += 1
            return self._suppressed.pop(client, 0)

    def record(self, request: Request, credential: str, error: Unauthorized,
               describe_it: Callable[[str], Credential]) -> bool:
        """Record the refusal of `credential` on `request`; whether it was recorded."""
        if self.audit is None:
            return False
        client = request.client.host if request.client is not None else ""
        suppressed = self.admit(client)
        if suppressed is None:
            return False
        known = describe_it(credential)
        details: dict[str, Any] = {
            "credential": known.kind, "reason": error.message, "client": client,
            "method": request.method, "path": request.url.path, **dict(known.details)}
        if suppressed:
            details["suppressed"] = suppressed
        self.audit.record(AuditEvent("auth.denied", actor=f"{known.kind}:{known.target or '-'}",
                                     target=known.target, outcome="denied",
                                     tenant_id=known.tenant_id, details=details))
        return True


def record_denial(request: Request, authorization: str, error: Unauthorized,
                  identity: IdentityStore) -> None:
    """The request's refused credential into the app's audit log (see the module's bounds)."""
    app = request.app
    denials = getattr(app.state, "denials", None)
    if not isinstance(denials, DenialLog):
        denials = DenialLog(getattr(app.state.brain, "audit", None))
        app.state.denials = denials
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    secret_key = app.state.settings.secret_key.get_secret_value()

    def described(credential: str) -> Credential:
        if scheme.lower() != "bearer" or not credential:
            return Credential("malformed", details=(("scheme", scheme[:20]),))
        return describe(credential, identity, secret_key)

    try:
        denials.record(request, credential, error, described)
    except Exception:  # never turn the 401 into a 500; the log says why
        log.exception("could not record a refused credential in the audit log")
