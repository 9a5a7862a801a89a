"""A mission with both real local models: one agent answers with Gemma 3 270M, another with
SmolLM2 135M Instruct; afterwards `cerebra agents list` and GET /api/agents show one promoted
and the other sandboxed.

The mission is built to be decided at temperature 0: asked to greet, Gemma (a base model)
answers just " Hello." while SmolLM2 (an instruct model) answers with a sentence or more
("Hello. I'm glad to be of service…", "I'm here to help…"), and the check asks for a bare
greeting. Three prompts are three results each, so the career thresholds are set for three
results (promotion at a lower bound of 0.4, the sandbox below an upper bound of 0.6: three
passes give [0.44, 1], three failures [0, 0.56]).

llama.cpp never runs in the pytest process: the mission runs in `cerebra missions run` (a
child process); the API is read with a fake model (it only reads the database)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import run_cli

pytestmark = pytest.mark.slow

GEMMA, SMOL = "gemma-3-270m", "smollm2-135m-instruct"
MISSION = """\
name: greetings
description: a bare greeting, nothing more
max_tokens: 8
temperature: 0.0
prompts:
  - prompt: Say hello.
    check: {kind: regex, expected: '^\\W*hello\\W*$'}
  - prompt: Say hi.
    check: {kind: regex, expected: '^\\W*hello\\W*$'}
  - prompt: Greet me.
    check: {kind: regex, expected: '^\\W*hello\\W*$'}
"""


@pytest.fixture
def real_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf_path: Path,
             gguf_sha256: str) -> dict[str, str]:
    for key in [k for k in os.environ if k.startswith("CEREBRA_")]:
        monkeypatch.delenv(key)
    env = {"CEREBRA_HOME": str(tmp_path / "h"),
           "CEREBRA_MODEL__PATH": str(gguf_path),
           "CEREBRA_MODEL__SHA256": gguf_sha256,
           "CEREBRA_MODEL__N_CTX": "1024",
           "CEREBRA_MEMORY__EMBEDDER": "fake",
           "CEREBRA_HEALTH__INTERVAL_S": "0",
           "CEREBRA_AGENTS__PROMOTE_MIN_RESULTS": "3",
           "CEREBRA_AGENTS__PROMOTE_LOWER_BOUND": "0.4",
           "CEREBRA_AGENTS__SANDBOX_MIN_RESULTS": "3",
           "CEREBRA_AGENTS__SANDBOX_UPPER_BOUND": "0.6"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_a_mission_with_both_local_models_promotes_one_and_sandboxes_the_other(
        real_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for agent, model in (("gemma_agent", GEMMA), ("smol_agent", SMOL)):
        made = run_cli("agents", "create", agent, "--trait", "curious", "--model", model)
        assert made.returncode == 0, made.stderr
    mission = tmp_path / "greetings.yaml"
    mission.write_text(MISSION)
    assert run_cli("missions", "add", str(mission)).returncode == 0
    ran = run_cli("missions", "run", "greetings", "--json", timeout=900)
    assert ran.returncode == 0, ran.stderr
    run = json.loads(ran.stdout)
    shown = run_cli("missions", "runs", "--id", run["id"], "--json")
    outcomes = json.loads(shown.stdout)["outcomes"]
    answers = {(o["agent_id"], o["prompt_index"]): (o["model"], o["answer"], o["passed"])
               for o in outcomes}
    assert all(answers[("gemma_agent", i)][0] == GEMMA for i in range(3)), answers
    assert all(answers[("smol_agent", i)][0] == SMOL for i in range(3)), answers
    assert run["summary"]["agents"]["gemma_agent"]["passed"] == 3, answers
    assert run["summary"]["agents"]["smol_agent"]["passed"] == 0, answers

    listed = run_cli("agents", "list", "--json")
    titles = {a["id"]: a["title"] for a in json.loads(listed.stdout)}
    assert titles == {"gemma_agent": "promoted", "smol_agent": "sandboxed"}
    table = run_cli("agents", "list", env={"COLUMNS": "200"}).stdout
    assert "promoted" in table and "sandboxed" in table

    monkeypatch.setenv("CEREBRA_MODEL__FAKE", "true")  # the API only reads the database
    monkeypatch.setenv("CEREBRA_AUTH__MODE", "off")
    from fastapi.testclient import TestClient

    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    get_settings.cache_clear()
    try:
        with TestClient(create_app(get_settings())) as client:
            body = client.get("/api/agents").json()
            reasons = client.get("/api/agents/smol_agent").json()["history"][-1]["reason"]
    finally:
        get_settings.cache_clear()
    assert {a["id"]: a["title"] for a in body["agents"]} == titles
    assert "mission greetings" in reasons
