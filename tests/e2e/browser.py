"""Helpers for the browser journeys: axe-core on every page, screenshots, a `Journey` driver.

Every main-frame navigation of a tracked page is recorded; `check_a11y(page)` runs axe-core
on the current document and marks it checked. The `page` fixture fails a test that left a
visited document unchecked, so no page escapes the accessibility check. `Journey` does the
bookkeeping for you: each of its methods that loads a page runs axe on it.
"""

from __future__ import annotations

import os
import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin

import axe_playwright_python
import pytest
from django.utils import translation

REPO_DIR = Path(__file__).resolve().parents[2]
CAPTURES_DIR = REPO_DIR / "docs" / "guide" / "captures"
AXE_PATH = Path(axe_playwright_python.__file__).resolve().parent / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target, html: n.html, summary: n.failureSummary})),
  }));
}"""

# Stylesheets that did not load: colour-contrast results mean nothing without them.
_UNSTYLED = """() => Array.from(document.querySelectorAll('link[rel="stylesheet"]'))
  .filter((link) => {
    try { return !link.sheet || link.sheet.cssRules.length === 0; } catch (e) { return true; }
  })
  .map((link) => link.href)"""

_axe_source: str | None = None


def _axe_script() -> str:
    global _axe_source
    if _axe_source is None:
        _axe_source = AXE_PATH.read_text(encoding="utf-8")
    return _axe_source


def axe_version() -> str:
    found = re.search(r"axe v([\d.]+)", _axe_script()[:200])
    return found.group(1) if found else "unknown"


# --- Navigation tracking -------------------------------------------------------------------


@dataclass
class Visit:
    url: str
    document: int


@dataclass
class Tracker:
    """Main-frame navigations of one page, grouped by document, and which were checked.

    A navigation that only changes the fragment of the current URL (a skip link, an anchor)
    stays in the same document; every other navigation starts a new document.
    """

    visits: list[Visit] = field(default_factory=list)
    checked: set[int] = field(default_factory=set)

    def record(self, url: str) -> None:
        if url == "about:blank":
            return
        if self.visits:
            last = self.visits[-1]
            if "#" in url and urldefrag(url).url == urldefrag(last.url).url:
                self.visits.append(Visit(url, last.document))
                return
            document = last.document + 1
        else:
            document = 0
        self.visits.append(Visit(url, document))

    def mark_current_checked(self, url: str) -> None:
        if not self.visits:
            raise AssertionError(f"axe ran on {url} but no navigation was recorded")
        current = self.visits[-1]
        if urldefrag(current.url).url != urldefrag(url).url:
            raise AssertionError(f"axe ran on {url} while the page was navigating to {current.url}")
        self.checked.add(current.document)

    def unchecked(self) -> list[str]:
        return [visit.url for visit in self.visits if visit.document not in self.checked]


_trackers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def track(page) -> Tracker:
    """Record every main-frame navigation of `page` (the `page` fixture does it)."""
    tracker = Tracker()
    _trackers[page] = tracker

    def on_navigated(frame) -> None:
        if frame.parent_frame is None:
            tracker.record(frame.url)

    page.on("framenavigated", on_navigated)
    return tracker


# --- Checks ----------------------------------------------------------------------------------


def format_violations(url: str, violations: list[dict]) -> str:
    lines = [f"axe-core {axe_version()} found {len(violations)} violation(s) on {url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}"
            f" <{violation['helpUrl']}>"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    {target}: {node['html'][:160]}")
            summary = (node.get("summary") or "").replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def check_a11y(page) -> None:
    """Run axe-core (WCAG 2.0/2.1 A and AA) on the current document; fail on any violation."""
    page.wait_for_load_state("load")
    url = page.url
    unstyled = page.evaluate(_UNSTYLED)
    if unstyled:
        pytest.fail(f"stylesheets not loaded on {url}: {', '.join(unstyled)}", pytrace=False)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_script())
    violations = page.evaluate(_AXE_RUN, AXE_TAGS)
    tracker = _trackers.get(page)
    if tracker is not None:
        tracker.mark_current_checked(url)
    if violations:
        pytest.fail(format_violations(url, violations), pytrace=False)


def screenshot(page, name: str) -> Path | None:
    """Save a full-page capture to docs/guide/captures/<name>.png when QUALICITE_SCREENSHOTS=1."""
    if os.environ.get("QUALICITE_SCREENSHOTS") != "1":
        return None
    CAPTURES_DIR.mkdir(parents=True, exist_ok=True)
    path = CAPTURES_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def tr(message: str, language: str = "fr") -> str:
    """`message` as the application shows it in `language` (whatever the catalogue holds)."""
    with translation.override(language):
        return str(translation.gettext(message))


# --- The driver ------------------------------------------------------------------------------


class Journey:
    """Drive one tracked page of the live server; every page loaded is checked with axe.

    - goto(path, status=200): open a URL (relative to the live server), check it.
    - follow(target, status=200): click a link or button that loads a page, check it.
    - submit(form, status=200, **fields): fill fields by name, click the form's submit button.
    - press(field, key, status=200): press a key in a field (Enter submits), check the page.
    - log_in(user) / log_out(): through the login form and the header button.
    - log_in_as(user): set a session cookie (no page visited) for journeys that start later.
    """

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url.rstrip("/")

    def url(self, path: str) -> str:
        return urljoin(self.base_url + "/", path)

    @property
    def path(self) -> str:
        return self.page.url.removeprefix(self.base_url)

    def _locator(self, target):
        return self.page.locator(target) if isinstance(target, str) else target

    def _checked(self, response, status: int | None, action: str):
        if status is not None:
            got = response.status if response is not None else None
            assert got == status, f"{action}: expected HTTP {status}, got {got} at {self.page.url}"
        check_a11y(self.page)
        return response

    def goto(self, path: str, *, status: int | None = 200):
        response = self.page.goto(self.url(path))
        return self._checked(response, status, f"GET {path}")

    def follow(self, target, *, status: int | None = 200):
        locator = self._locator(target)
        with self.page.expect_navigation() as navigation:
            locator.click()
        return self._checked(navigation.value, status, f"click {locator}")

    def submit(self, form="main form", *, status: int | None = 200, **fields):
        form = self._locator(form)
        for name, value in fields.items():
            field_ = form.locator(f'[name="{name}"]')
            if field_.evaluate("(element) => element.tagName") == "SELECT":
                field_.select_option(value)
            else:
                field_.fill(value)
        with self.page.expect_navigation() as navigation:
            form.locator('[type="submit"]').click()
        return self._checked(navigation.value, status, f"submit {form}")

    def press(self, target, key: str, *, status: int | None = 200):
        """Press a key in a field (Enter submits its form) and check the page it loads."""
        locator = self._locator(target)
        with self.page.expect_navigation() as navigation:
            locator.press(key)
        return self._checked(navigation.value, status, f"press {key} in {locator}")

    def log_in(self, user, password: str, *, status: int | None = 200):
        self.goto("/connexion/")
        return self.submit(
            "main form", status=status, username=user.get_username(), password=password
        )

    def log_out(self):
        return self.follow(self.page.locator("header .account").get_by_role("button"))

    def log_in_as(self, user) -> None:
        from django.conf import settings
        from django.test import Client

        client = Client()
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        self.page.context.add_cookies(
            [{"name": name, "value": client.cookies[name].value, "url": self.base_url}]
        )
