"""The quality manager reads the indicators dashboard, follows a figure to the late requests
behind it, then opens one service's page."""

import datetime as dt

from qualicite.core.models import Role
from qualicite.indicators import periods, queries, rollups
from tests.e2e.browser import screenshot, tr
from tests.indicators.conftest import measured, year_of_requests  # noqa: F401 - fixtures

OCTOBER = periods.containing(dt.date(2025, 10, 1), "month")


def test_the_quality_manager_follows_a_missed_figure_to_the_late_requests_and_a_service(
    journey,
    org,
    users,
    measured,  # noqa: F811 - the fixture imported above
    year_of_requests,  # noqa: F811
):
    rollups.rebuild(org)
    in_time = measured["in-time"]
    etat_civil = org.service_set.get(code="etat-civil")
    expected = queries.results(
        org, [in_time], OCTOBER, services=list(org.service_set.filter(parent=None))
    )
    overall = expected[(in_time.pk, None)]
    journey.log_in_as(users[Role.QUALITY_MANAGER])
    page = journey.page

    # The dashboard opens on the last closed month; the manager asks for October 2025.
    journey.goto("/ville-a/espace/indicateurs/")
    journey.submit("main form.dashboard-filter", period="month", date="2025-10-10")
    assert journey.path == "/ville-a/espace/indicateurs/?period=month&date=2025-10-10"
    assert OCTOBER.label in page.locator("main h1").inner_text()
    cell = page.locator(
        'table.dashboard-matrix tr[data-code="in-time"] td[data-column="organisation"]'
    )
    assert cell.locator("a").inner_text().startswith(overall.value_display)
    assert cell.locator(".status").inner_text() == f"{overall.status_symbol} {overall.status_label}"
    # The manual indicator has no value for October: it says so in words.
    signage = page.locator('tr[data-code="signage"] td[data-column="organisation"]')
    assert tr("No data") in signage.inner_text()
    assert page.locator(f'svg#spark-{in_time.pk}-org[role="img"]').is_visible()
    screenshot(page, "indicateurs-tableau-de-bord")

    # The figure leads to the requests answered in October, then to the late ones alone.
    journey.follow(cell.locator("a"))
    assert page.locator("#drill-value").inner_text() == overall.value_display
    assert page.locator("svg#trend-chart[role=img]").is_visible()
    journey.follow(page.locator("#only-failing"))
    assert journey.path.endswith("&failing=1#records")
    late = page.locator("#records-table tbody tr")
    assert late.count() == overall.denominator - overall.numerator
    screenshot(page, "indicateurs-detail")

    # Back on the dashboard, the heading of a service opens that service's page.
    journey.follow(page.locator("main ul.actions a").first)
    journey.follow(
        page.locator("table.dashboard-matrix thead").first.get_by_role("link", name="État civil")
    )
    assert journey.path.startswith("/ville-a/espace/indicateurs/service/etat-civil/")
    mine = expected[(in_time.pk, etat_civil.pk)]
    row = page.locator('tr[data-code="in-time"]')
    assert row.locator("td.cell").inner_text() == mine.value_display
    assert row.locator(".status").inner_text() == f"{mine.status_symbol} {mine.status_label}"
    # The 12 months in figures, behind a disclosure the keyboard opens.
    summary = page.locator("details.dashboard-months summary").first
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.dashboard-months table").first.is_visible()
    screenshot(page, "indicateurs-service")
