"""Teams: a venture with roles and an agent per role (created with the role's traits), KPIs
per role over time that count in the agents' careers, KPI history that reassigns a role to a
better former holder or a fresh agent with an evolved specialisation (the handover in its
memory), persisted per tenant; and the seed example as written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from cerebra.agents import AgentRegistry
from cerebra.agents.teams import BusinessFactory, UnknownRole, UnknownVenture
from cerebra.config import Settings
from cerebra.context import RequestContext
from cerebra.errors import Conflict, InvalidInput
from cerebra.memory.store import MemoryStore
from cerebra.testing import FakeEmbedder


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    return sql_engine  # SQLite, then PostgreSQL


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> AgentRegistry:
    return AgentRegistry(engine, settings=Settings(home=tmp_path / "h"))


def test_the_seed_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRA_HOME", str(tmp_path / "seed"))
    from cerebra.config import get_settings

    get_settings.cache_clear()
    try:
        factory = BusinessFactory(AgentRegistry(), MemoryStore())
        venture = factory.create_business("biz1", ["marketing", "dev"])
        result = factory.record_kpi("biz1", "marketing", 0.8)
    finally:
        get_settings.cache_clear()
    assert [r["role"] for r in venture["roles"]] == ["marketing", "dev"]
    assert result.met and result.agent_id == "biz1.marketing.1"


def test_a_venture_with_roles_agents_and_kpis(registry: AgentRegistry) -> None:
    factory = BusinessFactory(registry)
    registry.ensure("coder", ["precise"])
    venture = factory.create_business(
        "acme", {"marketing": {"target": 10, "kpi": "leads"}, "dev": {}},
        agents={"dev": "coder"})
    marketing, dev = venture["roles"]
    assert marketing["agent_id"] == "acme.marketing.1" and marketing["kpi"] == "leads"
    assert marketing["specialisation"] == ["creative", "optimistic"]
    assert registry.get("acme.marketing.1").traits == ("creative", "optimistic")
    assert dev["agent_id"] == "coder" and dev["target"] == 0.5
    factory.record_kpi("acme", "marketing", 12, note="week 1")
    factory.record_kpi("acme", "marketing", 4)
    shown = factory.show("acme")["roles"][0]
    assert [(k["value"], k["note"]) for k in shown["kpis"]] == [(12.0, "week 1"), (4.0, "")]
    assert registry.get("acme.marketing.1").n == 2  # each value counts in its career
    assert registry.get("acme.marketing.1").successes == 1  # 12 met the target, 4 did not
    assert factory.list() == ["acme"]
    with pytest.raises(Conflict):
        factory.create_business("acme", ["dev"])
    with pytest.raises(UnknownVenture):
        factory.record_kpi("nope", "dev", 1)
    with pytest.raises(UnknownRole):
        factory.record_kpi("acme", "sales", 1)
    with pytest.raises(InvalidInput):
        factory.record_kpi("acme", "dev", float("nan"))
    with pytest.raises(InvalidInput):
        factory.create_business("bad name", ["dev"])


def test_kpi_history_reassigns_to_a_better_former_holder_or_a_fresh_evolved_agent(
        registry: AgentRegistry, engine: Engine) -> None:
    from cerebra.runtime import memory_backend

    memory = MemoryStore(memory_backend(engine), FakeEmbedder())
    factory = BusinessFactory(registry, memory, target=0.5, window=3)
    factory.create_business("one", ["marketing"])
    for value in (0.9, 0.8, 0.7):  # meets its target: keeps the role
        assert factory.record_kpi("one", "marketing", value).reassigned_to is None
    factory.create_business("two", ["marketing"])
    assert factory.record_kpi("two", "marketing", 0.1).reassigned_to is None  # window not full
    factory.record_kpi("two", "marketing", 0.2)
    moved = factory.record_kpi("two", "marketing", 0.3)
    # the best former holder of a marketing role who met the target takes over
    assert moved.reassigned_to == "one.marketing.1" and moved.window_mean == pytest.approx(0.2)
    assert "average 0.2, below the target 0.5" in moved.reason
    role = factory.show("two")["roles"][0]
    assert role["agent_id"] == "one.marketing.1" and role["generation"] == 2
    assert [a["agent_id"] for a in role["assignments"]] == ["two.marketing.1", "one.marketing.1"]
    assert role["assignments"][0]["ended_at"] is not None
    handover = memory.search("one.marketing.1", "marketing role")
    assert any("venture two" in h.memory.text for h in handover)
    # when the best one fails too, a fresh agent with the traits of what worked
    for value in (0.0, 0.0, 0.0):
        last = factory.record_kpi("two", "marketing", value)
    assert last.reassigned_to == "two.marketing.3"
    fresh = registry.get("two.marketing.3")
    assert fresh.traits == ("creative", "optimistic")  # the role's and the best other holder's


def test_a_fresh_agent_evolves_when_nobody_did_better(registry: AgentRegistry) -> None:
    factory = BusinessFactory(registry, window=2)
    factory.create_business("solo", ["dev"])
    factory.record_kpi("solo", "dev", 0.0)
    moved = factory.record_kpi("solo", "dev", 0.1)
    assert moved.reassigned_to == "solo.dev.2"
    assert registry.get("solo.dev.2").traits == ("analytical", "precise", "methodical")
    assert factory.show("solo")["roles"][0]["specialisation"] == [
        "analytical", "precise", "methodical"]


def test_another_tenants_ventures_are_unknown(registry: AgentRegistry, engine: Engine,
                                              tmp_path: Path) -> None:
    BusinessFactory(registry).create_business("acme", ["dev"])
    other = BusinessFactory(AgentRegistry(engine, settings=Settings(home=tmp_path / "h"),
                                          context=RequestContext(tenant_id="other")))
    assert other.list() == []
    with pytest.raises(UnknownVenture):
        other.show("acme")
    with pytest.raises(UnknownVenture):
        other.record_kpi("acme", "dev", 1.0)
    other.create_business("acme", ["dev"])  # the same name in another tenant is its own
    assert other.show("acme")["roles"][0]["agent_id"] == "acme.dev.1"
