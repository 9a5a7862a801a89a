"""The Grafana dashboard (deploy/grafana/cerebra.json) queries only metrics a running app
exports, covers requests, latency, tokens, spend, queues and memory, and no metric label
takes unbounded values: requests from many distinct users, keys, agents, sessions, prompts,
models and unknown paths (and odd methods) leave every label's set of values unchanged."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import bearer, running_server

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "cerebra.json"
SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                             "_created"),
            "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "unknown": ("",)}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                "bool", "and", "or", "unless", "inf", "nan"}
MAX_VALUES = 32  # distinct values any one label may take after the whole drive


def _targets(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for panel in panels:
        yield from _targets(panel.get("panels", []))
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, label matchers,
    grouping labels, ranges and numbers left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for found in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        after = text[found.end():].lstrip()
        word = found.group()
        if after.startswith("(") or word.lower() in PROMQL_WORDS or word.startswith("$"):
            continue
        if found.start() > 0 and text[found.start() - 1] in "$.0123456789":
            continue
        names.add(word)
    return names


def exported(scrape: str) -> tuple[set[str], dict[tuple[str, str], set[str]]]:
    """Every sample name the exposition offers (families without samples included, by type),
    and each (sample, label)'s values."""
    names: set[str] = set()
    values: dict[tuple[str, str], set[str]] = {}
    for family in text_string_to_metric_families(scrape):
        names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
        for sample in family.samples:
            names.add(sample.name)
            for label, value in sample.labels.items():
                values.setdefault((sample.name, label), set()).add(value)
    return names, values


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any, str]]:
    from cerebra.auth.identity import IdentityStore
    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    for name, value in {"CEREBRA_AUTH__MODE": "on", "CEREBRA_MODEL__FAKE": "true",
                        "CEREBRA_MEMORY__EMBEDDER": "fake",
                        "CEREBRA_HEALTH__INTERVAL_S": "0"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = create_app(get_settings())
    with running_server(app) as base:
        identity = IdentityStore(app.state.brain.engine)
        admin, _ = identity.create_key("default", role="admin")
        yield base, identity, admin


def _raw(base: str, method: str, path: str) -> None:
    """A request with any method token, written on the socket (clients refuse odd ones)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        while sock.recv(65536):
            pass


def drive(base: str, identity: Any, admin: str, tag: str) -> list[str]:
    """One round of varied traffic; returns the distinct values it sent."""
    sent: list[str] = []
    keys = [identity.create_key("default", role="admin", name=f"k-{tag}-{i}")[0]
            for i in range(3)]
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(6):
            unique = f"{tag}{i}"
            sent.append(unique)
            key = keys[i % len(keys)]
            client.post("/api/llm/query", headers=bearer(key), json={
                "prompt": f"tell me about {unique}", "user_id": f"user-{unique}",
                "agent_id": f"agent-{unique}", "session_id": f"s-{unique}"})
            client.post("/v1/chat/completions", headers=bearer(key), json={
                "model": f"model-{unique}", "messages": [{"role": "user", "content": unique}]})
            client.post("/v1/chat/completions", headers=bearer(key), json={
                "messages": [{"role": "user", "content": unique}], "user": f"u-{unique}"})
            client.get(f"/api/memory/{unique}", headers=bearer(admin))
            client.get(f"/no/such/path/{unique}")
            client.get(f"/api/v1/jobs/{unique}", headers=bearer(f"ck-wrong-{unique}"))
            _raw(base, f"X{unique.upper().replace('-', '')}", f"/odd/{unique}")
            _raw(base, "PROPFIND", f"/dav/{unique}")
        client.get("/metrics", headers=bearer(admin))
    return sent


def test_dashboard_queries_only_exported_metrics_and_covers_each_concern(
        world: tuple[str, Any, str]) -> None:
    base, identity, admin = world
    drive(base, identity, admin, uuid.uuid4().hex[:8])
    scrape = httpx.get(f"{base}/metrics", headers=bearer(admin)).text
    names, _ = exported(scrape)
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queried: dict[str, set[str]] = {}
    for title, expr in _targets(board["panels"]):
        for name in metric_names(expr):
            queried.setdefault(name, set()).add(title)
    unknown = {n: sorted(t) for n, t in queried.items() if n not in names}
    assert not unknown, f"the dashboard queries metrics the app does not export: {unknown}"
    for concern, metric in {"requests": "cerebra_http_requests_total",
                            "latency": "cerebra_http_request_duration_seconds_bucket",
                            "tokens": "cerebra_tokens_generated_total",
                            "cost": "cerebra_cost_usd_total",
                            "queue": "cerebra_model_queue_waiting",
                            "memory": "cerebra_memories_recalled_bucket",
                            "process memory": "process_resident_memory_bytes"}.items():
        assert metric in queried, f"no panel shows {concern} ({metric})"
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "model"} <= variables
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_metric_names_reads_promql() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, route) (rate('
            'cerebra_http_request_duration_seconds_bucket{route!="/metrics"}[$__rate_interval])))'
            ' / clamp_min(sum(rate(cerebra_x_total[5m])), 1e-9) * 3600')
    assert metric_names(expr) == {"cerebra_http_request_duration_seconds_bucket",
                                  "cerebra_x_total"}


def test_no_label_takes_unbounded_values(world: tuple[str, Any, str]) -> None:
    base, identity, admin = world
    sent = drive(base, identity, admin, "a" + uuid.uuid4().hex[:6])
    _, first = exported(httpx.get(f"{base}/metrics", headers=bearer(admin)).text)
    assert ("cerebra_http_requests_total", "route") in first  # the drive was counted
    assert ("cerebra_cost_usd_total", "model") in first
    for round_ in range(2):
        sent += drive(base, identity, admin, f"b{round_}" + uuid.uuid4().hex[:6])
    _, after = exported(httpx.get(f"{base}/metrics", headers=bearer(admin)).text)
    grown = {f"{name}{{{label}}}": sorted(after[(name, label)] - values)
             for (name, label), values in first.items()
             if after.get((name, label), set()) - values}
    assert not grown, f"labels took new values from new users, keys, paths: {grown}"
    too_many = {f"{n}{{{lab}}}": len(v) for (n, lab), v in after.items() if len(v) > MAX_VALUES}
    assert not too_many, too_many
    leaked = {(name, label, value) for (name, label), values in after.items()
              for value in values for unique in sent if unique in value}
    assert not leaked, f"label values carry request data: {sorted(leaked)[:10]}"


def test_an_unknown_method_is_labelled_other() -> None:
    """Whatever method token the HTTP parser lets through (h11 accepts any), the method label
    keeps to the standard methods and "other"."""
    import asyncio

    from cerebra.observability.metrics import Metrics
    from cerebra.server.middleware import MetricsMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    metrics = Metrics()
    middleware = MetricsMiddleware(app, metrics)

    async def call(method: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(_message: Any) -> None:
            return None

        await middleware({"type": "http", "method": method, "path": "/x"}, receive, send)

    for method in ("GET", "BREW", f"X{uuid.uuid4().hex}", "DELETE"):
        asyncio.run(call(method))
    methods = {s.labels["method"] for family in metrics.registry.collect()
               if family.name == metrics.requests._name for s in family.samples
               if "method" in s.labels}
    assert methods == {"GET", "DELETE", "other"}
