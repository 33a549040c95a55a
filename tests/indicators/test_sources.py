"""Every source counted twice: by `qualicite indicators show`, and here in plain Python.

The independent count reads the raw Request and Delivery rows and applies the definitions of
DOMAIN.md without the roll-ups, the SQL or `queries`: local days in Europe/Paris through
zoneinfo, nearest-rank percentiles, thanks left out of the answered shares, the acknowledged
share over the requests that had an acknowledgement due. Then the incremental path (signals,
tick) must leave the same roll-up rows as a rebuild, a rebuild must be idempotent, and the
database must compute the local day of any instant as zoneinfo does.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qualicite.charter import services as charter_services
from qualicite.charter.models import Direction, Unit
from qualicite.core import localday
from qualicite.core.choices import Channel, RequestKind
from qualicite.core.models import Organisation, Service
from qualicite.indicators import rollups, sources
from qualicite.indicators.models import IndicatorEvent, Rollup
from qualicite.indicators.tasks import refresh_rollups
from qualicite.requests import services as request_services
from qualicite.requests.models import Delivery, Request

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC

# --- The independent count ------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One record as an indicator counts it: on which local day, for which service."""

    day: dt.date
    service_id: int | None
    success: bool = False  # in the numerator of a share
    amount: int = 0  # the measured value of a distribution (days to answer)


def local_day(instant: dt.datetime) -> dt.date:
    return instant.astimezone(PARIS).date()


def needs_answer(row) -> bool:
    return row["kind"] != RequestKind.THANKS


def answered(rows):
    return [
        Item(local_day(r["received_at"]), r["service_id"], r["replied_at"] is not None)
        for r in rows
        if needs_answer(r)
    ]


def answered_in_time(rows, kinds=None):
    return [
        Item(local_day(r["replied_at"]), r["service_id"], r["replied_at"] <= r["due_at"])
        for r in rows
        if needs_answer(r) and r["replied_at"] is not None and (kinds is None or r["kind"] in kinds)
    ]


def acknowledged_in_time(rows):
    return [
        Item(
            local_day(r["received_at"]),
            r["service_id"],
            r["acknowledged_at"] is not None
            and r["acknowledged_at"] <= r["acknowledgement_due_at"],
        )
        for r in rows
        if needs_answer(r) and r["acknowledgement_due_at"] is not None
    ]


def answer_days(rows):
    return [
        Item(local_day(r["replied_at"]), r["service_id"], amount=r["answer_days"])
        for r in rows
        if needs_answer(r) and r["replied_at"] is not None and r["answer_days"] is not None
    ]


def complaint_rate(rows):
    return [
        Item(local_day(r["received_at"]), r["service_id"], r["kind"] == RequestKind.COMPLAINT)
        for r in rows
    ]


@dataclass(frozen=True)
class Definition:
    """How a source counts, written again here: which records, and how they combine."""

    family: str  # "requests" or "deliveries": the rows it reads
    items: Callable
    combine: str  # "share", "mean" or a quantile like "0.5"
    unit: str = Unit.PERCENT


DEFINITIONS = {
    "requests.answered": Definition("requests", answered, "share"),
    "requests.answered_in_time": Definition("requests", answered_in_time, "share"),
    "requests.complaints_answered_in_time": Definition(
        "requests", lambda rows: answered_in_time(rows, {RequestKind.COMPLAINT}), "share"
    ),
    "requests.acknowledged_in_time": Definition("requests", acknowledged_in_time, "share"),
    "requests.answer_delay_median": Definition("requests", answer_days, "0.5", Unit.DAYS),
    "requests.answer_delay_p90": Definition("requests", answer_days, "0.9", Unit.DAYS),
    "requests.answer_delay_mean": Definition("requests", answer_days, "mean", Unit.DAYS),
    "requests.complaint_rate": Definition("requests", complaint_rate, "share"),
    "requests.deliveries_in_time": Definition(
        "deliveries",
        lambda rows: [
            Item(local_day(d["delivered_at"]), d["service_id"], d["delivered_at"] <= d["due_at"])
            for d in rows
        ],
        "share",
    ),
}


