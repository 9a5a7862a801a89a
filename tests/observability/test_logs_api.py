"""GET /logs and /api/system/logs: the lines of a request carry its trace id and tenant;
filters (level, logger, trace id, text, since), paging, tenant isolation (system lines only
for admins), and bad input answered 422 naming the parameter."""

from __future__ import annotations

import logging
import time

import pytest

from tests.observability import logs_world
from tests.observability.logs_world import LogsWorld

world = logs_world.world  # the fixture
log = logging.getLogger("tests.logs")


def test_a_line_written_in_a_request_carries_its_trace_id_and_tenant(world: LogsWorld) -> None:
    response = world.get("acme-operator", "/test/after-answer")
    assert response.status_code == 200, response.text
    trace = response.json()["trace_id"]
    lines = world.lines("acme-operator", trace_id=trace)
    ours = [line for line in lines if line["logger"] == "tests.logs"]
    assert [line["event"] for line in ours] == ["after the answer of acme"]
    assert ours[0]["tenant_id"] == "acme" and ours[0]["trace_id"] == trace
    assert ours[0]["level"] == "warning" and ours[0]["ts"].endswith("Z")
    assert world.lines("globex-operator", trace_id=trace) == []  # another tenant's trace


def _seed() -> None:
    log.info("picked model alpha", extra={"tenant_id": "acme"})
    logging.getLogger("tests.logs.bandit").warning("cooldown of beta",
                                                   extra={"tenant_id": "acme", "arm": 2})
    logging.getLogger("tests.logsx").error("disk 100%_full", extra={"tenant_id": "acme",
                                                                    "trace_id": "t-1"})
    log.warning("globex's own line", extra={"tenant_id": "globex"})
    log.warning("a system line")


@pytest.mark.parametrize(("params", "events"), [
    ({}, ["disk 100%_full", "cooldown of beta", "picked model alpha"]),
    ({"level": "warning"}, ["disk 100%_full", "cooldown of beta"]),
    ({"level": "error"}, ["disk 100%_full"]),
    ({"logger": "tests.logs"}, ["cooldown of beta", "picked model alpha"]),  # not tests.logsx
    ({"logger": "tests.logs.bandit"}, ["cooldown of beta"]),
    ({"trace_id": "t-1"}, ["disk 100%_full"]),
    ({"q": "100%_"}, ["disk 100%_full"]),  # % and _ are the text itself, not wildcards
    ({"q": "COOLDOWN"}, ["cooldown of beta"]),  # any case
    ({"q": "100%x"}, []),
])
def test_filters(world: LogsWorld, params: dict[str, str], events: list[str]) -> None:
    _seed()
    found = world.lines("acme-operator", **params)
    assert [line["event"] for line in found if line["logger"].startswith("tests.")] == events


def test_fields_and_since(world: LogsWorld) -> None:
    _seed()
    (bandit,) = world.lines("acme-operator", logger="tests.logs.bandit")
    assert bandit["fields"]["arm"] == 2
    later = time.time() + 3600
    assert world.lines("acme-operator", since=later) == []
    assert len(world.lines("acme-operator", since=bandit["at"], logger="tests")) >= 2


def test_tenants_see_their_own_and_admins_the_system(world: LogsWorld) -> None:
    _seed()

    def events(who: str) -> set[str]:
        return {line["event"] for line in world.lines(who, logger="tests", limit=1000)}

    acme = {"picked model alpha", "cooldown of beta", "disk 100%_full"}
    assert events("acme-operator") == acme
    assert events("globex-operator") == {"globex's own line"}
    assert events("acme-admin") == acme | {"a system line"}  # admins: the system's too
    every = world.lines("acme-admin", limit=1000)
    assert {line["tenant_id"] for line in every} <= {"acme", None}
    assert any(line["tenant_id"] is None for line in every)


def test_pages_follow_next_to_the_end(world: LogsWorld) -> None:
    for n in range(7):
        log.info("line %d", n, extra={"tenant_id": "acme"})
    seen: list[str] = []
    params: dict[str, object] = {"logger": "tests.logs", "limit": 3}
    for _ in range(10):
        body = world.get("acme-operator", "/api/system/logs", **params).json()
        seen += [line["event"] for line in body["logs"]]
        if body["next"] is None:
            break
        params["before"] = body["next"]
    assert seen == [f"line {n}" for n in reversed(range(7))]


def test_system_logs_is_the_same_page(world: LogsWorld) -> None:
    _seed()
    a = world.get("acme-operator", "/logs", logger="tests").json()
    b = world.get("acme-operator", "/api/system/logs", logger="tests").json()
    assert a == b and a["logs"]


@pytest.mark.parametrize(("params", "field"), [
    ({"level": "loud"}, "level"),
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"since": -1}, "since"),
    ({"before": "abc"}, "before"),
    ({"trace_id": "x" * 65}, "trace_id"),
])
def test_bad_input_is_422_naming_the_parameter(world: LogsWorld, params: dict[str, object],
                                              field: str) -> None:
    response = world.get("acme-operator", "/logs", **params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


def test_a_key_without_metrics_read_is_refused(world: LogsWorld) -> None:
    from cerebra.auth.identity import IdentityStore

    engine = world.client.app.state.brain.engine  # type: ignore[attr-defined]
    secret, _ = IdentityStore(engine).create_key("acme", role="user")
    response = world.client.get("/logs", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert world.client.get("/logs").status_code == 401
