"""Entry-point plugins: a real distribution (dist-info with entry_points.txt) on a sys.path
folder, found by importlib.metadata in the `cerebra.plugins` group."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.plugins.manager import PluginManager
from tests.plugins.helpers import install_distribution, tool_plugin

BODY = """
PLUGIN_META = {"priority": 7, "description": "from a wheel"}

def register(manager):
    manager.add_tool("installed", lambda: "from the distribution")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    install_distribution(site, "cerebra-demo-plugin", "cerebra_demo_ep", BODY, "demo")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("cerebra_demo_ep", None)


def test_an_entry_point_plugin_is_found_and_registered(site: Path) -> None:
    manager = PluginManager(entry_points=True)
    infos = {i.name: i for i in manager.load()}
    info = infos["demo"]
    assert (info.source, info.origin, info.state) == ("entry_point", "cerebra_demo_ep",
                                                       "registered")
    assert (info.meta.priority, info.meta.description) == (7, "from a wheel")
    assert manager.tool("installed").fn() == "from the distribution"


def test_entry_points_off_loads_none(site: Path) -> None:
    manager = PluginManager(entry_points=False)
    assert manager.load() == []
    assert "installed" not in manager.tools


def test_folder_and_entry_point_plugins_together(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    tool_plugin(folder, "cerebra_local", "local", 1)
    manager = PluginManager(folder=folder)
    names = [i.name for i in manager.load()]
    assert names[:1] == ["demo"]  # priority 7 before 0
    assert "cerebra_local" in names
    assert set(manager.tools) >= {"installed", "local"}
    sys.modules.pop("cerebra_local", None)


def test_an_entry_point_whose_module_raises_is_reported(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    install_distribution(site, "cerebra-bad-plugin", "cerebra_bad_ep",
                         "import no_such_module_anywhere\n", "bad")
    monkeypatch.syspath_prepend(str(site))
    infos = {i.name: i for i in PluginManager().load()}
    assert infos["bad"].state == "failed" and infos["bad"].stage == "import"
    assert "no_such_module_anywhere" in (infos["bad"].error or "")
