"""The web app in real headless Chromium (Debian's, driven by Playwright's Python client):
log in with the keyboard, follow the chart to a day, filter by date, correct a judgement
and find the label stored, open the Atom feed; the basics of accessibility on every page.
Screenshots of each page are kept in test-artifacts/ for a human look."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import select

from storywatch.storage.models import Label
from tests.conftest import CHROMIUM, NEEDS_CHROMIUM, REPO
from tests.test_web_support import NOW, PASSWORD, SCRIPT_TITLE, TOPIC, World, web_world

__all__ = ["web_world"]

pytestmark = NEEDS_CHROMIUM
ARTIFACTS = REPO / "test-artifacts"
# The flags that work on this machine (no GPU, no sandbox as root, no network but loopback).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Generous: a cold Chromium start on a loaded CI machine takes several seconds.
TIMEOUT_MS = 60_000

# WCAG 2.1 AA: the contrast of every visible text against the first opaque background
# behind it, >= 4.5:1 (3:1 for large text); computed in the page from computed styles.
CONTRAST_SCRIPT = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = c => { c /= 255;
    return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = el => { for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg')) continue;
    const style = getComputedStyle(el), box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width <= 1
        || box.right < 0) continue;
    const a = lum(rgb(style.color).slice(0, 3)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 ||
      (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(node.textContent.trim().slice(0, 40) + ' ' +
                                            ratio.toFixed(2));
  }
  return bad;
}
"""
# Every form control a person fills in has a label (a <label>, or aria-label).
UNLABELLED_SCRIPT = """
() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 80))
"""
HEADINGS_SCRIPT = """
() => [...document.querySelectorAll('h1, h2, h3, h4')].map(h => Number(h.tagName[1]))
"""


@pytest.fixture
def served(web_world: World) -> Iterator[str]:
    from storywatch.web.app import create_app
    from storywatch.web.serve import start_web_server

    started: list[str] = []
    app = create_app(web_world.config, web_world.storage, password=PASSWORD,
                     crawl_now=lambda source: started.append(source) or f"started {source}")
    server = start_web_server(app, "127.0.0.1:0")
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                             timeout=TIMEOUT_MS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(TIMEOUT_MS)
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.dialogs = dialogs  # type: ignore[attr-defined]
        yield tab
        context.close()
        browser.close()
    assert not dialogs, f"a script of the page ran: {dialogs}"


def check_accessibility(tab: Any, name: str, backend: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"web-{name}-{backend}.png"), full_page=True)
    levels = tab.evaluate(HEADINGS_SCRIPT)
    assert levels.count(1) == 1, f"{name}: one h1 per page, found {levels}"
    assert all(b - a <= 1 for a, b in pairwise(levels)), \
        f"{name}: heading levels skip: {levels}"
    assert tab.evaluate(UNLABELLED_SCRIPT) == [], f"{name}: form controls without a label"
    assert tab.evaluate(CONTRAST_SCRIPT) == [], f"{name}: text below WCAG AA contrast"
    assert tab.evaluate("document.documentElement.lang") == "en"


def focus_is_visible(tab: Any) -> bool:
    return bool(tab.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return document.activeElement !== document.body && s.outlineStyle !== 'none'
               && parseFloat(s.outlineWidth) >= 2; }"""))


def test_a_person_reads_filters_corrects_and_subscribes_in_chromium(
        web_world: World, served: str, page: Any, database_url: str) -> None:
    backend = database_url.split(":")[0].split("+")[0]
    tab = page
    # Logging in with the keyboard alone: the skip link comes first and shows its focus.
    tab.goto(f"{served}/")
    assert tab.url.startswith(f"{served}/login")
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.textContent") == "Skip to content"
    assert focus_is_visible(tab)
    check_accessibility(tab, "login", backend)
    tab.get_by_label("Password").fill(PASSWORD)
    tab.keyboard.press("Enter")
    tab.wait_for_url(f"{served}/")

    # Topics: the counts and the chart; a day's bar leads to that day's follow-ups.
    assert tab.get_by_role("heading", level=1).inner_text() == "Topics"
    assert "13 follow-ups" in tab.locator(".counts").inner_text()
    check_accessibility(tab, "topics", backend)
    day = (NOW - timedelta(days=2, hours=1)).date().isoformat()
    tab.locator(f'svg.chart a[href*="since={day}"]').click()
    tab.wait_for_url(f"**/followups?since={day}&until={day}")
    entries = tab.locator(".entry")
    assert entries.count() == 1
    assert "Also reported by" in entries.first.inner_text()

    # Filter by date with the form's date fields.
    tab.goto(f"{served}/topics/{TOPIC}/followups")
    assert tab.locator(".entry-title").first.inner_text() == SCRIPT_TITLE  # shown as text
    check_accessibility(tab, "followups", backend)
    since = (NOW - timedelta(days=10)).date().isoformat()
    until = (NOW - timedelta(days=9)).date().isoformat()
    tab.get_by_label("Published from").fill(since)
    tab.get_by_label("Published until").fill(until)
    tab.get_by_role("button", name="Show").click()
    tab.wait_for_url(f"**since={since}**")
    assert tab.locator(".entry-title").all_inner_texts() == [
        "Strike day 9: cranes idle", "Strike day 10: cranes idle"]

    # An item: its judgement and reasons; a click on a correction is stored.
    tab.goto(f"{served}/items/{web_world.ids['football']}")
    assert "decided by" in tab.locator(".reasons").inner_text()
    check_accessibility(tab, "item", backend)
    tab.get_by_role("button", name="follow-up").click()
    tab.get_by_text("Your label was saved").wait_for()
    with web_world.storage.session() as session:
        labels = [(label.item_id, label.topic, label.status)
                  for label in session.execute(select(Label)).scalars()]
    assert labels == [(web_world.ids["football"], TOPIC, "followup")]
    pressed = tab.get_by_role("button", name="follow-up")
    assert pressed.get_attribute("aria-pressed") == "true"

    # The Atom feed, opened as a browser opens it.
    response = tab.goto(f"{served}/topics/{TOPIC}/followups.atom")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.body())
    assert not feed.bozo and feed.entries[0].title == SCRIPT_TITLE

    # Sources and subscriptions: loaded, usable, a subscriber added from the form.
    tab.goto(f"{served}/sources")
    assert "quay-news" in tab.locator("table").inner_text()
    check_accessibility(tab, "sources", backend)
    tab.goto(f"{served}/subscriptions")
    check_accessibility(tab, "subscriptions", backend)
    tab.get_by_label("Email address").fill("ana@example.org")
    tab.get_by_label("How often").select_option("weekly")
    tab.get_by_role("button", name="Subscribe").click()
    tab.get_by_text("subscribed ana@example.org").wait_for()
    assert "weekly monday 07:00 UTC" in tab.locator("table").inner_text()
