"""The demo's phone calls, desk visits and appointments (qualicite.demo.reception_demo).

The demo is built once for the module on a fixed day, so that its shape (September after
August, the busy October) is the same whatever day the tests run; each test runs in its own
rolled-back transaction on top of it.
"""

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.db.models import Count, Q, Sum
from django.test import override_settings

from qualicite.charter.models import Indicator
from qualicite.core.models import Organisation
from qualicite.demo.loader import build_demo
from qualicite.demo.queue_logs import PhoneYear
from qualicite.demo.reception_demo import TICKETING_MAPPING
from qualicite.demo.towns import RECEPTION_SETUPS, REQUEST_SETUPS
from qualicite.indicators import queries
from qualicite.indicators.models import Alert, Rollup
from qualicite.indicators.periods import containing
from qualicite.reception import desk_import
from qualicite.reception.desk_mapping import load_mapping
from qualicite.reception.models import (
    Appointment,
    AppointmentStatus,
    Call,
    CallImport,
    CallOutcome,
    DeskVisit,
    ImportStatus,
    QueueMapping,
    ReceptionEvent,
    VisitSource,
)

TODAY = dt.date(2026, 11, 23)  # a Monday: October 2026 is the busy month
SEED = 2026
TOWN_SLUGS = ("beaulieu", "saint-aubin")
SOURCES = (
    "phone.answer_rate",
    "phone.answered_within",
    "phone.abandoned",
    "desk.wait_within",
    "appointments.respected",
)


@pytest.fixture(scope="module")
def built(django_db_setup, django_db_blocker, tmp_path_factory):
    fast = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        VAR_DIR=tmp_path_factory.mktemp("var"),
    )
    with django_db_blocker.unblock(), fast:
        build_demo(today=TODAY)
    yield
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(built, db):
    return {slug: Organisation.objects.get(slug=slug) for slug in TOWN_SLUGS}


def local_calls(organisation):
    """(local entered at, outcome) of the counted calls."""
    zone = organisation.zone
    rows = Call.objects.filter(organisation=organisation, counted=True)
    return [
        (at.astimezone(zone), outcome) for at, outcome in rows.values_list("entered_at", "outcome")
    ]


def phone_year(organisation):
    slug = organisation.slug
    return PhoneYear(
        organisation,
        RECEPTION_SETUPS[slug]["phone"],
        seed=SEED,
        today=TODAY,
        busy=REQUEST_SETUPS[slug]["busy"],
    )


# Phone --------------------------------------------------------------------------------------


def test_a_year_of_monthly_queue_logs_is_imported_by_the_command(demo):
    for organisation in demo.values():
        imports = CallImport.objects.filter(organisation=organisation).order_by("pk")
        names = [i.file_name for i in imports]
        assert len(names) == 13  # 12 months, and this month up to the demo's day
        assert names[0].endswith("queue_log-2025-11") and names[-1].endswith("queue_log-2026-11")
        assert {i.status for i in imports} == {ImportStatus.DONE}
        assert all(i.calls_created > 0 and i.lines_rejected == 0 for i in imports)
        first = Call.objects.filter(organisation=organisation).order_by("entered_at").first()
        last = Call.objects.filter(organisation=organisation).order_by("entered_at").last()
        zone = organisation.zone
        assert first.entered_at.astimezone(zone).date() >= TODAY - dt.timedelta(days=365)
        assert last.entered_at.astimezone(zone).date() < TODAY


def test_calls_peak_on_monday_mornings_and_dip_at_lunch(demo):
    for organisation in demo.values():
        calls = local_calls(organisation)
        mondays = {at.date() for at, _o in calls if at.weekday() == 0}
        fridays = {at.date() for at, _o in calls if at.weekday() == 4}
        monday_morning = [o for at, o in calls if at.weekday() == 0 and at.hour < 12]
        friday_afternoon = [o for at, o in calls if at.weekday() == 4 and at.hour >= 13]
        per_monday = len(monday_morning) / len(mondays)
        per_friday = len(friday_afternoon) / len(fridays)
        assert per_monday > 1.5 * per_friday
        # …and callers get through less often on Monday mornings.
        assert rate(monday_morning) < rate(friday_afternoon) - 0.03
        by_hour = Counter(at.hour for at, _o in calls if at.weekday() < 5)
        assert by_hour[12] < 0.05 * by_hour[10]  # the site closes for lunch
        assert by_hour[10] > by_hour[8] and by_hour[10] > by_hour[16]


