"""What plugins register, in use: a model kind serving catalog entries, policies deciding on
text (a raising one refuses), judges and tools by name."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cerebra.governance.policy import Action, PolicyContext
from cerebra.models.base import GenerationRequest
from cerebra.models.catalog import Catalog
from cerebra.models.registry import ModelRegistry
from cerebra.plugins.loader import PluginError
from cerebra.plugins.manager import PluginManager
from tests.plugins.helpers import write_plugin

ECHO = """
from pydantic import BaseModel, ConfigDict

from cerebra.testing import FakeModel


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prefix: str = "echo: "


def echo(entry):
    prefix = entry.options.get("prefix", "echo: ")
    return FakeModel(lambda prompt: prefix + prompt.split()[-1], name=entry.name)


def register(manager):
    manager.add_model_kind("echo", echo, options=EchoOptions)
"""

POLICIES = """
from cerebra.governance.policy import ALLOW, Action, Decision


class Shout:
    name = "no-shouting"

    def evaluate(self, stage, text, context):
        if text.isupper():
            return Decision(Action.DENY, "plugin:shout", "no shouting")
        return ALLOW


class Broken:
    name = "broken"

    def evaluate(self, stage, text, context):
        if "boom" in text:
            raise RuntimeError("boom")
        return ALLOW


def register(manager):
    manager.add_policy(Shout())
    manager.add_policy(Broken())
"""


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[PluginManager]:
    m = PluginManager(folder=tmp_path / "plugins", entry_points=False)
    yield m
    for info in m.plugins():
        sys.modules.pop(info.name, None)
    (tmp_path / "plugins" / "cerebra_echo.py").unlink(missing_ok=True)
    m.reload()  # unregisters the kind from the process-wide catalog kinds


def test_a_plugin_model_kind_serves_catalog_entries(tmp_path: Path,
                                                    manager: PluginManager) -> None:
    write_plugin(tmp_path / "plugins", "cerebra_echo", ECHO)
    [info] = manager.load()
    assert info.provides["model_kind"] == ["echo"]
    registry = ModelRegistry()
    report = Catalog(registry).load_text(
        "models:\n  - {name: parrot, kind: echo, options: {prefix: 'heard '}}\n")
    assert report.ok, report.errors
    request = GenerationRequest(prompt="say hello", max_tokens=8)
    answer = registry.get("parrot").generate(request)
    assert answer.text == "heard hello"


def test_an_unloaded_kind_is_unknown_to_the_catalog(tmp_path: Path,
                                                     manager: PluginManager) -> None:
    write_plugin(tmp_path / "plugins", "cerebra_echo", ECHO)
    manager.load()
    (tmp_path / "plugins" / "cerebra_echo.py").unlink()
    manager.reload()
    report = Catalog(ModelRegistry()).load_text("[{name: parrot, kind: echo}]")
    assert not report.ok and "unknown kind 'echo'" in str(report.errors[0])


def test_plugin_policies_decide_and_a_raising_one_refuses(tmp_path: Path,
                                                          manager: PluginManager) -> None:
    write_plugin(tmp_path / "plugins", "cerebra_policies", POLICIES)
    manager.load()
    engine = manager.policy_engine()
    ctx = PolicyContext(tenant_id="t1")
    assert engine.evaluate("input", "hello there", ctx).action is Action.ALLOW
    shout = engine.evaluate("input", "HELLO THERE", ctx)
    assert (shout.action, shout.rule) == (Action.DENY, "plugin:shout")
    broken = engine.evaluate("output", "it goes boom", ctx)
    assert (broken.action, broken.rule) == (Action.DENY, "plugin:cerebra_policies:error")
    assert manager.info("cerebra_policies").provides["policy"] == ["no-shouting", "broken"]


def test_tools_and_judges_by_name(tmp_path: Path, manager: PluginManager) -> None:
    write_plugin(tmp_path / "plugins", "cerebra_kit", """
        def register(manager):
            manager.add_tool("add", lambda a, b: a + b, "adds two numbers")
        """)
    manager.load()
    tool = manager.tool("add")
    assert (tool.fn(2, 3), tool.description) == (5, "adds two numbers")
    with pytest.raises(PluginError, match="no tool 'missing'"):
        manager.tool("missing")
    with pytest.raises(PluginError, match="no judge 'missing'"):
        manager.judge("missing")
