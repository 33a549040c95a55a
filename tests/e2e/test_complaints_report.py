"""The quality manager opens the complaints report, writes the actions, downloads the PDF."""

import datetime as dt

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role
from qualicite.reports.complaints import current_year
from qualicite.reports.models import ComplaintActions, ReportEvent
from qualicite.requests.models import Outcome, Theme
from tests.conftest import PASSWORD
from tests.e2e.browser import screenshot, tr
from tests.reports.conftest import answer
from tests.reports.expected import Expected
from tests.reports.readers import pdf_lines
from tests.requests.conftest import aware, make_request, referentiel  # noqa: F401 - fixtures

ACTIONS = (
    "Nouvelle signalétique du hall d'accueil (mars).\n"
    "Réponse type aux réclamations sur la voirie, validée par le chef de service."
)


def a_year_of_complaints(org, make_request):  # noqa: F811 - the fixture, passed in
    themes = [
        Theme.objects.create(organisation=org, name="Voirie", position=1),
        Theme.objects.create(organisation=org, name="Accueil et horaires", position=2),
    ]
    services = list(org.service_set.order_by("pk"))
    kinds = [RequestKind.COMPLAINT] * 3 + [RequestKind.SUGGESTION, RequestKind.THANKS]
    channels = [Channel.LETTER, Channel.EMAIL, Channel.PHONE, Channel.WEB, Channel.DESK]
    outcomes = [Outcome.FOUNDED, Outcome.UNFOUNDED, Outcome.PARTLY_FOUNDED]
    for i in range(30):
        request = make_request(
            kind=kinds[i % len(kinds)],
            channel=channels[(i * 2) % len(channels)],
            service=services[(i * 3) % len(services)],
            theme=themes[i % 2],
            received_at=aware(2025, 1 + (i * 5) % 12, 1 + i % 27, 9, 30),
            subject=f"Demande {i}",
        )
        if request.kind == RequestKind.COMPLAINT and i % 7:
            answer(
                request,
                replied_at=request.received_at + dt.timedelta(days=3 + (i * 5) % 40),
                outcome=outcomes[i % 3],
                close=i % 4 != 0,
            )
    # The year before, for the comparison: fewer complaints, answered more slowly.
    for i in range(8):
        request = make_request(
            kind=RequestKind.COMPLAINT,
            service=services[i % len(services)],
            received_at=aware(2024, 2 + i, 10, 10),
            subject=f"Réclamation 2024 n° {i}",
        )
        answer(
            request,
            replied_at=request.received_at + dt.timedelta(days=10 + 4 * i),
            outcome=Outcome.FOUNDED,
            close=True,
        )


def test_the_quality_manager_reviews_the_year_writes_the_actions_and_downloads_the_pdf(
    journey,
    org,
    users,
    make_request,  # noqa: F811 - the fixture imported above
    referentiel,  # noqa: F811
):
    a_year_of_complaints(org, make_request)
    expected = Expected(org, 2025)
    manager = users[Role.QUALITY_MANAGER]
    page = journey.page
    journey.log_in(manager, PASSWORD)

    # The menu leads to the report of the current year; the quality manager picks 2025.
    journey.follow(page.locator("nav.main-nav").get_by_role("link", name=tr("Complaints report")))
    journey.submit("main form.report-year-form", annee="2025")
    assert journey.path.endswith("/espace/rapports/reclamations/?annee=2025")
    assert page.locator("main h1").inner_text() == tr("Complaints report %(year)s") % {"year": 2025}
    total = page.locator("#table-by_month tfoot tr")
    assert total.locator("td").all_inner_texts() == [str(v) for v in expected.totals()]
    assert page.locator("svg#chart-by-month[role=img]").is_visible()
    assert page.locator("svg#chart-by-service[role=img]").is_visible()

    # The actions decided from the complaints, written on the page.
    journey.submit("main .report-actions form", text=ACTIONS)
    assert journey.path.endswith("/espace/rapports/reclamations/?annee=2025#actions")
    assert page.locator("main .messages .message-success").inner_text() == tr(
        "Actions decided from the complaints of %(year)s saved."
    ) % {"year": 2025}
    assert page.locator("main .report-actions textarea").input_value() == ACTIONS
    assert ComplaintActions.objects.get(organisation=org, year=2025).text == ACTIONS
    assert ReportEvent.objects.get(organisation=org).actor == manager
    screenshot(page, "bilan-reclamations")

    # The PDF holds the same figures and the actions just written.
    with page.expect_download() as download:
        page.locator("main .report-downloads a[data-format=pdf]").click()
    assert download.value.suggested_filename == "bilan-reclamations-ville-a-2025.pdf"
    with open(download.value.path(), "rb") as file:
        lines = pdf_lines(file.read())
    assert " ".join([tr("Total"), *map(str, expected.totals())]) in lines
    for line in ACTIONS.splitlines():
        assert line in lines


def test_a_director_reads_the_report_and_the_actions_without_a_form(journey, org, users):
    ComplaintActions.objects.create(
        organisation=org, year=current_year(org), text="Former l'accueil au téléphone"
    )
    journey.log_in_as(users[Role.DIRECTION])
    journey.goto("/ville-a/espace/rapports/reclamations/")
    page = journey.page
    assert page.locator("main .report-actions textarea").count() == 0
    assert page.locator("main .report-downloads a").count() == 4
    assert page.locator("main .report-actions-text").inner_text() == "Former l'accueil au téléphone"