def test_september_brings_a_rush_of_calls_and_august_a_lull(demo):
    for organisation in demo.values():
        months = Counter(at.month for at, _o in local_calls(organisation))
        assert months[9] > 1.8 * months[8]
        assert months[9] == max(months.values())


def test_calls_that_span_two_monthly_files_are_completed_by_the_next_one(demo):
    for organisation in demo.values():
        files = phone_year(organisation).files()
        calls = Call.objects.filter(organisation=organisation)
        spanning = Q()
        for log_file in files[:-1]:
            spanning |= Q(entered_at__lt=log_file.end, ended_at__gte=log_file.end)
        across = calls.filter(spanning)
        assert across.count() >= len(files) - 1  # a few at each monthly export
        assert not across.filter(ended_at__isnull=True).exists()
        assert not across.filter(outcome=CallOutcome.ANSWERED, talk_seconds__isnull=True).exists()
        assert not calls.filter(outcome=CallOutcome.INCOMPLETE).exists()
        completed = CallImport.objects.filter(organisation=organisation).aggregate(
            n=Sum("calls_completed")
        )["n"]
        assert completed >= across.count()


def rate(outcomes) -> float:
    return outcomes.count(CallOutcome.ANSWERED) / len(outcomes)


def _fingerprint(organisation):
    calls = Call.objects.filter(organisation=organisation)
    return calls.aggregate(
        n=Count("pk"),
        waits=Sum("wait_seconds"),
        talks=Sum("talk_seconds"),
        answered=Count("pk", filter=Q(outcome=CallOutcome.ANSWERED)),
        counted=Count("pk", filter=Q(counted=True)),
    ), Rollup.objects.filter(organisation=organisation).aggregate(
        rows=Count("pk"), num=Sum("numerator"), den=Sum("denominator")
    )


def test_importing_a_demo_file_again_changes_nothing(demo, tmp_path):
    organisation = demo["beaulieu"]
    year = phone_year(organisation)
    october = next(f for f in year.files() if f.name == "queue_log-2026-10")
    path = tmp_path / "queue_log-2026-10"
    with path.open("wb") as out:
        year.write(october, out)
    before = _fingerprint(organisation)
    out = io.StringIO()
    call_command(
        "import_calls", "beaulieu", str(path), "--format", "asterisk-queue-log", stdout=out
    )
    again = CallImport.objects.filter(organisation=organisation).latest("pk")
    assert again.status == ImportStatus.DONE
    assert (again.calls_created, again.calls_completed) == (0, 0)
    assert again.calls_unchanged > 5000
    assert _fingerprint(organisation) == before


def test_the_files_are_written_again_byte_for_byte(demo, tmp_path):
    organisation = demo["saint-aubin"]
    first, second = io.BytesIO(), io.BytesIO()
    log_file = phone_year(organisation).files()[3]
    phone_year(organisation).write(log_file, first)
    phone_year(organisation).write(log_file, second)
    assert first.getvalue() == second.getvalue() and first.getvalue().count(b"\n") > 1000


def test_queues_answer_for_the_towns_services_and_sites(demo):
    for slug, organisation in demo.items():
        planned = {row[0]: row for row in RECEPTION_SETUPS[slug]["phone"]["queues"]}
        mappings = QueueMapping.objects.filter(organisation=organisation).select_related(
            "service", "site"
        )
        assert {m.queue for m in mappings} <= set(planned)
        for mapping in mappings:
            row = planned[mapping.queue]
            assert (mapping.service.code if mapping.service else None) == row[1]
            assert mapping.site.code == row[2]
            assert mapping.counted == (row[7] if len(row) > 7 else True)
        calls = Call.objects.filter(organisation=organisation)
        assert not calls.filter(site__isnull=True).exists()
        assert not calls.filter(counted=True, service__isnull=True).exists()


