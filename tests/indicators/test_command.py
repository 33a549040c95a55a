"""`qualicite indicators show ORG …` and `qualicite indicators rebuild ORG …`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext as _

from qualicite.core.choices import RequestKind
from qualicite.indicators import periods, rollups
from qualicite.indicators.management.commands.indicators import CSV_COLUMNS
from qualicite.indicators.models import IndicatorEvent, PendingRollup, Rollup
from qualicite.indicators.queries import STATUS_LABELS, STATUS_SYMBOLS, Status
from qualicite.requests.models import Request
from tests.indicators.test_public_results import PARIS, received


def run(*args) -> str:
    out = io.StringIO()
    call_command("indicators", *args, stdout=out)
    return out.getvalue()


def show_json(org, *args) -> list[dict]:
    return json.loads(run("show", org.slug, "--format", "json", *args))


def received_in(org, start: dt.date, end: dt.date, **filters):
    """Requests received on local days start..end, counted straight from the table."""
    return [
        r
        for r in Request.objects.filter(organisation=org, **filters)
        if start <= r.received_at.astimezone(PARIS).date() <= end
    ]


@pytest.fixture
def rolled_up(org, measured, year_of_requests):
    rollups.rebuild(org)
    return measured


# --- Which periods ------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_dates_it_shows_the_last_closed_month_with_its_figures(org, users, measured):
    last = periods.last_closed("month", rollups.today(org))
    accueil = org.service_set.get(code="accueil")
    received(org, users["agent"], accueil, last.start, answered_after=1)
    received(org, users["agent"], accueil, last.end)
    rollups.rebuild(org)
    lines = show_json(org)
    assert {(line["period_start"], line["period_end"]) for line in lines} == {
        (last.start.isoformat(), last.end.isoformat())
    }
    assert {line["period_kind"] for line in lines} == {"month"}
    answered = next(line for line in lines if line["indicator"] == "answered")
    assert (answered["numerator"], answered["denominator"], answered["value"]) == (1, 2, "50.00")
    assert answered["status"] == "missed" and answered["target"] == "100.00"


@pytest.mark.django_db
def test_with_only_a_period_it_shows_the_last_closed_one_of_that_kind(org, measured):
    today = rollups.today(org)
    for kind in periods.KINDS:
        last = periods.last_closed(kind, today)
        lines = show_json(org, "--period", kind)
        assert {(line["period_start"], line["period_kind"]) for line in lines} == {
            (last.start.isoformat(), kind)
        }


@pytest.mark.django_db
def test_with_dates_and_a_period_it_prints_a_line_per_period_cut_to_the_range(org, rolled_up):
    lines = show_json(org, "--period", "month", "--from", "2025-01-15", "--to", "2025-03-10")
    answered = [line for line in lines if line["indicator"] == "answered"]
    assert [(line["period_start"], line["period_end"]) for line in answered] == [
        ("2025-01-15", "2025-01-31"),
        ("2025-02-01", "2025-02-28"),
        ("2025-03-01", "2025-03-10"),
    ]
    for line in answered:
        start, end = dt.date.fromisoformat(line["period_start"]), line["period_end"]
        counted = received_in(org, start, dt.date.fromisoformat(end))
        needing = [r for r in counted if r.kind != RequestKind.THANKS]
        assert line["denominator"] == len(needing)
        assert line["numerator"] == sum(1 for r in needing if r.replied_at is not None)


@pytest.mark.django_db
def test_with_dates_and_no_period_it_prints_one_period_over_exactly_the_range(org, rolled_up):
    lines = show_json(org, "--from", "2025-02-10", "--to", "2025-05-20")
    assert {(line["period_start"], line["period_end"], line["period_kind"]) for line in lines} == {
        ("2025-02-10", "2025-05-20", "custom")
    }
    rate = next(line for line in lines if line["indicator"] == "complaint-rate")
    counted = received_in(org, dt.date(2025, 2, 10), dt.date(2025, 5, 20))
    assert rate["denominator"] == len(counted)
    assert rate["numerator"] == sum(1 for r in counted if r.kind == RequestKind.COMPLAINT)
    assert rate["status"] == "watched" and rate["target"] is None


# --- Services ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_service_shows_its_own_figures_and_only_the_indicators_that_cover_it(org, rolled_up):
    arguments = ["--period", "year", "--from", "2025-01-01", "--to", "2025-12-31"]
    finances = {
        line["indicator"]: line for line in show_json(org, *arguments, "--service", "finances")
    }
    births = {
        line["indicator"]: line for line in show_json(org, *arguments, "--service", "naissances")
    }
    # The commitment on acts covers État civil (and Naissances under it), not Finances.
    assert "acts" not in finances and "civil-status-in-time" not in finances
    assert "acts" in births and "civil-status-in-time" in births
    assert {line["service"] for line in finances.values()} == {"finances"}
    counted = received_in(org, dt.date(2025, 1, 1), dt.date(2025, 12, 31), service__code="finances")
    assert finances["complaint-rate"]["denominator"] == len(counted)


@pytest.mark.django_db
def test_an_unknown_service_is_a_clear_error_listing_the_codes(org, measured):
    with pytest.raises(CommandError, match="nulle-part.*accueil, etat-civil, finances, naissances"):
        run("show", org.slug, "--service", "nulle-part")


# --- Formats -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_json_gives_counts_as_numbers_and_values_as_exact_decimals(org, rolled_up):
    lines = show_json(org, "--period", "year", "--from", "2025-01-01", "--to", "2025-12-31")
    median = next(line for line in lines if line["indicator"] == "median")
    assert isinstance(median["numerator"], int) and isinstance(median["denominator"], int)
    assert median["value"].endswith(".00")  # a whole number of days, written exactly
    assert median["target_display"] == rolled_up["median"].target_text()
    signage = next(line for line in lines if line["indicator"] == "signage")
    assert signage["value"] is None and signage["status"] == "no_data"
    assert set(lines[0]) == set(CSV_COLUMNS)


@pytest.mark.django_db
def test_csv_has_a_header_and_a_row_per_indicator_with_status_codes(org, rolled_up):
    text = run(
        "show", org.slug, "--format", "csv", "--period", "quarter",
        "--from", "2025-01-01", "--to", "2025-06-30",
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == 2 * len(rolled_up)
    assert {row["status"] for row in rows} <= {status.value for status in Status}
    as_json = show_json(org, "--period", "quarter", "--from", "2025-01-01", "--to", "2025-06-30")
    for row, line in zip(rows, as_json, strict=True):
        assert row["value"] == (line["value"] or "")
        assert row["numerator"] == str(line["numerator"] or "")


@pytest.mark.django_db
def test_the_table_is_aligned_and_says_the_status_in_words_with_a_symbol(org, rolled_up):
    text = run("show", org.slug, "--period", "year", "--from", "2025-01-01", "--to", "2025-12-31")
    heading, rule, *rows = text.splitlines()
    assert heading.split()[0] == _("Period")
    status_at = heading.index(_("Status"))
    assert len(rows) == len(rolled_up)
    words = {f"{STATUS_SYMBOLS[s]} {STATUS_LABELS[s]}" for s in Status}
    for row in rows:
        assert row[status_at:] in words, row
    answered = next(row for row in rows if " answered " in row)
    assert "≥ 100 %" in answered


@pytest.mark.django_db
def test_an_organisation_without_indicators_prints_that_there_is_none(org):
    assert run("show", org.slug).strip() == _("No indicator to show.")


# --- Arguments -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2025-13-01", "--to", "2025-12-31"], "--from.*2025-13-01"),
        (["--from", "2025-01-01", "--to", "demain"], "--to.*demain"),
        (["--from", "2025-03-01", "--to", "2025-02-01"], "2025-03-01.*2025-02-01"),
        (["--from", "2025-03-01"], "--from.*--to"),
    ],
)
def test_wrong_dates_are_clear_errors(org, measured, arguments, message):
    with pytest.raises(CommandError, match=message):
        run("show", org.slug, *arguments)


@pytest.mark.django_db
def test_an_unknown_organisation_is_a_clear_error(org):
    with pytest.raises(CommandError, match="nulle-part.*ville-a"):
        run("show", "nulle-part")
    with pytest.raises(CommandError, match="nulle-part.*ville-a"):
        run("rebuild", "nulle-part")


# --- The real command line, in its own process: exit status and messages ---------------------


@pytest.fixture
def command_env(tmp_path):
    """A fresh database in a temporary folder, with one organisation, for `qualicite …`."""
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["QUALICITE_VAR_DIR"] = str(tmp_path / "var")
    for command in (
        ["migrate", "-v0"],
        [
            "shell",
            "-c",
            "from qualicite.core import services; "
            "services.create_organisation(actor=None, name='Ville C', slug='ville-c')",
        ],
    ):
        subprocess.run(
            [sys.executable, "-m", "qualicite", *command], env=environment, check=True, timeout=180
        )
    return environment


def test_the_command_line_exits_0_1_or_2_with_a_message(command_env):
    def indicators(*args):
        return subprocess.run(
            [sys.executable, "-m", "qualicite", "indicators", *args],
            env=command_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = indicators("show", "ville-c", "--format", "csv", "--period", "year")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [",".join(CSV_COLUMNS)]

    done = indicators("rebuild", "ville-c")
    assert done.returncode == 0, done.stderr
    assert "ville-c" in done.stdout

    done = indicators("show", "nulle-part")
    assert done.returncode == 1
    assert "nulle-part" in done.stderr and "ville-c" in done.stderr
    assert "Traceback" not in done.stderr

    done = indicators("show", "ville-c", "--period", "fortnight")
    assert done.returncode == 2
    assert "'fortnight'" in done.stderr and "usage:" in done.stderr


# --- Refresh and rebuild -------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_rolls_up_the_pending_changes_before_showing(org, rolled_up, year_of_requests):
    arguments = ["--from", "2025-01-01", "--to", "2025-12-31"]
    before = {line["indicator"]: line for line in show_json(org, *arguments)}
    request = next(
        r
        for r in year_of_requests
        if r.replied_at is None
        and r.kind != RequestKind.THANKS
        and r.received_at.year == 2025
        and r.received_at.astimezone(PARIS).date() <= dt.date(2025, 12, 20)
    )
    request.replied_at = request.received_at + dt.timedelta(days=2)
    request.save()
    assert PendingRollup.objects.filter(organisation=org).exists()
    stale = {line["indicator"]: line for line in show_json(org, *arguments)}
    assert stale["answered"]["numerator"] == before["answered"]["numerator"]
    fresh = {line["indicator"]: line for line in show_json(org, *arguments, "--refresh")}
    assert fresh["answered"]["numerator"] == before["answered"]["numerator"] + 1
    assert not PendingRollup.objects.filter(organisation=org).exists()


@pytest.mark.django_db
def test_rebuild_prints_what_it_did_and_records_an_event(org, measured, year_of_requests):
    output = run("rebuild", org.slug)
    rows = Rollup.objects.filter(organisation=org).count()
    assert rows > 0
    event = IndicatorEvent.objects.get(organisation=org, verb="rollups.rebuilt")
    assert event.actor is None
    details = event.details
    assert details["rows"] == rows and details["from"] is None and details["to"] is None
    assert details["indicators"] == 10  # the computed ones; "signage" is entered by hand
    for figure in (details["indicators"], details["days"], rows):
        assert str(figure) in output
    assert org.slug in output


@pytest.mark.django_db
def test_rebuild_of_a_range_leaves_the_other_days_alone(org, measured, year_of_requests):
    rollups.rebuild(org)
    outside = list(
        Rollup.objects.exclude(day__range=(dt.date(2025, 3, 1), dt.date(2025, 4, 30)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    before = Rollup.objects.filter(day__range=(dt.date(2025, 3, 1), dt.date(2025, 4, 30))).count()
    run("rebuild", org.slug, "--from", "2025-03-01", "--to", "2025-04-30")
    after = Rollup.objects.filter(day__range=(dt.date(2025, 3, 1), dt.date(2025, 4, 30)))
    assert after.count() == before
    assert (
        list(
            Rollup.objects.exclude(pk__in=after.values("pk"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        == outside
    )
    event = IndicatorEvent.objects.get(verb="rollups.rebuilt")
    assert (event.details["from"], event.details["to"], event.details["days"]) == (
        "2025-03-01",
        "2025-04-30",
        61,
    )


@pytest.mark.django_db
def test_rebuild_refuses_wrong_dates(org, measured):
    with pytest.raises(CommandError, match="--from.*2025-02-30"):
        run("rebuild", org.slug, "--from", "2025-02-30")
    with pytest.raises(CommandError, match="2025-05-01.*2025-04-01"):
        run("rebuild", org.slug, "--from", "2025-05-01", "--to", "2025-04-01")
    assert not IndicatorEvent.objects.filter(verb="rollups.rebuilt").exists()
