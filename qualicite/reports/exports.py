"""The complaints report in every format: the page's tables, PDF, ODS, XLSX and CSV.

All formats are laid out from the same `ComplaintsReport` tables, so a figure cannot differ
between the page, the PDF and a spreadsheet.

CSV: one section per table (its title, its header, its rows, its total) separated by an empty
line; semicolon separators and a decimal comma, as French spreadsheets (LibreOffice, Excel in
French) expect; UTF-8 with a byte-order mark so that Excel reads the accents right. Counts are
plain integers, shares are written "87,5 %", changes carry their sign ("+3", "-2", and for a
share "+2,5", in percentage points), and a figure that cannot be computed is "no data" in words.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.template.loader import render_to_string
from django.utils import formats
from django.utils.dates import MONTHS_AP
from django.utils.translation import gettext as _
from odf import number as odf_number
from odf import style as odf_style
from odf import table as odf_table
from odf import text as odf_text
from odf.opendocument import OpenDocumentSpreadsheet
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from weasyprint import HTML

from qualicite.reports import charts
from qualicite.reports.complaints import COUNT, DAYS, PERCENT, ComplaintsReport, Table

FORMATS = {
    "pdf": "application/pdf",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
TEXT, LABEL = "text", "label"


def filename(report: ComplaintsReport, extension: str) -> str:
    return f"bilan-reclamations-{report.organisation.slug}-{report.year}.{extension}"


# ---------------------------------------------------------------------------------------------
# Numbers as people read them (page and PDF)


def one_decimal(value: float) -> Decimal:
    """Shares are shown to one decimal, halves rounded up (68.75 → 68.8) in every format."""
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def display(value, kind: str, signed: bool = False) -> str:
    if value is None:
        return _("no data")
    if kind == PERCENT:
        rounded = one_decimal(value)
        text = formats.number_format(abs(rounded) if signed else rounded, 1, use_l10n=True)
        if signed:
            sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
            return _("%(value)s pts") % {"value": sign + text}
        return f"{text} %"
    text = formats.number_format(
        abs(value) if signed else value, use_l10n=True, force_grouping=True
    )
    if signed and value:
        return ("+" if value > 0 else "-") + text
    return text


@dataclass
class ShownRow:
    label: str
    cells: list[str]
    key: str = ""


@dataclass
class ShownTable:
    table: Table
    rows: list[ShownRow]
    total: ShownRow | None
    chart: str = ""


def shown_row(table: Table, row) -> ShownRow:
    return ShownRow(row.label, [display(*cell) for cell in table.cells(row)], row.key)


def chart_for(table: Table, chart_id: str, *, horizontal: bool) -> str:
    """The table's first three columns (complaints, suggestions, thanks) as grouped bars."""
    series = [
        charts.Series(table.columns[1 + index], [row.values[index] for row in table.rows])
        for index in range(3)
    ]
    description = _("The figures are given in the table that follows the chart.")
    if horizontal:
        categories = [row.label for row in table.rows]
        return charts.horizontal_bars(chart_id, table.title, description, categories, series)
    categories = [str(MONTHS_AP[month]).capitalize() for month in range(1, 13)]
    return charts.vertical_bars(chart_id, table.title, description, categories, series)


def shown_tables(report: ComplaintsReport) -> list[ShownTable]:
    found = []
    for table in report.ordered_tables:
        shown = ShownTable(
            table,
            [shown_row(table, row) for row in table.rows],
            shown_row(table, table.total) if table.total is not None else None,
        )
        if table.key == "by_month":
            shown.chart = chart_for(table, "chart-by-month", horizontal=False)
        elif table.key == "by_service" and table.rows:
            shown.chart = chart_for(table, "chart-by-service", horizontal=True)
        found.append(shown)
    return found


def context(report: ComplaintsReport) -> dict:
    return {"report": report, "tables": shown_tables(report)}


# ---------------------------------------------------------------------------------------------
# PDF


