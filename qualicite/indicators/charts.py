"""Indicator charts as inline SVG drawn on the server: a sparkline and a 12-period chart.

No JavaScript and no image file. Each chart is an image with a title and a description
(role="img", aria-labelledby), and every page that shows one also gives its figures in a
table, so nothing rests on the drawing. A period without data is a gap in the line and an
empty slot with a dash in the bars — never a zero. The target is a dashed line, named in the
description and in the legend, never told by colour alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

LINE = "#1f4e8c"  # contrast 8.6:1 on white
BAR = "#1f4e8c"
TARGET = "#8a4b00"  # the stylesheet's warning brown: 6.1:1 on white
GRID = "#c8c8c8"
TEXT = "#1b1b1b"
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


@dataclass
class Point:
    label: str  # the period as shown under the chart: "oct. 2025"
    value: Decimal | None  # None: no data for that period
    text: str = ""  # the value as the page shows it ("87.5 %", "no data")


def nice_scale(largest: float) -> tuple[float, float]:
    """(top of the axis, step between ticks): 1, 2 or 5 × 10ⁿ, about four steps."""
    if largest <= 0:
        return 1, 1
    raw = largest / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return step * math.ceil(largest / step), step


def _scale(points: list[Point], target, percent: bool) -> tuple[float, float]:
    if percent:
        return 100.0, 25.0
    values = [float(p.value) for p in points if p.value is not None]
    if target is not None:
        values.append(float(target))
    return nice_scale(max(values, default=0))


def _open(chart_id: str, width: int, height: int, title: str, description: str, css: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" id="{escape(chart_id)}" '
        f'role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" {FONT}>'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def describe(points: list[Point]) -> str:
    """Every figure in words, for the description: "oct. 2025: 87.5 %; nov. 2025: no data"."""
    return "; ".join(f"{p.label}: {p.text}" for p in points)


def sparkline(
    chart_id: str,
    title: str,
    description: str,
    points: list[Point],
    *,
    target=None,
    percent: bool = False,
) -> SafeString:
    """A small line over the periods; gaps where there is no data, the last value marked."""
    width, height, pad = 124, 36, 4
    top, _step = _scale(points, target, percent)
    plot_w, plot_h = width - 2 * pad, height - 2 * pad
    step_x = plot_w / max(len(points) - 1, 1)

    def y(value) -> float:
        return pad + plot_h - plot_h * min(float(value), top) / top

    parts = [_open(chart_id, width, height, title, description, "sparkline")]
    parts.append(
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#fff" '
        f'stroke="{GRID}"/>'
    )
    if target is not None:
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            f'stroke="{TARGET}" stroke-width="1" stroke-dasharray="3 2"/>'
        )
    segments, current = [], []
    for index, point in enumerate(points):
        if point.value is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append((pad + step_x * index, y(point.value)))
    if current:
        segments.append(current)
    for segment in segments:
        if len(segment) == 1:
            ((x, y_),) = segment
            parts.append(f'<circle cx="{x:.1f}" cy="{y_:.1f}" r="1.8" fill="{LINE}"/>')
        else:
            coordinates = " ".join(f"{x:.1f},{y_:.1f}" for x, y_ in segment)
            parts.append(
                f'<polyline points="{coordinates}" fill="none" stroke="{LINE}" '
                f'stroke-width="1.8" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    if points and points[-1].value is not None:
        parts.append(
            f'<circle cx="{pad + step_x * (len(points) - 1):.1f}" '
            f'cy="{y(points[-1].value):.1f}" r="3" fill="{LINE}" stroke="#fff" stroke-width="1"/>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()


def trend_chart(
    chart_id: str,
    title: str,
    description: str,
    points: list[Point],
    *,
    target=None,
    target_text: str = "",
    no_data_text: str = "",
    percent: bool = False,
) -> SafeString:
    """Columns, one per period, with the target as a dashed line named in the legend."""
    width, height = 720, 280
    left, right, top_margin, bottom = 48, 12, 34, 30
    plot_w, plot_h = width - left - right, height - top_margin - bottom
    top, step = _scale(points, target, percent)

    def y(value) -> float:
        return top_margin + plot_h - plot_h * min(float(value), top) / top

    parts = [_open(chart_id, width, height, title, description, "chart trend-chart")]
    # Legend: the bars, then the target line.
    parts.append(
        f'<rect x="{left}" y="8" width="12" height="12" fill="{BAR}"/>'
        f'<text x="{left + 17}" y="18" font-size="12" fill="{TEXT}">{escape(title)}</text>'
    )
    if target is not None:
        legend_x = left + 40 + 7 * len(title)
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 24}" y1="14" y2="14" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{legend_x + 30}" y="18" font-size="12" fill="{TEXT}">'
            f"{escape(target_text)}</text>"
        )
    tick = 0.0
    while tick <= top + 1e-9:
        ty = y(tick)
        suffix = " %" if percent else ""
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="{TEXT}">{_number(tick)}{suffix}</text>'
        )
        tick += step
    slot = plot_w / max(len(points), 1)
    bar_w = slot * 0.6
    for index, point in enumerate(points):
        x0 = left + slot * index + (slot - bar_w) / 2
        center = left + slot * (index + 0.5)
        if point.value is None:
            parts.append(
                f'<text x="{center:.1f}" y="{top_margin + plot_h - 6:.1f}" font-size="12" '
                f'text-anchor="middle" fill="{TEXT}">–<title>{escape(point.label)}: '
                f"{escape(no_data_text or point.text)}</title></text>"
            )
        else:
            bar_y = y(point.value)
            parts.append(
                f'<rect x="{x0:.1f}" y="{bar_y:.1f}" width="{bar_w:.1f}" '
                f'height="{top_margin + plot_h - bar_y:.1f}" fill="{BAR}">'
                f"<title>{escape(point.label)}: {escape(point.text)}</title></rect>"
            )
        parts.append(
            f'<text x="{center:.1f}" y="{height - 10}" font-size="11" text-anchor="middle" '
            f'fill="{TEXT}">{escape(point.label)}</text>'
        )
    if target is not None:
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            f'stroke="{TARGET}" stroke-width="2" stroke-dasharray="5 3"/>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top_margin + plot_h}" '
        f'y2="{top_margin + plot_h}" stroke="{TEXT}" stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above went through escape()
