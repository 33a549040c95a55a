"""The dashboard's SVG charts: accessible images whose drawing says what the figures say."""

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from qualicite.indicators import charts

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def points(*values):
    return [
        charts.Point(
            f"m{index + 1}", None if v is None else Decimal(v), "no data" if v is None else f"{v} %"
        )
        for index, v in enumerate(values)
    ]


@pytest.mark.parametrize("draw", [charts.sparkline, charts.trend_chart])
def test_a_chart_is_an_image_named_by_its_title_and_description(draw):
    svg = parsed(draw("chart-1", "Réponses <dans> le délai", "Douze mois & plus", points(80, 90)))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-1-title chart-1-desc"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert (title.get("id"), title.text) == ("chart-1-title", "Réponses <dans> le délai")
    assert (desc.get("id"), desc.text) == ("chart-1-desc", "Douze mois & plus")


def test_the_description_gives_every_figure_in_words():
    assert charts.describe(points(80, None)) == "m1: 80 %; m2: no data"


def test_a_sparkline_leaves_a_gap_where_there_is_no_data_never_a_zero():
    svg = parsed(
        charts.sparkline("s", "t", "d", points(50, 60, None, 70, None, None), percent=True)
    )
    lines = svg.findall(f"{SVG}polyline")
    assert len(lines) == 1 and len(lines[0].get("points").split()) == 2
    # The lone 70 is a dot; nothing is drawn for the three months without data.
    dots = svg.findall(f"{SVG}circle")
    assert len(dots) == 1
    bottom = 36 - 4
    assert all(float(dot.get("cy")) < bottom for dot in dots)


def test_a_sparkline_marks_the_last_value_and_scales_a_share_from_0_to_100():
    svg = parsed(charts.sparkline("s", "t", "d", points(0, 100), percent=True))
    line = svg.find(f"{SVG}polyline").get("points").split()
    (x0, y0), (x1, y1) = (map(float, p.split(",")) for p in line)
    assert (y0, y1) == (32.0, 4.0)  # 0 % at the bottom, 100 % at the top
    last = svg.findall(f"{SVG}circle")[-1]
    assert (float(last.get("cx")), float(last.get("cy"))) == (x1, y1)


def test_a_sparkline_without_any_data_draws_no_line():
    svg = parsed(charts.sparkline("s", "t", "d", points(None, None, None)))
    assert not svg.findall(f"{SVG}polyline") and not svg.findall(f"{SVG}circle")


def test_the_target_is_a_dashed_line_at_its_height():
    svg = parsed(charts.sparkline("s", "t", "d", points(50, 60), target=Decimal(90), percent=True))
    target = svg.find(f"{SVG}line")
    assert target.get("stroke-dasharray")
    assert float(target.get("y1")) == pytest.approx(4 + 28 * 0.1)


def test_the_12_month_chart_has_a_column_per_month_with_data_and_a_dash_for_the_others():
    values = [80, None, 95, 100, None, 70, 88, 91, 92, 93, 94, 97]
    svg = parsed(
        charts.trend_chart(
            "trend",
            "Réponses dans le délai",
            "d",
            points(*values),
            target=Decimal(90),
            target_text="Cible ≥ 90 %",
            no_data_text="pas de données",
            percent=True,
        )
    )
    bars = [r for r in svg.findall(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        f"m{i + 1}: {v} %" for i, v in enumerate(values) if v is not None
    ]
    heights = [float(bar.get("height")) for bar in bars]
    full = 280 - 34 - 30
    assert heights == pytest.approx([full * v / 100 for v in values if v is not None], abs=0.06)
    dashes = [t for t in svg.findall(f"{SVG}text") if (t.text or "").strip() == "–"]
    assert [d.find(f"{SVG}title").text for d in dashes] == [
        "m2: pas de données",
        "m5: pas de données",
    ]
    texts = [t.text for t in svg.findall(f"{SVG}text")]
    assert "Cible ≥ 90 %" in texts
    assert [f"m{i}" for i in range(1, 13)] == [t for t in texts if t and t.startswith("m")]


def test_the_12_month_chart_of_days_gets_a_round_scale_above_the_largest_value():
    svg = parsed(charts.trend_chart("t", "Délai médian", "d", points(3, 17, 9), target=Decimal(5)))
    ticks = [t.text for t in svg.findall(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks == ["0", "5", "10", "15", "20"]


@pytest.mark.parametrize(
    ("largest", "expected"),
    [
        (0, (1, 1)),
        (4, (4, 1)),
        (17, (20, 5)),
        (230, (300, 100)),
        (170, (200, 50)),
        (0.6, (0.6, 0.2)),
    ],
)
def test_the_scale_steps_by_one_two_or_five(largest, expected):
    top, step = charts.nice_scale(largest)
    assert (top, step) == pytest.approx(expected)
