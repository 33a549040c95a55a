"""The harness itself: axe-core really reports violations, and no visited page escapes it."""

import pytest

from tests.e2e.browser import Tracker, axe_version, check_a11y

BAD_PAGE = """<!doctype html><html><head><title>Bad</title>
<style>p { color: #aaa; background: #fff; }</style></head>
<body><main><h1>Bad</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><p>Pale</p>
</main></body></html>"""


def test_axe_reports_violations_with_rule_impact_and_target(journey):
    page = journey.page
    page.route("**/bad-page/", lambda route: route.fulfill(content_type="text/html", body=BAD_PAGE))
    page.goto(journey.url("/bad-page/"))
    with pytest.raises(pytest.fail.Exception) as failure:
        check_a11y(page)
    report = str(failure.value)
    assert f"axe-core {axe_version()} found" in report
    for rule in ("html-has-lang", "image-alt", "color-contrast"):
        assert f"- {rule} (" in report
    assert "img: <img" in report


def test_navigations_in_the_same_document_share_its_check():
    tracker = Tracker()
    tracker.record("about:blank")
    tracker.record("http://x/a/")
    tracker.mark_current_checked("http://x/a/")
    tracker.record("http://x/a/#main")
    tracker.record("http://x/b/")
    tracker.record("http://x/b/")
    tracker.mark_current_checked("http://x/b/")
    assert tracker.unchecked() == ["http://x/b/"]  # the first load of /b/ was never checked
    with pytest.raises(AssertionError, match="while the page was navigating"):
        tracker.mark_current_checked("http://x/a/")
