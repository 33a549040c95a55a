"""The indicators dashboard: the matrix, one service's page, the drill-down, for each role.

Figures are checked three ways: against `queries.results()`, against a count made here from
the Request rows themselves, and across pages (a cell, its drill-down, its records).
"""

from __future__ import annotations

import datetime as dt
import html.parser
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.charter import services as charter_services
from qualicite.charter.models import Indicator
from qualicite.core import services as core_services
from qualicite.core.choices import RequestKind
from qualicite.core.models import Role, Service
from qualicite.core.queries import service_tree
from qualicite.indicators import periods, queries, rollups, sources
from qualicite.indicators.models import ManualValue, RollupState
from qualicite.requests.models import Request
from tests.access import Page, assert_access
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

READERS = {Role.SERVICE_HEAD, Role.QUALITY_MANAGER, Role.AUDITOR, Role.DIRECTION}
PARIS = ZoneInfo("Europe/Paris")
OCTOBER = periods.containing(dt.date(2025, 10, 1), "month")
OCTOBER_QUERY = {"period": "month", "date": "2025-10-10"}


def url(org, name, query=None, **kwargs):
    address = reverse(f"indicators:{name}", kwargs={"org_slug": org.slug, **kwargs})
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return address


class Matrix(html.parser.HTMLParser):
    """What a sighted reader sees in each cell of the page's matrix tables.

    `cells[indicator code][column code]` is the cell's visible text (the words kept for
    screen readers only are left out), `links[…]` its link, `statuses[…]` its data-status.
    `columns` lists the column codes of the first table's heading.
    """

    def __init__(self, text: str):
        super().__init__()
        self.cells: dict[str, dict[str, str]] = {}
        self.links: dict[str, dict[str, str]] = {}
        self.statuses: dict[str, dict[str, str]] = {}
        self.columns: list[str] = []
        self.headings: list[str] = []
        self._in_matrix = self._in_head = False
        self._row = self._column = None
        self._text: list[str] | None = None
        self._hidden_depth = 0
        self._depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._depth += 1
        classes = (attrs.get("class") or "").split()
        if tag == "table" and "dashboard-matrix" in classes:
            self._in_matrix = True
        elif not self._in_matrix:
            return
        if tag == "thead":
            self._in_head = True
        elif tag == "th" and self._in_head and attrs.get("data-column"):
            if attrs["data-column"] not in self.columns:
                self.columns.append(attrs["data-column"])
        elif tag == "tr" and attrs.get("data-code"):
            self._row = attrs["data-code"]
        elif tag == "td" and self._row and "cell" in classes:
            self._column = attrs.get("data-column", "result")
            self._text = []
            if attrs.get("data-status"):
                self.statuses.setdefault(self._row, {})[self._column] = attrs["data-status"]
        elif tag == "a" and self._text is not None:
            self.links.setdefault(self._row, {})[self._column] = attrs["href"]
        if "visually-hidden" in classes and not self._hidden_depth:
            self._hidden_depth = self._depth

    def handle_endtag(self, tag):
        if self._hidden_depth == self._depth:
            self._hidden_depth = 0
        self._depth -= 1
        if tag == "thead":
            self._in_head = False
        elif tag == "td" and self._text is not None:
            text = " ".join("".join(self._text).split())
            self.cells.setdefault(self._row, {})[self._column] = text
            self._text = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._in_matrix = False

    def handle_data(self, data):
        if self._text is not None and not self._hidden_depth:
            self._text.append(data)


def based_on(result) -> str:
    """What the page says a figure rests on: counts for a share, how many for a delay."""
    source = sources.get(result.indicator.source)
    if result.denominator is None:
        return _("entered by hand")
    if source is None or source.measure == sources.Measure.RATIO:
        return _("%(numerator)s out of %(denominator)s") % {
            "numerator": result.numerator,
            "denominator": result.denominator,
        }
    return _("%(count)s measured") % {"count": result.denominator}


