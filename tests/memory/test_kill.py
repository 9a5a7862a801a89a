"""SIGKILL in the middle of batch adds: nothing acknowledged is lost, nothing is half-indexed.

A real child process adds batches and prints the ids of each batch once `add_many`
returned (the acknowledgement); the parent kills it with SIGKILL at a random moment,
several times over the same database, then checks every acknowledged id and the indexes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cerebra.memory import MemoryStore
from cerebra.testing import FakeEmbedder
from tests.memory.conftest import make_backend

CHILD = r"""
import json, os, sys
from cerebra.memory import MemoryStore, vector_index
from cerebra.testing import FakeEmbedder
vector_index.SAVE_EVERY = 40  # save the index file often, so kills land mid-save too
kind, target, start = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "sqlite":
    from cerebra.memory.sqlite import SQLiteBackend as Backend
elif kind == "tinydb":
    from cerebra.memory.tinydb_backend import TinyDBBackend as Backend
else:
    from cerebra.memory.postgres import PostgresBackend as Backend
store = MemoryStore(Backend(target), FakeEmbedder())
n = start
while True:
    texts = [f"memory {n + i} about topic {(n + i) % 17} from {os.getpid()}" for i in range(25)]
    ids = store.add_many("agent", texts, user_id=f"u{n % 5}")
    if n % 100 == 0:
        store.similar("agent", "memory about topic 3", k=5)  # catch up (and save) the index
    print(json.dumps(ids), flush=True)
    n += 25
"""


def _run_and_kill(kind: str, target: str, start: int, rng: random.Random) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, target, str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    acked: list[str] = []
    try:
        for _ in range(rng.randint(2, 12)):
            line = child.stdout.readline()
            if not line:
                err = child.stderr.read().decode() if child.stderr else ""
                pytest.fail(f"child died early: {err[-2000:]}")
            acked += json.loads(line)
        time.sleep(rng.uniform(0.0, 0.05))  # land somewhere inside the next batch
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    tail = child.stdout.read().decode()
    for complete in tail.split("\n")[:-1]:  # complete lines were acknowledged too
        acked += json.loads(complete)
    assert child.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize(
    "kind", ["sqlite", "tinydb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_sigkill_loses_nothing_acknowledged(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    files = {"sqlite": "memory.db", "tinydb": "memory.json"}
    target = str(tmp_path / files[kind]) if kind in files else request.getfixturevalue("pg_url")
    rng = random.Random(int(time.time()))
    acked: list[str] = []
    for round_ in range(3):
        acked += _run_and_kill(kind, target, 10_000 * round_, rng)
    assert len(acked) >= 3 * 2 * 25
    if kind == "sqlite":
        assert list(Path(target + ".vectors").glob("vectors-*.usearch")), "no index was saved"
        backend = make_backend(kind, tmp_path, request)
    elif kind == "tinydb":  # the file parses: every kill left a whole committed state
        backend = make_backend(kind, tmp_path, request)
    else:
        from cerebra.memory.postgres import PostgresBackend

        backend = PostgresBackend(target)
    store = MemoryStore(backend, FakeEmbedder())
    try:
        missing = [uid for uid in acked if store.get(uid) is None]
        assert missing == []
        report = backend.integrity()
        assert report["rows"] >= len(set(acked))
        assert report["missing_text"] == report["missing_vector"] == 0, report
        assert report["orphan_text"] == report["orphan_vector"] == 0, report
        # a probe whose vector no other memory shares: FakeEmbedder's 64 hashed slots give
        # many distinct texts identical vectors, and an exact tie may rank another first
        everything = store.recent("agent", k=int(report["rows"]) + 100)  # acked or not
        shared = Counter(v.tobytes() for v in FakeEmbedder().embed([m.text for m in everything]))
        mine = [m for m in (store.get(uid) for uid in dict.fromkeys(acked)) if m]
        vectors = FakeEmbedder().embed([m.text for m in mine])
        unique = [m for m, v in zip(mine, vectors, strict=True) if shared[v.tobytes()] == 1]
        assert unique, "no memory with a vector of its own"
        probe = unique[-1]
        assert store.similar("agent", probe.text, k=1)[0].memory.uid == probe.uid
        assert probe.uid in {h.memory.uid for h in store.search("agent", probe.text, k=5)}
    finally:
        backend.close()
