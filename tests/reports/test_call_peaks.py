"""The call-peak report: its figures against a count made from the log text, the formats read
back, the page, the form's refusals, who may read it, and the `report calls` command.

The calls come from the generated queue_logs of `tests.indicators.test_sources_phone` (its
writer stores them, its `counted_calls` counts them from the text without the parsers).
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.core.models import Role
from qualicite.indicators import periods, queries, rollups
from qualicite.reports import call_peak_exports, call_peaks
from qualicite.reports.call_peaks import Choice
from tests.access import Page, assert_access
from tests.indicators.test_sources_phone import (
    counted_calls,
    phone_indicators,
    standard_log,
    write_calls,
)
from tests.reports.readers import csv_rows, ods_sheets, pdf_lines, sections, xlsx_sheets

JANUARY = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
VIEWERS = {Role.SERVICE_HEAD, Role.QUALITY_MANAGER, Role.AUDITOR, Role.DIRECTION}


@pytest.fixture
def log(org):
    text = standard_log()
    write_calls(org, text)
    return text


# --- The independent count ------------------------------------------------------------------


class Count:
    """Calls, reached, answered… of a set of counted calls, as a person tallies them."""

    def __init__(self, calls, threshold=25):
        self.calls = len(calls)
        reached = [c for c in calls if c.reached]
        self.reached = len(reached)
        self.answered = sum(1 for c in reached if c.outcome == "answered")
        self.within = sum(1 for c in reached if c.outcome == "answered" and c.waited <= threshold)
        self.abandoned = sum(1 for c in reached if c.outcome == "abandoned")
        self.waits = sum(c.waited for c in reached)

    def rate(self, part):
        return None if not self.reached else Fraction(part * 100, self.reached)

    def values(self):
        """The row of a by-slot / by-weekday / by-week table."""
        mean = None
        if self.reached:
            mean = int(
                (Decimal(self.waits) / Decimal(self.reached)).quantize(
                    Decimal(1), rounding=ROUND_HALF_UP
                )
            )
        return [
            self.calls,
            self.reached,
            self.answered,
            self.rate(self.answered),
            self.rate(self.within),
            self.rate(self.abandoned),
            mean,
        ]


def in_range(calls, start, end, services=None):
    return [
        c
        for c in calls
        if start <= c.day <= end and (services is None or c.service_code in services)
    ]


def grouped(calls, key):
    found = defaultdict(list)
    for call in calls:
        found[key(call)].append(call)
    return found


def same(got, wanted) -> bool:
    """A figure of the report equals the count's (shares compared within a float's error)."""
    if wanted is None or got is None:
        return got is wanted
    if isinstance(wanted, Fraction):
        return abs(Fraction(got) - wanted) < Fraction(1, 10**9)
    return got == wanted


def hour_of(call):
    return call.local.hour


# --- Figures ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_tables_give_the_figures_counted_from_the_log_text(org, log):
    report = call_peaks.build(org, Choice(*JANUARY))
    calls = in_range(counted_calls(log), *JANUARY)
    assert len(calls) > 500
    tables = report.tables
    mismatches = []

    def check(table, key, values):
        row = next((r for r in tables[table].rows if r.key == key), None)
        got = row.values if row else None
        if got is None or len(got) != len(values) or not all(map(same, got, values)):
            mismatches.append((table, key, got, values))

    for hour, group in grouped(calls, hour_of).items():
        check("by_slot", str(hour), Count(group).values())
    for weekday, group in grouped(calls, lambda c: c.day.weekday()).items():
        check("by_weekday", str(weekday), Count(group).values())
    by_week = grouped(calls, lambda c: c.day - dt.timedelta(days=c.day.weekday()))
    for monday, group in by_week.items():
        check("by_week", monday.isoformat(), Count(group).values())
    # The heat maps: each weekday's row, slot by slot.
    slots = [int(r.key) for r in tables["by_slot"].rows]
    for weekday, group in grouped(calls, lambda c: c.day.weekday()).items():
        cells = grouped(group, hour_of)
        counts = [Count(cells.get(slot, [])) for slot in slots]
        check("calls_heat", str(weekday), [c.calls for c in counts] + [len(group)])
        rates = [c.rate(c.answered) for c in counts] + [Count(group).rate(Count(group).answered)]
        check("rate_heat", str(weekday), rates)
    assert not mismatches, "\n".join(map(str, mismatches[:20]))
    total = Count(calls)
    assert all(map(same, tables["by_slot"].total.values, total.values()))
    assert tables["calls_heat"].total.values[-1] == total.calls


@pytest.mark.django_db
def test_the_key_figures_are_those_of_the_phone_indicators(org, log):
    indicators = phone_indicators(org)
    rollups.rebuild(org)
    period = periods.custom(*JANUARY)
    results = queries.results(org, list(indicators.values()), period)
    report = call_peaks.build(org, Choice(*JANUARY))
    figures = {row.key: row.values[0] for row in report.tables["key_figures"].rows}

    def value(source):
        return results[(indicators[source].pk, None)]

    rate = value("phone.answer_rate")
    assert (figures["answered"], figures["reached"]) == (rate.numerator, rate.denominator)
    assert Decimal(str(figures["answer_rate"])).quantize(Decimal("0.01")) == rate.value
    assert figures["within"] * figures["reached"] / 100 == pytest.approx(
        value("phone.answered_within").numerator
    )
    assert figures["short"] == value("phone.short_abandons").numerator
    assert figures["calls"] == value("phone.outside_hours").denominator
    assert figures["outside_hours"] == value("phone.outside_hours").numerator
    assert abs(figures["mean_wait"] - float(value("phone.wait_mean").value)) <= 0.5


@pytest.mark.django_db
def test_half_hour_slots_split_each_hour_in_two(org, log):
    choice = Choice(dt.date(2025, 1, 6), dt.date(2025, 1, 12), slot="half-hour")
    report = call_peaks.build(org, choice)
    calls = in_range(counted_calls(log), choice.start, choice.end)
    by_half = grouped(calls, lambda c: (c.local.hour * 60 + c.local.minute) // 30)
    rows = {row.key: row for row in report.tables["by_slot"].rows}
    for slot, group in by_half.items():
        assert rows[str(slot)].values[0] == len(group)
    assert rows["17"].label.startswith("08:30") and rows["17"].label.endswith("09:00")
    # Open slots and slots with calls only: the night of the 7th has two calls, at 23:50 and
    # 00:10, and no other night slot is shown.
    columns = report.tables["calls_heat"].columns[1:-1]
    assert columns[:2] == ["00:00–00:30", "08:30–09:00"] and columns[-1] == "23:30–00:00"


@pytest.mark.django_db
def test_a_service_and_its_sub_services_or_a_site_limit_the_calls(org, log):
    etat_civil = org.service_set.get(code="etat-civil")
    report = call_peaks.build(org, Choice(*JANUARY, service=etat_civil))
    calls = in_range(counted_calls(log), *JANUARY, services={"etat-civil", "naissances"})
    assert report.figures.total.calls == len(calls) > 50
    site = org.site_set.get()
    everything = call_peaks.build(org, Choice(*JANUARY, site=site)).figures.total.calls
    assert everything == len(in_range(counted_calls(log), *JANUARY))


@pytest.mark.django_db
def test_the_best_times_are_the_open_slots_answered_most(org, log):
    report = call_peaks.build(org, Choice(*JANUARY))
    calls = in_range(counted_calls(log), *JANUARY)
    cells = grouped(calls, lambda c: (c.day.weekday(), c.local.hour))
    # Open Monday to Friday 8:30–17:00: the whole hours 9:00 to 16:00.
    candidates = {
        key: Count(group)
        for key, group in cells.items()
        if key[0] < 5 and 9 <= key[1] < 17 and Count(group).reached >= call_peaks.MIN_CALLS
    }
    ranked = sorted(
        candidates.items(),
        key=lambda item: (-item[1].rate(item[1].answered), item[1].calls, item[0]),
    )
    (weekday, hour), count = ranked[0]
    assert all(count.rate(count.answered) >= c.rate(c.answered) for c in candidates.values())
    sentence = report.advice.best[0]
    assert sentence.startswith(call_peaks.weekday_name(weekday))
    assert f"{hour:02d}:00" in sentence and str(count.calls) in sentence
    assert len(report.advice.best) == call_peaks.BEST_COUNT
    busiest = max(candidates.values(), key=lambda c: c.calls)
    assert str(busiest.calls) in report.advice.busiest[0]


@pytest.mark.django_db
def test_a_period_without_calls_says_so_and_gives_no_share(org, log):
    report = call_peaks.build(org, Choice(dt.date(2025, 2, 1), dt.date(2025, 2, 28)))
    assert report.figures.total.calls == 0
    assert report.advice.best == [] and report.advice.busiest == []
    figures = {row.key: row.values[0] for row in report.tables["key_figures"].rows}
    assert figures["calls"] == 0 and figures["answer_rate"] is None
    lines = pdf_lines(call_peak_exports.to_pdf(report))
    assert _("Too few calls in the period to advise on the best times to call.") in " ".join(lines)


# --- Formats ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_ods_read_back_holds_the_figures_counted_from_the_log(org, log):
    report = call_peaks.build(org, Choice(*JANUARY))
    calls = in_range(counted_calls(log), *JANUARY)
    sheets = ods_sheets(call_peak_exports.to_ods(report))
    assert list(sheets)[0] == _("Report")
    found = {}
    for rows in list(sheets.values())[1:]:
        found.update(sections(rows))
    by_weekday = found[_("Calls and answers by weekday")]
    for weekday, group in grouped(calls, lambda c: c.day.weekday()).items():
        count = Count(group)
        row = by_weekday["rows"][call_peaks.weekday_name(weekday)]
        assert row[:3] == [count.calls, count.reached, count.answered]
        assert row[3] == pytest.approx(float(count.rate(count.answered)) / 100)
    heat = found[_("Calls by weekday and time")]
    monday = Count([c for c in calls if c.day.weekday() == 0 and c.local.hour == 9]).calls
    assert heat["rows"][call_peaks.weekday_name(0)][heat["header"].index("09:00–10:00") - 1] == (
        monday
    )
    assert heat["total"][-1] == len(calls)
    summary = [cell for row in sheets[_("Report")] for cell in row]
    assert report.advice.best[0] in summary
    assert org.name in summary


@pytest.mark.django_db
def test_the_xlsx_and_csv_hold_the_same_totals(org, log):
    report = call_peaks.build(org, Choice(*JANUARY))
    total = report.figures.total
    xlsx = xlsx_sheets(call_peak_exports.to_xlsx(report))
    found = {}
    for rows in list(xlsx.values())[1:]:
        found.update(sections(rows))
    assert found[_("Calls and answers by time of day")]["total"][:3] == [
        total.calls,
        total.reached,
        total.answered,
    ]
    rows = csv_rows(call_peak_exports.to_csv(report))
    csv_sections = sections(rows)
    assert csv_sections[_("Calls and answers by week")]["total"][:3] == [
        str(total.calls),
        str(total.reached),
        str(total.answered),
    ]


@pytest.mark.django_db
def test_the_pdf_is_a4_landscape_with_the_advice_and_the_totals(org, log):
    import pypdf

    report = call_peaks.build(org, Choice(*JANUARY))
    content = call_peak_exports.to_pdf(report)
    page = pypdf.PdfReader(io.BytesIO(content)).pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert round(width / 72 * 25.4) == 297 and round(height / 72 * 25.4) == 210
    text = " ".join(pdf_lines(content))
    assert report.advice.best[0].split(":")[0] in text
    assert _("Best times to call") in text
    total = report.figures.total
    assert f"{total.calls:,}".replace(",", "\u202f") in text or str(total.calls) in text


# --- The page ---------------------------------------------------------------------------------


def page_url(org, **query):
    url = reverse("reports:call_peaks", kwargs={"org_slug": org.slug})
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.mark.django_db
def test_the_page_shows_the_heat_maps_doubled_by_tables_and_the_downloads(
    org, users, client_for, log
):
    client = client_for(users[Role.QUALITY_MANAGER])
    response = client.get(page_url(org, periode="month", jour="2025-01-15"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="heat-calls"' in html and 'id="table-calls_heat"' in html
    assert 'id="heat-rates"' in html and 'id="table-rate_heat"' in html
    report = response.context["report"]
    assert (report.choice.start, report.choice.end) == JANUARY
    links = {ext: url for ext, _label, url in response.context["downloads"]}
    assert set(links) == {"pdf", "ods", "xlsx", "csv"}
    download = client.get(links["ods"])
    assert download.status_code == 200
    assert download["Content-Disposition"].endswith(
        'filename="pics-d-appels-ville-a-2025-01-01-2025-01-31.ods"'
    )
    week = client.get(page_url(org, periode="week", jour="2025-01-08", creneau="half-hour"))
    assert (week.context["report"].choice.start, week.context["report"].choice.end) == (
        dt.date(2025, 1, 6),
        dt.date(2025, 1, 12),
    )


@pytest.mark.django_db
def test_without_a_choice_the_page_shows_the_last_complete_month(org, users, client_for):
    response = client_for(users[Role.DIRECTION]).get(page_url(org))
    report = response.context["report"]
    today = rollups.today(org)
    last = periods.last_closed("month", today)
    assert (report.choice.start, report.choice.end) == (last.start, last.end)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"periode": "custom", "au": "2025-01-31"}, "du", "Give the first day of the period."),
        (
            {"periode": "custom", "du": "2025-02-01", "au": "2025-01-31"},
            "au",
            "The last day cannot come before the first.",
        ),
        (
            {"periode": "custom", "du": "2024-01-01", "au": "2025-06-30"},
            "au",
            "Choose a period of at most %(days)s days.",
        ),
        ({"periode": "month", "jour": "2999-01-01"}, "jour", None),
        ({"service": "inconnu"}, "service", None),
    ],
)
def test_a_wrong_choice_is_refused_next_to_its_field(org, users, client_for, query, field, message):
    client = client_for(users[Role.QUALITY_MANAGER])
    response = client.get(page_url(org, **query))
    assert response.status_code == 200 and response.context["report"] is None
    errors = response.context["form"].errors
    assert list(errors) == [field]
    if message:
        expected = _(message) % {"days": 366} if "%(days)s" in message else _(message)
        assert errors[field] == [expected]
    html = response.content.decode()
    assert f'id="id_{field}_error"' in html
    # A download with the same choice goes back to the page, which says what is wrong.
    download = client.get(
        reverse("reports:call_peaks_download", kwargs={"org_slug": org.slug, "extension": "pdf"})
        + "?"
        + "&".join(f"{k}={v}" for k, v in query.items())
    )
    assert download.status_code == 302 and "/pics-d-appels/?" in download["Location"]


# --- Who may read it ------------------------------------------------------------------------


@pytest.mark.django_db
def test_only_the_members_who_read_indicators_open_the_report(client_for, org, users, other_users):
    assert_access(
        client_for,
        org,
        users,
        other_users,
        [
            Page("reports:call_peaks", VIEWERS),
            Page("reports:call_peaks_download", VIEWERS, kwargs={"extension": "csv"}),
        ],
    )


@pytest.mark.django_db
def test_a_restricted_head_sees_only_the_calls_of_their_services(org, client_for, log):
    from tests.indicators.values_support import head_of

    head = head_of(org, "etat-civil")
    client = client_for(head)
    response = client.get(page_url(org, periode="month", jour="2025-01-15"))
    report = response.context["report"]
    calls = in_range(counted_calls(log), *JANUARY, services={"etat-civil", "naissances"})
    assert report.figures.total.calls == len(calls)
    assert report.restricted_to is not None
    offered = {s.code for s in response.context["form"].fields["service"].queryset}
    assert offered == {"etat-civil", "naissances"}
    refused = client.get(page_url(org, periode="month", jour="2025-01-15", service="accueil"))
    assert "service" in refused.context["form"].errors
    # The download of the same choice holds the same restricted figures.
    download = client.get(
        reverse("reports:call_peaks_download", kwargs={"org_slug": org.slug, "extension": "ods"})
        + "?periode=custom&du=2025-01-01&au=2025-01-31"
    )
    found = {}
    for rows in list(ods_sheets(download.content).values())[1:]:
        found.update(sections(rows))
    assert found[_("Calls and answers by weekday")]["total"][0] == len(calls)


@pytest.mark.django_db
def test_a_member_of_another_organisation_never_reads_these_calls(
    org, other_org, other_users, client_for, log
):
    write_calls(other_org, standard_log())
    client = client_for(other_users[Role.QUALITY_MANAGER])
    assert client.get(page_url(org)).status_code in (403, 404)
    response = client.get(page_url(other_org, periode="month", jour="2025-01-15"))
    assert response.context["report"].figures.total.calls == len(
        in_range(counted_calls(standard_log()), *JANUARY)
    )


# --- The command --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_writes_the_same_report_as_the_page(org, log, tmp_path):
    target = tmp_path / "pics.ods"
    out = io.StringIO()
    call_command(
        "report",
        "calls",
        org.slug,
        "--from",
        "2025-01-01",
        "--to",
        "2025-01-31",
        "--service",
        "etat-civil",
        "--slot",
        "half-hour",
        "--format",
        "ods",
        "-o",
        str(target),
        stdout=out,
    )
    assert str(target) in out.getvalue()
    found = {}
    for rows in list(ods_sheets(target.read_bytes()).values())[1:]:
        found.update(sections(rows))
    calls = in_range(counted_calls(log), *JANUARY, services={"etat-civil", "naissances"})
    assert found[_("Calls and answers by time of day")]["total"][0] == len(calls)
    assert "08:30–09:00" in found[_("Calls and answers by time of day")]["rows"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "arguments",
    [
        ["--from", "2025-13-01", "--to", "2025-01-31"],
        ["--from", "2025-01-31", "--to", "2025-01-01"],
        ["--from", "2024-01-01", "--to", "2025-06-30"],
        ["--from", "2025-01-01", "--to", "2025-01-31", "--service", "inconnu"],
        ["--from", "2025-01-01", "--to", "2025-01-31", "--site", "inconnu"],
    ],
)
def test_the_command_refuses_a_wrong_choice_with_a_message(org, arguments, tmp_path):
    with pytest.raises(CommandError) as error:
        call_command(
            "report", "calls", org.slug, *arguments, "--format", "csv", "-o", str(tmp_path / "x")
        )
    assert str(error.value)
    assert not (tmp_path / "x").exists()