def shown(result) -> str:
    """A cell as the page writes it: the value, its status and its counts; or the status."""
    status = f"{result.status_symbol} {result.status_label}"
    if not result.has_data:
        return status
    return f"{result.value_display} {status} {based_on(result)}"


def top_services(org) -> list[Service]:
    """The organisation's top-level services in display order (position, then name)."""
    return [service for service, depth in service_tree(org.service_set.all()) if depth == 0]


def local_day(instant):
    return instant.astimezone(PARIS).date()


def counted_in_time(org, *, month: periods.Period, services=None):
    """(answered in time, answered) in `month`, counted here from the Request rows."""
    answered = in_time = 0
    for request in Request.objects.filter(organisation=org, replied_at__isnull=False):
        if request.kind == RequestKind.THANKS:
            continue
        if services is not None and request.service_id not in services:
            continue
        if month.start <= local_day(request.replied_at) <= month.end:
            answered += 1
            in_time += request.replied_at <= request.due_at
    return in_time, answered


def percent(numerator, denominator) -> Decimal:
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def restricted_head(org, *codes):
    user = make_user(f"{org.slug}-head-{'-'.join(codes)}")
    core_services.grant_membership(
        org,
        actor=None,
        user=user,
        role=Role.SERVICE_HEAD,
        services=list(org.service_set.filter(code__in=codes)),
    )
    return user


@pytest.fixture
def rolled_up(org, year_of_requests):
    rollups.rebuild(org)
    return year_of_requests


# --- Who may see what --------------------------------------------------------------------------


def first_indicator(organisation):
    return Indicator.objects.filter(organisation=organisation).order_by("pk").first().pk


def test_every_dashboard_page_is_shown_only_to_the_roles_that_read_indicators(
    client_for, org, users, other_org, other_users, measured
):
    pages = [
        Page("indicators:dashboard", READERS),
        Page("indicators:service", READERS, kwargs={"code": "etat-civil"}),
        Page("indicators:drilldown", READERS, kwargs={"pk": first_indicator}),
        Page("indicators:export", READERS, kwargs={"format": "csv"}),
        Page("indicators:export", READERS, kwargs={"format": "xlsx"}),
        Page("indicators:export", READERS, kwargs={"format": "ods"}),
    ]
    assert_access(client_for, org, users, other_users, pages)


def test_another_organisations_indicator_or_service_is_not_found(
    client_for, org, other_org, users, measured
):
    programme = charter_services.create_programme(
        other_org, actor=None, key="own", kind="custom", name="Référentiel B"
    )
    commitment = charter_services.create_commitment(
        programme, actor=None, number="1", title="Répondre"
    )
    theirs = charter_services.create_indicator(
        commitment,
        actor=None,
        code="b-in-time",
        name="Réponses dans le délai (B)",
        source="requests.answered_in_time",
        target=Decimal(90),
    )
    core_services.create_service(other_org, actor=None, code="police", name="Police")
    client = client_for(users[Role.QUALITY_MANAGER])
    assert client.get(url(org, "drilldown", pk=theirs.pk)).status_code == 404
    assert client.get(url(org, "service", code="police")).status_code == 404
    assert client.get(url(org, "dashboard", {"service": "police"})).status_code == 200
    assert client.get(url(org, "export", {"service": "police"}, format="csv")).status_code == 404
    mine = measured["in-time"].pk
    assert client.get(url(org, "drilldown", {"service": "police"}, pk=mine)).status_code == 404


