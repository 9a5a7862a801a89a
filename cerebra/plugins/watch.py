"""Hot reload: a daemon thread that watches the plugins folder (watchfiles, native file
events) and runs the manager's `reload()` after each batch of changes.

`ready` is set once the watcher is in place (its first wake-up), after a first `reload()`
that catches anything changed while it was starting, so a caller can change a file after
`ready` and be sure the change is seen. `on_reload` gets each non-empty ReloadReport; a
reload that raises is logged and the watch goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from cerebra.plugins.loader import PREFIX

if TYPE_CHECKING:
    from cerebra.plugins.manager import PluginManager, ReloadReport

log = logging.getLogger("cerebra.plugins")


class Watcher:
    def __init__(self, manager: PluginManager, folder: Path,
                 on_reload: Callable[[ReloadReport], None] | None = None, *,
                 debounce_ms: int = 200, wake_ms: int = 500) -> None:
        self.manager = manager
        self.folder = folder.resolve()
        self.on_reload = on_reload
        self.debounce_ms = debounce_ms
        self.wake_ms = wake_ms
        self.ready = threading.Event()
        self.reloads = 0  # non-empty reloads so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plugins-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _relevant(self, _change: watchfiles.Change, path: str) -> bool:
        try:
            rel = Path(path).resolve().relative_to(self.folder)
        except ValueError:
            return False
        return (bool(rel.parts) and rel.parts[0].startswith(PREFIX)
                and "__pycache__" not in rel.parts and rel.suffix in (".py", ".json"))

    def _run(self) -> None:
        try:
            for changes in watchfiles.watch(
                self.folder, watch_filter=self._relevant, stop_event=self._stop,
                debounce=self.debounce_ms, rust_timeout=self.wake_ms, yield_on_timeout=True,
                raise_interrupt=False,
            ):
                first = not self.ready.is_set()
                if changes or first:
                    self._reload()
                if first:
                    self.ready.set()
        except Exception:
            log.exception("watching %s stopped", self.folder)
        finally:
            self.ready.set()  # never leave a waiter hanging on a watcher that died

    def _reload(self) -> None:
        try:
            report = self.manager.reload()
        except Exception:
            log.exception("plugin reload failed")
            return
        if report:
            self.reloads += 1
            if self.on_reload is not None:
                try:
                    self.on_reload(report)
                except Exception:
                    log.exception("on_reload callback failed")
