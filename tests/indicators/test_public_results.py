"""The public results page /<org>/resultats/ and its poster: published figures only, per site.

The records are placed in the last closed month, whatever today is, and the figures each
site should show are counted here from those records.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pypdf
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.charter import services as charter_services
from qualicite.charter.models import Commitment, Period
from qualicite.core import services as core_services
from qualicite.core.choices import Channel, RequestKind
from qualicite.indicators import periods, rollups
from qualicite.indicators.models import ManualValue
from qualicite.indicators.queries import STATUS_LABELS, STATUS_SYMBOLS, Status
from qualicite.requests import deadlines
from qualicite.requests import services as request_services
from qualicite.requests.models import Prestation, Request

PARIS = ZoneInfo("Europe/Paris")
A4, A3 = (595.28, 841.89), (841.89, 1190.55)


# --- Reading the page ----------------------------------------------------------------------


class ResultRows(HTMLParser):
    """{(place key, indicator code): [indicator, target, result, status]} as the page shows."""

    def __init__(self):
        super().__init__()
        self.rows, self.place, self.row, self.cell = {}, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "data-place" in attrs:
            self.place = attrs["data-place"]
        elif tag == "tr" and "data-indicator" in attrs:
            self.row = self.rows.setdefault((self.place, attrs["data-indicator"]), [])
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr":
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def result_rows(response) -> dict:
    parser = ResultRows()
    parser.feed(response.content.decode())
    return parser.rows


def pdf_text(content: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


# --- Records in the last closed month -------------------------------------------------------


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=PARIS)


def received(org, actor, service, day, *, answered_after=None):
    request = request_services.create_request(
        org,
        actor=actor,
        kind=RequestKind.INFORMATION,
        channel=Channel.EMAIL,
        subject="Demande",
        service=service,
        received_at=at(day),
        is_anonymous=True,
    )
    if answered_after is not None:
        request.replied_at = at(day) + dt.timedelta(days=answered_after)
        request.answer_days = deadlines.answer_days(request)
        request.save()
    return request


@pytest.fixture
def last_month(org):
    return periods.last_closed("month", rollups.today(org))


@pytest.fixture
def annexe(org):
    """A second site receiving Naissances (a sub-service of État civil) and Finances."""
    return core_services.create_site(
        org,
        actor=None,
        code="annexe",
        name="Mairie annexe",
        address="2 rue de la Gare",
        services=[org.service_set.get(code="naissances"), org.service_set.get(code="finances")],
    )


@pytest.fixture
def published(org, users, measured, annexe, last_month):
    """Records of last month in three services (and one unrouted), some results published."""
    agent = users["agent"]
    service = {s.code: s for s in org.service_set.all()}
    first = last_month.start
    for index, answered in enumerate([1, 2, 5, None]):
        received(
            org,
            agent,
            service["accueil"],
            first + dt.timedelta(days=index),
            answered_after=answered,
        )
    for index in range(2):
        received(
            org,
            agent,
            service["naissances"],
            first + dt.timedelta(days=3 + index),
            answered_after=3,
        )
    for index, answered in enumerate([4, None, None]):
        received(
            org,
            agent,
            service["finances"],
            first + dt.timedelta(days=5 + index),
            answered_after=answered,
        )
    received(org, agent, None, first + dt.timedelta(days=8))
    prestation = Prestation.objects.create(
        organisation=org, service=service["naissances"], name="Copie d'acte", announced_delay_days=5
    )
    for late in (False, True):
        request_services.record_delivery(
            prestation,
            actor=agent,
            requested_at=at(first),
            delivered_at=at(first) + dt.timedelta(days=12 if late else 1),
        )
    ManualValue.objects.create(
        organisation=org,
        indicator=measured["signage"],
        period_start=first,
        period_end=last_month.end,
        value=Decimal(100),
    )
    for code in ("answered", "median", "acts", "signage", "letters-in-time"):
        charter_services.update_indicator(measured[code], actor=None, results_published=True)
    rollups.rebuild(org)
    return measured


def share(numerator, denominator) -> str:
    value = (Decimal(numerator) / Decimal(denominator) * 100).quantize(Decimal("0.01"))
    return f"{value.normalize():f} %".replace(".", ",")  # the page is in French


def page(client, org):
    return client.get(reverse("public_results:index", kwargs={"org_slug": org.slug}))


# --- The page ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_citizen_sees_each_sites_figures_with_target_period_and_status(
    client, org, published, last_month
):
    response = page(client, org)
    assert response.status_code == 200
    rows = result_rows(response)
    period = last_month.label
    missed = f"{STATUS_SYMBOLS[Status.MISSED]} {STATUS_LABELS[Status.MISSED]}"
    # Requests answered: the whole organisation counts the unrouted request too (6 of 10);
    # the town hall receives Accueil and État civil with Naissances (5 of 6); the annexe
    # Naissances and Finances (3 of 5).
    assert rows[("", "answered")] == ["answered", "≥ 100 %", f"{share(6, 10)} {period}", missed]
    assert rows[("mairie", "answered")][2] == f"{share(5, 6)} {period}"
    assert rows[("annexe", "answered")][2] == f"{share(3, 5)} {period}"
    # Acts of État civil: both sites receive Naissances, where the two acts were delivered.
    assert rows[("mairie", "acts")][2] == f"{share(1, 2)} {period}"
    assert rows[("annexe", "acts")][2] == f"{share(1, 2)} {period}"
    # The commitment on acts covers some services only: no line for the whole organisation.
    assert ("", "acts") not in rows
    # Entered by hand for the whole organisation only.
    assert rows[("", "signage")][2] == f"100 % {period}"
    assert ("mairie", "signage") not in rows
    # Letters only: none was received, the result is not invented.
    assert rows[("", "letters-in-time")][2] == f"{_('No result yet')} {period}"
    assert rows[("", "letters-in-time")][3].endswith(str(STATUS_LABELS[Status.NO_DATA]))


@pytest.mark.django_db
def test_a_sites_median_is_read_from_the_days_of_all_its_services(
    client, org, published, last_month
):
    rows = result_rows(page(client, org))
    by_site = {
        "mairie": {"accueil", "etat-civil", "naissances"},
        "annexe": {"naissances", "finances"},
    }
    for site, codes in by_site.items():
        days = sorted(
            Request.objects.filter(
                organisation=org, service__code__in=codes, replied_at__isnull=False
            ).values_list("answer_days", flat=True)
        )
        median = days[(len(days) + 1) // 2 - 1]  # nearest rank: the ⌈n/2⌉-th value
        assert rows[(site, "median")][2].startswith(f"{median} ")


@pytest.mark.django_db
def test_an_unpublished_result_never_appears(client, org, published):
    for code in ("in-time", "complaint-rate", "p90"):
        assert published[code].results_published is False
    body = page(client, org).content.decode()
    rows = result_rows(page(client, org))
    assert {code for _place, code in rows} == {
        "answered",
        "median",
        "acts",
        "signage",
        "letters-in-time",
    }
    assert "complaint-rate" not in body
    # Nor a published result whose commitment is hidden from the public.
    Commitment.objects.filter(pk=published["acts"].commitment_id).update(is_published=False)
    assert "acts" not in {code for _place, code in result_rows(page(client, org))}


@pytest.mark.django_db
def test_another_organisations_results_never_appear(client, org, other_org, published):
    programme = charter_services.create_programme(
        other_org, actor=None, key="qv", kind="qualivilles", name="Qualivilles"
    )
    commitment = charter_services.create_commitment(
        programme, actor=None, number="1", title="Accueil de Ville B"
    )
    charter_services.create_indicator(
        commitment,
        actor=None,
        code="ville-b-only",
        name="Indicateur de Ville B",
        source="requests.answered",
        target=Decimal(90),
        results_published=True,
    )
    body = page(client, org).content.decode()
    assert "Indicateur de Ville B" not in body and "ville-b-only" not in body
    other = page(client, other_org).content.decode()
    assert "Indicateur de Ville B" in other
    assert "answered" not in {code for _place, code in result_rows(page(client, other_org))}


@pytest.mark.django_db
def test_an_inactive_or_unknown_organisation_has_no_results_page(client, org, published):
    org.is_active = False
    org.save()
    assert page(client, org).status_code == 404
    poster = reverse("public_results:poster", kwargs={"org_slug": org.slug})
    assert client.get(poster).status_code == 404
    assert client.get("/nulle-part/resultats/").status_code == 404


@pytest.mark.django_db
def test_without_published_results_the_page_says_so_and_offers_no_poster(client, org, measured):
    response = page(client, org)
    assert response.status_code == 200
    assert _("No result is published yet.") in response.content.decode()
    assert "affiche.pdf" not in response.content.decode()


@pytest.mark.django_db
def test_the_page_needs_as_many_queries_for_many_indicators_and_sites_as_for_few(
    client, org, published
):
    with CaptureQueriesContext(connection) as few:
        page(client, org)
    for code in ("in-time", "complaints-in-time", "acknowledged", "p90", "complaint-rate"):
        charter_services.update_indicator(published[code], actor=None, results_published=True)
    charter_services.update_indicator(published["p90"], actor=None, period=Period.QUARTER)
    core_services.create_site(
        org,
        actor=None,
        code="guichet",
        name="Guichet unique",
        services=[org.service_set.get(code="accueil")],
    )
    with CaptureQueriesContext(connection) as many:
        response = page(client, org)
    assert len(result_rows(response)) > 2 * 8
    # One more kind of period (a quarter) costs one more read of the roll-ups, no more.
    assert len(many) <= len(few) + 4, [q["sql"][:120] for q in many.captured_queries]


@pytest.mark.django_db
def test_the_public_commitments_page_links_to_the_results(client, org):
    response = client.get(reverse("public:home", kwargs={"org_slug": org.slug}))
    assert (
        reverse("public_results:index", kwargs={"org_slug": org.slug}) in response.content.decode()
    )


# --- The poster ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("size", "points"), [("a4", A4), ("a3", A3)])
def test_the_poster_is_a_pdf_of_the_chosen_size_with_the_figures_of_the_page(
    client, org, published, last_month, size, points
):
    rows = result_rows(page(client, org))
    url = reverse("public_results:poster", kwargs={"org_slug": org.slug})
    response = client.get(url, {"format": size})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"nos-resultats-ville-a-{size}.pdf" in response["Content-Disposition"]
    reader, text = pdf_text(response.content)
    for page_ in reader.pages:
        assert (float(page_.mediabox.width), float(page_.mediabox.height)) == pytest.approx(
            points, abs=0.5
        )
    flat = " ".join(text.split())
    assert _("Our commitments, our results") in flat
    assert org.name in flat
    assert last_month.label in flat
    for _indicator, _target, result, _status in rows.values():
        figure = result.removesuffix(last_month.label).strip()
        assert figure in flat, figure
    for place in ("Hôtel de ville", "Mairie annexe", _("All our services")):
        assert place in flat


@pytest.mark.django_db
def test_the_poster_carries_the_organisations_logo(client, org, published, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.base import ContentFile

    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
        b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
        b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    org.logo.save("logo.png", ContentFile(png))
    url = reverse("public_results:poster", kwargs={"org_slug": org.slug})
    reader, _text = pdf_text(client.get(url).content)
    images = [image for page_ in reader.pages for image in page_.images]
    assert images


@pytest.mark.django_db
def test_an_unknown_poster_size_is_not_found(client, org, published):
    url = reverse("public_results:poster", kwargs={"org_slug": org.slug})
    assert client.get(url, {"format": "a5"}).status_code == 404
    assert client.get(url).status_code == 200  # A4 when none is asked for


@pytest.mark.django_db
def test_a_result_whose_services_no_site_receives_is_shown_for_the_whole_organisation(
    client, org, measured
):
    programme = measured["answered"].commitment.programme
    commitment = charter_services.create_commitment(
        programme,
        actor=None,
        number="9",
        title="Vos factures expliquées",
        public_text="Nous répondons à vos questions sur vos factures.",
        services=[org.service_set.get(code="finances")],
    )
    charter_services.create_indicator(
        commitment,
        actor=None,
        code="billing",
        name="Questions sur les factures répondues",
        source="requests.answered",
        target=Decimal(95),
        results_published=True,
    )
    response = page(client, org)
    assert set(result_rows(response)) == {("", "billing")}
    assert "Nous répondons à vos questions sur vos factures." in response.content.decode()