def test_a_member_restricted_to_a_service_sees_only_its_column_and_records(
    client_for, org, rolled_up, measured
):
    head = restricted_head(org, "etat-civil")
    client = client_for(head)
    page = Matrix(client.get(url(org, "dashboard", OCTOBER_QUERY)).content.decode())
    assert page.columns == ["etat-civil"]
    assert set(page.cells["in-time"]) == {"etat-civil"}
    # Other services: refused as if they did not exist.
    assert client.get(url(org, "service", OCTOBER_QUERY, code="accueil")).status_code == 404
    in_time = measured["in-time"].pk
    query = {**OCTOBER_QUERY, "service": "accueil"}
    assert client.get(url(org, "drilldown", query, pk=in_time)).status_code == 404
    # Without a service, the drill-down is their service's, never the organisation's.
    response = client.get(url(org, "drilldown", OCTOBER_QUERY, pk=in_time))
    assert response.status_code == 200
    assert response.context["column"].code == "etat-civil"
    allowed = set(
        org.service_set.filter(code__in=["etat-civil", "naissances"]).values_list("pk", flat=True)
    )
    records = list(response.context["page"].object_list)
    assert records and all(r.service_id in allowed for r in records)
    expected = queries.results(
        org,
        [measured["in-time"]],
        OCTOBER,
        services=[org.service_set.get(code="etat-civil")],
        consolidated=False,
    )
    result = next(iter(expected.values()))
    assert response.context["result"].value == result.value
    assert len(records) == result.denominator


def test_the_restricted_agent_of_the_fixtures_has_no_dashboard(client_for, org, users):
    # Agents enter values and answer requests; they do not read the dashboard.
    response = client_for(users["restricted_agent"]).get(url(org, "dashboard"))
    assert response.status_code == 403


# --- The figures -------------------------------------------------------------------------------


def test_each_cell_shows_the_result_of_the_period_and_a_count_made_from_the_requests(
    client_for, org, users, rolled_up, measured
):
    response = client_for(users[Role.DIRECTION]).get(url(org, "dashboard", OCTOBER_QUERY))
    assert response.status_code == 200
    page = Matrix(response.content.decode())
    assert page.columns == ["organisation", *(s.code for s in top_services(org))]
    assert set(page.columns) == {"organisation", "accueil", "finances", "etat-civil"}
    services = list(org.service_set.filter(parent=None))
    expected = queries.results(org, queries.indicators_of(org), OCTOBER, services=services)
    for (_indicator, service_id), result in expected.items():
        column = "organisation" if service_id is None else result.service.code
        assert page.cells[result.indicator.code][column] == shown(result)
        assert page.statuses[result.indicator.code][column] == result.status
    # The same figure counted here from the requests themselves.
    in_time = measured["in-time"]
    numerator, denominator = counted_in_time(org, month=OCTOBER)
    assert denominator > 0
    assert page.cells["in-time"]["organisation"].startswith(
        in_time.format_value(percent(numerator, denominator))
    )
    accueil = {org.service_set.get(code="accueil").pk}
    numerator, denominator = counted_in_time(org, month=OCTOBER, services=accueil)
    assert page.cells["in-time"]["accueil"].startswith(
        in_time.format_value(percent(numerator, denominator))
    )


def test_a_service_outside_a_commitment_says_so_instead_of_a_figure(
    client_for, org, users, rolled_up
):
    text = client_for(users[Role.AUDITOR]).get(url(org, "dashboard", OCTOBER_QUERY))
    page = Matrix(text.content.decode())
    # "acts" belongs to a commitment of État civil only.
    assert page.cells["acts"]["accueil"] == _("not measured here")
    assert "accueil" not in page.links["acts"]
    assert page.cells["acts"]["etat-civil"] != _("not measured here")


def test_a_period_without_data_says_no_data_never_zero_or_a_hundred(
    client_for, org, users, rolled_up
):
    page = Matrix(
        client_for(users[Role.QUALITY_MANAGER])
        .get(url(org, "dashboard", {"period": "month", "date": "2024-06-15"}))
        .content.decode()
    )
    no_data = f"{queries.STATUS_SYMBOLS[queries.Status.NO_DATA]} {_('No data')}"
    measured_cells = [
        text
        for row in page.cells.values()
        for text in row.values()
        if text != _("not measured here")
    ]
    assert measured_cells and all(text == no_data for text in measured_cells)
    assert not any("%" in text for text in measured_cells)


