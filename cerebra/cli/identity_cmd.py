"""`cerebra keys | users | tenants …` and `cerebra routes`: identity administration on the
local database (works with the server stopped), and the list of routes with what each
requires.

Whoever can run these holds the database file, so they act as its administrator; a key
created here is shown once and only its hash is kept.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.errors import InvalidInput

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
users_app = typer.Typer(help="Users of a tenant (passwords hashed with argon2id).",
                        no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants: create, list.", no_args_is_help=True)
limits_app = typer.Typer(help="Rate limits and budgets of a tenant, an API key or a user.",
                         no_args_is_help=True)
out = Console()


def _identity() -> Any:
    from cerebra.auth.identity import IdentityStore
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade

    settings = get_settings()
    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    return IdentityStore(engine)


def _audit(action: str, target: str, tenant: str, **details: Any) -> None:
    """Record an administrative action of the CLI (the holder of the database) in the audit
    log, durably, before the command returns."""
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext
    from cerebra.governance.audit_setup import build_audit_log, record_action

    settings = get_settings()
    if not settings.audit.enabled:
        return
    from cerebra.db.engine import make_engine

    engine = make_engine(settings.db_url)
    audit = build_audit_log(settings, engine)
    try:
        context = RequestContext(tenant_id=tenant, principal=local_admin(tenant))
        record_action(audit, context, action, target, details=details)
    finally:
        audit.close()
        engine.dispose()


def _when(value: float | None) -> str:
    return "-" if value is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(value))


@keys_app.command("create")
def keys_create(
    role: str = typer.Option("user", "--role", help="admin, operator, user, agent, read-only"),
    tenant: str = typer.Option("default", "--tenant"),
    user: str = typer.Option(None, "--user", help="the user the key acts for (default: itself)"),
    name: str = typer.Option("", "--name", help="a label to recognise it by"),
    agent: str = typer.Option("", "--agent", help="confine the key to this agent"),
    scope: list[str] = typer.Option(None, "--scope", help="narrow the role's scopes (repeat)"),
    expires_in: float = typer.Option(None, "--expires-in", min=1, help="lifetime in seconds"),
    as_json: bool = typer.Option(False, "--json", help='print {"key": …, "id": …}'),
) -> None:
    """Create an API key; the secret is printed once."""
    try:
        secret, record = _identity().create_key(
            tenant, role=role, scopes=scope or None, user_id=user, name=name,
            agent_id=agent, expires_in_s=expires_in)
    except ValueError as exc:  # an unknown role or scope
        raise InvalidInput(str(exc), field="role") from None
    _audit("key.create", record.id, tenant, roles=list(record.roles), user_id=record.user_id)
    if as_json:
        print(json.dumps({"key": secret, "id": record.id, "tenant": record.tenant_id,
                          "roles": list(record.roles), "expires_at": record.expires_at}))
        return
    print(secret)
    print(f"id {record.id} · tenant {record.tenant_id} · role {role} · "
          f"expires {_when(record.expires_at)} — the key is not shown again", file=sys.stderr)


@keys_app.command("list")
def keys_list(
    tenant: str = typer.Option("default", "--tenant"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The tenant's keys (never their secrets)."""
    found = _identity().list_keys(tenant)
    if as_json:
        print(json.dumps([k.to_dict() for k in found], indent=2))
        return
    table = Table("id", "prefix", "roles", "user", "state", "created", "expires", "last used")
    for k in found:
        table.add_row(k.id, k.prefix + "…", ",".join(k.roles), k.user_id, k.state(),
                      _when(k.created_at), _when(k.expires_at), _when(k.last_used_at))
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="the key's id (from `keys list`)"),
    tenant: str = typer.Option("default", "--tenant"),
) -> None:
    """Revoke a key (at once here; a running server stops accepting it within
    CEREBRA_AUTH__KEY_CACHE_S)."""
    record = _identity().revoke_key(tenant, key_id)
    _audit("key.revoke", record.id, tenant)
    print(f"revoked {record.id}")


