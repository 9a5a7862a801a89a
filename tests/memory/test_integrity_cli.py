"""`cerebra memory verify | repair` on the configured database: exit 1 naming the bad
memory, `--json` output, repair restores it, verify then exits 0. The integrity job is
scheduled by settings and repairs in the background."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from cerebra.cli.main import app
from cerebra.config import get_settings
from cerebra.memory.integrity import repair_store, schedule_integrity, verify
from cerebra.runtime import build_memory_store


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with three memories, one of which lost its vector; returns its id."""
    monkeypatch.setenv("CEREBRA_MEMORY__EMBEDDER", "fake")
    get_settings.cache_clear()
    store = build_memory_store(get_settings())
    uids = store.add_many("a", ["green tea in the blue tin", "bicycle behind the library",
                                "report due on Friday"])
    with store.backend.engine.begin() as conn:
        conn.execute(text("UPDATE memories SET embedding = NULL WHERE uid = :u"),
                     {"u": uids[1]})
    store.backend.close()
    return uids[1]


def test_verify_names_the_memory_and_repair_restores_it(broken: str) -> None:
    runner = CliRunner()
    found = runner.invoke(app, ["memory", "verify"])
    assert found.exit_code == 1 and broken in found.output and "missing_vector" in found.output
    as_json = runner.invoke(app, ["memory", "verify", "--json"])
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and report["ok"] is False
    assert [p["memory_id"] for p in report["problems"] if p["kind"] == "missing_vector"] == [
        broken]
    fixed = runner.invoke(app, ["memory", "repair", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["repaired"]["memory"] >= 1
    again = runner.invoke(app, ["memory", "verify"])
    assert again.exit_code == 0 and "ok" in again.output


def test_the_periodic_job_repairs(broken: str) -> None:
    from cerebra.jobs.inprocess import InProcessRunner

    store = build_memory_store(get_settings())
    runner = InProcessRunner(workers=1, periodic_workers=1)
    try:
        schedule_integrity(store, runner, 3600)
        assert {s.name: s.every_s for s in runner.schedules()}["memory-integrity"] == 3600
        assert repair_store(store) == 1  # the lost vector, re-embedded
        assert verify(store.backend, store.embedder).ok
        assert repair_store(store) == 0
    finally:
        runner.close()
        store.backend.close()
