"""reload() and watch(): changed plugins re-imported, their old registrations replaced,
removed plugins unregistered; the watcher reloads on a file change (waits on events)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.models.catalog_kinds import kind_spec
from cerebra.plugins.manager import PluginManager, ReloadReport
from tests.plugins.helpers import WAIT, tool_plugin, write_plugin

V1 = """
def register(manager):
    manager.add_tool("version", lambda: 1)
    manager.add_tool("old-only", lambda: "v1")
    manager.add_model_kind("reloadkind", lambda entry: None)
"""
V2 = """
def register(manager):
    manager.add_tool("version", lambda: 2)
    manager.add_tool("new-only", lambda: "v2")
"""


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "plugins"
    folder.mkdir()
    yield folder
    for name in ("cerebra_ver", "cerebra_other", "cerebra_new"):
        sys.modules.pop(name, None)


def test_reload_replaces_a_changed_plugins_registrations(folder: Path) -> None:
    write_plugin(folder, "cerebra_ver", V1)
    tool_plugin(folder, "cerebra_other", "other", "same")
    manager = PluginManager(folder=folder, entry_points=False)
    manager.load()
    assert manager.tool("version").fn() == 1 and kind_spec("reloadkind") is not None
    assert not manager.reload()  # nothing changed: nothing done
    write_plugin(folder, "cerebra_ver", V2)
    report = manager.reload()
    assert report == ReloadReport(changed=("cerebra_ver",))
    assert manager.tool("version").fn() == 2
    assert "old-only" not in manager.tools and manager.tool("new-only").fn() == "v2"
    assert kind_spec("reloadkind") is None  # what the old version registered is gone
    assert manager.tool("other").fn() == "same"
    assert sorted(manager.info("cerebra_ver").provides["tool"]) == ["new-only", "version"]


def test_reload_picks_up_new_and_drops_removed_plugins(folder: Path) -> None:
    path = tool_plugin(folder, "cerebra_other", "other", 1)
    manager = PluginManager(folder=folder, entry_points=False)
    manager.load()
    path.unlink()
    tool_plugin(folder, "cerebra_new", "new", 2)
    report = manager.reload()
    assert (report.added, report.removed) == (("cerebra_new",), ("cerebra_other",))
    assert list(manager.tools) == ["new"]
    assert [i.name for i in manager.plugins()] == ["cerebra_new"]


def test_a_fixed_plugin_loads_on_reload_and_a_broken_version_is_skipped(folder: Path) -> None:
    write_plugin(folder, "cerebra_ver", "raise ImportError('half written')\n")
    manager = PluginManager(folder=folder, entry_points=False)
    [info] = manager.load()
    assert info.state == "failed"
    write_plugin(folder, "cerebra_ver", V2)
    manager.reload()
    assert manager.info("cerebra_ver").state == "registered"
    assert manager.tool("version").fn() == 2
    write_plugin(folder, "cerebra_ver", "def register(manager):\n    raise KeyError('x')\n")
    manager.reload()
    assert manager.info("cerebra_ver").state == "failed" and "version" not in manager.tools


def test_a_meta_change_alone_reloads(folder: Path) -> None:
    tool_plugin(folder, "cerebra_other", "other", 1)
    manager = PluginManager(folder=folder, entry_points=False)
    manager.load()
    (folder / "cerebra_other.meta.json").write_text('{"sandbox": true}')
    assert manager.reload().changed == ("cerebra_other",)
    assert manager.info("cerebra_other").state == "sandboxed" and not manager.tools


def test_watch_reloads_when_a_plugin_file_changes(folder: Path) -> None:
    write_plugin(folder, "cerebra_ver", V1)
    manager = PluginManager(folder=folder, entry_points=False)
    manager.load()
    reloaded = threading.Event()
    reports: list[ReloadReport] = []

    def seen(report: ReloadReport) -> None:
        reports.append(report)
        if "cerebra_ver" in report.changed:
            reloaded.set()

    watcher = manager.watch(seen, debounce_ms=50)
    try:
        assert watcher.ready.wait(WAIT) and watcher.running
        write_plugin(folder, "cerebra_ver", V2)
        assert reloaded.wait(WAIT), f"no reload seen; reports: {reports}"
        assert manager.tool("version").fn() == 2 and "old-only" not in manager.tools
    finally:
        manager.close()
    assert not watcher.running


def test_watch_needs_a_folder(tmp_path: Path) -> None:
    from cerebra.plugins.loader import PluginError

    with pytest.raises(PluginError, match="no plugins folder"):
        PluginManager(folder=tmp_path / "missing").watch()


POLICY_V = """
from cerebra.governance.policy import ALLOW, Action, Decision
{prelude}

class NoX:
    name = "no-x"

    def evaluate(self, stage, text, context):
        return Decision(Action.DENY, "plugin:no-x", "x") if "x" in text else ALLOW


def register(manager):
    {wait}
    manager.add_policy(NoX())
"""


def test_a_request_during_a_reload_waits_for_the_policies(folder: Path) -> None:
    from cerebra.governance.policy import Action, PolicyContext
    from tests.plugins import gate

    write_plugin(folder, "cerebra_ver", POLICY_V.format(prelude="", wait="pass"))
    manager = PluginManager(folder=folder, entry_points=False)
    manager.load()
    engine = manager.policy_engine()
    gate.entered.clear()
    gate.release.clear()
    write_plugin(folder, "cerebra_ver", POLICY_V.format(
        prelude="from tests.plugins import gate",
        wait="gate.entered.set(); gate.release.wait(30)"))
    reloading = threading.Thread(target=manager.reload)
    reloading.start()
    assert gate.entered.wait(WAIT)  # the old policy is gone, the new one not yet added
    decisions = []
    asking = threading.Thread(target=lambda: decisions.append(
        engine.evaluate("input", "say x", PolicyContext())))
    asking.start()
    gate.release.set()
    reloading.join(WAIT)
    asking.join(WAIT)
    assert [d.action for d in decisions] == [Action.DENY]