def cents(value: Fraction) -> Decimal:
    """Rounded to the cent, halves up (every value here is positive)."""
    return Decimal(math.floor(value * 100 + Fraction(1, 2))) / 100


def nearest_rank(values: list[int], q: Fraction) -> int:
    """The smallest value with at least q of the records at or below it."""
    return min(v for v in values if Fraction(sum(1 for w in values if w <= v), len(values)) >= q)


def combined(definition: Definition, chosen: list[Item]):
    """(numerator, denominator, value) of the chosen items; (None, None, None) when none."""
    if not chosen:
        return None, None, None
    if definition.combine == "share":
        numerator = sum(1 for item in chosen if item.success)
        share = Fraction(numerator, len(chosen))
        return numerator, len(chosen), cents(share * 100 if definition.unit == "percent" else share)
    values = [item.amount for item in chosen]
    if definition.combine == "mean":
        return sum(values), len(values), cents(Fraction(sum(values), len(values)))
    return sum(values), len(values), Decimal(nearest_rank(values, Fraction(definition.combine)))


class Records:
    """The organisation's raw rows, read once, and the service tree, walked in Python."""

    def __init__(self, organisation: Organisation):
        self.requests = list(
            Request.objects.filter(organisation=organisation).values(
                "service_id",
                "kind",
                "channel",
                "received_at",
                "replied_at",
                "due_at",
                "acknowledgement_due_at",
                "acknowledged_at",
                "answer_days",
            )
        )
        self.deliveries = list(
            Delivery.objects.filter(organisation=organisation).values(
                "delivered_at", "due_at", service_id=F("prestation__service_id")
            )
        )
        self.parents = dict(
            Service.objects.filter(organisation=organisation).values_list("pk", "parent_id")
        )

    def with_subservices(self, roots) -> set[int]:
        def under(pk):
            while pk is not None:
                if pk in roots:
                    return True
                pk = self.parents[pk]
            return False

        return {pk for pk in self.parents if under(pk)}

    def items(self, indicator) -> list[Item]:
        definition = DEFINITIONS[indicator.source]
        channels = indicator.channels or indicator.commitment.channels
        if definition.family == "requests":
            rows = [r for r in self.requests if not channels or r["channel"] in channels]
        else:
            rows = self.deliveries
        return definition.items(rows)

    def expected(self, indicator, start, end, service=None):
        """(numerator, denominator, value), or "absent" when the service is out of scope."""
        roots = {s.pk for s in indicator.commitment.services.all()}
        scope = self.with_subservices(roots) if roots else None
        members = self.with_subservices({service.pk}) if service is not None else None
        if members is not None and scope is not None and not members & scope:
            return "absent"
        chosen = [
            item
            for item in self.items(indicator)
            if start <= item.day <= end
            and (scope is None or item.service_id in scope)
            and (members is None or item.service_id in members)
        ]
        return combined(DEFINITIONS[indicator.source], chosen)


# --- Fixtures ------------------------------------------------------------------------------


@pytest.fixture
def every_source(org, measured):
    """`measured`, plus a watched indicator for each registered source it does not use."""
    found = dict(measured)
    used = {indicator.source for indicator in measured.values()}
    commitment = measured["answered"].commitment
    for name in sorted(set(sources.registered()) - used):
        definition = DEFINITIONS.get(name)
        unit = definition.unit if definition else Unit.PERCENT
        found[name] = charter_services.create_indicator(
            commitment,
            actor=None,
            code=name.replace(".", "-").replace("_", "-"),
            name=name,
            source=name,
            unit=unit,
            direction=Direction.WATCH,
        )
    return found


@pytest.fixture
def rolled_up(org, every_source, year_of_requests):
    rollups.rebuild(org)
    return every_source