@users_app.command("create")
def users_create(
    username: str = typer.Argument(...),
    tenant: str = typer.Option("default", "--tenant"),
    role: list[str] = typer.Option(None, "--role", help="repeat for several (default: user)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from standard input"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a user who signs in at POST /token (password read from stdin, or asked)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        user = _identity().create_user(tenant, username, password, roles=role or ["user"])
    except ValueError as exc:
        raise InvalidInput(str(exc), field="role") from None
    _audit("user.create", user.id, tenant, roles=list(user.roles))
    print(json.dumps(user.to_dict()) if as_json else f"created user {user.username} ({user.id})")


@tenants_app.command("create")
def tenants_create(
    tenant_id: str = typer.Argument(...),
    name: str = typer.Option(None, "--name"),
    admin_key: bool = typer.Option(False, "--admin-key",
                                   help="also create the tenant's first admin key"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a tenant (optionally with its first admin key, printed once)."""
    identity = _identity()
    row = identity.create_tenant(tenant_id, name)
    result: dict[str, Any] = {"id": row["id"], "name": row["name"]}
    if admin_key:
        secret, record = identity.create_key(row["id"], role="admin", name="first admin")
        result.update(key=secret, key_id=record.id)
    _audit("tenant.create", row["id"], row["id"], admin_key=result.get("key_id"))
    if as_json:
        print(json.dumps(result))
    else:
        print(f"created tenant {row['id']}" + (f"; admin key {result['key']}" if admin_key
                                                else ""))


@tenants_app.command("list")
def tenants_list(as_json: bool = typer.Option(False, "--json")) -> None:
    found = _identity().list_tenants()
    if as_json:
        print(json.dumps(found))
        return
    for t in found:
        print(f"{t['id']}\t{t['name']}")


def _limit_store() -> Any:
    from cerebra.auth.limit_store import LimitStore

    return LimitStore(_identity().engine, cache_s=0)


@limits_app.command("set")
def limits_set(
    tenant: str = typer.Option("default", "--tenant"),
    key: str = typer.Option(None, "--key", help="an API key's id; default: the tenant's"),
    user: str = typer.Option(None, "--user", help="a user's id (its token and wallet "
                             "sign-ins); default: the tenant's"),
    requests_per_min: int = typer.Option(None, "--requests-per-min", min=0),
    tokens_per_min: int = typer.Option(None, "--tokens-per-min", min=0),
    daily_budget: float = typer.Option(None, "--daily-budget", min=0, help="USD per UTC day"),
    monthly_budget: float = typer.Option(None, "--monthly-budget", min=0,
                                         help="USD per UTC month"),
) -> None:
    """Store limits (replacing what was stored; 0: unlimited, left out: the default). A
    running server applies them within CEREBRA_LIMITS__CACHE_S."""
    values = {"requests_per_min": requests_per_min, "tokens_per_min": tokens_per_min,
              "daily_budget": daily_budget, "monthly_budget": monthly_budget}
    values = {k: v for k, v in values.items() if v is not None}
    if key and user:
        raise InvalidInput("give --key or --user, not both", field="user")
    store = _limit_store()
    if key:
        stored, target = store.set_key_limits(tenant, key, values), key
    elif user:
        stored, target = store.set_user_limits(tenant, user, values), f"user:{user}"
    else:
        stored, target = store.set_tenant_limits(tenant, values), f"tenant:{tenant}"
    _audit("limits.set", target, tenant, **stored.to_dict())
    print(json.dumps(stored.to_dict()))


@limits_app.command("show")
def limits_show(
    tenant: str = typer.Option("default", "--tenant"),
    key: str = typer.Option(None, "--key"),
    user: str = typer.Option(None, "--user"),
) -> None:
    """Stored and effective limits of the tenant, a key or a user."""
    store = _limit_store()
    if key:
        _identity().get_key(tenant, key)  # not found: a one-line error
        stored, effective = store.key_limits(tenant, key), store.for_key(tenant, key)
    elif user:
        _identity().get_user(tenant, user)
        stored, effective = store.user_limits(tenant, user), store.for_user(tenant, user)
    else:
        stored, effective = store.tenant_limits(tenant), store.for_tenant(tenant)
    print(json.dumps({"stored": stored.to_dict(), "effective": effective.to_dict()}))


def routes(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every HTTP route and what it requires (public, or the scopes a caller must hold)."""
    from cerebra.config import Settings
    from cerebra.server.app import create_app
    from cerebra.server.auth import route_requirements

    found = route_requirements(create_app(Settings(model={"fake": True})))
    if as_json:
        print(json.dumps([r.to_dict() for r in found], indent=2))
        return
    table = Table("method", "path", "requires")
    for r in found:
        table.add_row(r.method, r.path, "public" if r.public else ", ".join(r.scopes) or "?")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(users_app, name="users")
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(limits_app, name="limits")
    app.command("routes")(routes)
