"""The CLI as a user runs it: a real subprocess, exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json

import pytest

from tests.helpers import run_cli

FAKE = {"CEREBRA_FAKE_MODEL": "1", "CEREBRA_EMBEDDER": "fake"}


def test_ask_json_recalls_previous_exchange() -> None:
    first = run_cli("ask", "Remember that my favourite colour is teal.", "--json", env=FAKE)
    assert first.returncode == 0, first.stderr
    stored = json.loads(first.stdout)["stored_memory_id"]
    second = run_cli("ask", "What is my favourite colour?", "--json", env=FAKE)
    data = json.loads(second.stdout)
    for key in ("answer", "model", "usage", "latency_ms", "trace_id", "memories"):
        assert key in data
    assert stored in [m["id"] for m in data["memories"]]
    assert all({"text", "score"} <= set(m) for m in data["memories"])


def test_memory_commands_round_trip() -> None:
    added = run_cli(
        "memory",
        "add",
        "Alice prefers green tea",
        "--agent",
        "s",
        "--tag",
        "pref",
        "--json",
        env=FAKE,
    )
    assert added.returncode == 0, added.stderr
    uid = json.loads(added.stdout)["id"]
    found = run_cli(
        "memory", "search", "green tea", "--agent", "s", "--json", "--explain", env=FAKE
    )
    hits = json.loads(found.stdout)
    assert hits[0]["id"] == uid and "signals" in hits[0]
    listed = json.loads(run_cli("memory", "list", "--json", env=FAKE).stdout)
    assert [m["id"] for m in listed] == [uid]
    assert run_cli("memory", "delete", uid, env=FAKE).returncode == 0
    gone = run_cli("memory", "delete", uid, env=FAKE)
    assert gone.returncode == 2 and gone.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("ask",),
        ("ask", "hi", "--max-tokens", "0"),
        ("ask", "hi", "--temperature", "abc"),
        ("nonsense",),
        ("memory", "add", "   "),
        ("memory", "search", "x", "--k", "0"),
        ("ask", "hi", "--model", "nope"),
    ],
)
def test_misuse_is_one_line_exit_2(args: tuple[str, ...]) -> None:
    result = run_cli(*args, env=FAKE)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:")
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr


def test_config_show_masks_secrets() -> None:
    result = run_cli(
        "config",
        "show",
        "--json",
        env={"CEREBRA_SECRET_KEY": "topsecret", "CEREBRA_DATABASE_URL": "postgresql://u:pw@h/db"},
    )
    assert result.returncode == 0
    assert "topsecret" not in result.stdout and ":pw@" not in result.stdout
    data = json.loads(result.stdout)
    assert data["secret_key"] == "**********"


def test_models_list_and_db_upgrade() -> None:
    assert json.loads(run_cli("models", "list", "--json", env=FAKE).stdout)[0]["backend"] == "fake"
    up = run_cli("db", "upgrade", env=FAKE)
    assert up.returncode == 0 and "revision" in up.stdout


def test_chat_streams_answers() -> None:
    import os
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "cerebra.cli.main", "chat"],
        input="hello\n/exit\n",
        capture_output=True,
        text=True,
        env={**os.environ, **FAKE},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "This is a fake answer." in proc.stdout


def test_models_list_shows_catalog_and_refusals() -> None:
    catalog = (
        '{"models": [{"name": "vllm", "kind": "openai", "base_url": "http://gpu:8000/v1"},'
        ' {"name": "broken", "kind": "warp"}]}'
    )
    env = {**FAKE, "CEREBRA_MODELS": catalog, "CEREBRA_ROUTER_STRATEGY": "thompson"}
    rows = json.loads(run_cli("models", "list", "--json", env=env).stdout)
    by_name = {r["name"]: r for r in rows}
    assert by_name["vllm"]["backend"] == "openai"
    assert by_name["broken"]["backend"] == "refused" and "warp" in by_name["broken"]["where"]
    assert by_name["auto"]["backend"].startswith("router")
