"""Every format of the report says what the requests say: PDF, ODS, XLSX and CSV read back."""

import io

import pypdf
import pytest
from django.utils.translation import gettext as _

from qualicite.core.choices import Channel, RequestKind
from qualicite.reports import complaints, exports, services
from qualicite.reports.charts import nice_scale
from qualicite.requests.models import Theme
from tests.reports import readers
from tests.reports.conftest import answer, aware
from tests.reports.expected import Expected, expected_tables

ACTIONS = "Refaire la signalétique du hall.\nFormer l'accueil au décroché en moins de 5 sonneries."

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(org, year_of_requests):
    services.save_complaint_actions(org, actor=None, year=2025, text=ACTIONS)
    return complaints.build(org, 2025)


@pytest.fixture
def expected(org, year_of_requests):
    themes = [
        t.name
        for t in Theme.objects.filter(organisation=org)
        if t.is_active or Expected(org, 2025).by(lambda r: r.theme_id).get(t.pk)
    ]
    return expected_tables(
        Expected(org, 2025),
        Expected(org, 2024),
        services=list(org.service_set.values_list("name", flat=True)),
        themes=themes,
        channels={value: str(label) for value, label in Channel.choices},
    )


def flattened(sheets: dict) -> list[list]:
    rows = []
    for sheet_rows in sheets.values():
        rows.extend([*sheet_rows, []])
    return rows


def assert_sections(found: dict, expected: dict, as_cell) -> None:
    problems = []
    for key, table in expected.items():
        section = found.get(table["title"])
        if section is None:
            problems.append((key, "missing", table["title"], list(found)))
            continue
        rows = {label: [as_cell(c) for c in cells] for label, cells in table["rows"].items()}
        if section["rows"] != rows:
            problems.append((key, "rows", section["rows"], rows))
        total = None if table["total"] is None else [as_cell(c) for c in table["total"]]
        if section["total"] != total:
            problems.append((key, "total", section["total"], total))
    assert not problems, "\n".join(map(str, problems))


def test_the_data_set_has_every_case_the_formats_must_show(org, year_of_requests):
    now = Expected(org, 2025)
    assert all(now.count(kind) for kind in (RequestKind.SUGGESTION, RequestKind.THANKS))
    assert all(now.outcomes[value] for value in ("founded", "partly_founded", "unfounded"))
    assert now.open and now.unanswered and 0 < now.in_time < now.answered
    assert now.share_in_time != round(now.share_in_time)  # a share with decimals


def test_the_csv_has_one_section_per_table_with_the_expected_figures(report, expected):
    content = exports.to_csv(report)
    rows = readers.csv_rows(content)
    assert_sections(readers.sections(rows), expected, readers.in_csv)
    assert rows[0] == [report.title]


def test_the_csv_is_semicolon_separated_utf8_with_a_byte_order_mark(report):
    content = exports.to_csv(report)
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert "État civil;" in text
    assert "," not in text.split("\r\n")[1]  # the organisation's line: no comma separator


def test_the_csv_keeps_the_actions_text_with_its_line_breaks(report):
    rows = readers.csv_rows(exports.to_csv(report))
    assert [ACTIONS] in rows


def test_the_xlsx_workbook_has_the_expected_figures_as_numbers(report, expected):
    sheets = readers.xlsx_sheets(exports.to_xlsx(report))
    assert_sections(readers.sections(flattened(sheets)), expected, readers.in_spreadsheet)
    summary = next(iter(sheets.values()))
    assert [ACTIONS] in summary


def test_the_ods_spreadsheet_has_the_expected_figures_as_numbers(report, expected):
    sheets = readers.ods_sheets(exports.to_ods(report))
    assert_sections(readers.sections(flattened(sheets)), expected, readers.in_spreadsheet)
    assert len(sheets) == len(expected) + 1  # a first sheet with the actions and the method


def test_the_pdf_shows_every_row_of_every_table(report, expected):
    content = exports.to_pdf(report)
    assert content.startswith(b"%PDF-")
    lines = set(readers.pdf_lines(content))
    missing = []
    for table in expected.values():
        if table["title"] not in lines:
            missing.append(table["title"])
        for label, cells in table["rows"].items():
            line = " ".join([label, *(readers.in_pdf(c) for c in cells)])
            if line not in lines:
                missing.append(line)
        if table["total"] is not None:
            line = " ".join([_("Total"), *(readers.in_pdf(c) for c in table["total"])])
            if line not in lines:
                missing.append(line)
    assert not missing, f"{missing}\n---\n" + "\n".join(sorted(lines))


def test_the_pdf_is_pdf_a_3u_with_the_actions_text_and_the_method(report):
    content = exports.to_pdf(report)
    reader = pypdf.PdfReader(io.BytesIO(content))
    metadata = reader.xmp_metadata.stream.get_data()
    assert b'pdfaid:part="3"' in metadata and b'pdfaid:conformance="U"' in metadata
    assert reader.trailer["/Root"]["/Lang"] == "fr"
    text = " ".join(readers.pdf_lines(content))
    for line in ACTIONS.splitlines():
        assert line in text
    for note in report.notes:
        assert " ".join(note.split()[:8]) in text


def test_the_pdf_draws_the_two_charts_before_their_tables(report):
    context = exports.context(report)
    charts = {shown.table.key: shown.chart for shown in context["tables"] if shown.chart}
    assert set(charts) == {"by_month", "by_service"}
    for key, svg in charts.items():
        assert svg.startswith("<svg") and 'role="img"' in svg
        table = report.tables[key]
        # One bar per category and series, each titled with its figure.
        bars = svg.count("<rect") - 3  # less the legend's three swatches
        assert bars == len(table.rows) * 3, key


def test_a_year_without_answered_complaints_says_no_data_in_every_format(org, make_request):
    request = make_request(kind=RequestKind.COMPLAINT, received_at=aware(2025, 4, 1, 10))
    answer(request, replied_at=None)
    report = complaints.build(org, 2025)
    no_data = _("no data")
    csv_sections = readers.sections(readers.csv_rows(exports.to_csv(report)))
    key_figures = csv_sections[report.tables["key_figures"].title]["rows"]
    assert key_figures[_("Median answer delay (days)")] == [no_data, no_data, no_data]
    xlsx = readers.sections(flattened(readers.xlsx_sheets(exports.to_xlsx(report))))
    assert xlsx[report.tables["key_figures"].title]["rows"][_("Median answer delay (days)")] == [
        no_data,
        no_data,
        no_data,
    ]
    lines = readers.pdf_lines(exports.to_pdf(report))
    assert f"{_('Median answer delay (days)')} {no_data} {no_data} {no_data}" in lines


def test_the_chart_scale_ends_on_a_round_number_above_the_largest_bar():
    for largest in (0, 1, 3, 7, 10, 44, 999, 20_000):
        top, step = nice_scale(largest)
        assert top >= largest and top % step == 0
        assert str(step).strip("0") in ("1", "2", "5")
        assert top // step <= 5 or largest == 0