def test_test_calls_are_flagged_and_left_out_of_the_statistics(demo):
    for slug, organisation in demo.items():
        caller = RECEPTION_SETUPS[slug]["phone"]["test_caller"]
        tests = Call.objects.filter(organisation=organisation, caller=caller)
        assert tests.count() >= 20  # two a month
        assert not tests.filter(Q(is_test=False) | Q(counted=True)).exists()
        assert Call.objects.filter(organisation=organisation, is_test=True).count() == tests.count()
        flagged = ReceptionEvent.objects.filter(organisation=organisation, verb="call.flagged_test")
        assert flagged.count() == tests.count()


def test_a_few_calls_come_outside_opening_hours_and_find_the_queue_closed(demo):
    for organisation in demo.values():
        calls = Call.objects.filter(organisation=organisation, counted=True)
        outside = calls.filter(outside_hours=True)
        assert 0.005 * calls.count() < outside.count() < 0.05 * calls.count()
        assert set(outside.values_list("outcome", flat=True)) == {CallOutcome.EXIT_EMPTY}


# Indicators ---------------------------------------------------------------------------------


def _indicator(organisation, source):
    return Indicator.objects.filter(organisation=organisation, source=source).get()


def test_the_towns_measure_their_phone_desk_and_appointments_and_have_figures(demo):
    for organisation in demo.values():
        for source in SOURCES:
            indicator = _indicator(organisation, source)
            rolled = Rollup.objects.filter(indicator=indicator)
            assert rolled.aggregate(n=Sum("denominator"))["n"] > 1000, source


def _month_result(organisation, source, month: dt.date, service=None):
    indicator = queries.indicators_of(organisation, pks=[_indicator(organisation, source).pk])
    period = containing(month, "month")
    services = [service] if service is not None else ()
    results = queries.results(organisation, indicator, period, services=services)
    return next(r for r in results.values() if (r.service is None) == (service is None))


def test_the_busy_month_misses_the_pickup_target_where_staff_is_short(demo):
    october, september = dt.date(2026, 10, 1), dt.date(2026, 9, 1)
    for slug, organisation in demo.items():
        busy = organisation.service_set.get(code=REQUEST_SETUPS[slug]["busy"]["service"])
        missed = _month_result(organisation, "phone.answered_within", october, busy)
        assert missed.status == queries.Status.MISSED
        assert _month_result(organisation, "phone.answered_within", september, busy).status == (
            queries.Status.MET
        )
        whole = _month_result(organisation, "phone.answered_within", october)
        assert whole.status in (queries.Status.WARNING, queries.Status.MISSED)
        # The alert of the busy month is open for the town as a whole.
        indicator = _indicator(organisation, "phone.answered_within")
        assert Alert.objects.filter(indicator=indicator, period_start=october).exists()


def test_the_phone_commitments_are_met_in_ordinary_months(demo):
    months = [dt.date(2026, m, 1) for m in range(1, 10)]
    for organisation in demo.values():
        statuses = Counter(
            _month_result(organisation, source, month).status
            for source in ("phone.answer_rate", "phone.answered_within", "phone.abandoned")
            for month in months
        )
        assert statuses[queries.Status.MET] >= 0.9 * statuses.total()


# Desk ---------------------------------------------------------------------------------------


def _wait_minutes(visit):
    return (visit.called_at - visit.arrived_at).total_seconds() / 60


def test_desk_visitors_mostly_wait_less_than_ten_minutes_with_peaks_over(demo):
    for organisation in demo.values():
        visits = list(DeskVisit.objects.filter(organisation=organisation))
        assert len(visits) > 5000
        served = [v for v in visits if not v.left_without_service]
        waits = [_wait_minutes(v) for v in served]
        within = sum(w <= 10 for w in waits) / len(waits)
        assert 0.88 < within < 0.995
        assert max(waits) > 20
        left = sum(v.left_without_service for v in visits) / len(visits)
        assert 0.002 < left < 0.05
        told = [v.right_first_time for v in served]
        assert 0.85 < told.count(True) / len(told) < 0.99
        zone = organisation.zone
        by_weekday = Counter(v.arrived_at.astimezone(zone).weekday() for v in visits)
        assert by_weekday[0] > by_weekday[3]  # Monday busier than Thursday
        assert not any(v.arrived_at.astimezone(zone).date() >= TODAY for v in visits)


