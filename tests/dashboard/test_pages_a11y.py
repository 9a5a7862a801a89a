"""Every dashboard page in the browser: screenshots at desktop and phone widths (kept in
test-artifacts/dashboard/), axe-core finds no serious or critical violation, nothing fails
in the page's console, nothing is fetched from another host; and the phone menu works from
the keyboard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import Live
from tests.dashboard.harness import DESKTOP, PHONE, describe
from tests.dashboard.test_pages import real_problems

PAGES = ["query", "memory", "memory/{memory}", "agents", "missions", "training/jobs",
         "training/jobs/{job}", "training/datasets", "training/kits", "training/gate",
         "training/promotions", "models", "costs", "drift", "traces", "traces/{trace}", "audit",
         "logs", "no-such-page"]


def _a_kept_trace(live: Live) -> str:
    """A trace the server kept (the seed's queries may not have been sampled)."""
    with live.client() as client:
        answer = client.post("/api/llm/query", json={"prompt": "Which trace is this?"},
                             headers={"X-Cerebra-Trace": "always"})
    answer.raise_for_status()
    trace_id: str = answer.json()["trace_id"]
    return trace_id


def _phone_width(page: Any) -> int:
    """The page's width laid out on a 390-px screen (the viewport is put back after)."""
    page.set_viewport_size(PHONE)
    try:
        width: int = page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        page.set_viewport_size(DESKTOP)
    return width


def _ready(page: Any) -> None:
    expect(page.locator("main h1")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Loading")


@pytest.mark.parametrize("route", PAGES)
def test_each_page_screenshots_and_axe(page: Any, login: Callable[..., None], live: Live,
                                       shoot: Callable[[Any, str], list[Any]],
                                       axe: Callable[[Any], list[dict[str, Any]]],
                                       page_log: Any, route: str) -> None:
    where = "#/" + route.format(memory=live.seeded.memory_ids[0], job=live.seeded.job_id,
                                trace=_a_kept_trace(live))
    login(page, to=where)
    _ready(page)
    if route == "query":  # the live query's page with an answer on it
        page.get_by_label("Prompt").fill("What is the capital of France?")
        page.get_by_role("button", name="Ask").click()
        expect(page.get_by_role("region", name="Span tree")).not_to_contain_text("Loading")
    name = route.split("/{")[0].replace("/", "-") + ("-detail" if "{" in route else "")
    assert all(p.stat().st_size > 0 for p in shoot(page, name))
    found = axe(page)
    assert not found, describe(found)
    assert real_problems(page_log) == []
    assert _phone_width(page) <= PHONE["width"], "wider than a phone's screen"
    if "{" in route or route == "no-such-page":
        heading = page.locator("main h1").inner_text()
        assert (heading == "Not found") == (route == "no-such-page"), heading


def test_the_login_page(page: Any, shoot: Callable[[Any, str], list[Any]],
                        axe: Callable[[Any], list[dict[str, Any]]], page_log: Any) -> None:
    page.goto("/dashboard#/login")
    expect(page.get_by_role("heading", name="Sign in to Cerebra")).to_be_visible()
    shoot(page, "login")
    found = axe(page)
    assert not found, describe(found)
    assert page_log.problems() == []


def test_the_phone_menu_opens_from_the_keyboard(page: Any, login: Callable[..., None]) -> None:
    login(page, to="#/query")
    expect(page.get_by_role("heading", name="Live query")).to_be_visible()  # page shown
    page.set_viewport_size(PHONE)
    menu = page.get_by_role("button", name="Menu")
    links = page.get_by_role("navigation", name="Dashboard pages")
    expect(links).to_be_hidden()
    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Costs").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**#/costs")
    expect(links).to_be_hidden()  # closed again after choosing
    expect(page.get_by_role("heading", name="Costs", exact=True)).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide at a {PHONE['width']}px screen"
