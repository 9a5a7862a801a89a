"""Fixtures of the dashboard's browser tests.

`live`: one uvicorn server of the real app for the whole session (authentication on,
FakeModel catalog entries with prices, FakeEmbedder), seeded through its APIs (see seed.py),
with an admin API key, a user key, a password user and an admin of another tenant.
`browser`: Debian's headless Chromium through Playwright. `page`: a fresh browser context
and page per test at 1280×800, its base URL the server's, requests off the server aborted
and recorded with console errors in `page_log`. `login(page)` signs in through the login
page (API key by default, `how="password"` for the password form). `shoot(page, name)`
saves desktop and phone screenshots in test-artifacts/dashboard/; `axe(page)` returns axe's
serious and critical violations. `paced_job` is a training-like job a test steps through.

Every test here runs with the server's settings in the environment (the autouse
`_isolated_settings` below replaces the suite's per-test one), so code that reads
get_settings() in the server's threads sees the server's home, not a test's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.dashboard import harness, seed
from tests.helpers import bearer, running_server

PASSWORD = "correct horse battery"


def api_paths(app: Any) -> set[str]:
    """The app's route paths (templates), included routers and all."""
    from cerebra.server.auth import route_requirements

    return {r.path for r in route_requirements(app)}


@dataclass
class Live:
    base_url: str
    app: Any  # the FastAPI app
    brain: Any  # its Brain
    admin_key: str
    user_key: str
    other_key: str  # an admin of tenant "other", which has no data
    username: str
    password: str
    seeded: seed.Seeded

    @property
    def routes(self) -> set[str]:
        return api_paths(self.app)

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client of the server, signed in with `key` (the admin's by default)."""
        return httpx.Client(base_url=self.base_url, headers=bearer(key or self.admin_key),
                            timeout=30)


@pytest.fixture(scope="session")
def dashboard_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    import json

    home = tmp_path_factory.mktemp("dashboard") / "home"
    return {"CEREBRA_HOME": str(home), "CEREBRA_AUTH__MODE": "on",
            "CEREBRA_MODEL__EMBEDDED": "false", "CEREBRA_MEMORY__EMBEDDER": "fake",
            "CEREBRA_CATALOG__INLINE": json.dumps({"models": seed.CATALOG}),
            "CEREBRA_HEALTH__INTERVAL_S": "0"}


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                       dashboard_env: dict[str, str]) -> Iterator[None]:
    """The server's settings for every test here (and a fresh settings cache)."""
    from cerebra.config import get_settings

    for key in list(os.environ):
        if key.startswith("CEREBRA_"):
            monkeypatch.delenv(key)
    for key, value in dashboard_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="package")
def live(dashboard_env: dict[str, str]) -> Iterator[Live]:
    from cerebra.auth.identity import IdentityStore
    from cerebra.config import get_settings
    from cerebra.server.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        for key, value in dashboard_env.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        app = create_app(get_settings())
    with running_server(app) as base_url:
        brain = app.state.brain
        identity = IdentityStore(brain.engine)
        admin, _ = identity.create_key(seed.TENANT, role="admin", name="dashboard tests")
        user, _ = identity.create_key(seed.TENANT, role="user", name="dashboard user")
        identity.create_user(seed.TENANT, "ada", PASSWORD, roles=["admin"])
        identity.create_tenant("other")
        other, _ = identity.create_key("other", role="admin")
        seeded = seed.Seeded()
        with httpx.Client(base_url=base_url, headers=bearer(admin), timeout=60) as client:
            seeded.memory_ids = seed.seed_memories(client)
            seeded.trace_ids = seed.seed_queries(client)
            seeded.history, seeded.history_cost = seed.seed_history(brain.ledger)
            seeded.job_id = seed.seed_job(brain.jobs)
            seeded.drift_alerts = seed.seed_drift(client, api_paths(app))
        yield Live(base_url, app, brain, admin, user, other, "ada", PASSWORD, seeded)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for this package, closed when its last test ends: Playwright's sync API
    keeps an event loop running on the main thread while it is open, and any later test
    that runs `asyncio.run` would fail with "cannot be called from a running event loop"."""
    harness.chromium_path()  # a clear failure before Playwright's own
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the playwright package is missing: {harness.INSTALL}", pytrace=False)
    with sync_playwright() as playwright:
        chromium = harness.launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page_log() -> harness.PageLog:
    return harness.PageLog()


@pytest.fixture
def page(browser: Any, live: Live, page_log: harness.PageLog) -> Iterator[Any]:
    context = browser.new_context(viewport=harness.DESKTOP, base_url=live.base_url)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    harness.watch(opened, page_log, live.base_url)
    yield opened
    context.close()


@pytest.fixture
def login(live: Live) -> Callable[..., None]:
    def sign_in(page: Any, *, to: str = "#/query", how: str = "key") -> None:
        """Sign in through the login page, then land on `to` (a #/ route)."""
        page.goto(f"/dashboard#/login?next={quote(to, safe='')}")
        if how == "password":
            page.get_by_label("Username").fill(live.username)
            page.get_by_label("Password", exact=True).fill(live.password)
            page.get_by_role("button", name="Sign in", exact=True).click()
        else:
            page.get_by_label("API key", exact=True).fill(live.admin_key)
            page.get_by_role("button", name="Use this key").click()
        page.wait_for_function("() => !location.hash.startsWith('#/login')")

    return sign_in


@pytest.fixture
def shoot() -> Callable[[Any, str], list[Path]]:
    return harness.shoot


@pytest.fixture(scope="session")
def axe_source() -> str:
    return harness.axe_script()


@pytest.fixture
def axe(axe_source: str) -> Callable[[Any], list[dict[str, Any]]]:
    return lambda page: harness.axe(page, source=axe_source)


@pytest.fixture
def paced_job(live: Live) -> Iterator[seed.PacedJob]:
    job = seed.PacedJob(live.brain.jobs)
    yield job
    if not live.brain.jobs.status(job.job_id).done:
        live.brain.jobs.cancel(job.job_id)