def show(org, *args) -> list[dict]:
    out = io.StringIO()
    call_command("indicators", "show", org.slug, "--format", "json", *args, stdout=out)
    return json.loads(out.getvalue())


def busiest_late_evening(requests) -> dt.date:
    """The local day that received most requests after 23:00, when UTC is already tomorrow."""
    days = [
        local_day(r.received_at) for r in requests if r.received_at.astimezone(PARIS).hour == 23
    ]
    return max(sorted(set(days)), key=days.count)


def ranges(requests):
    day = busiest_late_evening(requests)
    return [
        # October 2025: the clocks go back on the 26th.
        ("month", ["--period", "month", "--from", "2025-10-01", "--to", "2025-10-31"]),
        # The first quarter of 2025: the clocks go forward on 30 March.
        ("quarter", ["--period", "quarter", "--from", "2025-01-01", "--to", "2025-03-31"]),
        ("year", ["--period", "year", "--from", "2025-01-01", "--to", "2025-12-31"]),
        ("day", ["--period", "day", "--from", day.isoformat(), "--to", day.isoformat()]),
        # Months cut to a range that starts and ends mid-month.
        ("months cut", ["--period", "month", "--from", "2025-11-15", "--to", "2026-01-10"]),
        # One period over exactly the range, across both changes of the clocks.
        ("custom", ["--from", "2025-03-15", "--to", "2026-02-10"]),
    ]


# --- show = the independent count ----------------------------------------------------------


# The families whose sources are counted independently here; the others have their own
# module, which checks that it covers every source of its family.
FAMILIES_HERE = {"requests", "deliveries"}
FAMILIES_ELSEWHERE = {
    "calls": "test_sources_phone.py",
    "desk_visits": "test_sources_desk.py",
    "appointments": "test_sources_desk.py",
}


def _sources_here() -> set[str]:
    return {name for name, s in sources.registered().items() if s.family in FAMILIES_HERE}


@pytest.mark.django_db
def test_every_registered_source_has_an_independent_definition_here():
    assert _sources_here() <= set(DEFINITIONS), (
        "a new source needs its independent count in this module: "
        f"{sorted(_sources_here() - set(DEFINITIONS))}"
    )
    families = sources.families()
    assert families <= FAMILIES_HERE | set(FAMILIES_ELSEWHERE), (
        "a new family of records needs its independent counts in a test module: "
        f"{sorted(families - FAMILIES_HERE - set(FAMILIES_ELSEWHERE))}"
    )


@pytest.mark.django_db
def test_show_gives_the_figures_counted_from_the_raw_records_for_every_source(
    org, rolled_up, year_of_requests
):
    records = Records(org)
    services = list(Service.objects.filter(organisation=org).order_by("code"))
    computed = {code: i for code, i in rolled_up.items() if i.source in DEFINITIONS}
    assert {i.source for i in computed.values()} == _sources_here()
    mismatches, compared, with_data = [], 0, 0
    for label, arguments in ranges(year_of_requests):
        for service in [None, *services]:
            extra = ["--service", service.code] if service else []
            lines = show(org, *arguments, *extra)
            got = {
                (line["indicator"], line["period_start"], line["period_end"]): line
                for line in lines
            }
            period_rows = {(line["period_start"], line["period_end"]) for line in lines}
            assert period_rows, (label, service)
            for start_text, end_text in sorted(period_rows):
                start, end = dt.date.fromisoformat(start_text), dt.date.fromisoformat(end_text)
                for indicator in computed.values():
                    expected = records.expected(indicator, start, end, service)
                    line = got.get((indicator.code, start_text, end_text))
                    where = (label, service.code if service else "all", indicator.code, start)
                    if expected == "absent":
                        if line is not None:
                            mismatches.append((*where, "should be absent", line))
                        continue
                    compared += 1
                    numerator, denominator, value = expected
                    with_data += value is not None
                    shown = (
                        (line["numerator"], line["denominator"], line["value"]) if line else None
                    )
                    wanted = (numerator, denominator, None if value is None else str(value))
                    if shown is None or (
                        shown[:2] != wanted[:2]
                        or (shown[2] is None) != (value is None)
                        or (value is not None and Decimal(shown[2]) != value)
                    ):
                        mismatches.append((*where, "expected", wanted, "shown", shown))
    assert not mismatches, "\n".join(map(str, mismatches[:30]))
    # The comparison covered real figures, not only empty periods.
    assert compared > 300 and with_data > 250, (compared, with_data)


