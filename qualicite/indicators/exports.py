"""The dashboard's matrix as CSV, XLSX and ODS: one line per indicator and column.

The lines are laid out once (`lines()`) from the same `dashboard.Matrix` the page shows, so a
figure cannot differ between the page and a file. Spreadsheets get numbers as numbers (the
value in the indicator's unit, named in the Unit column), dates as dates; a period without
data says "no data" in words, never 0. The CSV follows French spreadsheets' habits, as the
complaints report does: semicolons, a decimal comma, UTF-8 with a byte-order mark.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from odf import style as odf_style
from odf import table as odf_table
from odf import text as odf_text
from odf.opendocument import OpenDocumentSpreadsheet
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from qualicite.charter.models import plain_number
from qualicite.indicators.dashboard import Matrix

FORMATS = {
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def header() -> list[str]:
    return [
        _("Programme"),
        _("Commitment"),
        _("Indicator code"),
        _("Indicator"),
        _("Service"),
        _("Period"),
        _("From"),
        _("To"),
        _("Value"),
        _("Unit"),
        _("Numerator"),
        _("Denominator"),
        _("Target"),
        _("Status"),
    ]


@dataclass
class Line:
    programme: str
    commitment: str
    code: str
    indicator: str
    column: str
    period: str
    start: date
    end: date
    value: Decimal | None
    unit: str
    numerator: int | None
    denominator: int | None
    target: Decimal | None
    status: str

    def cells(self) -> list:
        return [
            self.programme,
            self.commitment,
            self.code,
            self.indicator,
            self.column,
            self.period,
            self.start,
            self.end,
            self.value,
            self.unit,
            self.numerator,
            self.denominator,
            self.target,
            self.status,
        ]


def lines(matrix: Matrix) -> list[Line]:
    """Every cell of the matrix that measures something, in the page's order."""
    found = []
    for row in matrix.rows:
        indicator = row.indicator
        commitment = indicator.commitment
        for cell in row.cells:
            result = cell.result
            if result is None:  # the indicator does not measure that service
                continue
            found.append(
                Line(
                    programme=commitment.programme.name,
                    commitment=f"{commitment.number}. {commitment.title}",
                    code=indicator.code,
                    indicator=indicator.name,
                    column=cell.column.label,
                    period=matrix.period.label,
                    start=matrix.period.start,
                    end=matrix.period.end,
                    value=result.value,
                    unit=indicator.get_unit_display(),
                    numerator=result.numerator,
                    denominator=result.denominator,
                    target=result.target,
                    status=result.status_label,
                )
            )
    return found


def filename(matrix: Matrix, extension: str, *, service: str = "") -> str:
    period = matrix.period
    if period.kind == "month":
        when = period.start.strftime("%Y-%m")
    elif period.kind == "quarter":
        when = f"{period.start.year}-t{(period.start.month - 1) // 3 + 1}"
    else:
        when = str(period.start.year)
    parts = ["indicateurs", matrix.organisation.slug, service, when]
    return "-".join(part for part in parts if part) + f".{extension}"


def _about(matrix: Matrix, updated_at) -> list[tuple[str, str]]:
    updated = (
        formats.date_format(
            timezone.localtime(updated_at, matrix.organisation.zone), "DATETIME_FORMAT"
        )
        if updated_at
        else _("never")
    )
    return [
        (_("Organisation"), matrix.organisation.name),
        (_("Period"), matrix.period.label),
        (_("Columns"), ", ".join(column.label for column in matrix.columns)),
        (_("Roll-ups updated"), updated),
        (
            _("Generated on"),
            formats.date_format(
                timezone.localtime(timezone.now(), matrix.organisation.zone), "DATETIME_FORMAT"
            ),
        ),
    ]


# --- CSV ---------------------------------------------------------------------------------------


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain_number(value).replace(".", ",")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(matrix: Matrix, *, updated_at=None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header())
    for line in lines(matrix):
        cells = [_csv_text(value) for value in line.cells()]
        if line.value is None:
            cells[8] = _("no data")
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8-sig")


