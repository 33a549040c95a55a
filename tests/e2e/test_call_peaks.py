"""The quality manager studies the call peaks of January, by hour then by half-hour, reads the
best times to call, downloads the PDF; a wrong period is refused next to its field."""

import datetime as dt

from qualicite.core.models import Role
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr
from tests.indicators.test_sources_phone import counted_calls, standard_log, write_calls
from tests.reports.readers import pdf_lines

PAGE = "/ville-a/espace/rapports/pics-d-appels/"


def test_the_quality_manager_reads_the_call_peaks_and_downloads_the_pdf(journey, org, users):
    log = standard_log()
    write_calls(org, log)
    january = [c for c in counted_calls(log) if c.day.year == 2025 and c.day.month == 1]
    page = journey.page
    journey.log_in(users[Role.QUALITY_MANAGER], PASSWORD)
    journey.goto(PAGE)
    assert page.locator("main h1").inner_text() == tr("Call peaks")

    # January, by hour: the heat maps, their tables, the totals counted from the log.
    journey.submit("main form.call-peaks-form", periode="month", jour="2025-01-15")
    assert page.locator("svg#heat-calls[role=img]").is_visible()
    assert page.locator("svg#heat-rates[role=img]").is_visible()
    total = page.locator("#table-calls_heat tfoot td").last.inner_text()
    assert total.replace("\u202f", "").replace("\xa0", "") == str(len(january))
    monday_nine = sum(1 for c in january if c.day.weekday() == 0 and c.local.hour == 9)
    headers = page.locator("#table-calls_heat thead th").all_inner_texts()
    column = headers.index("09:00–10:00") - 1  # the first heading is over the days' names
    cell = page.locator("#table-calls_heat tbody tr[data-key='0'] td").nth(column)
    assert cell.inner_text() == str(monday_nine)
    assert page.locator("#best-times li").count() == 3

    # By half-hour: twice the columns.
    journey.submit("main form.call-peaks-form", creneau="half-hour")
    assert "creneau=half-hour" in journey.path
    headers = page.locator("#table-calls_heat thead th").all_inner_texts()
    assert "08:30–09:00" in headers and "09:00–09:30" in headers
    screenshot(page, "pics-d-appels")

    # The PDF holds the same advice.
    first_advice = page.locator("#best-times li").first.inner_text()
    with page.expect_download() as download:
        page.locator("main .report-downloads a[data-format=pdf]").click()
    assert download.value.suggested_filename == "pics-d-appels-ville-a-2025-01-01-2025-01-31.pdf"
    with open(download.value.path(), "rb") as file:
        text = " ".join(pdf_lines(file.read()))
    assert first_advice.split(":")[0] in text

    # A custom period that ends before it starts: the message is next to the field.
    journey.submit("main form.call-peaks-form", periode="custom", du="2025-01-31", au="2025-01-01")
    error = page.locator("#id_au_error")
    assert error.inner_text() == tr("The last day cannot come before the first.")
    assert page.locator("#id_au").get_attribute("aria-invalid") == "true"
    assert page.locator("#heat-calls").count() == 0


def test_a_restricted_head_sees_only_their_services_calls(journey, org):
    from tests.indicators.values_support import head_of

    log = standard_log()
    write_calls(org, log)
    head = head_of(org, "etat-civil")
    journey.log_in_as(head)
    journey.goto(PAGE + "?periode=week&jour=2025-01-08")
    page = journey.page
    calls = [
        c
        for c in counted_calls(log)
        if dt.date(2025, 1, 6) <= c.day <= dt.date(2025, 1, 12)
        and c.service_code in ("etat-civil", "naissances")
    ]
    total = page.locator("#table-calls_heat tfoot td").last.inner_text()
    assert total == str(len(calls))
    options = page.locator("#id_service option").all_inner_texts()
    assert "Accueil" not in options and "État civil" in options
