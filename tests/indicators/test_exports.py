"""The dashboard downloaded as CSV, XLSX and ODS, read back with the libraries people use."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils.translation import gettext as _

from qualicite.core.models import Role
from qualicite.indicators import periods, queries, rollups
from tests.indicators.test_dashboard_views import (
    OCTOBER,
    OCTOBER_QUERY,
    Matrix,
    restricted_head,
    top_services,
    url,
)
from tests.reports.readers import csv_rows, ods_sheets, xlsx_sheets

pytestmark = pytest.mark.django_db

HEADER = [
    "Programme",
    "Commitment",
    "Indicator code",
    "Indicator",
    "Service",
    "Period",
    "From",
    "To",
    "Value",
    "Unit",
    "Numerator",
    "Denominator",
    "Target",
    "Status",
]
CODE, COLUMN, VALUE, NUMERATOR, DENOMINATOR, TARGET, STATUS = 2, 4, 8, 10, 11, 12, 13


@pytest.fixture
def rolled_up(org, year_of_requests):
    rollups.rebuild(org)
    return year_of_requests


def download(client, org, extension, query=None):
    response = client.get(url(org, "export", query or OCTOBER_QUERY, format=extension))
    assert response.status_code == 200
    return response


def grid(extension, content) -> list[list]:
    """The indicators sheet as rows of cells, whatever the format."""
    if extension == "csv":
        return csv_rows(content)
    sheets = ods_sheets(content) if extension == "ods" else xlsx_sheets(content)
    return sheets[_("Indicators")]


def number(extension, text_or_number) -> Decimal | None:
    """A figure read back: CSV writes "87,5", spreadsheets a number; empty is None."""
    if text_or_number in (None, ""):
        return None
    if extension == "csv":
        return Decimal(text_or_number.replace(",", "."))
    return Decimal(str(text_or_number))


def column_codes(org) -> dict[str, str]:
    codes = {_("Organisation"): "organisation"}
    codes.update({service.name: service.code for service in org.service_set.all()})
    return codes


def test_every_format_holds_the_figures_of_the_page_line_by_line(
    client_for, org, users, rolled_up, measured
):
    client = client_for(users[Role.QUALITY_MANAGER])
    page = Matrix(client.get(url(org, "dashboard", OCTOBER_QUERY)).content.decode())
    for extension in ("csv", "xlsx", "ods"):
        check_lines(client, org, page, extension)


def check_lines(client, org, page, extension):
    response = download(client, org, extension)
    rows = grid(extension, response.content)
    assert rows[0] == [_(label) for label in HEADER]
    lines = rows[1:]
    shown = [
        (code, column)
        for code, cells in page.cells.items()
        for column, text in cells.items()
        if text != _("not measured here")
    ]
    codes = column_codes(org)
    assert [(line[CODE], codes[line[COLUMN]]) for line in lines] == shown
    indicators = {i.code: i for i in queries.indicators_of(org)}
    services = list(org.service_set.filter(parent=None))
    expected = queries.results(org, list(indicators.values()), OCTOBER, services=services)
    for line in lines:
        indicator = indicators[line[CODE]]
        column = codes[line[COLUMN]]
        key = (
            indicator.pk,
            None if column == "organisation" else org.service_set.get(code=column).pk,
        )
        result = expected[key]
        text = page.cells[indicator.code][column]
        assert line[STATUS] == result.status_label and line[STATUS] in text
        if result.value is None:
            assert line[VALUE] == _("no data")
            assert line[NUMERATOR] in (None, "") and line[DENOMINATOR] in (None, "")
            continue
        value = number(extension, line[VALUE])
        assert value == result.value
        assert text.startswith(indicator.format_value(value))
        assert number(extension, line[NUMERATOR]) == result.numerator
        assert number(extension, line[DENOMINATOR]) == result.denominator
        assert number(extension, line[TARGET]) == result.target


def test_each_line_names_its_period_with_its_first_and_last_day(client_for, org, users, rolled_up):
    client = client_for(users[Role.AUDITOR])
    for extension in ("csv", "xlsx", "ods"):
        lines = grid(extension, download(client, org, extension).content)[1:]
        first_day, last_day = lines[0][6], lines[0][7]
        if isinstance(first_day, dt.datetime):  # openpyxl reads a date cell as a datetime
            first_day, last_day = first_day.date(), last_day.date()
        else:
            first_day = dt.date.fromisoformat(first_day)
            last_day = dt.date.fromisoformat(last_day)
        assert (first_day, last_day) == (OCTOBER.start, OCTOBER.end), extension
        assert {line[5] for line in lines} == {OCTOBER.label}


def test_the_csv_is_what_french_spreadsheets_expect(client_for, org, users, rolled_up):
    response = download(client_for(users[Role.DIRECTION]), org, "csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0].count(";") == len(HEADER) - 1
    assert "\r\n" in text
    values = [row[VALUE] for row in csv_rows(response.content)[1:]]
    assert any("," in value for value in values)
    assert not any("." in value for value in values if value != _("no data"))


def test_a_period_without_data_is_no_data_in_words_never_zero(client_for, org, users, rolled_up):
    client = client_for(users[Role.QUALITY_MANAGER])
    query = {"period": "month", "date": "2024-03-03"}
    for extension in ("csv", "xlsx", "ods"):
        lines = grid(extension, download(client, org, extension, query).content)[1:]
        assert lines
        assert {line[VALUE] for line in lines} == {_("no data")}
        assert {line[STATUS] for line in lines} == {_("No data")}


def test_a_restricted_member_downloads_only_their_services(client_for, org, rolled_up):
    client = client_for(restricted_head(org, "etat-civil"))
    for extension in ("csv", "xlsx", "ods"):
        lines = grid(extension, download(client, org, extension).content)[1:]
        assert lines and {line[COLUMN] for line in lines} == {"État civil"}


def test_one_services_download_holds_that_service_alone(client_for, org, users, rolled_up):
    client = client_for(users[Role.SERVICE_HEAD])
    response = download(client, org, "xlsx", {**OCTOBER_QUERY, "service": "accueil"})
    assert 'filename="indicateurs-ville-a-accueil-2025-10.xlsx"' in response["Content-Disposition"]
    lines = grid("xlsx", response.content)[1:]
    assert lines and {line[COLUMN] for line in lines} == {"Accueil"}


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"period": "month", "date": "2025-10-10"}, "indicateurs-ville-a-2025-10.ods"),
        ({"period": "quarter", "date": "2025-11-10"}, "indicateurs-ville-a-2025-t4.ods"),
        ({"period": "year", "date": "2025-11-10"}, "indicateurs-ville-a-2025.ods"),
    ],
)
def test_the_file_is_named_after_the_organisation_and_the_period(
    client_for, org, users, measured, query, name
):
    response = download(client_for(users[Role.AUDITOR]), org, "ods", query)
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"


def test_the_spreadsheets_say_what_they_cover_on_a_second_sheet(client_for, org, users, rolled_up):
    client = client_for(users[Role.AUDITOR])
    for extension, read in (("xlsx", xlsx_sheets), ("ods", ods_sheets)):
        about = {
            row[0]: row[1] for row in read(download(client, org, extension).content)[_("About")]
        }
        assert about[_("Organisation")] == org.name
        assert about[_("Period")] == periods.containing(dt.date(2025, 10, 1), "month").label
        assert about[_("Columns")] == ", ".join(
            [_("Organisation"), *(s.name for s in top_services(org))]
        )
