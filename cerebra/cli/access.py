"""How `serve` lets its operator in: authentication may be off only on a loopback address
(and then it says so loudly), and on a database without an admin key it creates one once
and prints it with a ready curl and OpenAI-client line."""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import TYPE_CHECKING

from cerebra.errors import CerebraError

if TYPE_CHECKING:
    from cerebra.brain import Brain
    from cerebra.config import Settings


def is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback one (127.0.0.0/8, ::1)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {str(info[4][0]) for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)


def check_auth_mode(settings: Settings, host: str) -> None:
    """Refuse CEREBRA_AUTH=off on an address other machines can reach (announce_access
    warns loudly when it is off on loopback, once the server is ready)."""
    if settings.auth.mode != "off":
        return
    if not is_loopback(host):
        raise CerebraError(
            f"CEREBRA_AUTH=off is accepted only on a loopback address, not {host!r}: anyone "
            "who can reach the server would be an admin", field="auth.mode")


def announce_access(settings: Settings, brain: Brain, url: str) -> str | None:
    """Auth off: a loud warning. Auth on and no usable admin key in the database: create one
    and print it (once: only its hash is kept). Returns the new key, or None."""
    if settings.auth.mode == "off":
        bar = "!" * 78
        print(f"{bar}\n!! AUTHENTICATION IS OFF (CEREBRA_AUTH=off): every caller on this "
              f"machine is an admin\n{bar}", file=sys.stderr, flush=True)
        return None
    if not settings.auth.bootstrap_admin_key:
        return None
    from cerebra.auth.identity import IdentityStore

    identity = IdentityStore(brain.engine)
    if identity.count_keys(role="admin") > 0:
        print("authentication on: send 'Authorization: Bearer <API key>' "
              "(`cerebra keys create --role admin` makes another)", flush=True)
        return None
    secret, record = identity.create_key("default", role="admin", name="bootstrap admin")
    from cerebra.auth.principal import local_admin
    from cerebra.context import RequestContext
    from cerebra.governance.audit_setup import record_action

    # a key's creation is audited wherever it happens; this one by the server's holder
    record_action(brain.audit, RequestContext(tenant_id="default", principal=local_admin()),
                  "key.create", record.id, details={"roles": list(record.roles),
                                                    "bootstrap": True})
    print(
        "\nauthentication is on; an admin API key was created for this data directory.\n"
        "It is shown only now — keep it (only its hash is stored):\n\n"
        f"    CEREBRA_API_KEY={secret}\n\n"
        f"    curl -H 'Authorization: Bearer {secret}' {url}/v1/models\n"
        f"    OpenAI(base_url=\"{url}/v1\", api_key=\"{secret}\")\n\n"
        f"(key id {record.id}; more with `cerebra keys create --role user`, revoke with "
        "`cerebra keys revoke ID`)\n", flush=True)
    return secret