@pytest.mark.django_db
def test_the_periods_of_a_split_range_add_up_to_the_range(org, rolled_up, year_of_requests):
    months = show(org, "--period", "month", "--from", "2025-01-01", "--to", "2025-12-31")
    year = show(org, "--period", "year", "--from", "2025-01-01", "--to", "2025-12-31")
    for line in year:
        parts = [m for m in months if m["indicator"] == line["indicator"]]
        assert len(parts) == 12
        if line["denominator"] is not None and line["indicator"] in ("answered", "acts"):
            assert sum(p["denominator"] or 0 for p in parts) == line["denominator"]
            assert sum(p["numerator"] or 0 for p in parts) == line["numerator"]


# --- The incremental path = a rebuild -------------------------------------------------------


def rows_now() -> list[tuple]:
    return sorted(
        (
            r.indicator_id,
            r.service_id or 0,
            r.day,
            r.numerator,
            r.denominator,
            tuple(sorted(r.histogram.items())),
        )
        for r in Rollup.objects.all()
    )


def rebuilt_rows(org) -> list[tuple]:
    rollups.rebuild(org)
    return rows_now()


def tick() -> None:
    refresh_rollups(timezone.now())


def assert_tick_equals_rebuild(org, before):
    """The rows tick left equal a fresh rebuild's, and the changes did change some rows."""
    after_tick = rows_now()
    rebuilt = rebuilt_rows(org)
    assert rebuilt != before, "the changes should have changed some roll-ups"
    stale, missing = set(after_tick) - set(rebuilt), set(rebuilt) - set(after_tick)
    assert not stale and not missing, f"left by tick: {sorted(stale)}; rebuilt: {sorted(missing)}"


@pytest.mark.django_db
def test_a_rebuild_run_twice_gives_the_same_rows(org, rolled_up):
    first = rows_now()
    assert first
    call_command("indicators", "rebuild", org.slug, stdout=io.StringIO())
    assert rows_now() == first
    assert IndicatorEvent.objects.filter(organisation=org, verb="rollups.rebuilt").count() == 1


@pytest.mark.django_db
def test_records_changed_with_save_and_delete_are_rolled_up_by_tick_as_a_rebuild_would(
    org, rolled_up, year_of_requests
):
    tick()  # the fixture's own changes, so that only the ones below are pending
    before = rows_now()
    by_pk = {r.pk: r for r in year_of_requests}
    late = [r for r in by_pk.values() if r.received_at.astimezone(PARIS).hour == 23]
    # A receipt moved by an hour across local midnight: it counts on the next day now.
    moved = late[0]
    moved.received_at += dt.timedelta(hours=1)
    moved.save()
    # An answer recorded by hand on an unanswered request, an answer withdrawn on another.
    unanswered = next(r for r in by_pk.values() if r.replied_at is None and r.pk != moved.pk)
    unanswered.replied_at = unanswered.received_at + dt.timedelta(days=3)
    unanswered.answer_days = 2
    unanswered.save()
    withdrawn = next(r for r in by_pk.values() if r.replied_at is not None and r.answer_days)
    withdrawn.replied_at, withdrawn.answer_days = None, None
    withdrawn.save()
    # A request given to another service, and one deleted.
    rerouted = next(r for r in by_pk.values() if r.service is not None and r.replied_at)
    rerouted.service = org.service_set.exclude(pk=rerouted.service_id).get(code="finances")
    rerouted.save()
    Request.objects.get(pk=late[1].pk).delete()
    # An act delivered a day later.
    delivery = Delivery.objects.filter(organisation=org).order_by("pk").first()
    delivery.delivered_at += dt.timedelta(days=1)
    delivery.save()
    tick()
    assert_tick_equals_rebuild(org, before)