def test_beaulieu_imports_its_ticket_dispenser_and_saint_aubin_taps_the_tablet(demo):
    beaulieu = DeskVisit.objects.filter(organisation=demo["beaulieu"])
    assert set(beaulieu.values_list("source", flat=True)) == {VisitSource.IMPORT}
    assert not beaulieu.filter(ticket="").exists()
    exports = ReceptionEvent.objects.filter(organisation=demo["beaulieu"], verb="desk.imported")
    assert exports.count() == 12
    assert sum(e.details["created"] for e in exports) < beaulieu.count()  # November is not yet
    mapping = load_mapping(TICKETING_MAPPING, desk_import.SPEC, default_timezone="Europe/Paris")
    assert mapping is not None

    saint_aubin = DeskVisit.objects.filter(organisation=demo["saint-aubin"])
    assert set(saint_aubin.values_list("source", flat=True)) == {VisitSource.TABLET}
    verbs = Counter(
        ReceptionEvent.objects.filter(
            organisation=demo["saint-aubin"], verb__startswith="desk."
        ).values_list("verb", flat=True)
    )
    left = saint_aubin.filter(left_without_service=True).count()
    assert verbs["desk.arrived"] == saint_aubin.count()
    assert verbs["desk.left"] == left
    assert verbs["desk.called"] == verbs["desk.done"] == saint_aubin.count() - left


def test_desk_waits_miss_their_target_in_the_busy_month(demo):
    organisation = demo["beaulieu"]
    busy = organisation.service_set.get(code="etat-civil")
    october = _month_result(organisation, "desk.wait_within", dt.date(2026, 10, 1), busy)
    june = _month_result(organisation, "desk.wait_within", dt.date(2026, 6, 1), busy)
    assert october.status in (queries.Status.WARNING, queries.Status.MISSED)
    assert june.status == queries.Status.MET


# Appointments -------------------------------------------------------------------------------


def test_past_appointments_are_decided_and_the_days_ahead_booked(demo):
    for organisation in demo.values():
        zone = organisation.zone
        start = dt.datetime.combine(TODAY, dt.time.min, tzinfo=zone)
        appointments = Appointment.objects.filter(organisation=organisation)
        past = appointments.filter(starts_at__lt=start)
        ahead = appointments.filter(starts_at__gte=start)
        assert not past.filter(status=AppointmentStatus.BOOKED).exists()
        assert set(ahead.values_list("status", flat=True)) == {AppointmentStatus.BOOKED}
        today = ahead.filter(starts_at__lt=start + dt.timedelta(days=1))
        assert today.count() >= 3
        statuses = Counter(past.values_list("status", flat=True))
        assert statuses[AppointmentStatus.NO_SHOW] > 0.02 * past.count()
        assert statuses[AppointmentStatus.CANCELLED] > 0.02 * past.count()
        served = past.filter(status=AppointmentStatus.SERVED)
        assert not served.filter(Q(served_at__isnull=True) | Q(checked_in_at__isnull=True)).exists()
        on_time = sum(
            (a.served_at - a.starts_at) <= dt.timedelta(minutes=10)
            for a in served.only("served_at", "starts_at")
        )
        assert 0.93 < on_time / served.count() < 0.995


def test_appointment_events_tell_each_ones_story(demo):
    organisation = demo["saint-aubin"]
    appointments = Appointment.objects.filter(organisation=organisation)
    verbs = Counter(
        ReceptionEvent.objects.filter(
            organisation=organisation, verb__startswith="appointment."
        ).values_list("verb", flat=True)
    )
    assert verbs["appointment.created"] == appointments.count()
    for verb, status in (
        ("appointment.served", AppointmentStatus.SERVED),
        ("appointment.checked_in", AppointmentStatus.SERVED),
        ("appointment.no_show", AppointmentStatus.NO_SHOW),
        ("appointment.cancelled", AppointmentStatus.CANCELLED),
    ):
        assert verbs[verb] == appointments.filter(status=status).count()
