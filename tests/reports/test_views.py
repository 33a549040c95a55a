"""The complaints report page and its downloads, for each role, and only for their own data."""

import html.parser

import pytest
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.core import services as core_services
from qualicite.core.choices import RequestKind
from qualicite.core.models import Role
from qualicite.reports import complaints
from qualicite.reports.models import ComplaintActions, ReportEvent
from tests.access import Page, assert_access
from tests.conftest import make_user
from tests.reports import readers
from tests.reports.conftest import aware
from tests.reports.expected import Expected

pytestmark = pytest.mark.django_db

READERS = {Role.SERVICE_HEAD, Role.QUALITY_MANAGER, Role.AUDITOR, Role.DIRECTION}
THIS_YEAR = complaints.current_year  # of an organisation, in its time zone


def page_url(org, **query):
    url = reverse("reports:complaints", kwargs={"org_slug": org.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def download_url(org, year, extension):
    return reverse(
        "reports:complaints_download",
        kwargs={"org_slug": org.slug, "year": year, "extension": extension},
    )


class Tables(html.parser.HTMLParser):
    """{table id: [[cell text, …], …]} of a page: what a screen reader reads row by row."""

    def __init__(self, text):
        super().__init__()
        self.tables, self._table, self._row, self._cell = {}, None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_every_report_page_is_shown_only_to_the_roles_that_read_reports(
    client_for, org, users, other_org, other_users
):
    year = THIS_YEAR(org)
    pages = [
        Page("reports:complaints", READERS),
        Page("reports:complaints_download", READERS, kwargs={"year": year, "extension": "csv"}),
        Page(
            "reports:complaints",
            {Role.QUALITY_MANAGER},
            method="post",
            data={"annee": year, "text": "Actions"},
            ok_statuses=(302,),
            # Readers who may not write the text are refused; others never reach the page.
        ),
    ]
    assert_access(client_for, org, users, other_users, pages)


def test_the_restricted_agent_of_the_fixtures_has_no_report_at_all(client_for, org, users):
    # Agents do not read reports, restricted or not.
    response = client_for(users["restricted_agent"]).get(page_url(org))
    assert response.status_code == 403


def test_the_page_shows_the_years_figures_and_the_comparison(
    client_for, org, users, year_of_requests
):
    response = client_for(users[Role.DIRECTION]).get(page_url(org, annee=2025))
    assert response.status_code == 200
    tables = Tables(response.content.decode()).tables
    expected = Expected(org, 2025)
    before = Expected(org, 2024)
    figures = {row[0]: row[1:] for row in tables["table-key_figures"][1:]}
    complaints_now = expected.count(RequestKind.COMPLAINT)
    complaints_before = before.count(RequestKind.COMPLAINT)
    assert figures[_("Complaints received")] == [
        str(complaints_now),
        str(complaints_before),
        f"{complaints_now - complaints_before:+d}",
    ]
    assert figures[_("Median answer delay (days)")][:2] == [
        str(expected.median),
        str(before.median),
    ]
    month_rows = tables["table-by_month"]
    assert month_rows[-1] == [_("Total"), *map(str, expected.totals())]
    assert [row[1:] for row in month_rows[1:-1]] == [
        list(map(str, values)) for values in expected.by_month().values()
    ]
    assert set(tables) >= {
        "table-by_service",
        "table-by_channel",
        "table-by_theme",
        "table-outcomes",
        "table-delays",
    }


def test_the_page_draws_the_charts_each_followed_by_its_table(
    client_for, org, users, year_of_requests
):
    text = client_for(users[Role.AUDITOR]).get(page_url(org, annee=2025)).content.decode()
    for key in ("by-month", "by-service"):
        chart = text.index(f'id="chart-{key}"')
        table = text.index(f'id="table-{key.replace("-", "_")}"')
        assert chart < table
        # Nothing but the chart's own table between them.
        assert text[chart:table].count("<table") == 1
        assert 'role="img"' in text[chart - 200 : chart + 200]


def test_the_page_links_the_four_downloads_of_the_year(client_for, org, users, year_of_requests):
    text = client_for(users[Role.SERVICE_HEAD]).get(page_url(org, annee=2025)).content.decode()
    for extension in ("pdf", "ods", "xlsx", "csv"):
        assert f'href="{download_url(org, 2025, extension)}"' in text


def test_the_footnote_names_the_percentile_method(client_for, org, users):
    text = client_for(users[Role.SERVICE_HEAD]).get(page_url(org)).content.decode()
    assert (
        html.unescape(text).count(
            _(
                "Median and 90th percentile by the nearest-rank method: the smallest delay "
                "within which at least half (90 %%) of the answered complaints were answered; "
                "it is always a delay that was observed. “%(none)s” when no complaint was "
                "answered."
            )
            % {"none": _("no data")}
        )
        == 1
    )


def test_the_page_says_no_data_when_no_complaint_was_answered(client_for, org, users, make_request):
    make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 2, 3, 10))
    response = client_for(users[Role.QUALITY_MANAGER]).get(page_url(org, annee=2025))
    tables = Tables(response.content.decode()).tables
    figures = {row[0]: row[1:] for row in tables["table-key_figures"][1:]}
    no_data = _("no data")
    assert figures[_("Median answer delay (days)")] == [no_data, no_data, no_data]
    assert figures[_("90th percentile of the answer delay (days)")] == [no_data] * 3


