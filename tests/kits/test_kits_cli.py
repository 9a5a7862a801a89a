"""`cerebra kits list | show | install | run` in a subprocess: the built-in kits, an install
into the test home, a run through the Brain on the fake model (its fixed answer fails every
item), and misuse exiting 2 with one line."""

from __future__ import annotations

import json
from pathlib import Path

from cerebra.config import get_settings
from tests.helpers import run_cli
from tests.kits.helpers import write_kit


def test_list_show_and_install(tmp_path: Path) -> None:
    listed = json.loads(run_cli("kits", "list", "--json").stdout)
    names = {k["name"]: k for k in listed["kits"]}
    assert names["ticket-triage"]["origin"] == "builtin"
    shown = json.loads(run_cli("kits", "show", "invoice-extract", "--json").stdout)
    assert shown["checker"] == "json_schema" and shown["prompt_example"].endswith("JSON:")
    done = run_cli("kits", "install", str(write_kit(tmp_path / "src", name="mine")))
    assert done.returncode == 0 and "installed mine (3 train, 3 eval items)" in done.stdout
    assert (get_settings().home / "kits" / "mine" / "kit.yaml").is_file()
    assert "mine" in run_cli("kits", "list").stdout
    again = run_cli("kits", "install", str(tmp_path / "src"))
    assert again.returncode == 2 and "installed already" in again.stderr


def test_misuse_exits_2_with_one_line(tmp_path: Path) -> None:
    missing = run_cli("kits", "show", "nope")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: no kit named 'nope'"
    bad = write_kit(tmp_path / "bad", name="bad")
    (bad / "kit.yaml").write_text((bad / "kit.yaml").read_text() + "extra_key: 1\n")
    refused = run_cli("kits", "install", str(bad))
    assert refused.returncode == 2
    assert "kit.yaml line 7: extra_key" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert run_cli("kits", "run", "date-iso", "--limit", "0").returncode == 2


def test_run_evaluates_through_the_brain() -> None:
    env = {"CEREBRA_MODEL__FAKE": "true", "CEREBRA_MEMORY__EMBEDDER": "fake"}
    done = run_cli("kits", "run", "ticket-triage", "--limit", "3", "--json", "--items",
                   env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["kit"], result["total"], result["passed"]) == ("ticket-triage", 3, 0)
    assert result["accuracy"] == 0.0 and 0 < result["high"] < 1
    # the kit's max_tokens (4) reaches the model: the fake answer is cut to four words
    assert [i["answer"] for i in result["items"]] == ["This is a fake"] * 3
    text = run_cli("kits", "run", "date-iso", "--limit", "2", env=env).stdout
    assert "date-iso on" in text and "0/2 = 0.0%" in text
