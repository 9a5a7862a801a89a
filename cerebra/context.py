"""The request context: who a request is for and on whose authority, built once per request.

One typed value travels the whole path — Brain, memory, the model request, router policies,
the cache key, the ledger and the sinks — instead of string keys in dicts or a tenant fixed
on a store. The server builds it in a dependency (`cerebra.server.deps`), the CLI and the
library pass it explicitly (or the keyword shortcuts build it). `principal` is filled by
authentication (`cerebra.server.auth`): the tenant always comes from it, never from a
request's body. A context without a principal is the library's own (trusted) caller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cerebra.auth.principal import Principal, Scope

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class RequestContext:
    """Tenant, user, agent and session of one request, and who is asking."""

    tenant_id: str = DEFAULT_TENANT
    user_id: str = ""
    agent_id: str = ""
    session_id: str = ""
    principal: Principal | None = None  # the authenticated caller (key, token, wallet)

    def __post_init__(self) -> None:
        if not self.tenant_id:
            object.__setattr__(self, "tenant_id", DEFAULT_TENANT)
        # a confined principal acts as its own user (and agent) whatever a request names:
        # "" becomes its own, another one is refused — so the ledger, memory, limits and the
        # audit log never attribute its requests to someone else
        user_pin, agent_pin = self.confinement()
        if user_pin is not None:
            object.__setattr__(self, "user_id", _pinned("user_id", self.user_id, user_pin))
        if agent_pin is not None:
            object.__setattr__(self, "agent_id", _pinned("agent_id", self.agent_id, agent_pin))

    @property
    def scopes(self) -> frozenset[Scope]:
        """What the principal may do (empty without one)."""
        return frozenset() if self.principal is None else self.principal.scopes

    def confinement(self) -> tuple[str | None, str | None]:
        """(user, agent) the principal is confined to; None where it is not.

        A principal without `memory:any_user` (users, agents, read-only keys) acts only for
        its own user (and a key issued to an agent only as that agent), whatever a request
        names: the data layer (MemoryStore, the ledger) applies this to every query.
        """
        principal = self.principal
        if principal is None:
            return None, None
        from cerebra.auth.principal import Scope

        if Scope.MEMORY_ANY_USER in principal.scopes:
            return None, None
        return principal.user_id, principal.agent_id or None

    def with_(self, **changes: Any) -> RequestContext:
        return replace(self, **changes)

    def cache_scope(self) -> tuple[str, ...]:
        """The parts of the context that belong in a response-cache key: the tenant only.

        Answers are never shared across tenants (isolation); within a tenant, user, agent and
        session shape an answer only through the messages (persona, recalled memories),
        which are in the key already, so they would only split the cache for nothing.
        """
        return (self.tenant_id,)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            "principal": None if self.principal is None else self.principal.to_dict(),
        }


def _pinned(name: str, asked: str, pin: str) -> str:
    if asked not in ("", pin):
        from cerebra.errors import Forbidden

        raise Forbidden(f"this credential acts for {name} {pin!r} only", field=name)
    return pin


DEFAULT_CONTEXT = RequestContext()


def tenant_of(context: RequestContext | None) -> str:
    """The tenant a call acts for: the context's, or the default tenant without one."""
    return DEFAULT_TENANT if context is None else context.tenant_id
