"""`cerebra datasets import | list | show | export | curate | delete` in a subprocess over
the configured database; a bad line, an unknown format or dataset exits 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli

ROWS = [{"prompt": f"question {i}", "completion": f"answer {i}"} for i in range(3)]


def _file(path: Path, rows: list[dict[str, str]], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra, encoding="utf-8")
    return path


def test_import_curate_export(tmp_path: Path) -> None:
    source = _file(tmp_path / "in.jsonl", [*ROWS, ROWS[0],
                                           {"prompt": "call +44 20 7946 0958", "completion": "ok"}])
    imported = run_cli("datasets", "import", str(source), "--name", "faq", "--task", "faq")
    assert imported.returncode == 0, imported.stderr
    assert "faq v1 (sft): 5 rows" in imported.stdout
    curated = run_cli("datasets", "curate", "faq", "--no-near-dup")
    assert curated.returncode == 0, curated.stderr
    assert "exact_duplicates: 5 in, 1 removed" in curated.stdout
    assert "phone 1" in curated.stdout and "faq v2 (sft): 4 rows" in curated.stdout
    listed = json.loads(run_cli("datasets", "list", "--json").stdout)
    assert [(d["name"], d["latest_version"], d["rows"]) for d in listed] == [("faq", 2, 4)]
    shown = json.loads(run_cli("datasets", "show", "faq", "--json").stdout)
    assert shown[1]["parent_id"] == shown[0]["id"]
    out = tmp_path / "out.jsonl"
    exported = run_cli("datasets", "export", "faq", "--format", "openai", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[-1]["messages"][0]["content"] == "call [PHONE REDACTED]"


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = _file(tmp_path / "bad.jsonl", ROWS, '{"prompt": "no answer"}\n')
    result = run_cli("datasets", "import", str(bad), "--name", "faq")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: line 4: a TRL row needs completion, or chosen and rejected"]
    skipped = run_cli("datasets", "import", str(bad), "--name", "faq", "--skip-invalid")
    assert skipped.returncode == 0 and "skipped line 4" in skipped.stderr
    for args in (("export", "faq", "--format", "csv"), ("show", "nope"),
                 ("import", str(tmp_path / "missing.jsonl"), "--name", "x"),
                 ("curate", "faq", "--no-near-dup", "--balance-by", "mood")):
        result = run_cli("datasets", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("error: "), args