@pytest.mark.django_db
def test_requests_answered_and_rerouted_through_the_services_are_rolled_up_by_tick(
    org, users, rolled_up, year_of_requests
):
    tick()
    before = rows_now()
    open_ones = [
        r
        for r in Request.objects.filter(organisation=org, replied_at__isnull=True)
        .exclude(kind=RequestKind.THANKS)
        .order_by("pk")
    ]
    request_services.submit_reply(
        open_ones[0], actor=users["quality_manager"], channel=Channel.PHONE, body="Réponse"
    )
    finances = org.service_set.get(code="finances")
    rerouted = (
        Request.objects.filter(organisation=org, replied_at__isnull=False)
        .exclude(service=finances)
        .exclude(service=None)
        .order_by("pk")
        .first()
    )
    request_services.reroute(
        rerouted, actor=users["quality_manager"], reason="Mauvais service", service=finances
    )
    tick()
    assert_tick_equals_rebuild(org, before)


# --- The local day computed by the database -------------------------------------------------

ZONES = [
    "Europe/Paris",
    "America/Cayenne",
    "Pacific/Noumea",
    "Indian/Reunion",
    "Pacific/Marquesas",  # UTC-09:30
]
instants = st.datetimes(
    min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2035, 12, 31), timezones=st.just(UTC)
)


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    instant=instants,
    zone=st.sampled_from(ZONES),
    before=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=800)),
    after=st.timedeltas(min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=800)),
)
# The instants around Paris's changes of the clocks and around local midnight.
@example(
    dt.datetime(2025, 3, 30, 0, 59, 59, 999999, UTC),
    "Europe/Paris",
    dt.timedelta(0),
    dt.timedelta(days=1),
)
@example(
    dt.datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
    "Europe/Paris",
    dt.timedelta(days=90),
    dt.timedelta(days=1),
)
@example(
    dt.datetime(2025, 10, 26, 0, 59, 59, tzinfo=UTC),
    "Europe/Paris",
    dt.timedelta(days=3),
    dt.timedelta(seconds=1),
)
@example(
    dt.datetime(2025, 10, 25, 22, 0, tzinfo=UTC),
    "Europe/Paris",
    dt.timedelta(days=300),
    dt.timedelta(days=2),
)
@example(
    dt.datetime(2025, 10, 26, 22, 59, 59, tzinfo=UTC),
    "Europe/Paris",
    dt.timedelta(days=30),
    dt.timedelta(days=30),
)
@example(
    dt.datetime(2025, 6, 30, 9, 29, 59, tzinfo=UTC),
    "Pacific/Marquesas",
    dt.timedelta(days=1),
    dt.timedelta(days=1),
)
@example(
    dt.datetime(2025, 6, 30, 9, 30, tzinfo=UTC),
    "Pacific/Marquesas",
    dt.timedelta(0),
    dt.timedelta(days=1),
)
@example(
    dt.datetime(2025, 12, 31, 13, 0, tzinfo=UTC),
    "Pacific/Noumea",
    dt.timedelta(days=1),
    dt.timedelta(days=1),
)
def test_the_database_computes_the_local_day_of_any_instant_as_zoneinfo_does(
    org, instant, zone, before, after
):
    event = IndicatorEvent.objects.create(
        organisation=org, actor_name="test", verb="test.instant", at=instant
    )
    start, end = instant - before, instant + after
    computed = (
        IndicatorEvent.objects.filter(pk=event.pk)
        .annotate(day=localday.local_date("at", ZoneInfo(zone), start, end))
        .values_list("day", flat=True)
        .get()
    )
    event.delete()
    assert computed == instant.astimezone(ZoneInfo(zone)).date()
