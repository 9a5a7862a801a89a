"""The log store and the request scope without a server: JSON lines carry the scope's trace
id and tenant, the table stays within `keep` rows, the queue within its bound, and a line
logged while the store writes is never stored (no feedback loop); on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cerebra.context import RequestContext
from cerebra.db.log_tables import log_records
from cerebra.observability.log_scope import LogScope, close_scope, open_scope
from cerebra.observability.log_store import LogQuery, LogStore, Viewer, read_logs
from cerebra.observability.logging import configure_logging

log = logging.getLogger("tests.store")


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    """A migrated database: SQLite, then PostgreSQL (tests/pg.py)."""
    return sql_engine


@pytest.fixture
def attached(engine: Engine) -> Iterator[list[Any]]:
    """Attach handlers to tests.store for the test (and take them off again)."""
    handlers: list[Any] = []
    log.setLevel(logging.DEBUG)
    yield handlers
    for handler in handlers:
        log.removeHandler(handler)
        handler.close()
    log.setLevel(logging.NOTSET)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(log_records)).scalar() or 0)


def test_json_lines_carry_the_scope(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        token = open_scope(LogScope({"cerebra_context": RequestContext(tenant_id="acme")},
                                    trace_id="abc123"))
        try:
            log.warning("inside", extra={"n": 1})
        finally:
            close_scope(token)
        log.warning("outside")
        log.warning("own", extra={"trace_id": "mine", "tenant_id": "globex"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    by_event = {x["event"]: x for x in lines}
    assert by_event["inside"]["trace_id"] == "abc123"
    assert by_event["inside"]["tenant_id"] == "acme" and by_event["inside"]["n"] == 1
    assert "trace_id" not in by_event["outside"] and "tenant_id" not in by_event["outside"]
    assert (by_event["own"]["trace_id"], by_event["own"]["tenant_id"]) == ("mine", "globex")


def test_the_table_keeps_at_most_keep_rows(engine: Engine, attached: list[Any]) -> None:
    store = LogStore(engine, keep=5)
    attached.append(store.handler("INFO"))
    log.addHandler(attached[0])
    for n in range(40):
        log.info("line %d", n)
        if n % 10 == 9:
            assert store.flush()
            assert _count(engine) <= 5
    page = read_logs(engine, LogQuery(limit=100), Viewer("default", system=True))
    assert [x["event"] for x in page["logs"]] == [f"line {n}" for n in range(39, 34, -1)]
    store.close()


def test_levels_below_the_kept_one_are_not_stored(engine: Engine, attached: list[Any]) -> None:
    store = LogStore(engine, keep=100)
    attached.append(store.handler("WARNING"))
    log.addHandler(attached[0])
    log.info("routine")
    log.warning("worth keeping")
    assert store.flush()
    page = read_logs(engine, LogQuery(), Viewer("default", system=True))
    assert [x["event"] for x in page["logs"]] == ["worth keeping"]
    store.close()


def test_a_line_logged_while_writing_is_not_stored(engine: Engine, attached: list[Any]) -> None:
    store = LogStore(engine, keep=100)
    write = store._write
    calls: list[int] = []

    def noisy(rows: list[dict[str, Any]]) -> None:
        calls.append(len(rows))
        log.warning("the store wrote %d rows", len(rows))  # would loop forever if stored
        write(rows)

    store.drain._handle = noisy
    attached.append(store.handler("INFO"))
    log.addHandler(attached[0])
    log.warning("the only line")
    assert store.flush() and store.flush()
    page = read_logs(engine, LogQuery(), Viewer("default", system=True))
    assert [x["event"] for x in page["logs"]] == ["the only line"]
    assert calls == [1] and store.drain.stats().waiting == 0
    store.close()


def test_the_queue_is_bounded(engine: Engine, attached: list[Any]) -> None:
    store = LogStore(engine, keep=100, max_waiting=3, interval_s=3600)  # wakes on flush only
    attached.append(store.handler("INFO"))
    log.addHandler(attached[0])
    for n in range(10):
        log.info("burst %d", n)
    assert store.drain.stats().dropped == 7
    assert store.flush()
    assert _count(engine) == 3
    store.close()


def test_a_failing_database_loses_the_batch_not_the_thread(engine: Engine,
                                                           attached: list[Any]) -> None:
    store = LogStore(engine, keep=100)
    write = store._write
    failures = iter([True])

    def flaky(rows: list[dict[str, Any]]) -> None:
        if next(failures, False):
            raise OSError("database gone")
        write(rows)

    store.drain._handle = flaky
    attached.append(store.handler("INFO"))
    log.addHandler(attached[0])
    log.warning("lost")
    assert store.flush()
    log.warning("kept")
    assert store.flush()
    page = read_logs(engine, LogQuery(), Viewer("default", system=True))
    assert [x["event"] for x in page["logs"]] == ["kept"]
    assert store.drain.stats().failed == 1
    store.close()


def test_filters_and_tenants_in_sql(engine: Engine, attached: list[Any]) -> None:
    store = LogStore(engine, keep=100)
    attached.append(store.handler("INFO"))
    log.addHandler(attached[0])
    child = logging.getLogger("tests.store.child")
    child.warning("Disk 100%_full", extra={"tenant_id": "acme", "trace_id": "t-1"})
    log.info("plain", extra={"tenant_id": "acme"})
    other = logging.getLogger("tests.storex")  # a sibling whose name starts alike
    other.addHandler(attached[0])
    try:
        other.error("not a child", extra={"tenant_id": "acme"})
    finally:
        other.removeHandler(attached[0])
    log.error("system")
    assert store.flush()

    def events(viewer: Viewer, **query: Any) -> list[str]:
        page = read_logs(engine, LogQuery(**query), viewer)
        return [x["event"] for x in page["logs"]]

    acme = Viewer("acme")
    assert events(acme) == ["not a child", "plain", "Disk 100%_full"]
    assert events(Viewer("acme", system=True)) == ["system", "not a child", "plain",
                                                    "Disk 100%_full"]
    assert events(Viewer("globex")) == []
    assert events(acme, text="disk 100%_") == ["Disk 100%_full"]
    assert events(acme, text="100%x") == []
    assert events(acme, logger="tests.store") == ["plain", "Disk 100%_full"]
    assert events(acme, level=40) == ["not a child"]
    assert events(acme, trace_id="t-1") == ["Disk 100%_full"]
    store.close()
