"""`cerebra models promote | rollback | versions`: model versions (LoRA adapters) from the
command line, on the `models` group (cerebra.cli.ops_cmd).

With a server answering (`--server URL`, or the configured address) the commands go through
its API (/api/v1/models/...), so the running server hot-swaps; otherwise they act on the
database here, verifying the adapter against the embedded model loaded in this process, and
a server started later serves what was promoted (ModelRegistry.restore). JSON on stdout.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer

from cerebra.config import Settings, get_settings
from cerebra.context import RequestContext
from cerebra.errors import InvalidInput

SERVER = typer.Option(None, "--server", help="a Cerebra server's URL (default: the "
                      "configured one if it answers, else this process)")
TENANT = typer.Option("default", "--tenant", help="the tenant (in-process only; a server "
                      "takes it from the API key)")


def _remote(settings: Settings, server: str | None) -> httpx.Client | None:
    from cerebra.cli.remote import (
        EXPLICIT_PROBE_TIMEOUT_S,
        TIMEOUT,
        _key,
        configured_url,
        server_answers,
    )

    if server is not None:
        url = server.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise InvalidInput(f"--server must be an http(s) URL, not {server!r}", field="server")
        if not server_answers(url, EXPLICIT_PROBE_TIMEOUT_S):
            raise InvalidInput(f"no Cerebra server answers at {url}/healthz", field="server")
    else:
        url = configured_url(settings)
        if not server_answers(url):
            return None
    key = _key(settings)
    return httpx.Client(base_url=url, timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {key}"} if key else None)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    from cerebra.cli.remote import _server_error

    with client:
        response = client.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise _server_error(response)
    return response.json()


def _local(settings: Settings, *, load_model: bool) -> Any:
    from cerebra.db import make_engine, upgrade
    from cerebra.improve.registry import ModelRegistry
    from cerebra.models.registry import ModelRegistry as Models

    settings.ensure_home()
    engine = make_engine(settings.db_url)
    upgrade(engine)
    models = Models()
    if load_model:
        from cerebra.runtime import load_default_model

        models.add(load_default_model(settings), default=True)
    return ModelRegistry(engine, models)


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def promote(
    version_id: str = typer.Argument(..., help="the version's id (see `models versions`)"),
    force: bool = typer.Option(False, "--force", help="override a gate that refused"),
    reason: str = typer.Option("", "--reason"),
    server: str | None = SERVER, tenant: str = TENANT,
) -> None:
    """Verify a version's adapter and serve it as "base:adapter" (hot swap)."""
    settings = get_settings()
    client = _remote(settings, server)
    if client is not None:
        _print(_call(client, "POST", "/api/v1/models/deploy",
                     json={"version_id": version_id, "force": force, "reason": reason}))
        return
    version = _local(settings, load_model=True).promote(
        RequestContext(tenant_id=tenant), version_id, force=force, reason=reason)
    _print({"serving": version.name, "version": version.to_dict()})


def rollback(
    name: str = typer.Argument(..., help='the served name, "base:adapter"'),
    reason: str = typer.Option("", "--reason"),
    server: str | None = SERVER, tenant: str = TENANT,
) -> None:
    """Serve what served NAME before its current version (the plain base if nothing)."""
    settings = get_settings()
    client = _remote(settings, server)
    if client is not None:
        _print(_call(client, "POST", f"/api/v1/models/{name}/rollback",
                     json={"reason": reason}))
        return
    version = _local(settings, load_model=True).rollback(
        RequestContext(tenant_id=tenant), name, reason=reason)
    _print({"serving": name, "version": None if version is None else version.to_dict(),
            "base": version is None})


def versions(
    name: str | None = typer.Argument(None, help='a served name, "base:adapter"'),
    server: str | None = SERVER, tenant: str = TENANT,
) -> None:
    """The versions (of NAME), newest first, with their promotion history."""
    settings = get_settings()
    client = _remote(settings, server)
    if client is not None:
        _print(_call(client, "GET", "/api/v1/models/versions",
                     params={"name": name} if name else None))
        return
    registry = _local(settings, load_model=False)
    context = RequestContext(tenant_id=tenant)
    rows = registry.versions(context, name)
    _print({"versions": [v.to_dict() for v in rows],
            "history": {n: [p.to_dict() for p in registry.history(context, n)]
                        for n in sorted({v.name for v in rows})}})


def register(models_app: typer.Typer) -> None:
    """Attach promote, rollback and versions to the `models` group."""
    models_app.command("promote")(promote)
    models_app.command("rollback")(rollback)
    models_app.command("versions")(versions)
