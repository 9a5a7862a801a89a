"""Acceptance: limits hold across processes. Two real `cerebra serve` processes share one
database file and one real redis-server; an API key made with `cerebra keys create` gets a
budget that allows 10 answers (then a requests/min limit of 10); 100 concurrent requests,
split between the servers, never get more than 10 answers, and the ledger's cost sum is the
budget to the cent."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from cerebra.auth.limit_store import LimitStore
from cerebra.db.schema import interactions
from tests.helpers import free_port, run_cli, running_redis

PER_ANSWER = 0.04  # 4 completion tokens at $0.01; prompt tokens are free, so the worst
# case reserved is exactly the real cost and a budget of 10 answers is spent to the cent
CATALOG = json.dumps({"models": [{
    "name": "priced", "kind": "fake", "default": True, "price": {"input": 0, "output": 0.01},
    "options": {"reply": "one two three four five six seven eight"}}]})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two servers on one database and one Redis; yields their URLs, env and database."""
    tmp = tmp_path_factory.mktemp("cluster")
    db = tmp / "shared.db"
    with running_redis(tmp) as redis_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CEREBRA_")},
            "CEREBRA_HOME": str(tmp / "home"),
            "CEREBRA_DATABASE__URL": f"sqlite:///{db}",
            "CEREBRA_REDIS__URL": redis_url,
            "CEREBRA_MODEL__EMBEDDED": "false",
            "CEREBRA_CATALOG__INLINE": CATALOG,
            "CEREBRA_MEMORY__EMBEDDER": "fake",
            "CEREBRA_HEALTH__INTERVAL_S": "0",
            "CEREBRA_LIMITS__CACHE_S": "0",  # limits set by the test apply at once
            "CEREBRA_SERVER__LOG_LEVEL": "WARNING",
        }
        admin = run_cli("keys", "create", "--role", "admin", "--json", env=env)
        assert admin.returncode == 0, admin.stderr  # also creates the database
        procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        urls: list[str] = []
        try:
            for i in range(2):
                port = free_port()
                log = tmp / f"server{i}.log"
                with log.open("wb") as out:
                    procs.append((subprocess.Popen(
                        [sys.executable, "-m", "cerebra.cli.main", "serve", "--host",
                         "127.0.0.1", "--port", str(port), "--no-engine-check"],
                        env={**env, "CEREBRA_HOME": str(tmp / f"home{i}")},
                        stdout=out, stderr=subprocess.STDOUT), log))
                urls.append(f"http://127.0.0.1:{port}")
            for (proc, log), url in zip(procs, urls, strict=True):
                _wait_ready(proc, log, url)
            yield {"urls": urls, "env": env, "db": db, "procs": procs}
        finally:
            for proc, _ in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            for proc, _ in procs:
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, url: str) -> None:
    deadline = time.monotonic() + 240  # a safety net for a server that never comes up
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited ({proc.returncode}): {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server never answered: {log.read_text()[-3000:]}")


def _key(cluster: dict[str, Any], **limits: float) -> tuple[str, str]:
    made = run_cli("keys", "create", "--json", env=cluster["env"])
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    engine = create_engine(f"sqlite:///{cluster['db']}")
    LimitStore(engine).set_key_limits("default", data["id"], limits)
    engine.dispose()
    return data["key"], data["id"]


async def _burst(urls: list[str], key: str, n: int = 100) -> list[httpx.Response]:
    body = {"prompt": "hello", "memory": False, "max_tokens": 4}
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(
            client.post(f"{urls[i % 2]}/api/llm/query", json=body, headers=headers)
            for i in range(n))))


def _ledger(db: Path, user: str) -> tuple[int, float]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        count, cost = conn.execute(select(func.count(), func.sum(interactions.c.cost_usd))
                                   .where(interactions.c.user_id == user)).one()
    engine.dispose()
    return int(count), float(cost or 0.0)


def _ledger_settled(cluster: dict[str, Any], user: str, expected: int) -> tuple[int, float]:
    """The ledger once both servers' writers have committed (rows are batched off the
    request path; each is in the database within a batch interval)."""
    deadline = time.monotonic() + 60  # a safety net, never a synchronisation
    while True:
        count, cost = _ledger(cluster["db"], user)
        if count >= expected or time.monotonic() > deadline:
            return count, cost
        time.sleep(0.05)


def test_a_budget_for_ten_answers_gives_ten_across_two_servers(cluster: dict[str, Any]) -> None:
    key, key_id = _key(cluster, daily_budget=10 * PER_ANSWER)
    responses = asyncio.run(_burst(cluster["urls"], key))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 10, [r.text for r in refused[:3]]
    assert {r.status_code for r in refused} == {402}
    error = refused[0].json()["error"]
    assert error["type"] == "budget_exhausted" and error["budget"] == "daily"
    assert refused[0].headers["X-Budget-Reset"] == error["resets_at"]
    assert {r.json()["model"] for r in ok} == {"priced"}
    assert sum(r.json()["cost_usd"] for r in ok) == pytest.approx(10 * PER_ANSWER)
    # both servers answered, and the ledger they share holds the budget to the cent
    count, cost = _ledger_settled(cluster, f"key:{key_id}", 10)
    assert count == 10
    assert round(cost, 2) == round(10 * PER_ANSWER, 2)


def test_ten_requests_per_minute_across_two_servers(cluster: dict[str, Any]) -> None:
    key, key_id = _key(cluster, requests_per_min=10)
    responses = asyncio.run(_burst(cluster["urls"], key))
    ok = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code != 200]
    assert len(ok) == 10, [r.text for r in refused[:3]]
    assert {r.status_code for r in refused} == {429}
    assert {r.json()["error"]["type"] for r in refused} == {"rate_limited"}
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)
    count, _ = _ledger_settled(cluster, f"key:{key_id}", 10)
    assert count == 10
