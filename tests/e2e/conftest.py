"""Browser journeys: Playwright drives Debian's Chromium against pytest-django's live server.

Fixtures: `chromium_browser` (session), `page` (a fresh fr-FR context per test, every
navigation tracked), `journey` (a `browser.Journey` on that page). Every document a test
visits must be checked with axe-core (`check_a11y(page)`, or any `Journey` method that loads
a page); the `page` fixture fails a test that leaves one unchecked.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.browser import AXE_PATH, Journey, track

# Playwright's sync API keeps an event loop running in the main thread; the tests and the
# live server thread still use the ORM synchronously, which Django must then allow.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
_CALL_FAILED = pytest.StashKey[bool]()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


def _missing(message: str):
    """A missing real part skips locally and fails under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium_browser():
    executable = shutil.which("chromium")
    if executable is None:
        _missing("Chromium is not installed: run `apt-get install chromium` (Debian package).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: run `pip install -e '.[test]'`.")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
    except BaseException:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Each test creates a user per role; the production hasher would take seconds per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def page(chromium_browser, live_server, request):
    context = chromium_browser.new_context(
        base_url=live_server.url, locale="fr-FR", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    # axe-core in every document up front: Chromium then caches its compiled code.
    context.add_init_script(path=str(AXE_PATH))
    page = context.new_page()
    tracker = track(page)
    try:
        yield page
    finally:
        context.close()
    if request.node.stash.get(_CALL_FAILED, True):
        return
    unchecked = tracker.unchecked()
    if unchecked:
        pytest.fail(
            "pages visited but never checked with axe (use check_a11y(page) or a Journey "
            "method): " + ", ".join(unchecked),
            pytrace=False,
        )


@pytest.fixture
def journey(page, live_server):
    return Journey(page, live_server.url)
