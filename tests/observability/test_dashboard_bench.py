"""benchmarks/dashboard.py on a small database (the 1,000,000-row run is the benchmark's):
over bulk-generated interactions with their rollups, routing decisions, kept traces, log
records, audit events and memories, every dashboard endpoint the app has answers 200, and
the cost rollups equal a direct GROUP BY of the interactions per day and per model, key,
user and agent — a rollup off by one cent is reported."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.helpers import bearer

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "dashboard.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard_benchmark", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_world(monkeypatch: pytest.MonkeyPatch,
                tmp_path: Path) -> Iterator[tuple[ModuleType, Any, Any, Any, Any]]:
    from fastapi.testclient import TestClient

    from cerebra.server.app import create_app

    bench = _load()
    opts = bench.Options(rows=3000, days=40, calls=1, logs=200, audit=50, memories=30)
    brain, key, built, now = bench.build(tmp_path / "home", opts, monkeypatch.setenv,
                                         lambda message: None)
    app = create_app(brain.settings, brain=brain)
    try:
        with TestClient(app, headers=bearer(key)) as client:
            yield bench, app, client, built, (now, opts)
    finally:
        brain.close()


def test_every_dashboard_endpoint_answers_and_rollups_match(
        bench_world: tuple[ModuleType, Any, Any, Any, Any]) -> None:
    bench, app, client, built, (now, opts) = bench_world
    assert built.interactions == built.decisions == 3000
    assert built.traces > 0 and built.spans == built.traces * 9
    report = bench.measure(app, client, built, now, opts, lambda message: None)
    measured = {e["group"] for e in report["endpoints"]}
    assert {"costs", "interactions", "traces", "drift", "memory", "audit", "models",
            "agents", "router", "jobs"} <= measured, report["absent"]
    bad = {e["path"]: e["status"] for e in report["endpoints"] if e["status"] != [200]}
    assert not bad, bad
    assert report["drift_check"]["status"] == 200
    for check in report["rollups"]:
        assert check["pass"], check["mismatches"]
        assert check["compared"] > check["days"]  # every day and some breakdown keys
    assert report["rollups"][1]["interactions_in_window"] > 2000  # tenant default's 90 %


def test_a_wrong_rollup_is_reported(bench_world: tuple[ModuleType, Any, Any, Any, Any]) -> None:
    bench, app, client, _, _ = bench_world
    from cerebra.db.cost_tables import cost_blocks as b
    from cerebra.db.cost_tables import cost_rollups as r

    engine = app.state.brain.engine
    with engine.begin() as conn:  # the last day's model rollups, and the blocks holding it
        day = conn.execute(select(r.c.day).where(r.c.tenant_id == "default", r.c.dim == "model")
                           .order_by(r.c.day.desc()).limit(1)).scalar_one()
        conn.execute(update(r).where(r.c.tenant_id == "default", r.c.dim == "model",
                                     r.c.day == day).values(cost=r.c.cost + 0.01))
        for span in (4, 16, 64):
            first = conn.execute(select(func.max(b.c.first_day)).where(
                b.c.tenant_id == "default", b.c.span == span)).scalar_one()
            conn.execute(update(b).where(b.c.tenant_id == "default", b.c.dim == "model",
                                         b.c.span == span, b.c.first_day == first)
                         .values(cost=b.c.cost + 0.01))
    check = bench.check_rollups(engine, client, 30)
    assert not check["pass"]
    assert all(m["at"].startswith("by_model") for m in check["mismatches"])
