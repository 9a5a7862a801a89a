"""The README's layout block names every top-level module and package of cerebra/, and
nothing that is not there (so the picture cannot drift from the code)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Layout")
    fence = text.index("```\ncerebra/\n", start)
    return text[fence : text.index("```", fence + 4)]


def test_layout_names_every_top_level_module_and_package() -> None:
    block = _layout_block()
    named = set(re.findall(r"(?:^|\s)([a-z_]+(?:\.py|/))(?=\s|:|$)", block, flags=re.M))
    package = ROOT / "cerebra"
    actual = {p.name for p in package.glob("*.py") if p.name != "__init__.py"} | {
        f"{p.name}/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    missing = actual - named
    assert not missing, f"README layout does not mention: {sorted(missing)}"
    stale = {n for n in named if n.endswith((".py", "/"))} - actual - {
        "cerebra/", "benchmarks/", "docs/", "wrapper.py", "sqlvocab.py", "remote.py",
        "preflight.py", "config_doc.py",
    }  # fmt: skip
    assert not stale, f"README layout names what is not in cerebra/: {sorted(stale)}"
