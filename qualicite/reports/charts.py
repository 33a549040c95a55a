"""Bar charts as inline SVG, drawn on the server for the page and the PDF alike.

No JavaScript and no image file: the same markup is shown by the browser and by WeasyPrint.
Each chart is an image with a title and a description (role="img"), and the page and the PDF
follow it with its data table, so nothing is conveyed by the drawing alone. The series are told
apart by lightness as well as hue (dark, medium, light, all outlined), and named in a legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

SERIES_FILLS = ("#1f4e8c", "#c8691c", "#b9d3ee")
OUTLINE = "#1b1b1b"
GRID = "#c8c8c8"
TEXT = "#1b1b1b"
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


@dataclass
class Series:
    name: str
    values: list[int]


def nice_scale(largest: int) -> tuple[int, int]:
    """(top of the axis, step between ticks): 1, 2 or 5 × 10ⁿ, about four steps."""
    if largest <= 0:
        return 1, 1
    raw = largest / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return step * math.ceil(largest / step), step


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _legend(series: list[Series], x: float, y: float) -> list[str]:
    parts, offset = [], 0.0
    for index, one in enumerate(series):
        fill = SERIES_FILLS[index % len(SERIES_FILLS)]
        parts.append(
            f'<rect x="{x + offset:.1f}" y="{y - 10}" width="12" height="12" fill="{fill}" '
            f'stroke="{OUTLINE}" stroke-width="0.6"/>'
            f'<text x="{x + offset + 17:.1f}" y="{y}" font-size="12" fill="{TEXT}">'
            f"{escape(one.name)}</text>"
        )
        offset += 30 + 7.5 * len(one.name)
    return parts


def _open(chart_id: str, width: int, height: int, title: str, description: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def vertical_bars(
    chart_id: str, title: str, description: str, categories: list[str], series: list[Series]
) -> SafeString:
    """Grouped columns, one group per category (the months of a year)."""
    width, height = 720, 300
    left, right, top, bottom = 44, 10, 34, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max((v for one in series for v in one.values), default=0)
    axis_top, step = nice_scale(largest)
    parts = [_open(chart_id, width, height, title, description)]
    parts += _legend(series, left, 16)
    for tick in range(0, axis_top + 1, step):
        y = top + plot_h - plot_h * tick / axis_top
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{TEXT}">{tick}</text>'
        )
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.75 / max(len(series), 1)
    for index, category in enumerate(categories):
        x0 = left + group_w * index + group_w * 0.125
        for position, one in enumerate(series):
            value = one.values[index]
            bar_h = plot_h * value / axis_top
            fill = SERIES_FILLS[position % len(SERIES_FILLS)]
            parts.append(
                f'<rect x="{x0 + bar_w * position:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{bar_w:.1f}" height="{bar_h:.1f}" fill="{fill}" stroke="{OUTLINE}" '
                f'stroke-width="0.6"><title>{escape(category)} — {escape(one.name)}: '
                f"{value}</title></rect>"
            )
        parts.append(
            f'<text x="{left + group_w * (index + 0.5):.1f}" y="{height - 8}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT}">{escape(category)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{OUTLINE}" stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def horizontal_bars(
    chart_id: str, title: str, description: str, categories: list[str], series: list[Series]
) -> SafeString:
    """Grouped bars, one group per category (services, whose names need room)."""
    width, label_w, right, top, bottom = 720, 170, 16, 34, 26
    bar_h, gap = 9, 10
    group_h = bar_h * len(series) + gap
    plot_w = width - label_w - right
    plot_h = group_h * max(len(categories), 1)
    height = top + plot_h + bottom
    largest = max((v for one in series for v in one.values), default=0)
    axis_top, step = nice_scale(largest)
    parts = [_open(chart_id, width, height, title, description)]
    parts += _legend(series, label_w, 16)
    for tick in range(0, axis_top + 1, step):
        x = label_w + plot_w * tick / axis_top
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="{GRID}" '
            f'stroke-width="1"/><text x="{x:.1f}" y="{height - 8}" font-size="11" '
            f'text-anchor="middle" fill="{TEXT}">{tick}</text>'
        )
    for index, category in enumerate(categories):
        y0 = top + group_h * index + gap / 2
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + bar_h * len(series) / 2 + 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="{TEXT}">{escape(_shorten(category, 26))}</text>'
        )
        for position, one in enumerate(series):
            value = one.values[index]
            fill = SERIES_FILLS[position % len(SERIES_FILLS)]
            parts.append(
                f'<rect x="{label_w}" y="{y0 + bar_h * position:.1f}" '
                f'width="{plot_w * value / axis_top:.1f}" height="{bar_h}" fill="{fill}" '
                f'stroke="{OUTLINE}" stroke-width="0.6"><title>{escape(category)} — '
                f"{escape(one.name)}: {value}</title></rect>"
            )
    parts.append(
        f'<line x1="{label_w}" x2="{label_w}" y1="{top}" y2="{top + plot_h}" '
        f'stroke="{OUTLINE}" stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()
