"""Effect checks of the jobs and improve settings: which runner runs jobs (and its broker),
whether the server wires the self-improvement layer, how often its triggers are checked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cerebra.improve.setup import TRIGGERS_JOB
from cerebra.jobs.celery_runner import CeleryRunner
from cerebra.jobs.inprocess import InProcessRunner
from cerebra.server.app import create_app
from tests.effects.base import Env, effect


@effect("CEREBRA_JOBS__RUNNER")
def _runner(env: Env) -> None:
    assert isinstance(env.brain().jobs, InProcessRunner)  # the default
    url = env.request.getfixturevalue("redis_server")
    brain = env.brain(CEREBRA_JOBS__RUNNER="celery", CEREBRA_REDIS__URL=url)
    assert isinstance(brain.jobs, CeleryRunner)
    assert brain.jobs.app.conf.broker_url == url  # redis.url when no broker is named


@effect("CEREBRA_JOBS__BROKER_URL")
def _broker_url(env: Env) -> None:
    url = env.request.getfixturevalue("redis_server")
    broker = url.rsplit("/", 1)[0] + "/7"  # another database of the same server
    brain = env.brain(CEREBRA_JOBS__RUNNER="celery", CEREBRA_REDIS__URL=url,
                      CEREBRA_JOBS__BROKER_URL=broker)
    assert isinstance(brain.jobs, CeleryRunner)
    assert brain.jobs.app.conf.broker_url == broker


@effect("CEREBRA_IMPROVE__ENABLED")
def _enabled(env: Env) -> None:
    with TestClient(create_app(env.set(CEREBRA_AUTH__MODE="off"))) as client:
        assert client.app.state.improve is not None  # type: ignore[attr-defined]
        assert client.get("/api/v1/improve/triggers").json() == {"triggers": []}
    with TestClient(create_app(env.set(CEREBRA_IMPROVE__ENABLED="false"))) as client:
        assert client.app.state.improve is None  # type: ignore[attr-defined]
        reply = client.get("/api/v1/improve/triggers")
        assert reply.status_code == 503
        assert reply.json()["error"]["field"] == "improve"


@effect("CEREBRA_IMPROVE__TRIGGER_CHECK_S")
def _trigger_check_s(env: Env) -> None:
    with TestClient(create_app(env.set(CEREBRA_AUTH__MODE="off"))) as client:
        brain = client.app.state.brain  # type: ignore[attr-defined]
        [schedule] = [s for s in brain.jobs.schedules() if s.name == TRIGGERS_JOB]
        assert schedule.every_s == 60.0  # the default
    with TestClient(create_app(env.set(CEREBRA_IMPROVE__TRIGGER_CHECK_S="5"))) as client:
        brain = client.app.state.brain  # type: ignore[attr-defined]
        [schedule] = [s for s in brain.jobs.schedules() if s.name == TRIGGERS_JOB]
        assert schedule.every_s == 5.0
    with TestClient(create_app(env.set(CEREBRA_IMPROVE__TRIGGER_CHECK_S="0"))) as client:
        brain = client.app.state.brain  # type: ignore[attr-defined]
        assert TRIGGERS_JOB not in {s.name for s in brain.jobs.schedules()}
