"""Writing plugins for the plugin tests: folder plugins (with metadata) and an installed
distribution with a `cerebra.plugins` entry point on a sys.path folder of its own."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

WAIT = 30.0  # a safety net for a broken implementation, never a synchronisation


def write_plugin(folder: Path, name: str, body: str, meta: Any = None,
                 raw_meta: str | None = None) -> Path:
    """`folder/name.py` with `body` (dedented) and, given, `name.meta.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    meta_path = folder / f"{name}.meta.json"
    if raw_meta is not None:
        meta_path.write_text(raw_meta)
    elif meta is not None:
        meta_path.write_text(json.dumps(meta))
    return path


def tool_plugin(folder: Path, name: str, tool: str, value: object, meta: Any = None) -> Path:
    """A plugin registering one tool `tool` that returns `value`."""
    return write_plugin(folder, name, f"""
        def register(manager):
            manager.add_tool({tool!r}, lambda: {value!r}, "returns {value}")
        """, meta)


def install_distribution(site: Path, dist: str, module: str, body: str,
                         entry: str) -> None:
    """A distribution `dist` in `site` (a folder to put on sys.path): its module and a
    dist-info whose entry_points.txt names `entry` in the `cerebra.plugins` group."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(body))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[cerebra.plugins]\n{entry} = {module}\n")
    (info / "RECORD").write_text("")
