"""The browser harness works: the seeded server answers, Chromium opens the dashboard,
login(page) signs in with a key and with a password, screenshots are written at both widths,
axe-core runs and finds what it should, and requests off the test server are stopped."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import harness, seed
from tests.dashboard.conftest import Live


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_seeded_data_is_there(live: Live) -> None:
    with live.client() as client:
        memories = client.get("/api/memory", params={"limit": 1000}).json()["memories"]
        seeded = [m for m in memories if m["text"].startswith("Note ")]
        assert len(seeded) == sum(seed.MEMORY_PAGES.values())
        assert len(memories) > len(seeded)  # the answered queries were remembered too
        answered = client.get(f"/api/interactions/{live.seeded.trace_ids[0]}")
        assert answered.status_code == 200, answered.text
        assert answered.json()["model"] == "fake-small"
        job = client.get(f"/api/v1/jobs/{live.seeded.job_id}").json()
        assert job["state"] == "succeeded", job
        assert job["metrics"]["step"] == job["metrics"]["total"] == 12
    assert live.seeded.history > seed.HISTORY_DAYS * seed.PER_DAY / 2
    assert live.seeded.drift_alerts, "the seeded latency shift raised no drift alert"
    assert {a["signal"] for a in live.seeded.drift_alerts} >= {"latency"}
    with live.client(live.other_key) as other:  # another tenant sees none of it
        assert other.get("/api/memory").json()["memories"] == []


def test_paced_job_steps_when_told(live: Live, paced_job: seed.PacedJob) -> None:
    assert not live.brain.jobs.status(paced_job.job_id).done  # waits for the test
    info = paced_job.finish()
    assert info.state == "succeeded"
    assert info.metrics["step"] == info.metrics["total"] == paced_job.steps


def test_browser_opens_the_dashboard(live: Live, page: Any, page_log: harness.PageLog,
                                     shoot: Any, tmp_path: Path) -> None:
    answer = page.goto("/dashboard")
    assert answer is not None and answer.status == 200
    assert page.title()
    shots = shoot(page, "harness-smoke")
    assert [p.name for p in shots] == ["harness-smoke-desktop.png", "harness-smoke-phone.png"]
    assert _png_size(shots[0])[0] == harness.DESKTOP["width"]
    assert _png_size(shots[1])[0] == harness.PHONE["width"]
    assert page.viewport_size == harness.DESKTOP
    assert not page_log.problems(), page_log.problems()


@pytest.mark.parametrize("how", ["key", "password"])
def test_login_lands_on_the_page_asked_for(page: Any, login: Any, how: str) -> None:
    login(page, to="#/memory", how=how)
    assert page.evaluate("() => location.hash").startswith("#/memory")
    assert page.evaluate("() => sessionStorage.length") > 0  # the session's token is kept


def test_axe_reports_serious_violations(page: Any, axe: Any) -> None:
    page.set_content('<html><head><title>bad</title></head><body><main>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                     '<button></button></main></body></html>')
    found = axe(page)
    ids = {v["id"] for v in found}
    assert {"image-alt", "button-name"} <= ids, harness.describe(found)
    page.set_content('<html lang="en"><head><title>good</title></head><body><main>'
                     '<h1>Fine</h1><button>Go</button></main></body></html>')
    assert axe(page) == []


def test_requests_off_the_server_are_stopped(live: Live, page: Any,
                                             page_log: harness.PageLog) -> None:
    page.goto("/healthz")
    outcome = page.evaluate("""() => fetch('http://198.51.100.7/x.js')
        .then(() => 'fetched', () => 'blocked')""")
    assert outcome == "blocked"
    assert page_log.external_requests == ["http://198.51.100.7/x.js"]
    assert "external request: http://198.51.100.7/x.js" in page_log.problems()


def test_missing_chromium_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("DASHBOARD_TEST_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(pytest.fail.Exception, match="make test"):
        harness.chromium_path()
