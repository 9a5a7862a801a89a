"""The principal: who a request acts for (tenant, user, roles, scopes, the credential used),
and the role → scope table every route's requirement is checked against.

A principal is resolved once per request by the server (from an API key, a JWT or a wallet
sign-in) and travels inside the RequestContext through Brain into memory, the ledger, the
router, the policy engine, limits and the audit log. The library and the CLI act as
`local_admin()` of a tenant unless told otherwise: whoever holds the database file already
holds everything in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Scope(StrEnum):
    """What a route or an action requires. Values are what tokens and keys carry."""

    QUERY = "query"  # ask the brain / the OpenAI-compatible gateway, embeddings
    MODELS_READ = "models:read"  # list the catalog
    MODELS_ADMIN = "models:admin"  # add, swap, remove, reload models
    MEMORY_READ = "memory:read"
    MEMORY_WRITE = "memory:write"  # add, update, delete, feedback on memories
    MEMORY_ANY_USER = "memory:any_user"  # act on any user's data in the tenant
    INTERACTIONS_READ = "interactions:read"
    FEEDBACK = "feedback"  # feedback on answers and routing decisions
    ROUTER_READ = "router:read"
    METRICS_READ = "metrics:read"
    KEYS_ADMIN = "keys:admin"  # create, list, revoke API keys
    USERS_ADMIN = "users:admin"
    TENANTS_ADMIN = "tenants:admin"  # create tenants (cross-tenant: the operator of the site)
    POLICY_ADMIN = "policy:admin"  # constitutions and policies
    AUDIT_READ = "audit:read"  # verify and export the audit log
    LIMITS_ADMIN = "limits:admin"  # set rate limits and budgets
    AGENTS_READ = "agents:read"  # list and show agents, ask as an agent (with query)
    AGENTS_WRITE = "agents:write"  # create, record results, mentor, clone, combine, delete
    RATINGS_READ = "ratings:read"  # leaderboards and judged competitions of the tenant
    PROMPTS_READ = "prompts:read"  # list, show and render the tenant's prompt templates
    PROMPTS_WRITE = "prompts:write"  # add versions, move labels, A/B tests, rewrites
    PLUGINS_ADMIN = "plugins:admin"  # list and reload the server's plugins (site-wide)
    TRAINING_READ = "training:read"  # signals, datasets, workflows, kits, jobs, gate reports
    TRAINING_WRITE = "training:write"  # upload and curate datasets, run training and evaluation
    MODELS_DEPLOY = "models:deploy"  # promote, deploy and roll back model versions (adapters)


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    USER = "user"
    AGENT = "agent"
    READ_ONLY = "read-only"


_USER = frozenset({
    Scope.QUERY, Scope.MODELS_READ, Scope.MEMORY_READ, Scope.MEMORY_WRITE,
    Scope.INTERACTIONS_READ, Scope.FEEDBACK, Scope.AGENTS_READ, Scope.PROMPTS_READ,
})
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.OPERATOR: _USER | {Scope.MEMORY_ANY_USER, Scope.ROUTER_READ, Scope.METRICS_READ,
                            Scope.RATINGS_READ, Scope.AGENTS_WRITE, Scope.PROMPTS_WRITE,
                            Scope.TRAINING_READ, Scope.TRAINING_WRITE},
    Role.USER: _USER,
    Role.AGENT: _USER,
    Role.READ_ONLY: frozenset({
        Scope.MODELS_READ, Scope.MEMORY_READ, Scope.INTERACTIONS_READ, Scope.ROUTER_READ,
        Scope.RATINGS_READ, Scope.AGENTS_READ, Scope.PROMPTS_READ, Scope.TRAINING_READ,
    }),
}


def parse_role(value: str) -> Role:
    """A role by name; ValueError names the known ones."""
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value!r} (known: {known})") from None


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    out: set[Scope] = set()
    for value in values:
        try:
            out.add(Scope(value))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise ValueError(f"unknown scope {value!r} (known: {known})") from None
    return frozenset(out)


def scopes_of(roles: Iterable[Role]) -> frozenset[Scope]:
    out: frozenset[Scope] = frozenset()
    for role in roles:
        out |= ROLE_SCOPES[role]
    return out


@dataclass(frozen=True)
class Principal:
    """An authenticated caller.

    `scopes` is what the credential grants (a key may be narrower than its role);
    `credential_id` names the key, token family or wallet sign-in that authenticated it, so
    limits, budgets and the audit log can attribute every action.
    """

    tenant_id: str
    user_id: str  # the user the caller is (for a key without a user: "key:<id>")
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[Scope] = frozenset()
    kind: str = "key"  # key | token | wallet | local
    credential_id: str = ""
    agent_id: str = ""  # a key or token issued to an agent
    wallet: str | None = None  # the base58 public key of a wallet sign-in
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def label(self) -> str:
        """How logs and the audit log name the caller: kind:credential (user)."""
        return f"{self.kind}:{self.credential_id or '-'} ({self.user_id})"

    def to_dict(self) -> dict[str, object]:
        return {
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "roles": sorted(self.roles),
            "scopes": sorted(self.scopes),
            "kind": self.kind,
            "credential_id": self.credential_id,
            "agent_id": self.agent_id,
            "wallet": self.wallet,
        }


def local_admin(tenant_id: str = "default", user_id: str = "local") -> Principal:
    """The library's and the CLI's principal: the holder of the database, an admin."""
    return Principal(
        tenant_id=tenant_id, user_id=user_id, roles=frozenset({Role.ADMIN}),
        scopes=ROLE_SCOPES[Role.ADMIN], kind="local", credential_id="local",
    )
