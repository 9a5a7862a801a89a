"""The dashboard's files as served (no browser): the page at /dashboard with the project's
security headers and a CSP its scripts and styles live within (no inline script, style or
handler, nothing from another origin), every module it imports present, unknown files a JSON
404, and the files in the package data."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cerebra.server.errors import install_error_handlers
from cerebra.server.hardening import HardeningMiddleware
from cerebra.server.routes import dashboard
from cerebra.server.routes.dashboard import STATIC

ROOT = Path(__file__).resolve().parents[2]
IMPORT = re.compile(r"""(?:import|from)\s*\(?\s*["'`](\.{1,2}/[^"'`$]+)["'`]""")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The dashboard's router behind the app's own hardening and error handlers (the whole
    app, with the router included by create_app, is what the browser tests open)."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(HardeningMiddleware, max_body_bytes=1 << 20)
    app.include_router(dashboard.router)
    with TestClient(app) as c:
        yield c


def test_the_page_is_served_with_the_security_headers(client: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["cache-control"] == "no-store"
        assert '<script type="module" src="/dashboard/static/js/app.js">' in answer.text


def test_no_inline_script_style_or_handler_and_nothing_from_elsewhere() -> None:
    for path in STATIC.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), path  # inline script
            assert "<style" not in text and " style=" not in text, path
            assert not re.search(r"\son[a-z]+=", text), path  # inline event handlers
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), path
        assert ".innerHTML" not in text, path  # the DOM is built from data, never parsed
        assert "setAttribute(\"style\"" not in text and "eval(" not in text, path


def test_every_module_imported_is_served(client: TestClient) -> None:
    seen, todo = set(), ["js/app.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        answer = client.get(f"/dashboard/static/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith("text/javascript")
        assert answer.headers["cache-control"] == "no-cache"
        for target in IMPORT.findall(answer.text):
            todo.append(str(Path(name).parent.joinpath(target)).replace("js/pages/../", "js/"))
    # the pages are imported by name (`./pages/${name}.js`): each route's module exists
    app = (STATIC / "js" / "app.js").read_text(encoding="utf-8")
    for page in set(re.findall(r'\], "([a-z]+)", "', app)):
        assert client.get(f"/dashboard/static/js/pages/{page}.js").status_code == 200, page
    assert client.get("/dashboard/static/app.css").headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", ["nope.js", "js", "../routes/dashboard.py", "..%2F..%2Fapp.py",
                                  "js/../../__init__.py", "%2e%2e/%2e%2e/hardening.py"])
def test_unknown_files_are_a_json_404(client: TestClient, path: str) -> None:
    answer = client.get(f"/dashboard/static/{path}")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"]  # JSON, never the file (or a stack trace)


def test_the_files_ship_in_the_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["cerebra"]
    package = ROOT / "cerebra"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    files = {p for p in STATIC.rglob("*") if p.is_file()}
    assert files and files <= shipped, sorted(str(p) for p in files - shipped)


def test_the_routes_are_public_and_out_of_the_openapi(client: TestClient) -> None:
    from cerebra.server.auth import route_requirements

    found = route_requirements(client.app)  # type: ignore[arg-type]
    assert found and all(r.public for r in found)
    assert not [p for p in client.get("/openapi.json").json()["paths"] if "dashboard" in p]
