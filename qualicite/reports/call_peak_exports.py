"""The call-peak report in every format: the page's heat maps and tables, PDF, ODS, XLSX, CSV.

Every format is laid out from the same `CallPeaksReport` tables (as the complaints report's
are, with the same cell writers from `reports.exports`), so a figure cannot differ between
the page, the PDF and a spreadsheet. The heat maps are SVG drawn on the server: each cell has
its colour AND its number, the scale is spelt out in a legend, and the page and the PDF follow
each map with its data table.
"""

from __future__ import annotations

import math

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from weasyprint import HTML

from qualicite.reports import exports
from qualicite.reports.call_peaks import CallPeaksReport
from qualicite.reports.complaints import Table
from qualicite.reports.exports import LABEL, Cell, Sheet, ShownTable

FORMATS = exports.FORMATS
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
TEXT_DARK, TEXT_LIGHT, OUTLINE, EMPTY = "#1b1b1b", "#ffffff", "#6b6b6b", "#ffffff"
# Five steps from light to dark; the number is written dark on the three light steps and
# white on the two dark ones (contrast ≥ 4.5:1 everywhere).
CALL_STEPS = ("#eef3fa", "#c9d9ee", "#93b4de", "#3d6cae", "#1c467f")
RATE_STEPS = ("#f6efe6", "#e9d3b3", "#cfa36b", "#8a5a1c", "#5a3710")
RATE_BOUNDS = (60, 75, 85, 95)  # answer rate (percent): below 60, 60–75, 75–85, 85–95, 95+


def filename(report: CallPeaksReport, extension: str) -> str:
    choice = report.choice
    return (
        f"pics-d-appels-{report.organisation.slug}-{choice.start:%Y-%m-%d}-"
        f"{choice.end:%Y-%m-%d}.{extension}"
    )


# --- Heat maps --------------------------------------------------------------------------------


def _count_step(value: int, largest: int) -> int:
    return min(4, max(0, math.ceil(5 * value / largest) - 1)) if largest else 0


def _rate_step(value: float) -> int:
    return sum(1 for bound in RATE_BOUNDS if value >= bound)


def _count_legend(largest: int) -> list[str]:
    """The calls each step stands for: (low, high) whole numbers."""
    found, low = [], 1
    for step in range(5):
        high = math.floor(largest * (step + 1) / 5)
        found.append(f"{low}–{high}" if high > low else str(high))
        low = high + 1
    return found


def _rate_legend() -> list[str]:
    labels = [_("under %(rate)s %%") % {"rate": RATE_BOUNDS[0]}]
    for low, high in zip(RATE_BOUNDS, RATE_BOUNDS[1:], strict=False):
        labels.append(f"{low}–{high} %")
    labels.append(_("%(rate)s %% or more") % {"rate": RATE_BOUNDS[-1]})
    return labels


