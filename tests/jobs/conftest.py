"""Fixtures of the job tests: a Celery worker process on a real redis-server, with job state
in a SQLite file it shares with the test (one per test module)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.db import make_engine, upgrade

HANG = 30.0
CAPACITY = 2  # jobs that run at once: in-process workers, Celery worker concurrency
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Celery:
    engine: Engine
    broker: str
    queue: str
    database: str
    folder: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, queue: str | None = None) -> subprocess.Popen[bytes]:
        """A worker process (`python -m cerebra.jobs.celery_worker`) on `queue`."""
        log = (self.folder / f"worker-{len(self.workers)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "cerebra.jobs.celery_worker", "--broker", self.broker,
             "--database", self.database, "--queue", queue or self.queue,
             "--concurrency", str(CAPACITY), "--poll-s", "0.02", "--heartbeat-s", "1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the worker holds its own copy
        self.workers.append(proc)
        return proc


@pytest.fixture(scope="module")
def celery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Celery]:
    pytest.importorskip("celery")
    from tests.helpers import running_redis

    folder = tmp_path_factory.mktemp("celery")
    database = f"sqlite:///{folder / 'jobs.db'}"
    engine = make_engine(database)
    upgrade(engine)
    with running_redis(folder) as broker:
        setup = Celery(engine, broker, f"q-{uuid.uuid4().hex[:8]}", database, folder)
        setup.start_worker()
        try:
            yield setup
        finally:
            for proc in setup.workers:
                proc.terminate()
            for proc in setup.workers:
                try:
                    proc.wait(HANG)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(HANG)
            engine.dispose()
