"""The hook a plugin implements, as a pluggy specification: `register(manager)`.

A plugin module defines `def register(manager): ...` (the `hookimpl` marker is optional: a
plain function named `register` is taken as the implementation). `manager` is the
PluginManager; what the plugin adds through it during the call (tools, agents, judges, model
kinds, policies) is recorded as the plugin's own, so a reload or a failure removes exactly
that. pluggy checks the implementation's signature against this specification when the
plugin is added, so `def register(mgr)` is refused with the reason.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "cerebra"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class PluginSpec:
    """The hooks Cerebra calls on a plugin."""

    @hookspec
    def register(self, manager: Any) -> None:
        """Add the plugin's tools, agents, judges, model kinds and policies to `manager`.

        Called once per load (and again after each reload), plugin by plugin in priority
        order; sandboxed plugins are never called. Raising skips the plugin: what it added
        before raising is removed and the error is reported."""
