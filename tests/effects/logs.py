"""Effect checks of the logs settings (logs.*): the lines GET /logs shows (how many are kept,
from which level) and the log records ingested as memories (which agent, from which level),
observed through a real app's lifespan (cerebra.observability.log_setup)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from cerebra.server.app import create_app
from tests.effects.base import Env, effect

log = logging.getLogger("tests.effects.logs")


@contextmanager
def _app(env: Env, **values: str) -> Iterator[TestClient]:
    logging.getLogger().setLevel(logging.DEBUG)  # restored by base._restore_logging
    with TestClient(create_app(env.set(**values))) as client:
        yield client


def _events(client: TestClient) -> list[str]:
    body: dict[str, Any] = client.get("/logs", params={"logger": log.name,
                                                       "limit": 1000}).json()
    return [line["event"] for line in body["logs"]]


def _memories(client: TestClient, agent: str) -> list[str]:
    client.app.state.logs.flush()  # type: ignore[attr-defined]
    brain = client.app.state.brain  # type: ignore[attr-defined]
    return sorted(m.text for m in brain.memory.by_tag(agent, f"logger:{log.name}", k=100))


@effect("CEREBRA_LOGS__KEEP")
def _keep(env: Env) -> None:
    for keep, expected in (("3", 3), ("100", 10), ("0", 0)):
        with _app(env, CEREBRA_LOGS__KEEP=keep,
                  CEREBRA_HOME=str(env.tmp / f"keep{keep}")) as client:
            for n in range(10):
                log.warning("line %d", n)
            assert len(_events(client)) == expected, keep


@effect("CEREBRA_LOGS__LEVEL_KEPT")
def _level_kept(env: Env) -> None:
    for level, expected in (("DEBUG", ["warn", "info", "debug"]), ("WARNING", ["warn"])):
        with _app(env, CEREBRA_LOGS__LEVEL_KEPT=level,
                  CEREBRA_HOME=str(env.tmp / level)) as client:
            log.debug("debug")
            log.info("info")
            log.warning("warn")
            assert _events(client) == expected, level


@effect("CEREBRA_LOGS__MEMORY_AGENT")
def _memory_agent(env: Env) -> None:
    for name in ("CEREBRA_LOGS__MEMORY_AGENT", "CEREBRA_LOG_AGENT"):  # the seed's name too
        with _app(env, **{name: "ops", "CEREBRA_HOME": str(env.tmp / name)}) as client:
            log.warning("the disk is almost full")
            assert _memories(client, "ops") == ["the disk is almost full"], name
        env.unset(name)
    with _app(env, CEREBRA_HOME=str(env.tmp / "off")) as client:  # unset: off
        log.warning("the disk is almost full")
        assert client.app.state.logs.memory_handler is None  # type: ignore[attr-defined]
        assert _memories(client, "ops") == []


@effect("CEREBRA_LOGS__MEMORY_LEVEL")
def _memory_level(env: Env) -> None:
    for level, expected in (("ERROR", ["broken"]), ("INFO", ["broken", "noted", "odd"])):
        with _app(env, CEREBRA_LOGS__MEMORY_AGENT="ops", CEREBRA_LOGS__MEMORY_LEVEL=level,
                  CEREBRA_HOME=str(env.tmp / f"m{level}")) as client:
            log.info("noted")
            log.warning("odd")
            log.error("broken")
            assert _memories(client, "ops") == expected, level
