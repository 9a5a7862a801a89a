"""`cerebra profile …`: a user's profile from the command line — show, set, unset, forget.

Profiles live in the memory database, so the commands act on it here (as the holder of
the database, an admin of the tenant given with --tenant), like `cerebra memory`. `forget`
is the right to be forgotten: it deletes the profile and every memory it came from, and is
recorded in the audit log as a memory deletion.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cerebra.config import get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput

app = typer.Typer(help="User profiles: what memory knows about each user.",
                  no_args_is_help=True)
out = Console()

USER = typer.Argument(..., help="the user id")
AGENT = typer.Option(None, "--agent", help="as this agent knows the user (default: all)")
TENANT = typer.Option("default", "--tenant", help="the tenant")
JSON_OUT = typer.Option(False, "--json", help="print JSON")


def _context(tenant: str) -> RequestContext:
    from cerebra.auth.principal import local_admin

    return RequestContext(tenant_id=tenant, principal=local_admin(tenant))


def _profiles() -> Any:
    from cerebra.memory.profile import Profiles
    from cerebra.runtime import build_memory_store

    return Profiles(build_memory_store(get_settings()))


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2))
        return
    if not data["entries"]:
        out.print(f"no profile attributes for {data['user_id']}")
        return
    table = Table("attribute", "value", "confidence", "stated", "memories")
    for e in data["entries"]:
        table.add_row(e["attribute"], e["value"], f"{e['confidence']:.2f}",
                      "edited" if e["edited"] else str(e["times_stated"]),
                      ", ".join(e["memory_ids"]))
    out.print(table)


@app.command("show")
def show(user: str = USER, agent: str | None = AGENT, tenant: str = TENANT,
         as_json: bool = JSON_OUT) -> None:
    """The user's profile, most confident first, with the memories each value came from."""
    profile = _profiles().read(user, agent_id=agent, context=_context(tenant))
    _print(profile.to_dict(), as_json)


@app.command("set")
def set_(user: str = USER,
         attribute: str = typer.Argument(..., help="lives_in, employer, job, diet, "
                                         "relationship, age, or likes:/owns:/favourite:THING"),
         value: str = typer.Argument(..., help="the value (likes/owns: yes or no)"),
         agent: str | None = AGENT, tenant: str = TENANT, as_json: bool = JSON_OUT) -> None:
    """Set an attribute (stored as a profile edit that supersedes the older value)."""
    head = attribute.partition(":")[0]
    if head in ("likes", "owns") and value.lower() not in ("yes", "no"):
        raise InvalidInput(f"{attribute} takes yes or no, not {value!r}", field="value")
    clean = value.lower() if head in ("likes", "owns") else value
    profile = _profiles().patch(user, {attribute: clean}, agent_id=agent,
                                context=_context(tenant))
    _print(profile.to_dict(), as_json)


@app.command("unset")
def unset(user: str = USER, attribute: str = typer.Argument(..., help="the attribute"),
          agent: str | None = AGENT, tenant: str = TENANT, as_json: bool = JSON_OUT) -> None:
    """Remove an attribute from the profile (hidden until the user states it again)."""
    profile = _profiles().patch(user, {attribute: None}, agent_id=agent,
                                context=_context(tenant))
    _print(profile.to_dict(), as_json)


@app.command("forget")
def forget(user: str = USER, tenant: str = TENANT,
           yes: bool = typer.Option(False, "--yes", help="confirm: this cannot be undone")
           ) -> None:
    """The right to be forgotten: delete the profile and every memory it came from."""
    if not yes:
        raise InvalidInput("forget deletes memories for good: confirm with --yes", field="yes")
    deleted = _profiles().forget(user, context=_context(tenant))
    from cerebra.cli.identity_cmd import _audit

    _audit("memory.delete", f"profile:{user}", tenant, reason="profile forgotten",
           user_id=user, deleted=len(deleted), memory_ids=deleted)
    print(json.dumps({"user_id": user, "deleted": len(deleted), "memory_ids": deleted}))
