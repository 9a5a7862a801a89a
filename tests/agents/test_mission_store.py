"""MissionStore on SQLite and PostgreSQL: stored templates, a daily run claimed once per day
(across stores, as across processes), outcomes kept in order (a NUL in an answer dropped),
and another tenant's missions and runs unknown."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cerebra.agents.mission_spec import Mission
from cerebra.agents.mission_store import MissionStore, Outcome, UnknownMission, UnknownRun
from cerebra.errors import Conflict

SPEC = {"name": "capitals", "prompts": [
    {"prompt": "Capital of France?", "check": {"kind": "normalized", "expected": "paris"}}]}


def test_templates_runs_and_outcomes(sql_engine: Engine) -> None:
    store = MissionStore(sql_engine, "default")
    store.save(Mission.from_spec(SPEC))
    with pytest.raises(Conflict):
        store.save(Mission.from_spec(SPEC))
    store.save(Mission.from_spec({**SPEC, "description": "v2"}), replace=True)
    assert store.stored()["capitals"].description == "v2"
    first = store.claim("capitals", "daily", "2026-11-30")
    assert first is not None
    assert store.claim("capitals", "daily", "2026-11-30") is None
    assert MissionStore(sql_engine, "default").claim("capitals", "daily", "2026-11-30") is None
    assert store.claim("capitals", "daily", "2026-12-01") is not None
    manual = [store.claim("capitals", "manual", None) for _ in range(2)]
    assert None not in manual  # runs on demand are never taken
    outcomes = [Outcome("ada", 0, "Pa\x00ris", 1.0, True, "equals 'paris'", model="m",
                        latency_ms=3.5, trace_id="t1"),
                Outcome("bo", 0, "", 0.0, False, "error: boom", error="boom")]
    store.finish(first, outcomes, {"agents": {"ada": {"passed": 1}}})
    run, kept = store.run(first)
    assert run.state == "done" and run.day == "2026-11-30" and run.summary["agents"]
    assert [(o.agent_id, o.answer, o.passed, o.error) for o in kept] == [
        ("ada", "Paris", True, ""), ("bo", "", False, "boom")]
    assert len(store.runs(mission="capitals")) == 4
    other = MissionStore(sql_engine, "other")
    assert other.stored() == {} and other.runs() == []
    with pytest.raises(UnknownRun):
        other.run(first)
    with pytest.raises(UnknownMission):
        other.remove("capitals")
    assert other.claim("capitals", "daily", "2026-11-30") is not None  # its own day
    store.remove("capitals")
    assert store.stored() == {}