# --- Spreadsheets ------------------------------------------------------------------------------


def _spreadsheet_value(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _sheet_rows(matrix: Matrix) -> list[list]:
    rows = []
    for line in lines(matrix):
        cells = [_spreadsheet_value(value) for value in line.cells()]
        if line.value is None:
            cells[8] = _("no data")
        rows.append(cells)
    return rows


def to_xlsx(matrix: Matrix, *, updated_at=None) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Indicators")[:31]
    bold = Font(bold=True)
    sheet.append(header())
    for cell in sheet[1]:
        cell.font = bold
    for row in _sheet_rows(matrix):
        sheet.append(row)
        for column in (7, 8):  # From, To
            sheet.cell(row=sheet.max_row, column=column).number_format = "yyyy-mm-dd"
    widths = [22, 36, 18, 40, 18, 14, 12, 12, 10, 12, 12, 12, 10, 14]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    about = workbook.create_sheet(_("About")[:31])
    for label, value in _about(matrix, updated_at):
        about.append([label, value])
        about.cell(row=about.max_row, column=1).font = bold
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 60
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _ods_cell(value, *, stylename=None):
    options = {"stylename": stylename} if stylename is not None else {}
    if value is None:
        return odf_table.TableCell(**options)
    if isinstance(value, int | float):
        element = odf_table.TableCell(valuetype="float", value=value, **options)
        shown = formats.number_format(value, use_l10n=True)
    elif isinstance(value, date) and not isinstance(value, datetime):
        element = odf_table.TableCell(valuetype="date", datevalue=value.isoformat(), **options)
        shown = value.isoformat()
    else:
        element = odf_table.TableCell(valuetype="string", **options)
        shown = str(value)
    element.addElement(odf_text.P(text=shown))
    return element


def to_ods(matrix: Matrix, *, updated_at=None) -> bytes:
    document = OpenDocumentSpreadsheet()
    bold = odf_style.Style(name="label-cell", family="table-cell")
    bold.addElement(odf_style.TextProperties(fontweight="bold"))
    document.automaticstyles.addElement(bold)
    wide = odf_style.Style(name="wide-column", family="table-column")
    wide.addElement(odf_style.TableColumnProperties(columnwidth="6cm"))
    document.automaticstyles.addElement(wide)
    narrow = odf_style.Style(name="narrow-column", family="table-column")
    narrow.addElement(odf_style.TableColumnProperties(columnwidth="3cm"))
    document.automaticstyles.addElement(narrow)

    table = odf_table.Table(name=_("Indicators"))
    for width in ("wide", "wide", "narrow", "wide", "narrow", *["narrow"] * 9):
        table.addElement(odf_table.TableColumn(stylename=wide if width == "wide" else narrow))
    table.addElement(_ods_row(header(), bold))
    for row in _sheet_rows(matrix):
        table.addElement(_ods_row(row))
    document.spreadsheet.addElement(table)

    about = odf_table.Table(name=_("About"))
    about.addElement(odf_table.TableColumn(stylename=wide))
    about.addElement(odf_table.TableColumn(stylename=wide))
    for label, value in _about(matrix, updated_at):
        about.addElement(_ods_row([label, value], bold, first_only=True))
    document.spreadsheet.addElement(about)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def _ods_row(values, stylename=None, *, first_only: bool = False):
    row = odf_table.TableRow()
    for index, value in enumerate(values):
        style = stylename if (not first_only or index == 0) else None
        row.addElement(_ods_cell(value, stylename=style))
    return row


WRITERS = {"csv": to_csv, "xlsx": to_xlsx, "ods": to_ods}


def write(matrix: Matrix, extension: str, *, updated_at=None) -> bytes:
    return WRITERS[extension](matrix, updated_at=updated_at)