def test_a_value_entered_by_hand_is_a_cell_and_its_detail_lists_the_entry(
    client_for, org, users, rolled_up, measured
):
    signage = measured["signage"]
    manager = users[Role.QUALITY_MANAGER]
    ManualValue.objects.create(
        organisation=org,
        indicator=signage,
        period_start=OCTOBER.start,
        period_end=OCTOBER.end,
        value=Decimal(100),
        comment="Panneaux vérifiés dans le hall",
        evidence_name="controle-octobre.pdf",
        entered_by=manager,
    )
    client = client_for(users[Role.SERVICE_HEAD])
    page = Matrix(client.get(url(org, "dashboard", OCTOBER_QUERY)).content.decode())
    result = queries.results(org, [signage], OCTOBER)[(signage.pk, None)]
    assert result.value == Decimal(100)
    assert page.cells["signage"]["organisation"] == shown(result)
    # The value has no service: services have no data of their own.
    assert page.statuses["signage"]["accueil"] == queries.Status.NO_DATA
    detail = client.get(page.links["signage"]["organisation"].replace("&amp;", "&"))
    text = detail.content.decode()
    assert "Panneaux vérifiés dans le hall" in text
    assert "controle-octobre.pdf" in text
    assert manager.get_username() in text


def test_the_service_page_lists_its_indicators_with_what_they_rest_on(
    client_for, org, users, rolled_up, measured
):
    client = client_for(users[Role.SERVICE_HEAD])
    quarter = periods.containing(dt.date(2025, 10, 1), "quarter")
    response = client.get(
        url(org, "service", {"period": "quarter", "date": "2025-11-02"}, code="etat-civil")
    )
    assert response.status_code == 200
    etat_civil = org.service_set.get(code="etat-civil")
    expected = queries.results(
        org, queries.indicators_of(org), quarter, services=[etat_civil], consolidated=False
    )
    page = Matrix(response.content.decode())
    assert set(page.cells) == {result.indicator.code for result in expected.values()}
    for result in expected.values():
        assert page.cells[result.indicator.code]["result"] == result.value_display
        assert page.statuses[result.indicator.code]["result"] == result.status
    text = response.content.decode()
    ratio = expected[(measured["in-time"].pk, etat_civil.pk)]
    assert (
        _("%(numerator)s out of %(denominator)s")
        % {"numerator": ratio.numerator, "denominator": ratio.denominator}
        in text
    )
    # A service's figure includes its sub-services' records.
    services = set(
        Service.objects.filter(code__in=["etat-civil", "naissances"]).values_list("pk", flat=True)
    )
    numerator = denominator = 0
    for month in periods.split(quarter.start, quarter.end, "month"):
        n, d = counted_in_time(org, month=month, services=services)
        numerator, denominator = numerator + n, denominator + d
    assert (ratio.numerator, ratio.denominator) == (numerator, denominator)


def test_every_row_has_a_sparkline_doubled_by_the_table_of_its_12_months(
    client_for, org, users, rolled_up, measured
):
    response = client_for(users[Role.QUALITY_MANAGER]).get(url(org, "dashboard", OCTOBER_QUERY))
    text = response.content.decode()
    in_time = measured["in-time"]
    spark = f'id="spark-{in_time.pk}-org"'
    assert spark in text
    start = text.rindex("<svg", 0, text.index(spark))
    assert 'role="img"' in text[start : text.index(">", start)]
    assert f'aria-labelledby="spark-{in_time.pk}-org-title spark-{in_time.pk}-org-desc"' in text
    months = queries.trend(org, [in_time], OCTOBER)[in_time.pk]
    row = text[text.index('<tr data-code="in-time">') :]
    row = row[: row.index("</tr>")]
    for result in months:
        if result.has_data:
            assert f"<td>{result.value_display} " in row
    assert row.count("<td>") == 12


