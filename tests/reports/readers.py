"""Read a report back from each format, with the library a person's tools would use."""

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pypdf
from django.utils.translation import gettext as _
from odf import teletype
from odf.opendocument import load as load_ods
from odf.table import Table, TableCell, TableRow

from tests.reports.expected import COUNT, PERCENT

# --- Grids: a list of rows of cells, sheet after sheet, an empty row between sheets ------------


def _trimmed(row):
    row = list(row)
    while row and row[-1] in (None, ""):
        row.pop()
    return row


def ods_sheets(content: bytes) -> dict[str, list[list]]:
    """{sheet name: rows}; numbers as floats (a percentage as its fraction), text as text."""
    document = load_ods(io.BytesIO(content))
    sheets = {}
    for table in document.spreadsheet.getElementsByType(Table):
        rows = []
        for row in table.getElementsByType(TableRow):
            cells = []
            for cell in row.getElementsByType(TableCell):
                if cell.getAttribute("valuetype") in ("float", "percentage"):
                    cells.append(float(cell.getAttribute("value")))
                else:
                    cells.append(teletype.extractText(cell))
            rows.append(_trimmed(cells))
        sheets[table.getAttribute("name")] = rows
    return sheets


def xlsx_sheets(content: bytes) -> dict[str, list[list]]:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return {
        sheet.title: [_trimmed(row) for row in sheet.iter_rows(values_only=True)]
        for sheet in workbook.worksheets
    }


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 byte-order mark"
    text = content[3:].decode("utf-8")
    return [_trimmed(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")]


def pdf_lines(content: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [
        " ".join(line.split()) for page in reader.pages for line in page.extract_text().splitlines()
    ]


def sections(rows: list[list]) -> dict[str, dict]:
    """Each table of a grid: a title row, a header row, its rows up to an empty row."""
    found = {}
    index = 0
    while index < len(rows):
        row = rows[index]
        following = rows[index + 1] if index + 1 < len(rows) else []
        if len(row) == 1 and len(following) > 1 and (index == 0 or not rows[index - 1]):
            body, index = [], index + 2
            while index < len(rows) and rows[index]:
                body.append(rows[index])
                index += 1
            total = body[-1][1:] if body and body[-1][0] == _("Total") else None
            if total is not None:
                body = body[:-1]
            found[row[0]] = {
                "header": following,
                "rows": {r[0]: r[1:] for r in body},
                "total": total,
            }
        index += 1
    return found


# --- How each format writes an expected (value, kind, signed) cell ----------------------------


def one_decimal(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def in_spreadsheet(cell):
    value, kind, signed = cell
    if value is None:
        return _("no data")
    if kind == PERCENT and not signed:
        return Approx(value / 100)
    return Approx(value) if kind == PERCENT else value


class Approx:
    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, int | float) and abs(other - self.value) < 1e-9

    def __repr__(self):
        return f"≈{self.value}"


def in_csv(cell) -> str:
    value, kind, signed = cell
    if value is None:
        return _("no data")
    if kind == PERCENT:
        rounded = one_decimal(value)
        text = str(rounded).replace(".", ",")
        if signed:
            return ("+" + text) if rounded > 0 else text
        return f"{text} %"
    if signed and value > 0:
        return f"+{value}"
    return str(value)


def in_pdf(cell) -> str:
    value, kind, signed = cell
    if value is None:
        return _("no data")
    if kind == PERCENT:
        rounded = one_decimal(value)
        text = str(abs(rounded) if signed else rounded).replace(".", ",")
        if signed:
            sign = "+" if rounded > 0 else "-" if rounded < 0 else ""
            return _("%(value)s pts") % {"value": sign + text}
        return f"{text} %"
    assert kind != COUNT or abs(value) < 1000, "this reader does not handle digit grouping"
    if signed and value:
        return f"{value:+d}"
    return str(value)
