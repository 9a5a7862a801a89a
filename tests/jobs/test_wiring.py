"""The runtime's one job runner: a Brain built from settings schedules memory pruning and
router state saves on its runner, the server adds the health probes to the same runner, and
closing the Brain closes it. Pruning deletes every tenant's expired memories, nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from cerebra.brain import Brain
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.db.schema import memories, tenants
from cerebra.errors import CerebraError
from cerebra.jobs import InProcessRunner
from cerebra.memory import MemoryStore, SQLiteBackend
from cerebra.runtime import schedule_pruning
from cerebra.server.app import create_app
from cerebra.testing import FakeEmbedder, FakeModel
from tests.jobs.test_runner import FakeClock


def _brain(tmp_path: Path) -> Brain:
    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake"}, router={"strategy": "thompson"},
                        health={"interval_s": 3600})
    return Brain.from_settings(settings, model=FakeModel("ok", name="fake"),
                               embedder=FakeEmbedder())


def test_one_runner_holds_every_periodic_job_and_closes_with_the_brain(tmp_path: Path) -> None:
    brain = _brain(tmp_path)
    runner = brain.jobs
    assert isinstance(runner, InProcessRunner)
    assert {s.name for s in runner.schedules()} == {"memory-prune", "memory-integrity",
                                                    "router-state", "audit-verify"}
    with TestClient(create_app(brain.settings, brain=brain)) as client:
        assert client.get("/healthz").status_code == 200
        assert "model-health" in {s.name for s in runner.schedules()}
    assert "model-health" not in {s.name for s in runner.schedules()}  # stopped with the app
    brain.close()
    assert runner.schedules() == []
    with pytest.raises(CerebraError):
        runner.submit("late", lambda ctx: None)


def test_pruning_off_schedules_no_pruner(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", model={"fake": True},
                        memory={"embedder": "fake", "prune_interval_s": 0})
    brain = Brain.from_settings(settings, model=FakeModel("ok", name="fake"),
                                embedder=FakeEmbedder())
    try:
        assert brain.jobs is not None
        assert [s.name for s in brain.jobs.schedules()] == ["memory-integrity", "audit-verify"]
    finally:
        brain.close()


def test_pruning_deletes_expired_memories_of_every_tenant(tmp_path: Path) -> None:
    backend = SQLiteBackend(f"sqlite:///{tmp_path / 'mem.db'}")
    store = MemoryStore(backend, FakeEmbedder())
    with backend.engine.begin() as conn:  # tenants are registered before they store
        conn.execute(insert(tenants).values(id="acme", name="Acme", created_at=time.time()))
    past = time.time() - 60
    for tenant in ("default", "acme"):
        ctx = RequestContext(tenant_id=tenant)
        store.add("a", f"{tenant} expired", expires_at=past, context=ctx)
        store.add("a", f"{tenant} kept", context=ctx)
    clock = FakeClock()
    runner = InProcessRunner(backend.engine, clock=clock, scheduler=False)
    try:
        schedule_pruning(store, backend.engine, runner, 60)
        assert runner.run_due() == ["memory-prune"]
        (info,) = runner.schedules()
        assert (info.last_result, info.last_error) == (2, None)
        with backend.engine.connect() as conn:
            left = conn.execute(select(memories.c.text).order_by(memories.c.text)).scalars()
            assert list(left) == ["acme kept", "default kept"]
            total = conn.execute(select(func.count()).select_from(memories)).scalar_one()
        assert total == 2
        clock.advance(60)
        assert runner.run_due() == ["memory-prune"]  # every interval
    finally:
        runner.close()
        backend.close()


def test_the_redis_exchange_runs_on_the_brains_runner(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    from tests.helpers import free_port

    settings = Settings(home=tmp_path / "h", model={"fake": True}, memory={"embedder": "fake"},
                        router={"strategy": "thompson"},
                        redis={"url": f"redis://127.0.0.1:{free_port()}/0"})  # nobody there
    brain = Brain.from_settings(settings, model=FakeModel("ok", name="fake"),
                                embedder=FakeEmbedder())
    try:
        assert brain.jobs is not None and brain.router is not None
        assert brain.router.shared is not None
        assert brain.router.shared.job_name in {s.name for s in brain.jobs.schedules()}
        assert brain.router.shared.job_name == "router-shared:cerebra:router"
    finally:
        brain.close()