def heat_map(chart_id: str, table: Table, *, rates: bool, description: str) -> SafeString:
    """Weekdays down, slots across: each cell coloured by its step and showing its number."""
    columns = table.columns[1:-1]  # the last column is the row's total
    cell_w = 60 if len(columns) <= 14 else 40
    cell_h, label_w, head_h = 30, 92, 30
    width = label_w + cell_w * len(columns) + 2
    legend_y = head_h + cell_h * len(table.rows) + 26
    height = legend_y + 30
    largest = max((v for row in table.rows for v in row.values[:-1] if v), default=0)
    steps = RATE_STEPS if rates else CALL_STEPS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heat-map" id="{chart_id}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(table.title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    ]
    size = 12 if cell_w > 40 else 10.5
    for index, column in enumerate(columns):
        x = label_w + cell_w * (index + 0.5)
        start = column.split("–")[0]
        parts.append(
            f'<text x="{x:.1f}" y="{head_h - 10}" font-size="{size}" text-anchor="middle" '
            f'fill="{TEXT_DARK}">{escape(start)}</text>'
        )
    for row_index, row in enumerate(table.rows):
        y = head_h + cell_h * row_index
        parts.append(
            f'<text x="{label_w - 8}" y="{y + cell_h / 2 + 4:.1f}" font-size="12" '
            f'text-anchor="end" fill="{TEXT_DARK}">{escape(row.label)}</text>'
        )
        for index, value in enumerate(row.values[:-1]):
            x = label_w + cell_w * index
            if value is None or (not rates and value == 0):
                fill, text, colour = EMPTY, "–", TEXT_DARK
            else:
                step = _rate_step(value) if rates else _count_step(value, largest)
                fill = steps[step]
                colour = TEXT_LIGHT if step >= 3 else TEXT_DARK
                text = f"{round(value)} %" if rates and cell_w > 40 else str(round(value))
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="{fill}" '
                f'stroke="{OUTLINE}" stroke-width="0.5"/>'
                f'<text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" font-size="{size}" '
                f'text-anchor="middle" fill="{colour}">{escape(text)}</text>'
            )
    legend = _rate_legend() if rates else _count_legend(largest)
    x = label_w
    parts.append(
        f'<text x="{label_w - 8}" y="{legend_y + 4}" font-size="11" text-anchor="end" '
        f'fill="{TEXT_DARK}">{escape(_("Scale"))}</text>'
    )
    for step, label in enumerate(legend):
        parts.append(
            f'<rect x="{x}" y="{legend_y - 8}" width="14" height="14" fill="{steps[step]}" '
            f'stroke="{OUTLINE}" stroke-width="0.5"/>'
            f'<text x="{x + 19}" y="{legend_y + 4}" font-size="11" fill="{TEXT_DARK}">'
            f"{escape(label)}</text>"
        )
        x += 30 + 7 * len(label)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


# --- Page and PDF -----------------------------------------------------------------------------


def shown_tables(report: CallPeaksReport) -> list[ShownTable]:
    found = []
    description = _(
        "Darker cells stand for more; each cell shows its figure, and the table that follows "
        "gives them all."
    )
    for table in report.ordered_tables:
        shown = ShownTable(
            table,
            [exports.shown_row(table, row) for row in table.rows],
            exports.shown_row(table, table.total) if table.total is not None else None,
        )
        if table.key == "calls_heat" and report.figures.total.calls:
            shown.chart = heat_map("heat-calls", table, rates=False, description=description)
        elif table.key == "rate_heat" and report.figures.total.reached:
            rates = _("Answer rates rounded to the unit. ") + description
            shown.chart = heat_map("heat-rates", table, rates=True, description=rates)
        found.append(shown)
    return found


def context(report: CallPeaksReport) -> dict:
    return {"report": report, "tables": shown_tables(report)}


def to_pdf(report: CallPeaksReport) -> bytes:
    html = render_to_string("reports/call_peaks_pdf.html", context(report))
    return HTML(string=html).write_pdf(pdf_variant="pdf/a-3u")


# --- Spreadsheets and CSV --------------------------------------------------------------------
#
# The grid of cells and the cell writers are the complaints report's (`reports.exports`);
# only the loops over the sheets are written again here, that module's take its own report.


def _summary_sheet(report: CallPeaksReport) -> Sheet:
    rows = [[Cell(report.title, LABEL)]]
    rows += [[Cell(label, LABEL), Cell(value)] for label, value in report.describe()]
    rows += [[], [Cell(_("Best times to call"), LABEL)]]
    sentences = report.advice.best + report.advice.busiest
    rows += [[Cell(sentence)] for sentence in sentences] or [
        [Cell(_("Too few calls in the period to advise on the best times to call."))]
    ]
    rows += [[], [Cell(_("Method"), LABEL)], *[[Cell(note)] for note in report.notes]]
    return Sheet(_("Report"), rows)


def sheets(report: CallPeaksReport) -> list[Sheet]:
    return [_summary_sheet(report), *(exports.table_sheet(t) for t in report.ordered_tables)]


def to_csv(report: CallPeaksReport) -> bytes:
    return exports.csv_of(sheets(report))


def to_xlsx(report: CallPeaksReport) -> bytes:
    return exports.xlsx_of(sheets(report))


def to_ods(report: CallPeaksReport) -> bytes:
    return exports.ods_of(sheets(report), first_column="6cm", other_columns="2.6cm")
