"""SIGKILL of a real server in the middle of a burst of requests: afterwards the audit chain
verifies and holds a "request" entry for every request that got a 2xx answer (by trace id).

`cerebra serve` runs as a child process (auth off on loopback: the subject is the audit log,
not the credentials); client threads fire requests and keep the trace ids of the answered
ones; once enough are answered the server is killed with SIGKILL while requests are still in
flight. `cerebra audit verify` then replays what the dead server journalled and checks the
chains, as a restarted server would.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cerebra.config import Settings
from cerebra.db.engine import make_engine
from cerebra.governance.audit_sinks import DatabaseAuditSink
from tests.helpers import free_port, run_cli

CLIENTS = 6
KILL_AFTER = 60  # answered requests before the kill


def test_sigkill_mid_burst_keeps_every_acknowledged_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "CEREBRA_HOME": str(home), "CEREBRA_FAKE_MODEL": "1",
           "CEREBRA_EMBEDDER": "fake", "CEREBRA_AUTH__MODE": "off",
           "CEREBRA_AUDIT__CHECKPOINT_EVERY": "10", "CEREBRA_LOG_LEVEL": "WARNING"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cerebra.cli.main", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--no-engine-check"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    acked: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()
    try:
        for _ in range(600):  # the server starts (migrations, the fake model) in seconds
            if server.poll() is not None:
                pytest.fail(f"the server died: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the server never became ready")

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                for i in range(10_000):
                    try:
                        reply = http.post("/api/llm/query", json={
                            "prompt": f"client {n} question {i}", "user_id": f"u{n}",
                            "memory": False})
                    except httpx.TransportError:
                        return  # the server is gone
                    if reply.is_success:
                        with lock:
                            acked.append(reply.json()["trace_id"])
                            if len(acked) >= KILL_AFTER:
                                enough.set()
                    elif reply.status_code not in (429, 503):  # not a busy server: a bug
                        refused.append(f"{reply.status_code} {reply.text[:200]}")
                        enough.set()
                        return

        threads = [threading.Thread(target=client, args=(n,), daemon=True)
                   for n in range(CLIENTS)]
        for thread in threads[:CLIENTS // 2]:
            thread.start()
        # Half the burst with the database writable, half with it held by another writer:
        # the audit writer then cannot commit, so what was acknowledged lives in the
        # journal alone when the kill comes.
        while len(acked) < KILL_AFTER // 2 and not refused and server.poll() is None:
            time.sleep(0.01)
        blocker = sqlite3.connect(home / "cerebra.db", timeout=30, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        for thread in threads[CLIENTS // 2:]:
            thread.start()
        assert enough.wait(300), f"only {len(acked)} answers: {log.read_text()[-2000:]}"
        assert not refused, refused
        server.send_signal(signal.SIGKILL)  # requests are in flight on every client
        server.wait(30)
        blocker.rollback()
        blocker.close()
        for thread in threads:
            thread.join(60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)

    done = run_cli("audit", "verify", env={"CEREBRA_HOME": str(home)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ok: ")
    engine = make_engine(Settings(home=home).db_url)
    entries = list(DatabaseAuditSink(engine).entries("default"))
    engine.dispose()
    recorded = {e.event.trace_id for e in entries if e.event.action == "request"}
    missing = set(acked) - recorded
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged requests not in the log"
    assert len(acked) >= KILL_AFTER