def to_pdf(report: ComplaintsReport) -> bytes:
    html = render_to_string("reports/complaints_pdf.html", context(report))
    return HTML(string=html).write_pdf(pdf_variant="pdf/a-3u")


# ---------------------------------------------------------------------------------------------
# Spreadsheets and CSV: one grid of cells, written three ways


@dataclass
class Cell:
    value: object  # str, int, float or None
    kind: str = TEXT  # TEXT, LABEL (bold text), COUNT, DAYS or PERCENT
    signed: bool = False


@dataclass
class Sheet:
    name: str
    rows: list[list[Cell]]


def table_sheet(table: Table) -> Sheet:
    rows = [[Cell(table.title, LABEL)], [Cell(column, LABEL) for column in table.columns]]
    for row in [*table.rows, *([table.total] if table.total is not None else [])]:
        label_kind = LABEL if row is table.total else TEXT
        rows.append(
            [Cell(row.label, label_kind)]
            + [Cell(value, kind, signed) for value, kind, signed in table.cells(row)]
        )
    return Sheet(table.sheet, rows)


def _summary_sheet(report: ComplaintsReport) -> Sheet:
    generated = formats.date_format(report.generated_at, "DATETIME_FORMAT", use_l10n=True)
    rows = [
        [Cell(report.title, LABEL)],
        [Cell(_("Organisation"), LABEL), Cell(report.organisation.name)],
        [Cell(_("Year"), LABEL), Cell(report.year, COUNT)],
        [Cell(_("Scope"), LABEL), Cell(report.scope.describe())],
        [Cell(_("Generated on"), LABEL), Cell(generated)],
        [],
        [Cell(_("Actions decided from complaints"), LABEL)],
        [Cell(report.actions_text or _("No action recorded for this year."))],
        [],
        [Cell(_("Method"), LABEL)],
        *[[Cell(note)] for note in report.notes],
    ]
    return Sheet(_("Report"), rows)


def sheets(report: ComplaintsReport) -> list[Sheet]:
    return [_summary_sheet(report), *(table_sheet(t) for t in report.ordered_tables)]


def _csv_text(cell: Cell) -> str:
    value = cell.value
    if cell.kind in (TEXT, LABEL):
        return "" if value is None else str(value)
    if value is None:
        return _("no data")
    if cell.kind == PERCENT:
        rounded = one_decimal(value)
        text = f"{rounded:+}" if cell.signed and rounded else f"{rounded}"
        text = text.replace(".", ",")
        return text if cell.signed else f"{text} %"
    return f"{value:+d}" if cell.signed and value else str(value)


def to_csv(report: ComplaintsReport) -> bytes:
    return csv_of(sheets(report))


def csv_of(sheets: list[Sheet]) -> bytes:
    """Every sheet one after the other, a blank line between; UTF-8 with BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for index, sheet in enumerate(sheets):
        if index:
            writer.writerow([])
        for row in sheet.rows:
            writer.writerow([_csv_text(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


_XLSX_FORMATS = {
    (COUNT, False): "0",
    (DAYS, False): "0",
    (COUNT, True): "+0;-0;0",
    (DAYS, True): "+0;-0;0",
    (PERCENT, False): "0.0 %",
    (PERCENT, True): '+0.0" pts";-0.0" pts";0.0" pts"',
}


def to_xlsx(report: ComplaintsReport) -> bytes:
    return xlsx_of(sheets(report))


def xlsx_of(sheets: list[Sheet]) -> bytes:
    """One worksheet per sheet; numbers stay numbers with their display format."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    used: set[str] = set()
    for sheet in sheets:
        worksheet = workbook.create_sheet(_sheet_name(sheet.name, used))
        widths: dict[int, int] = {}
        for row in sheet.rows:
            worksheet.append([_spreadsheet_value(cell) for cell in row] or [None])
            for column, cell in enumerate(row, start=1):
                target = worksheet.cell(row=worksheet.max_row, column=column)
                if cell.kind == LABEL:
                    target.font = bold
                elif cell.kind in (COUNT, DAYS, PERCENT) and cell.value is not None:
                    target.number_format = _XLSX_FORMATS[(cell.kind, cell.signed)]
                text = str(cell.value or "")
                if "\n" in text or len(text) > 60:
                    target.alignment = Alignment(wrap_text=True, vertical="top")
                widths[column] = max(widths.get(column, 8), min(len(text) + 2, 60))
        for column, width in widths.items():
            worksheet.column_dimensions[get_column_letter(column)].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    """A tab name both formats accept: at most 31 characters, none of []:*?/\\, unique."""
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in name).strip()[:31] or "Feuille"
    candidate, number = cleaned, 2
    while candidate.lower() in used:
        suffix = f" {number}"
        candidate, number = cleaned[: 31 - len(suffix)] + suffix, number + 1
    used.add(candidate.lower())
    return candidate


