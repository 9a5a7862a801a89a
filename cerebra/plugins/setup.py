"""Plugins from settings: the PluginManager a Brain starts with (`plugins` group) and the
policy guard that applies the plugins' policies to every request."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from cerebra.plugins.manager import PluginManager

if TYPE_CHECKING:
    from cerebra.config import Settings
    from cerebra.governance.guard import PolicyGuard

log = logging.getLogger("cerebra.plugins")


def plugins_folder(settings: Settings) -> Path:
    folder = settings.plugins.folder
    return folder.expanduser() if folder is not None else settings.home / "plugins"


def build_plugins(settings: Settings) -> PluginManager | None:
    """The loaded plugins (None when `plugins.enabled` is off), watched for changes when
    `plugins.watch` is on and the folder exists. Failed plugins are logged and listed."""
    p = settings.plugins
    if not p.enabled:
        return None
    folder = plugins_folder(settings)
    manager = PluginManager(folder=folder, entry_points=p.entry_points)
    infos = manager.load()
    log.info("plugins: %s", ", ".join(f"{i.name} ({i.state})" for i in infos) or "none")
    if p.watch:
        if folder.is_dir():
            manager.watch()
        else:
            log.warning("plugins.watch is on but %s is not a folder: nothing to watch", folder)
    return manager


def plugin_policy_guard(manager: PluginManager) -> PolicyGuard | None:
    """A PolicyGuard over the plugins' policies, as they are at each request; None when no
    plugin registered one and none can arrive later (no watcher), so the path stays as it
    was (no output held back for a policy that does not exist)."""
    from cerebra.governance.guard import PolicyGuard

    if not manager.policies and not manager.watching:
        return None
    return PolicyGuard(manager.policy_engine())
