"""Authentication and authorization of HTTP requests: the principal from the credentials,
once per request, and each route's declared requirement.

Every route declares what it needs next to itself — `Depends(requires(Scope.X))` (which
also yields the request's RequestContext) or `Depends(public)` — and `route_requirements()`
reads the declarations back from the app's routes, so `cerebra routes` prints them and a
test fails any route that declares nothing. Credentials: `Authorization: Bearer ck-…` (an
API key; the OpenAI client's `api_key`) or `Bearer <JWT>` (an access token from /token or a
wallet sign-in). Unknown, expired or revoked → 401 with WWW-Authenticate (and an audit
event, bounded: cerebra/server/denials.py); a missing scope → 403 naming it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from cerebra.auth.identity import KEY_PREFIX, IdentityStore, KeyRecord, hash_key
from cerebra.auth.principal import ROLE_SCOPES, Principal, Role, Scope
from cerebra.auth.refresh import RevokedFamilies
from cerebra.auth.tokens import TokenService
from cerebra.context import RequestContext
from cerebra.errors import Forbidden, Unauthorized
from cerebra.server.denials import record_denial
from cerebra.server.trace_http import timed_auth

_STATE = "cerebra_context"


class Authenticator:
    """Resolves credentials to principals; API keys are cached for `key_cache_s`."""

    def __init__(
        self, identity: IdentityStore, tokens: TokenService, *, enabled: bool = True,
        key_cache_s: float = 2.0,
    ) -> None:
        self.identity = identity
        self.tokens = tokens
        self.enabled = enabled
        self.key_cache_s = key_cache_s
        # digest -> (when looked up, the record, its principal: built once per lookup)
        self._keys: dict[str, tuple[float, KeyRecord | None, Principal | None]] = {}
        self._lock = threading.Lock()

    def forget(self, key_id: str | None = None) -> None:
        """Drop cached keys (all, or one by id) — after a revocation through this process."""
        with self._lock:
            if key_id is None:
                self._keys.clear()
            else:
                for digest, (_, record, _p) in list(self._keys.items()):
                    if record is not None and record.id == key_id:
                        del self._keys[digest]

    def _key(self, secret: str) -> tuple[KeyRecord | None, Principal | None]:
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._keys.get(digest)
        if cached is not None and now - cached[0] < self.key_cache_s:
            return cached[1], cached[2]
        record = self.identity.resolve_key(secret)
        principal = record.principal() if record is not None else None
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (now, record, principal)
        return record, principal

    def principal(self, authorization: str | None) -> Principal:
        if not self.enabled:
            return ANONYMOUS_ADMIN
        if not authorization:
            raise Unauthorized(
                "authentication required: send 'Authorization: Bearer <API key or access "
                "token>'", field=None)
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("the Authorization header must be 'Bearer <credential>'",
                               field="authorization")
        if credential.startswith(KEY_PREFIX):
            record, principal = self._key(credential)
            if record is None or principal is None:
                raise Unauthorized("unknown API key", field="authorization")
            state = record.state()
            if state != "active":
                raise Unauthorized(f"the API key is {state}", field="authorization")
            return principal
        return self.tokens.verify_access(credential)


def authenticator_of(app: FastAPI) -> Authenticator:
    """The app's Authenticator, built on first use over the Brain's database."""
    found = getattr(app.state, "authenticator", None)
    if isinstance(found, Authenticator):
        return found
    settings = app.state.settings
    engine = app.state.brain.engine
    authenticator = Authenticator(
        IdentityStore(engine),
        TokenService(settings.secret_key.get_secret_value(),
                     access_ttl_s=settings.auth.access_ttl_s,
                     families=RevokedFamilies(engine, cache_s=settings.auth.key_cache_s)),
        enabled=settings.auth.mode == "on", key_cache_s=settings.auth.key_cache_s,
    )
    app.state.authenticator = authenticator
    return authenticator


ANONYMOUS_ADMIN = Principal(
    tenant_id="default", user_id="anonymous", roles=frozenset({Role.ADMIN}),
    scopes=ROLE_SCOPES[Role.ADMIN], kind="anonymous", credential_id="auth-off",
)


async def request_context(request: Request) -> RequestContext:
    """The request's context with its principal, resolved once per request (401 when the
    credentials do not hold). The tenant comes from the principal, never from the body."""
    cached = getattr(request.state, _STATE, None)
    if isinstance(cached, RequestContext):
        return cached
    authenticator = authenticator_of(request.app)
    authorization = request.headers.get("authorization")
    started = time.time_ns()  # the request's trace times authentication (trace_http)
    try:
        principal = authenticator.principal(authorization)
    except Unauthorized as exc:
        if authorization:  # a credential was presented and refused: audited, bounded
            record_denial(request, authorization, exc, authenticator.identity)
        raise
    context = context_of(principal)
    timed_auth(request, started)
    setattr(request.state, _STATE, context)
    return context


def context_of(principal: Principal) -> RequestContext:
    """The request context of an authenticated principal (its tenant; a confined principal
    as its own user and agent)."""
    user = principal.user_id if _confined(principal) else ""
    return RequestContext(tenant_id=principal.tenant_id, user_id=user,
                          agent_id=principal.agent_id, principal=principal)


def _confined(principal: Principal) -> bool:
    return Scope.MEMORY_ANY_USER not in principal.scopes


Dependency = Callable[..., Awaitable[RequestContext]]
_REQUIRES: dict[frozenset[Scope], Dependency] = {}


def requires(*scopes: Scope) -> Dependency:
    """The dependency a route declares: an authenticated caller holding every one of
    `scopes` (403 naming the first missing). It yields the request's RequestContext."""
    wanted = frozenset(scopes)
    if not wanted:
        raise ValueError("requires() needs at least one scope; use `public` for none")
    if wanted in _REQUIRES:
        return _REQUIRES[wanted]

    async def dependency(context: RequestContext = Depends(request_context)) -> RequestContext:
        held = context.scopes
        for scope in sorted(wanted):
            if scope not in held:
                raise Forbidden(f"this needs the scope {scope.value!r}", field="scope",
                                required_scope=scope.value)
        return context

    dependency.__cerebra_requires__ = wanted  # type: ignore[attr-defined]
    dependency.__name__ = "requires_" + "_".join(sorted(s.value for s in wanted))
    _REQUIRES[wanted] = dependency
    return dependency


async def public() -> None:
    """The declaration of a route anyone may call (health, login, wallet challenge)."""


public.__cerebra_public__ = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RouteRequirement:
    method: str
    path: str
    public: bool
    scopes: tuple[str, ...]  # empty for public routes

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "public": self.public,
                "scopes": list(self.scopes)}


def _declared(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _declared(dep)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes with their full paths (FastAPI ≥ 0.16x keeps included routers
    as route contexts; older versions flatten them into APIRoutes)."""
    from fastapi import routing

    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for context in contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def route_requirements(app: FastAPI) -> list[RouteRequirement]:
    """Every API route of the app with what it requires, read from its dependencies.
    A route that declares nothing is reported with public=False and no scopes."""
    out: list[RouteRequirement] = []
    for route in _api_routes(app):
        calls = list(_declared(route.dependant))
        is_public = any(getattr(c, "__cerebra_public__", False) for c in calls)
        scopes: set[str] = set()
        for call in calls:
            scopes |= {s.value for s in getattr(call, "__cerebra_requires__", ())}
        for method in sorted(route.methods or ()):
            out.append(RouteRequirement(method, route.path_format, is_public,
                                        tuple(sorted(scopes))))
    return sorted(out, key=lambda r: (r.path, r.method))
