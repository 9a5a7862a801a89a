"""Loading plugins from a folder: registration, sandboxing, metadata, priority, and plugins
that fail (on import, in register, in their metadata) reported and skipped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.plugins.manager import PluginManager
from tests.plugins.helpers import tool_plugin, write_plugin


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "plugins"


@pytest.fixture
def manager(folder: Path) -> Iterator[PluginManager]:
    folder.mkdir()
    m = PluginManager(folder=folder, entry_points=False)
    yield m
    m.close()
    for info in m.plugins():  # folder plugins are modules named after themselves
        sys.modules.pop(info.name, None)


def test_a_folder_plugin_registers_its_tool(folder: Path, manager: PluginManager) -> None:
    tool_plugin(folder, "cerebra_hello", "hello", "hi", meta={"description": "says hi"})
    (folder / "other.py").write_text("raise RuntimeError('not a plugin: no prefix')\n")
    [info] = manager.load()
    assert (info.name, info.state, info.source) == ("cerebra_hello", "registered", "folder")
    assert info.meta.description == "says hi"
    assert info.provides["tool"] == ["hello"]
    assert manager.tool("hello").fn() == "hi"
    assert manager.tool("hello").plugin == "cerebra_hello"


def test_a_package_plugin_with_meta_json_inside(folder: Path, manager: PluginManager) -> None:
    package = folder / "cerebra_pkg"
    package.mkdir()
    (package / "helper.py").write_text("VALUE = 42\n")
    (package / "__init__.py").write_text(
        "from .helper import VALUE\n\n"
        "def register(manager):\n    manager.add_tool('answer', lambda: VALUE)\n")
    (package / "meta.json").write_text('{"priority": 5}')
    [info] = manager.load()
    assert info.state == "registered" and info.meta.priority == 5
    assert manager.tool("answer").fn() == 42


def test_a_sandboxed_plugin_is_imported_and_listed_but_not_registered(
        folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_boxed", """
        IMPORTED = True

        def register(manager):
            manager.add_tool("boxed", lambda: "should not be here")
        """, meta={"sandbox": True})
    [info] = manager.load()
    assert info.state == "sandboxed" and info.error is None
    assert sys.modules["cerebra_boxed"].IMPORTED is True
    assert "boxed" not in manager.tools
    assert info.to_dict()["sandbox"] is True


def test_a_plugin_that_raises_on_import_is_reported_and_skipped(
        folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_broken", "raise ValueError('no database here')\n")
    tool_plugin(folder, "cerebra_fine", "fine", 1)
    infos = {i.name: i for i in manager.load()}
    broken = infos["cerebra_broken"]
    assert (broken.state, broken.stage) == ("failed", "import")
    assert "ValueError: no database here" in (broken.error or "")
    assert infos["cerebra_fine"].state == "registered"
    assert manager.tool("fine").fn() == 1
    assert "cerebra_broken" not in sys.modules


def test_a_plugin_that_raises_in_register_is_skipped_and_its_partial_work_removed(
        folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_half", """
        def register(manager):
            manager.add_tool("half", lambda: 1)
            manager.add_model_kind("halfkind", lambda entry: None)
            raise RuntimeError("gave up half way")
        """)
    tool_plugin(folder, "cerebra_fine", "fine", 1)
    infos = {i.name: i for i in manager.load()}
    half = infos["cerebra_half"]
    assert (half.state, half.stage) == ("failed", "register")
    assert "RuntimeError: gave up half way" in (half.error or "")
    assert "half" not in manager.tools and "halfkind" not in manager.model_kinds
    from cerebra.models.catalog_kinds import kind_spec

    assert kind_spec("halfkind") is None
    assert infos["cerebra_fine"].state == "registered"


@pytest.mark.parametrize(("raw", "reason"), [
    ("{not json", "not valid JSON"),
    ('{"priority": "high"}', "priority"),
    ('{"sandbox": false, "colour": "red"}', "colour"),
    ('["sandbox"]', "meta"),
])
def test_a_broken_meta_json_is_reported_and_that_plugin_skipped(
        folder: Path, manager: PluginManager, raw: str, reason: str) -> None:
    write_plugin(folder, "cerebra_badmeta", """
        def register(manager):
            manager.add_tool("badmeta", lambda: 1)
        """, raw_meta=raw)
    tool_plugin(folder, "cerebra_fine", "fine", 1)
    infos = {i.name: i for i in manager.load()}
    bad = infos["cerebra_badmeta"]
    assert (bad.state, bad.stage) == ("failed", "meta")
    assert reason in (bad.error or "") and "cerebra_badmeta.meta.json" in (bad.error or "")
    assert "badmeta" not in manager.tools and "cerebra_badmeta" not in sys.modules
    assert infos["cerebra_fine"].state == "registered"


def test_plugins_register_in_priority_order_and_the_first_keeps_a_name(
        folder: Path, manager: PluginManager) -> None:
    for name, priority in [("cerebra_a", 0), ("cerebra_b", 10), ("cerebra_c", -5)]:
        write_plugin(folder, name, f"""
            def register(manager):
                manager.add_tool("order-{name}", lambda: None)
                manager.add_tool("greet", lambda: {name!r})
            """, meta={"priority": priority})
    infos = {i.name: i for i in manager.load()}
    assert [i.name for i in manager.plugins()] == ["cerebra_b", "cerebra_a", "cerebra_c"]
    assert manager.tool("greet").fn() == "cerebra_b"
    assert infos["cerebra_b"].state == "registered"
    for loser in ("cerebra_a", "cerebra_c"):
        assert infos[loser].state == "failed"
        assert "tool 'greet' is already registered by cerebra_b" in (infos[loser].error or "")
    assert list(manager.tools) == ["order-cerebra_b", "greet"]


def test_registration_follows_priority_not_names(folder: Path, manager: PluginManager) -> None:
    for name, priority in [("cerebra_a", 1), ("cerebra_b", 3), ("cerebra_c", 2)]:
        write_plugin(folder, name, f"""
            def register(manager):
                manager.add_tool("{name}", lambda: None)
            """, meta={"priority": priority})
    manager.load()
    assert list(manager.tools) == ["cerebra_b", "cerebra_c", "cerebra_a"]


def test_a_plugin_without_a_register_hook_or_with_a_wrong_one_fails(
        folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_nohook", "X = 1\n")
    write_plugin(folder, "cerebra_wrongsig", "def register(mgr):\n    pass\n")
    infos = {i.name: i for i in manager.load()}
    assert "no register(manager) hook" in (infos["cerebra_nohook"].error or "")
    wrong = infos["cerebra_wrongsig"]
    assert (wrong.state, wrong.stage) == ("failed", "register")
    assert "mgr" in (wrong.error or "")


def test_built_in_model_kinds_cannot_be_replaced(folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_hijack", """
        def register(manager):
            manager.add_model_kind("openai", lambda entry: None)
        """)
    [info] = manager.load()
    assert info.state == "failed" and "built in" in (info.error or "")
    from cerebra.models.catalog_kinds import FACTORIES

    assert FACTORIES["openai"].__name__ == "_openai"


def test_agents_judges_and_hookimpl_marker(folder: Path, manager: PluginManager,
                                           tmp_path: Path) -> None:
    write_plugin(folder, "cerebra_crew", """
        from cerebra.judging.checker import Check, CheckerJudge
        from cerebra.plugins.hookspecs import hookimpl

        @hookimpl
        def register(manager):
            manager.add_agent("scout", ["brave", "curious"])
            manager.add_judge("says-four", CheckerJudge(Check.normalized("4"), name="four"))
        """)
    [info] = manager.load()
    assert info.state == "registered"
    assert manager.agents["scout"][0] == ("brave", "curious")
    verdict = manager.judge("says-four").judge("2+2?", {"a": "5", "b": "4"})
    assert verdict.winner == "b"
    from cerebra.agents.registry import AgentRegistry
    from cerebra.db.engine import make_engine
    from cerebra.db.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'agents.db'}")
    upgrade(engine)
    registry = AgentRegistry(engine)
    manager.attach_agents(registry)  # the agents registered so far are ensured
    assert tuple(registry.get("scout").traits) == ("brave", "curious")
    engine.dispose()


def test_a_judge_without_judge_method_fails(folder: Path, manager: PluginManager) -> None:
    write_plugin(folder, "cerebra_nojudge", """
        def register(manager):
            manager.add_judge("lazy", object())
        """)
    [info] = manager.load()
    assert info.state == "failed" and "needs judge(prompt, answers)" in (info.error or "")