def test_each_download_has_its_type_and_a_file_name(client_for, org, users, year_of_requests):
    client = client_for(users[Role.QUALITY_MANAGER])
    signatures = {"pdf": b"%PDF-", "ods": b"PK", "xlsx": b"PK", "csv": b"\xef\xbb\xbf"}
    for extension, signature in signatures.items():
        response = client.get(download_url(org, 2025, extension))
        assert response.status_code == 200, extension
        assert response.content.startswith(signature), extension
        assert response["Content-Disposition"] == (
            f'attachment; filename="bilan-reclamations-{org.slug}-2025.{extension}"'
        )
    assert response["Content-Type"].startswith("text/csv")


def test_a_year_out_of_range_or_an_unknown_format_is_not_found(client_for, org, users):
    client = client_for(users[Role.QUALITY_MANAGER])
    assert client.get(download_url(org, 1899, "pdf")).status_code == 404
    url = download_url(org, 2025, "pdf").replace(".pdf", ".docx")
    assert client.get(url).status_code == 404


def test_an_unknown_year_is_an_error_beside_the_year_field(client_for, org, users):
    response = client_for(users[Role.QUALITY_MANAGER]).get(page_url(org, annee="1850"))
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="id_annee_error"' in text
    assert 'id="table-key_figures"' not in text


def test_the_years_offered_go_back_to_the_first_request(client_for, org, users, make_request):
    make_request(kind=RequestKind.THANKS, received_at=aware(2022, 5, 5, 10))
    response = client_for(users[Role.QUALITY_MANAGER]).get(page_url(org))
    choices = [year for year, _label in response.context["year_form"].fields["annee"].choices]
    assert choices == list(range(THIS_YEAR(org), 2021, -1))


# --- A member restricted to some services ----------------------------------------------------


@pytest.fixture
def restricted_manager(org):
    user = make_user(f"{org.slug}-restricted-manager")
    core_services.grant_membership(
        org,
        actor=None,
        user=user,
        role=Role.QUALITY_MANAGER,
        services=[org.service_set.get(code="etat-civil")],
    )
    return user


def test_a_restricted_service_head_sees_only_their_services_on_the_page(
    client_for, org, year_of_requests, restricted_head
):
    response = client_for(restricted_head).get(page_url(org, annee=2025))
    tables = Tables(response.content.decode()).tables
    services = [row[0] for row in tables["table-by_service"][1:-1]]
    assert services == ["État civil", "Naissances"]
    expected = Expected(org, 2025, service_codes={"etat-civil", "naissances"})
    assert tables["table-by_month"][-1] == [_("Total"), *map(str, expected.totals())]
    assert "Accueil" not in [row[0] for row in tables["table-by_service"]]


def test_a_restricted_service_heads_download_holds_only_their_services(
    client_for, org, year_of_requests, restricted_head
):
    content = client_for(restricted_head).get(download_url(org, 2025, "csv")).content
    sections = readers.sections(readers.csv_rows(content))
    by_service = sections[_("Requests by service")]
    assert list(by_service["rows"]) == ["État civil", "Naissances"]
    expected = Expected(org, 2025, service_codes={"etat-civil", "naissances"})
    assert by_service["total"] == [str(v) for v in expected.totals()]


def test_a_restricted_quality_manager_reads_the_actions_but_cannot_change_them(
    client_for, org, restricted_manager
):
    year = THIS_YEAR(org)
    ComplaintActions.objects.create(organisation=org, year=year, text="Texte de toute la ville")
    client = client_for(restricted_manager)
    response = client.get(page_url(org, annee=year))
    assert "Texte de toute la ville" in response.content.decode()
    assert 'name="text"' not in response.content.decode()
    assert client.post(page_url(org), {"annee": year, "text": "Autre"}).status_code == 403
    assert ComplaintActions.objects.get(organisation=org).text == "Texte de toute la ville"


# --- The actions text ------------------------------------------------------------------------


def test_the_quality_manager_saves_the_actions_and_comes_back_to_them(client_for, org, users):
    year = THIS_YEAR(org)
    client = client_for(users[Role.QUALITY_MANAGER])
    response = client.post(page_url(org), {"annee": year, "text": "Nouvelle signalétique"})
    assert response.status_code == 302
    assert response["Location"] == page_url(org, annee=year) + "#actions"
    assert ComplaintActions.objects.get(organisation=org, year=year).text == "Nouvelle signalétique"
    event = ReportEvent.objects.get(organisation=org)
    assert event.actor == users[Role.QUALITY_MANAGER]
    page = client.get(response["Location"]).content.decode()
    assert "Nouvelle signalétique" in page
    assert (_("Actions decided from the complaints of %(year)s saved.") % {"year": year}) in page


def test_readers_see_the_actions_text_without_a_form(client_for, org, users):
    year = THIS_YEAR(org)
    ComplaintActions.objects.create(organisation=org, year=year, text="Former l'accueil")
    page = client_for(users[Role.DIRECTION]).get(page_url(org)).content.decode()
    assert "Former l&#x27;accueil" in page
    assert 'name="text"' not in page


def test_a_text_too_long_is_refused_beside_the_field(client_for, org, users):
    from qualicite.reports.services import MAX_ACTIONS_LENGTH

    response = client_for(users[Role.QUALITY_MANAGER]).post(
        page_url(org), {"annee": THIS_YEAR(org), "text": "x" * (MAX_ACTIONS_LENGTH + 1)}
    )
    assert response.status_code == 200
    assert 'id="id_text_error"' in response.content.decode()
    assert not ComplaintActions.objects.exists()


def test_another_organisations_manager_cannot_write_the_actions(client_for, org, other_users):
    response = client_for(other_users[Role.QUALITY_MANAGER]).post(
        page_url(org), {"annee": THIS_YEAR(org), "text": "Intrusion"}
    )
    assert response.status_code in (403, 404)
    assert not ComplaintActions.objects.exists()
