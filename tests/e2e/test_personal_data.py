"""The quality manager gives a citizen everything held about them, then checks the access log."""

import json

import pypdf
from django.utils import translation

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Role
from qualicite.requests import services
from qualicite.requests.models import PersonalDataAccess
from tests.e2e.browser import screenshot, tr

PAGE = "/ville-a/espace/donnees-personnelles/"
EMAIL = "camille.martin@example.net"


def citizen_requests(org, users):
    agent = users[Role.AGENT]
    accueil = org.service_set.get(code="accueil")
    found = [
        services.create_request(
            org,
            actor=agent,
            kind=RequestKind.INFORMATION,
            channel=Channel.PHONE,
            subject="Horaires d'ouverture du samedi",
            body="Mme Martin demande si la mairie ouvre le samedi matin.",
            service=accueil,
            citizen_name="Camille Martin",
            citizen_email=EMAIL,
            citizen_phone="06 12 34 56 78",
        ),
        services.create_request(
            org,
            actor=agent,
            kind=RequestKind.COMPLAINT,
            channel=Channel.DESK,
            subject="Attente au guichet",
            body="Quarante minutes d'attente pour un acte de naissance.",
            service=org.service_set.get(code="etat-civil"),
            citizen_name="Camille Martin",
            citizen_email=EMAIL,
            citizen_address="4 rue des Lilas",
            citizen_postcode="75011",
        ),
    ]
    services.create_request(
        org,
        actor=agent,
        kind=RequestKind.INFORMATION,
        channel=Channel.PHONE,
        subject="Autre usager",
        service=accueil,
        citizen_name="Dominique Petit",
        citizen_email="dominique.petit@example.net",
    )
    return found


def test_quality_manager_exports_a_citizens_data(journey, users, org):
    page = journey.page
    held = citizen_requests(org, users)
    manager = users[Role.QUALITY_MANAGER]
    journey.log_in_as(manager)
    journey.goto(PAGE)
    assert page.locator("main h1").inner_text() == tr("Personal data")
    with translation.override("fr"):
        sixty = translation.ngettext("%(counter)s month", "%(counter)s months", 60)
    assert page.locator("#retention-complaint td").first.inner_text() == sixty % {"counter": 60}

    # An address nobody used: a clear message, nothing to download.
    journey.submit("#lookup-form", email="personne@example.net")
    assert page.locator("#nothing-held").is_visible()
    assert page.locator("#export-form").count() == 0

    # Camille's address: both requests, not the other citizen's.
    journey.submit("#lookup-form", email=EMAIL)
    codes = page.locator("#citizen-requests tbody td code").all_inner_texts()
    assert codes == [request.display_code for request in held]
    assert "Autre usager" not in page.locator("main").inner_text()
    screenshot(page, "donnees-personnelles")

    with page.expect_download() as download_info:
        page.get_by_role("button", name=tr("Download as JSON")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("donnees-personnelles-ville-a-")
    with open(download.path(), encoding="utf-8") as exported:
        data = json.load(exported)
    assert [r["code"] for r in data["requests"]] == codes
    assert data["requests"][1]["citizen"]["address"] == "4 rue des Lilas"

    with page.expect_download() as download_info:
        page.get_by_role("button", name=tr("Download as PDF")).click()
    reader = pypdf.PdfReader(download_info.value.path())
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Quarante minutes d'attente" in text

    # The access log shows the lookup and both exports, by the quality manager.
    journey.follow(page.get_by_role("link", name=tr("The whole access log, with filters")))
    assert journey.path == PAGE + "acces/"
    rows = page.locator("main table.privacy-accesses tbody tr")
    assert rows.count() == PersonalDataAccess.objects.filter(user=manager).count() == 6
    journey.submit("#access-filter", code=held[1].display_code)
    assert page.locator("main table.privacy-accesses tbody tr").count() == 3