def _spreadsheet_value(cell: Cell):
    """Numbers stay numbers (a share as a fraction, shown as a percentage); None is words."""
    if cell.kind in (TEXT, LABEL):
        return cell.value
    if cell.value is None:
        return _("no data")
    if cell.kind == PERCENT and not cell.signed:
        return cell.value / 100
    return cell.value


def to_ods(report: ComplaintsReport) -> bytes:
    return ods_of(sheets(report))


def ods_of(sheets: list[Sheet], *, first_column: str = "7cm", other_columns: str = "3cm") -> bytes:
    """One table per sheet, the first column wide enough for the labels."""
    document = OpenDocumentSpreadsheet()
    styles = document.automaticstyles
    percent_format = odf_number.PercentageStyle(name="percent")
    percent_format.addElement(odf_number.Number(decimalplaces=1, minintegerdigits=1))
    percent_format.addElement(odf_number.Text(text=" %"))
    styles.addElement(percent_format)
    percent_cell = odf_style.Style(name="percent-cell", family="table-cell")
    percent_cell.setAttribute("datastylename", "percent")
    styles.addElement(percent_cell)
    bold_cell = odf_style.Style(name="label-cell", family="table-cell")
    bold_cell.addElement(odf_style.TextProperties(fontweight="bold"))
    styles.addElement(bold_cell)
    wide_column = odf_style.Style(name="wide-column", family="table-column")
    wide_column.addElement(odf_style.TableColumnProperties(columnwidth=first_column))
    styles.addElement(wide_column)
    narrow_column = odf_style.Style(name="narrow-column", family="table-column")
    narrow_column.addElement(odf_style.TableColumnProperties(columnwidth=other_columns))
    styles.addElement(narrow_column)

    used: set[str] = set()
    for sheet in sheets:
        table = odf_table.Table(name=_sheet_name(sheet.name, used))
        columns = max((len(row) for row in sheet.rows), default=1)
        table.addElement(odf_table.TableColumn(stylename=wide_column))
        if columns > 1:
            table.addElement(
                odf_table.TableColumn(stylename=narrow_column, numbercolumnsrepeated=columns - 1)
            )
        for row in sheet.rows:
            table_row = odf_table.TableRow()
            for cell in row or [Cell(None)]:
                table_row.addElement(_ods_cell(cell, bold_cell, percent_cell))
            table.addElement(table_row)
        document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def _ods_cell(cell: Cell, bold_cell, percent_cell):
    value = _spreadsheet_value(cell)
    numeric = cell.kind in (COUNT, DAYS, PERCENT) and cell.value is not None
    if numeric and cell.kind == PERCENT and not cell.signed:
        element = odf_table.TableCell(valuetype="percentage", value=value, stylename=percent_cell)
    elif numeric:
        element = odf_table.TableCell(valuetype="float", value=value)
    elif cell.kind == LABEL:
        element = odf_table.TableCell(valuetype="string", stylename=bold_cell)
    else:
        element = odf_table.TableCell(valuetype="string")
    shown = display(cell.value, cell.kind, cell.signed) if numeric else value
    # Each line its own paragraph: that is how a spreadsheet cell keeps line breaks.
    for line in ("" if shown is None else str(shown)).split("\n"):
        element.addElement(odf_text.P(text=line))
    return element
