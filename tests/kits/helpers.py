"""Writing small kit folders for the kit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KIT_YAML = """\
name: {name}
task: demo
description: a tiny kit
prompt_template: "Q: {{{{ input }}}}\\nA:"
checker:
  kind: normalized
"""


def write_kit(folder: Path, *, name: str = "demo", yaml_text: str | None = None,
              train: list[dict[str, Any]] | None = None,
              eval_: list[dict[str, Any]] | None = None,
              checker: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kit.yaml").write_text(yaml_text if yaml_text is not None
                                     else KIT_YAML.format(name=name))
    rows = {"train.jsonl": train if train is not None else
            [{"id": f"t{i}", "input": f"train question {i}", "reference": f"a{i}"}
             for i in range(3)],
            "eval.jsonl": eval_ if eval_ is not None else
            [{"id": f"e{i}", "input": f"eval question {i}", "reference": f"b{i}"}
             for i in range(3)]}
    for file, items in rows.items():
        (folder / file).write_text("".join(json.dumps(r) + "\n" for r in items))
    if checker is not None:
        (folder / "checker.py").write_text(checker)
    return folder
