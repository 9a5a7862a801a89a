"""One turn of the loop end to end through a running server's API on the real Gemma: the
task's prompts served as raw completions, the kit's checker as the user's feedback (thumbs,
corrections, the task label) on the trace ids the responses name, a stored workflow, a cycle
job streamed to its end, the gate's report, the promoted adapter answering under
"base:task" and listed with its lineage, the trigger that fires on new ratings, and a
rollback to the base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import bearer, live_gemma_server

pytestmark = [pytest.mark.slow, pytest.mark.engine_in_process]  # a live server, real model

BASE = "gemma-3-270m"
TASK = "date-iso"
SERVED = f"{BASE}:{TASK}"
WORKFLOW = """name: tiny
extends: sft-lora-cpu
max_steps: 6
micro_batch_size: 4
learning_rate: 3e-4
"""


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch, gguf_path: Path, gguf_sha256: str) -> Any:
    from cerebra.auth.identity import IdentityStore

    with live_gemma_server(monkeypatch, gguf_path, gguf_sha256,
                           CEREBRA_IMPROVE__TRIGGER_CHECK_S="0") as (url, app):
        identity = IdentityStore(app.state.brain.engine)
        yield url, bearer(identity.create_key("default", role="admin")[0])


def end_of(client: httpx.Client, key: dict[str, str], job_id: str) -> dict[str, Any]:
    """The job's final view, from its event stream (which ends with the job)."""
    last: dict[str, Any] = {}
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=key,
                       timeout=httpx.Timeout(60.0, read=900.0)) as stream:
        event = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "end":
                last = json.loads(line[6:])
    return last


def test_a_cycle_through_the_api_promotes_and_rolls_back(live: Any) -> None:
    from cerebra.kits.registry import get_kit

    url, admin = live
    kit = get_kit(TASK)
    with httpx.Client(base_url=url, timeout=120) as client:
        made = client.post("/api/v1/workflows/create", headers=admin, json={"yaml": WORKFLOW})
        assert made.status_code == 201, made.text
        policy = client.put(f"/api/v1/improve/triggers/{TASK}", headers=admin,
                            json={"workflow": "tiny", "min_new_examples": 12})
        assert policy.status_code == 200, policy.text
        passed = 0
        for item in kit.train[:12]:  # the app's traffic, rated by the kit's checker
            answer = client.post("/v1/completions", headers=admin, json={
                "model": BASE, "prompt": kit.prompt(item), "max_tokens": kit.spec.max_tokens,
                "temperature": 0.0, "stop": ["\n"]})
            assert answer.status_code == 200, answer.text
            trace = answer.json()["cerebra"]["trace_id"]
            ok = kit.check(item, answer.json()["choices"][0]["text"]).passed
            passed += ok
            signals = [{"kind": "thumbs", "value": float(ok), "task": TASK},
                       {"kind": "label", "text": TASK}]
            if not ok:
                signals.append({"kind": "correction", "text": kit.completion(item)})
            for signal in signals:
                sent = client.post(f"/api/v1/traces/{trace}/signals", headers=admin,
                                   json=signal)
                assert sent.status_code == 201, sent.text
        assert passed < 12  # the base model gets some wrong: there is something to learn

        # the trigger sees 12 new ratings and fires; its job is the cycle (cancelled here:
        # the cycle below is the measured one, with small gate sizes)
        checked = client.post("/api/v1/improve/triggers/check", headers=admin)
        assert checked.status_code == 200, checked.text
        fired = [e for e in checked.json()["events"]
                 if e["task"] == TASK and e["action"] == "fired"]
        assert len(fired) == 1 and fired[0]["job_id"]
        client.post(f"/api/v1/jobs/{fired[0]['job_id']}/cancel", headers=admin)
        assert end_of(client, admin, fired[0]["job_id"])["state"] in {"cancelled", "failed"}

        started = client.post(f"/api/v1/improve/{TASK}/cycle", headers=admin, json={
            "workflow": "tiny", "eval_limit": 12, "guard_limit": 2})
        assert started.status_code == 202, started.text
        job = end_of(client, admin, started.json()["job_id"])
        assert job["state"] == "succeeded", job
        result = job["result"]
        assert result["dataset"]["rows"] == 12 and result["training"]["steps"] == 6
        gate = result["gate"]
        assert gate["n"] == 12 and set(gate["guards"]) and gate["ppl"] is not None
        assert result["outcome"] == "promoted", gate  # 6 steps teach the date format
        assert gate["candidate"] > gate["baseline"] and gate["p_value"] < 0.05
        report = client.get(f"/api/v1/gate/reports/{result['gate_report_id']}", headers=admin)
        assert report.status_code == 200 and report.json()["decision"] == "promote"

        item = kit.eval[0]
        tuned = client.post("/v1/completions", headers=admin, json={
            "model": SERVED, "prompt": kit.prompt(item), "max_tokens": kit.spec.max_tokens,
            "temperature": 0.0, "stop": ["\n"]})
        assert tuned.status_code == 200, tuned.text
        versions = client.get("/api/v1/models/versions", headers=admin,
                              params={"name": SERVED}).json()
        serving = [v for v in versions["versions"] if v["state"] == "serving"]
        assert [v["id"] for v in serving] == [result["version_id"]]
        assert serving[0]["gate_report_id"] == result["gate_report_id"]
        assert serving[0]["dataset_version_id"] == result["dataset"]["id"]

        back = client.post(f"/api/v1/models/{SERVED}/rollback", headers=admin)
        assert back.status_code == 200, back.text
        plain = client.post("/v1/completions", headers=admin, json={
            "model": SERVED, "prompt": kit.prompt(item), "max_tokens": kit.spec.max_tokens,
            "temperature": 0.0, "stop": ["\n"]})
        base = client.post("/v1/completions", headers=admin, json={
            "model": BASE, "prompt": kit.prompt(item), "max_tokens": kit.spec.max_tokens,
            "temperature": 0.0, "stop": ["\n"]})
        assert plain.json()["choices"][0]["text"] == base.json()["choices"][0]["text"]
