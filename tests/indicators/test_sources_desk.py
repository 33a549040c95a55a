"""The desk and appointment sources counted twice: by the roll-ups, and here from the raw rows.

The independent count reads the DeskVisit and Appointment rows and applies the definitions of
`sources_desk.py` (DOMAIN.md) in plain Python: local days in Europe/Paris through zoneinfo,
across the change to summer time, with waits and delays exactly at the threshold. Then a
threshold changed from a date applies from that date only, the drill-down lists the records
behind a figure, tick's incremental roll-ups equal a rebuild, and another organisation's
records never count.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from qualicite.charter import services as charter_services
from qualicite.charter.models import Direction, Unit
from qualicite.indicators import queries, rollups, sources
from qualicite.indicators.models import Rollup
from qualicite.indicators.periods import Period
from qualicite.indicators.tasks import refresh_rollups
from qualicite.reception import appointment_services, desk_services
from qualicite.reception.models import Appointment, AppointmentStatus, DeskVisit

PARIS = ZoneInfo("Europe/Paris")
S = AppointmentStatus
FIRST_DAY, LAST_DAY = dt.date(2025, 3, 27), dt.date(2025, 4, 2)  # summer time on 30 March


def local_day(instant):
    return instant.astimezone(PARIS).date()


# --- The independent count ------------------------------------------------------------------


def count(items):
    """{(service_id, day): (numerator, denominator)} from (service_id, day, success) items."""
    found = defaultdict(lambda: [0, 0])
    for service_id, day, success in items:
        found[(service_id, day)][0] += int(success)
        found[(service_id, day)][1] += 1
    return {key: tuple(value) for key, value in found.items()}


def served(v):
    return v.called_at is not None and not v.left_without_service


def wait_within(visits, threshold):
    return count(
        (
            v.service_id,
            local_day(v.arrived_at),
            (v.called_at - v.arrived_at).total_seconds() <= threshold,
        )
        for v in visits
        if served(v)
    )


def left_without_service(visits, _threshold):
    return count(
        (v.service_id, local_day(v.arrived_at), v.left_without_service)
        for v in visits
        if served(v) or v.left_without_service
    )


def right_first_time(visits, _threshold):
    return count(
        (v.service_id, local_day(v.arrived_at), v.right_first_time)
        for v in visits
        if v.right_first_time is not None
    )


def wait_mean(visits, _threshold):
    sums, counts = defaultdict(dt.timedelta), defaultdict(int)
    for v in visits:
        if served(v):
            key = (v.service_id, local_day(v.arrived_at))
            sums[key] += v.called_at - v.arrived_at
            counts[key] += 1
    return {key: (round(sums[key].total_seconds()), counts[key]) for key in counts}


def respected(appointments, threshold):
    return count(
        (
            a.service_id,
            local_day(a.starts_at),
            a.served_at is not None and (a.served_at - a.starts_at).total_seconds() <= threshold,
        )
        for a in appointments
        if a.status in (S.CHECKED_IN, S.SERVED)
    )


def no_show(appointments, _threshold):
    return count(
        (a.service_id, local_day(a.starts_at), a.status == S.NO_SHOW)
        for a in appointments
        if a.status in (S.CHECKED_IN, S.SERVED, S.NO_SHOW)
    )


DEFINITIONS = {
    "desk.wait_within": (DeskVisit, wait_within),
    "desk.left_without_service": (DeskVisit, left_without_service),
    "desk.right_first_time": (DeskVisit, right_first_time),
    "desk.wait_mean": (DeskVisit, wait_mean),
    "appointments.respected": (Appointment, respected),
    "appointments.no_show": (Appointment, no_show),
}


# --- The records -------------------------------------------------------------------------------


def instants(rng, day):
    """Times of a day, with the edges: just after and just before local midnight."""
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=PARIS)
    yield start + dt.timedelta(seconds=rng.choice([0, 1]))
    yield dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=PARIS)
    for _n in range(14):
        yield start + dt.timedelta(hours=rng.uniform(8, 18))


def write_records(org, seed=7):
    """Visits and appointments of a week, written row by row as the raw data to count."""
    rng = random.Random(seed)
    site = org.site_set.get(code="mairie")
    services = [None, *org.service_set.order_by("pk")]
    visits, appointments = [], []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for arrived in instants(rng, day):
            wait = rng.choice([0, 59, 300, 599.5, 600, 600.5, 601, 900, 2400])
            kind = rng.random()
            called = arrived + dt.timedelta(seconds=wait) if kind > 0.15 else None
            left = called is None and kind > 0.05 or kind > 0.95
            visits.append(
                DeskVisit(
                    organisation=org,
                    site=site,
                    service=rng.choice(services),
                    arrived_at=arrived,
                    called_at=called,
                    done_at=(called or arrived) + dt.timedelta(minutes=5) if kind > 0.05 else None,
                    left_without_service=left,
                    right_first_time=rng.choice([None, True, True, False]) if called else None,
                )
            )
            delay = rng.choice([-120, 0, 300, 600, 601, 1500])
            status = rng.choice(list(S.values))
            checked = (
                arrived - dt.timedelta(minutes=3) if status in (S.CHECKED_IN, S.SERVED) else None
            )
            appointments.append(
                Appointment(
                    organisation=org,
                    site=site,
                    service=rng.choice(services),
                    starts_at=arrived,
                    status=status,
                    checked_in_at=checked,
                    served_at=arrived + dt.timedelta(seconds=delay) if status == S.SERVED else None,
                )
            )
        day += dt.timedelta(days=1)
    DeskVisit.objects.bulk_create(visits)
    Appointment.objects.bulk_create(appointments)


@pytest.fixture
def desk_indicators(org):
    """{source: Indicator} for every desk and appointment source, the whole organisation."""
    programme = charter_services.create_programme(
        org, actor=None, key="qualivilles", kind="qualivilles", name="Qualivilles"
    )
    commitment = charter_services.create_commitment(
        programme, actor=None, number="6", title="Une attente maîtrisée", channels=["desk"]
    )
    found = {}
    for number, source in enumerate(DEFINITIONS):
        fields = {"target": Decimal(90), "threshold_seconds": 600}
        if source == "desk.wait_mean":
            fields.update(unit=Unit.SECONDS, direction=Direction.LOWER_IS_BETTER, target=300)
        if source in ("desk.left_without_service", "appointments.no_show"):
            fields.update(direction=Direction.LOWER_IS_BETTER, target=Decimal(10))
        found[source] = charter_services.create_indicator(
            commitment, actor=None, code=f"desk-{number}", name=source, source=source, **fields
        )
    return found


def computed(indicator, start=FIRST_DAY, end=LAST_DAY):
    indicator.refresh_from_db()
    return {
        (row.service_id, row.day): (row.numerator, row.denominator)
        for row in rollups.compute(indicator, start, end)
        if row.denominator
    }


def expected(org, source, threshold=600):
    model, definition = DEFINITIONS[source]
    return definition(list(model.objects.filter(organisation=org)), threshold)


def rows_now() -> list[tuple]:
    return sorted(
        (r.indicator_id, r.service_id or 0, r.day, r.numerator, r.denominator)
        for r in Rollup.objects.all()
    )


# --- The tests -------------------------------------------------------------------------------


def test_every_desk_source_is_registered_with_its_family():
    for source in DEFINITIONS:
        found = sources.get(source)
        assert found is not None, source
        assert found.family == ("desk_visits" if source.startswith("desk") else "appointments")
    assert sources.get("desk.wait_within").versioned
    assert sources.get("appointments.respected").versioned


@pytest.mark.parametrize("source", list(DEFINITIONS))
def test_each_source_equals_the_count_from_the_raw_rows(org, other_org, desk_indicators, source):
    write_records(org)
    write_records(other_org, seed=11)  # never counted for org
    want = expected(org, source)
    assert want and sum(den for _num, den in want.values()) > 40
    assert computed(desk_indicators[source]) == want


def test_a_threshold_changed_from_a_date_applies_from_that_date(org, desk_indicators):
    write_records(org)
    indicator = desk_indicators["desk.wait_within"]
    change = dt.date(2025, 3, 30)
    charter_services.update_indicator(
        indicator, actor=None, threshold_seconds=300, effective_from=change
    )
    got = computed(indicator)
    before = expected(org, "desk.wait_within", 600)
    after = expected(org, "desk.wait_within", 300)
    want = {key: (before if key[1] < change else after)[key] for key in before}
    assert got == want
    assert any(before[key] != after[key] for key in before if key[1] >= change)


def test_the_drill_down_lists_the_records_behind_a_figure(org, desk_indicators):
    write_records(org)
    period = Period(FIRST_DAY, LAST_DAY, "custom")
    for source in ("desk.wait_within", "appointments.respected", "desk.right_first_time"):
        indicator = desk_indicators[source]
        want = expected(org, source)
        numerator = sum(num for num, _den in want.values())
        denominator = sum(den for _num, den in want.values())
        drill = queries.drilldown(org, indicator, period)
        assert drill.records.count() == denominator, source
        assert drill.records.filter(drill.failing_filter).count() == denominator - numerator
        record = drill.records.first()
        assert [str(column.value(record)) for column in drill.columns]
        assert drill.link(record).startswith(f"/{org.slug}/espace/")


def test_a_service_scope_counts_the_service_and_its_sub_services(org, desk_indicators):
    write_records(org)
    programme = desk_indicators["desk.wait_within"].commitment.programme
    etat_civil = org.service_set.get(code="etat-civil")
    commitment = charter_services.create_commitment(
        programme, actor=None, number="7", title="État civil", services=[etat_civil]
    )
    indicator = charter_services.create_indicator(
        commitment,
        actor=None,
        code="ec-wait",
        name="Attente état civil",
        source="desk.wait_within",
        target=Decimal(90),
        threshold_seconds=600,
    )
    scope = {etat_civil.pk, org.service_set.get(code="naissances").pk}
    want = {
        key: value for key, value in expected(org, "desk.wait_within").items() if key[0] in scope
    }
    assert want and computed(indicator) == want


def test_tick_after_the_tablet_and_an_import_equals_a_rebuild(org, users, desk_indicators):
    write_records(org)
    rollups.rebuild(org)
    refresh_rollups(timezone.now())
    before = rows_now()
    site = org.site_set.get(code="mairie")
    # The tablet (post_save), an import (records_changed), the no-show job (records_changed).
    visit = desk_services.record_arrival(
        site, actor=None, at=dt.datetime(2025, 3, 31, 9, 0, tzinfo=PARIS)
    )
    desk_services.call_visitor(visit, actor=None, at=visit.arrived_at + dt.timedelta(minutes=30))
    report = desk_services.import_visits(
        org,
        io.BytesIO(b"T;A;W\nX1;2025-04-01 10:00:00;0:02:00\n"),
        actor=None,
        mapping_text="site: mairie\ncolumns:\n  ticket: T\n  arrived_at: A\n  wait_seconds: W\n",
    )
    assert report.created == 1
    appointment = Appointment.objects.filter(organisation=org, status=S.BOOKED).first()
    appointment_services.update_appointment(
        appointment, actor=None, starts_at=appointment.starts_at + dt.timedelta(days=1)
    )
    appointment_services.mark_past_no_shows(org)
    refresh_rollups(timezone.now())
    after_tick = rows_now()
    rollups.rebuild(org)
    rebuilt = rows_now()
    assert after_tick == rebuilt
    assert rebuilt != before


def test_a_rebuild_run_twice_gives_the_same_rows(org, desk_indicators):
    write_records(org)
    rollups.rebuild(org)
    first = rows_now()
    rollups.rebuild(org)
    assert rows_now() == first
    assert rollups.history_start(org, list(desk_indicators.values())) == FIRST_DAY
