"""A citizen reads the town's results from its commitments page and prints the hall poster."""

import io

import pypdf

from qualicite.charter import services as charter_services
from qualicite.indicators.queries import STATUS_SYMBOLS, Status
from tests.e2e.browser import screenshot, tr
from tests.indicators.conftest import measured  # noqa: F401 - fixture
from tests.indicators.test_public_results import (  # noqa: F401 - fixtures
    A3,
    A4,
    annexe,
    last_month,
    published,
    share,
)

NAMES = {
    "answered": "Demandes ayant reçu une réponse",
    "letters-in-time": "Courriers répondus dans le délai annoncé",
    "median": "Délai de réponse médian",
    "acts": "Actes d'état civil délivrés dans le délai annoncé",
    "signage": "Signalétique vérifiée et à jour",
}


def test_a_citizen_reads_the_results_site_by_site_and_downloads_the_poster(
    journey,
    org,
    published,  # noqa: F811 - the fixture imported above
    last_month,  # noqa: F811
):
    # Names as a town would write them, for the guide's capture.
    for code, name in NAMES.items():
        charter_services.update_indicator(published[code], actor=None, name=name)
    page = journey.page
    journey.goto("/ville-a/")
    journey.follow(page.locator("main .public-results-link a"))
    assert journey.path == "/ville-a/resultats/"
    assert page.locator("main h1").inner_text() == tr("Our commitments, our results")

    # The whole organisation first, then each site, with its own figures.
    places = page.locator("main section.results-place")
    assert places.locator("h2").all_inner_texts() == [
        tr("All our services"),
        "Hôtel de ville",
        "Mairie annexe",
    ]
    town_hall = page.locator('section[data-place="mairie"] tr[data-indicator="answered"]')
    assert town_hall.locator("td.result .result-value").inner_text() == share(5, 6)
    assert town_hall.locator("td.result .result-period").inner_text() == last_month.label
    status = town_hall.locator("td.result-status").inner_text()
    assert status == f"{STATUS_SYMBOLS[Status.MISSED]} {tr('Missed')}"
    assert page.locator('tr[data-indicator="complaint-rate"]').count() == 0
    screenshot(page, "resultats-publics")

    # The A4 poster downloads as a PDF with the same figures.
    with page.expect_download() as download:
        page.locator('main .results-poster a[data-format="a4"]').click()
    assert download.value.failure() is None
    assert download.value.suggested_filename == "nos-resultats-ville-a-a4.pdf"
    with open(download.value.path(), "rb") as file:
        reader = pypdf.PdfReader(io.BytesIO(file.read()))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert share(5, 6) in text and "Mairie annexe" in text
    a4 = reader.pages[0].mediabox
    assert abs(float(a4.width) - A4[0]) < 0.5 and abs(float(a4.height) - A4[1]) < 0.5

    # The A3 link answers 200 with a PDF of that size.
    href = page.locator('main .results-poster a[data-format="a3"]').get_attribute("href")
    response = page.request.get(journey.url(href))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    a3 = pypdf.PdfReader(io.BytesIO(response.body())).pages[0].mediabox
    assert abs(float(a3.width) - A3[0]) < 0.5 and abs(float(a3.height) - A3[1]) < 0.5
