"""The arrivals heat map (weekday × hour) as inline SVG, drawn on the server.

Each cell prints its count, so the shade only repeats what the number says; the page follows
the chart with the same figures as a table. Shades go from white to the brand blue, and the
text turns white on the darker half so that it keeps a 4.5:1 contrast.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from qualicite.reception.desk_queries import WEEKDAYS, Staffing

CELL_W, CELL_H = 44, 30
LEFT, TOP = 96, 34
# White → #1f4e8c in five steps; counts in the darker steps are written in white.
SHADES = ("#ffffff", "#dbe6f3", "#a9c3e2", "#5d86bd", "#1f4e8c")
OUTLINE = "#6b6b6b"
TEXT = "#1b1b1b"
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def _shade(count: int, peak: int) -> int:
    if not count or not peak:
        return 0
    return min(len(SHADES) - 1, 1 + (count * (len(SHADES) - 1) - 1) // peak)


def heatmap(chart_id: str, title: str, description: str, staffing: Staffing) -> SafeString:
    hours, weekdays = staffing.hours, staffing.weekdays
    width = LEFT + CELL_W * max(len(hours), 1) + 10
    height = TOP + CELL_H * len(weekdays) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart desk-heatmap" id="{chart_id}" '
        f'role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    ]
    for column, hour in enumerate(hours):
        x = LEFT + column * CELL_W + CELL_W / 2
        parts.append(
            f'<text x="{x:.0f}" y="{TOP - 10}" font-size="12" text-anchor="middle" '
            f'fill="{TEXT}">{hour}h</text>'
        )
    peak = staffing.peak
    for row, weekday in enumerate(weekdays):
        y = TOP + row * CELL_H
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + CELL_H / 2 + 4:.0f}" font-size="12" '
            f'text-anchor="end" fill="{TEXT}">{escape(str(WEEKDAYS[weekday]))}</text>'
        )
        for column, hour in enumerate(hours):
            count = staffing.grid.get((weekday, hour), 0)
            step = _shade(count, peak)
            x = LEFT + column * CELL_W
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" '
                f'fill="{SHADES[step]}" stroke="{OUTLINE}" stroke-width="0.5"/>'
            )
            if count:
                colour = "#ffffff" if step >= 3 else TEXT
                parts.append(
                    f'<text x="{x + CELL_W / 2:.0f}" y="{y + CELL_H / 2 + 4:.0f}" '
                    f'font-size="12" text-anchor="middle" fill="{colour}">{count}</text>'
                )
    parts.append("</svg>")
    return mark_safe("".join(parts))