def test_the_drill_down_lists_the_records_behind_the_figure_and_the_late_ones_apart(
    client_for, org, users, rolled_up, measured
):
    client = client_for(users[Role.QUALITY_MANAGER])
    in_time = measured["in-time"]
    result = queries.results(org, [in_time], OCTOBER)[(in_time.pk, None)]
    response = client.get(url(org, "drilldown", OCTOBER_QUERY, pk=in_time.pk))
    assert response.status_code == 200
    assert response.context["result"].value == result.value
    text = response.content.decode()
    assert f'id="drill-value">{result.value_display}<' in text
    assert response.context["all_count"] == result.denominator
    assert response.context["failing_count"] == result.denominator - result.numerator
    late = client.get(url(org, "drilldown", {**OCTOBER_QUERY, "failing": "1"}, pk=in_time.pk))
    records = list(late.context["page"].object_list)
    assert len(records) == result.denominator - result.numerator > 0
    for record in records:
        assert record.replied_at > record.due_at
        assert OCTOBER.start <= local_day(record.replied_at) <= OCTOBER.end
        assert record.display_code in late.content.decode()


def test_the_drill_down_pages_through_many_records(client_for, org, users, rolled_up, measured):
    client = client_for(users[Role.AUDITOR])
    answered = measured["answered"]
    query = {"period": "year", "date": "2025-06-01"}
    first = client.get(url(org, "drilldown", query, pk=answered.pk))
    year = periods.containing(dt.date(2025, 6, 1), "year")
    result = queries.results(org, [answered], year)[(answered.pk, None)]
    page = first.context["page"]
    assert page.paginator.count == result.denominator > 50
    second = client.get(url(org, "drilldown", {**query, "page": 2}, pk=answered.pk))
    ids = {r.pk for r in page.object_list}
    assert ids.isdisjoint({r.pk for r in second.context["page"].object_list})
    assert "page=2" in first.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"period": "week"},
        {"date": "10/10/2025"},
        {"date": "2099-01-01"},
        {"date": "1999-12-31"},
        {"period": "month", "date": "2025-02-30"},
    ],
)
def test_a_wrong_period_shows_the_form_with_its_error(client_for, org, users, measured, query):
    client = client_for(users[Role.QUALITY_MANAGER])
    for name, kwargs in (
        ("dashboard", {}),
        ("service", {"code": "accueil"}),
        ("drilldown", {"pk": measured["in-time"].pk}),
        ("export", {"format": "xlsx"}),
    ):
        response = client.get(url(org, name, query, **kwargs))
        assert response.status_code == 400, (name, query)
        form = response.context["form"]
        assert form.errors
        text = response.content.decode()
        assert 'class="errorlist"' in text
        # The corrected form shows the page again (for a download: the dashboard).
        action = url(org, "dashboard") if name == "export" else url(org, name, **kwargs)
        assert f'action="{action}"' in text


def test_without_a_date_the_page_shows_the_last_closed_month(client_for, org, users, measured):
    response = client_for(users[Role.DIRECTION]).get(url(org, "dashboard"))
    expected = periods.last_closed("month", rollups.today(org))
    assert response.context["period"] == expected
    assert expected.label in response.content.decode()


def test_links_lead_to_the_previous_and_next_periods_but_not_past_today(
    client_for, org, users, measured
):
    client = client_for(users[Role.DIRECTION])
    response = client.get(url(org, "dashboard", {"period": "quarter", "date": "2025-05-05"}))
    assert response.context["previous_url"].endswith("?period=quarter&date=2025-01-01")
    assert response.context["next_url"].endswith("?period=quarter&date=2025-07-01")
    current = client.get(url(org, "dashboard", {"period": "month", "date": rollups.today(org)}))
    assert current.context["next_url"] == ""
    assert current.context["in_progress"]


def test_the_page_says_when_the_figures_were_last_brought_up_to_date(
    client_for, org, users, measured
):
    client = client_for(users[Role.DIRECTION])
    before = client.get(url(org, "dashboard")).content.decode()
    assert (
        _(
            "The figures have never been computed for this organisation: they appear after the "
            "next run of the scheduled task."
        )
        in before
    )
    rollups.rebuild(org)
    updated = RollupState.objects.get(organisation=org).updated_at
    response = client.get(url(org, "dashboard"))
    assert response.context["updated_at"] == updated


