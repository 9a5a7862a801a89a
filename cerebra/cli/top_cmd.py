"""`cerebra top`: a live terminal view (Rich Live) of requests, latency, spend, models and
jobs — from the running server's GET /api/system/top (like `ask`: --server, else the
configured server when it answers) or, with --local or no server, from the local database
(cerebra.observability.top). `--once` prints one frame and exits; `--json` prints the
snapshot itself. Logic lives in cerebra.observability.top; this module fetches and draws."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from cerebra.errors import CerebraError, InvalidInput

out = Console()
Source = Callable[[], dict[str, Any]]


def register(root: typer.Typer) -> None:
    root.command("top")(top)


def _remote(url: str, api_key: str | None, window: float) -> Source:
    import httpx

    from cerebra.cli.remote import _server_error

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    client = httpx.Client(base_url=url, timeout=10.0, headers=headers, trust_env=False)

    def fetch() -> dict[str, Any]:
        try:
            response = client.get("/api/system/top", params={"window": window})
        except httpx.HTTPError as exc:
            raise CerebraError(f"the server at {url} did not answer: {exc}") from exc
        if response.status_code >= 400:
            raise _server_error(response)
        data: dict[str, Any] = response.json()
        return {**data, "source": url}

    return fetch


def _local(tenant: str, window: float) -> Source:
    from cerebra.config import get_settings
    from cerebra.db import upgrade
    from cerebra.db.engine import make_engine
    from cerebra.observability.top import snapshot

    engine = make_engine(get_settings().db_url)
    upgrade(engine)
    return lambda: {**snapshot(engine, tenant, window_s=window), "source": "local database"}


def open_source(*, server: str | None, local: bool, tenant: str, window: float) -> Source:
    from cerebra.cli.remote import (
        EXPLICIT_PROBE_TIMEOUT_S,
        PROBE_TIMEOUT_S,
        configured_url,
        server_answers,
    )
    from cerebra.config import get_settings

    settings = get_settings()
    key = settings.server.api_key
    api_key = key.get_secret_value() if key is not None else None
    if local and server:
        raise InvalidInput("--local and --server exclude each other", field="server")
    url = (server or configured_url(settings)).rstrip("/")
    if server and not url.startswith(("http://", "https://")):
        raise InvalidInput(f"--server must be an http(s) URL, not {server!r}", field="server")
    if not local and server_answers(url, EXPLICIT_PROBE_TIMEOUT_S if server else
                                    PROBE_TIMEOUT_S):
        return _remote(url, api_key, window)
    if server:
        raise CerebraError(f"no Cerebra server answers at {url}/healthz", field="server")
    return _local(tenant, window)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def frame(snap: dict[str, Any]) -> RenderableType:
    """One frame of the view: the headline figures, the models, the jobs."""
    lat = snap.get("latency_ms") or {}
    head = (f"[b]{snap['requests']}[/b] requests in {snap['window_s']:.0f}s "
            f"({snap['rps']:.2f}/s) · latency p50 {_ms(lat.get('p50'))} · p95 "
            f"{_ms(lat.get('p95'))} · spend ${snap['spend_usd']:.4f} · "
            f"{snap['tokens']} tokens")
    if snap.get("truncated"):
        head += " · [yellow]window truncated[/yellow]"
    models = Table("model", "requests", "p50", "spend $", "tokens", "health", expand=True)
    health = {m["name"]: m for m in snap.get("models") or []}
    for m in snap["by_model"]:
        h = health.pop(m["model"], None)
        models.add_row(m["model"], str(m["requests"]), _ms(m["p50_ms"]),
                       f"{m['spend_usd']:.4f}", str(m["tokens"]), _health(h))
    for name, h in sorted(health.items()):  # served, idle in the window
        models.add_row(name, "0", "-", "0.0000", "0", _health(h))
    counts = snap["jobs"]["counts"]
    jobs = Table("job", "name", "state", "progress", "message", expand=True,
                 title=" · ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no jobs")
    for j in snap["jobs"]["active"]:
        jobs.add_row(j["id"][:12], j["name"], j["state"], f"{j['progress']:.0%}",
                     j["message"][:60])
    title = f"cerebra top · tenant {snap['tenant_id']} · {snap.get('source', '')} · " + \
        time.strftime("%H:%M:%S", time.localtime(snap["at"]))
    return Panel(Group(head, models, jobs), title=title, title_align="left")


def _health(status: dict[str, Any] | None) -> str:
    if status is None:
        return "-"
    return "ok" if status.get("healthy") else f"down {status.get('detail', '')}".strip()


def top(
    once: bool = typer.Option(False, "--once", help="print one frame and exit"),
    interval: float = typer.Option(2.0, "--interval", min=0.1, max=3600,
                                   help="seconds between frames"),
    window: float = typer.Option(60.0, "--window", min=1, max=86_400,
                                 help="seconds of recent requests the figures cover"),
    server: str = typer.Option(None, "--server", help="the server at this URL"),
    local: bool = typer.Option(False, "--local", help="read the local database, not a server"),
    tenant: str = typer.Option("default", "--tenant",
                               help="the tenant (local database; a server uses the key's)"),
    as_json: bool = typer.Option(False, "--json", help="print the snapshot as JSON (--once)"),
) -> None:
    """A live view of requests, latency, spend, models and jobs (Ctrl-C ends it)."""
    source = open_source(server=server, local=local, tenant=tenant, window=window)
    if once or as_json:
        snap = source()
        if as_json:
            print(json.dumps(snap, indent=2))
        else:
            out.print(frame(snap))
        return
    try:
        with Live(frame(source()), console=out, refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                live.update(frame(source()))
    except KeyboardInterrupt:
        return
