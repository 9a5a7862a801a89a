"""Effect checks of the plugins settings: enabled, the folder, entry points, hot reload."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cerebra.governance.guard import PolicyDenied
from tests.effects.base import WAIT, Env, effect
from tests.plugins.helpers import install_distribution, tool_plugin, write_plugin

POLICY = """
from cerebra.governance.policy import ALLOW, Action, Decision

class NoSecrets:
    name = "no-secrets"

    def evaluate(self, stage, text, context):
        if "{word}" in text:
            return Decision(Action.DENY, "plugin:no-secrets", "mentions {word}")
        return ALLOW

def register(manager):
    manager.add_policy(NoSecrets())
"""


def _policy_plugin(folder: Path, word: str = "xyzzy") -> None:
    write_plugin(folder, "cerebra_effect_policy", POLICY.replace("{word}", word))


@effect("CEREBRA_PLUGINS__ENABLED")
def _enabled(env: Env) -> None:
    folder = env.tmp / "plugins"
    _policy_plugin(folder)
    off = env.brain(CEREBRA_PLUGINS__FOLDER=str(folder))
    assert off.plugins is None and off.ask("say xyzzy").answer
    on = env.brain(CEREBRA_PLUGINS__ENABLED="true")
    assert on.plugins is not None
    assert [i.state for i in on.plugins.plugins()] == ["registered"]
    with pytest.raises(PolicyDenied, match="xyzzy"):
        on.ask("say xyzzy")


@effect("CEREBRA_PLUGINS__FOLDER")
def _folder(env: Env) -> None:
    home = env.set(CEREBRA_PLUGINS__ENABLED="true", CEREBRA_PLUGINS__ENTRY_POINTS="false").home
    tool_plugin(home / "plugins", "cerebra_effect_tool", "home-tool", 1)  # the default
    mine = env.tmp / "mine"
    tool_plugin(mine, "cerebra_effect_tool", "mine-tool", 2)
    default = env.brain()
    assert default.plugins is not None and set(default.plugins.tools) == {"home-tool"}
    chosen = env.brain(CEREBRA_PLUGINS__FOLDER=str(mine))
    assert chosen.plugins is not None and set(chosen.plugins.tools) == {"mine-tool"}


@effect("CEREBRA_PLUGINS__ENTRY_POINTS")
def _entry_points(env: Env) -> None:
    site = env.tmp / "site"
    install_distribution(site, "cerebra-effect-plugin", "cerebra_effect_ep", """
        def register(manager):
            manager.add_tool("installed", lambda: 1)
        """, "effect-ep")
    env.monkeypatch.syspath_prepend(str(site))
    folder = str(env.tmp / "empty")
    on = env.brain(CEREBRA_PLUGINS__ENABLED="true", CEREBRA_PLUGINS__FOLDER=folder)
    assert on.plugins is not None and "installed" in on.plugins.tools
    off = env.brain(CEREBRA_PLUGINS__ENTRY_POINTS="false")
    assert off.plugins is not None and "installed" not in off.plugins.tools


@effect("CEREBRA_PLUGINS__WATCH")
def _watch(env: Env) -> None:
    folder = env.tmp / "plugins"
    _policy_plugin(folder, "xyzzy")
    base = {"CEREBRA_PLUGINS__ENABLED": "true", "CEREBRA_PLUGINS__FOLDER": str(folder),
            "CEREBRA_PLUGINS__ENTRY_POINTS": "false"}
    still = env.brain(**base)
    assert still.plugins is not None and not still.plugins.watching
    brain = env.brain(CEREBRA_PLUGINS__WATCH="true")
    assert brain.plugins is not None and brain.plugins.watching
    reloaded = threading.Event()
    brain.plugins.subscribe(lambda report: reloaded.set() if report.changed else None)
    assert all(w.ready.wait(WAIT) for w in brain.plugins.watchers)
    _policy_plugin(folder, "plugh")  # the policy now refuses another word
    assert reloaded.wait(WAIT), "the watcher did not reload the changed plugin"
    assert brain.ask("say xyzzy").answer
    with pytest.raises(PolicyDenied, match="plugh"):
        brain.ask("say plugh")