# --- Cost --------------------------------------------------------------------------------------


def queries_of(client, address) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(address).status_code == 200
    return len(captured.captured_queries)


def test_the_service_page_costs_the_same_queries_whatever_the_history_and_the_rows(
    client_for, org, users, measured, year_of_requests, django_assert_max_num_queries
):
    client = client_for(users[Role.SERVICE_HEAD])
    address = url(org, "service", OCTOBER_QUERY, code="etat-civil")
    rollups.rebuild(org)
    with django_assert_max_num_queries(30):
        client.get(address)
    before = queries_of(client, address)
    # Twice the indicators and a year more of history.
    programme = charter_services.create_programme(
        org, actor=None, key="bis", kind="custom", name="Bis"
    )
    commitment = charter_services.create_commitment(programme, actor=None, number="1", title="Bis")
    for code, indicator in list(measured.items()):
        charter_services.create_indicator(
            commitment,
            actor=None,
            code=f"bis-{code}",
            name=indicator.name,
            source=indicator.source,
            source_kind=indicator.source_kind,
            unit=indicator.unit,
            direction=indicator.direction,
            target=indicator.target,
        )
    for request in Request.objects.filter(organisation=org)[:100]:
        request.received_at -= dt.timedelta(days=365)
        if request.replied_at:
            request.replied_at -= dt.timedelta(days=365)
        request.save()
    rollups.rebuild(org)
    assert queries_of(client, address) == before


def test_a_trend_gives_the_same_figures_as_a_call_to_results_for_each_period(
    org, rolled_up, measured
):
    signage = measured["signage"]
    etat_civil = org.service_set.get(code="etat-civil")
    for month, value, counts in ((7, 80, (4, 5)), (9, 100, None), (10, 50, None)):
        start = dt.date(2025, month, 1)
        ManualValue.objects.create(
            organisation=org,
            indicator=signage,
            service=etat_civil if month != 9 else None,
            period_start=start,
            period_end=periods.containing(start, "month").end,
            value=Decimal(value),
            numerator=counts[0] if counts else None,
            denominator=counts[1] if counts else None,
        )
    indicators = queries.indicators_of(org)
    for kind in ("month", "quarter"):
        last = periods.containing(dt.date(2025, 12, 1), kind)
        for service in [None, *org.service_set.all()]:
            found = queries.trend(org, indicators, last, service=service)
            expected: dict = {}
            for period in periods.series(last, 12):
                one = queries.results(
                    org,
                    indicators,
                    period,
                    services=[service] if service else [],
                    consolidated=service is None,
                )
                for (pk, key), result in one.items():
                    if key == (service.pk if service else None):
                        expected.setdefault(pk, []).append(result)
            assert set(found) == set(expected)
            for pk, line in found.items():
                assert [
                    (r.period, r.numerator, r.denominator, r.value, r.target, r.status)
                    for r in line
                ] == [
                    (r.period, r.numerator, r.denominator, r.value, r.target, r.status)
                    for r in expected[pk]
                ], (kind, service, pk)


def test_sub_services_get_their_own_columns_when_asked(client_for, org, users, measured):
    client = client_for(users[Role.QUALITY_MANAGER])
    query = {**OCTOBER_QUERY, "subservices": "on"}
    page = Matrix(client.get(url(org, "dashboard", query)).content.decode())
    tops = [s.code for s in top_services(org)]
    position = tops.index("etat-civil") + 1
    assert page.columns == ["organisation", *tops[:position], "naissances", *tops[position:]]
    # The choice follows the links to other periods and the downloads.
    response = client.get(url(org, "dashboard", query))
    assert "subservices=on" in response.context["previous_url"]
    assert all(
        "subservices=on" in address for _ext, _label, address in response.context["downloads"]
    )
