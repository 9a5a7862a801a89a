"""The browser side of the dashboard tests: launch Debian's headless Chromium through
Playwright, take screenshots at desktop and phone widths, run axe-core in a page.

Nothing here downloads a browser: Playwright drives the system Chromium
(`/usr/bin/chromium`, Debian's `chromium` package) and axe-core comes from npm at set-up
(`make test` installs both; Node runs only then). A missing piece fails the test with the
command that installs it, never a skip.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_RELATIVE = Path("node/node_modules/axe-core/axe.min.js")  # under the venv (make test)
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"  # git-ignored; named in the README
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERIOUS = ("serious", "critical")
HTTP_STATUS_LINE = "Failed to load resource: the server responded with a status of"
INSTALL = "run `make test` (it installs what the browser tests need)"


def chromium_path() -> Path:
    """Debian's Chromium (DASHBOARD_TEST_CHROMIUM names another); fails the test, with the
    fix, when it is not installed."""
    path = Path(os.environ.get("DASHBOARD_TEST_CHROMIUM", "/usr/bin/chromium"))
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"Chromium is not installed at {path}: {INSTALL}, or "
                    "`apt-get install -y chromium chromium-driver`", pytrace=False)
    return path


def axe_script() -> str:
    """axe.min.js from the npm package installed into the venv; fails when it is missing."""
    for venv in (Path(sys.prefix), ROOT / ".venv"):
        path = venv / AXE_RELATIVE
        if path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.fail(f"axe-core is not installed (.venv/{AXE_RELATIVE}): {INSTALL}",
                pytrace=False)


def launch(playwright: Any) -> Any:
    """Headless Chromium with a fresh temporary profile (Playwright's launch() makes one per
    browser and deletes it on close): no sandbox (root in CI), no GPU, no QUIC, nothing
    fetched in the background."""
    return playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS,
                                      headless=True)


@dataclass
class PageLog:
    """What a page did besides rendering: console errors (other than Chromium's line for each
    HTTP error status, which tests check through the page), uncaught exceptions, and requests
    to hosts other than the test server's (aborted: nothing leaves the machine, and a
    dashboard that needs a CDN shows it here)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return [*(f"console: {m}" for m in self.console_errors),
                *(f"uncaught: {m}" for m in self.page_errors),
                *(f"external request: {u}" for u in self.external_requests)]


def watch(page: Any, log: PageLog, base_url: str) -> None:
    """Record the page's errors in `log` and abort every request off the test server."""
    local = urlsplit(base_url).netloc

    def route(r: Any) -> None:
        url = r.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about") or parts.netloc == local:
            r.continue_()
        else:
            log.external_requests.append(url)
            r.abort()

    def console(message: Any) -> None:
        # an answer's HTTP status (a 401 before sign-in, a 404 page) is the test's to check
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_LINE):
            log.console_errors.append(message.text)

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))


def shoot(page: Any, name: str, folder: Path = ARTIFACTS) -> list[Path]:
    """Full-page screenshots of what `page` shows at desktop (1280×800) and phone (390×844)
    widths: <folder>/<name>-desktop.png and <name>-phone.png. The page is left at the
    desktop size."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.") or "page"
    paths = []
    try:
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(null)))")
            path = folder / f"{safe}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
    finally:
        page.set_viewport_size(DESKTOP)
    return paths


def axe(page: Any, *, source: str | None = None) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on what `page` shows now: each as
    {id, impact, help, nodes: [css targets]}. The script is evaluated through the DevTools
    protocol (not a <script> tag), so the page's Content-Security-Policy stays as served."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source or axe_script())
    found = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' '))}));
        }""")
    return [v for v in found if v.get("impact") in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    """axe violations as lines a failing assert can show."""
    return "\n".join(f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'][:5])}"
                     for v in violations)
