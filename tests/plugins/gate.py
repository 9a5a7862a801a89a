"""Events a test plugin waits on (plugins import this module by name)."""

from __future__ import annotations

import threading

entered = threading.Event()  # the plugin's register() has started
release = threading.Event()  # the plugin's register() may finish
