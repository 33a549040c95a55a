import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from qualicite.charter import services as charter_services
from qualicite.charter.models import EARLIEST
from qualicite.core.choices import Channel
from qualicite.core.models import Organisation
from qualicite.indicators import rollups, tasks
from qualicite.indicators.models import MonthlyRollup, PendingRollup, Rollup, RollupState
from qualicite.requests import deadlines
from qualicite.requests import services as request_services

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


def _rows(org):
    """The day roll-ups, then the monthly ones: both must agree between the two paths."""
    fields = ("indicator_id", "service_id", "numerator", "denominator", "histogram")
    days = Rollup.objects.filter(organisation=org).values_list("day", *fields)
    months = MonthlyRollup.objects.filter(organisation=org).values_list("month", *fields)
    return sorted(days, key=repr), sorted(months, key=repr)


def test_a_saved_request_marks_the_local_day_it_counts_on(org, users, measured):
    # 23:30 in Paris on 31 October is already 1 November... no: 22:30 UTC, still the 31st.
    request = request_services.create_request(
        org,
        actor=users["agent"],
        kind="information",
        channel=Channel.PHONE,
        subject="Horaires",
        citizen_name="Camille Martin",
        citizen_phone="0612345678",
        received_at=dt.datetime(2025, 10, 31, 23, 30, tzinfo=PARIS),
    )
    days = set(PendingRollup.objects.filter(family="requests").values_list("day", flat=True))
    assert dt.date(2025, 10, 31) in days
    assert dt.date(2025, 11, 1) not in {d for d in days if d != request.entered_at.date()}


def test_moving_a_receipt_marks_the_old_day_and_the_new(org, users, measured, year_of_requests):
    request = year_of_requests[0]
    old_day = request.received_at.astimezone(PARIS).date()
    PendingRollup.objects.all().delete()
    request.received_at = request.received_at + dt.timedelta(days=40)
    request.save(update_fields=["received_at"])
    days = set(PendingRollup.objects.values_list("day", flat=True))
    assert {old_day, old_day + dt.timedelta(days=40)} <= days


def test_the_first_tick_rolls_up_an_organisation_never_rolled_up(org, measured, year_of_requests):
    assert not Rollup.objects.exists()
    tasks.refresh_rollups(None)
    state = RollupState.objects.get(organisation=org)
    assert state.rebuilt_at is not None
    assert Rollup.objects.filter(organisation=org).exists()
    assert not PendingRollup.objects.filter(organisation=org).exists()
    fresh = _rows(org)
    rollups.rebuild(org)
    assert _rows(org) == fresh


def test_tick_rolls_up_again_only_the_changed_days_and_matches_a_rebuild(
    org, users, measured, year_of_requests
):
    rollups.rebuild(org)
    unanswered = next(r for r in year_of_requests if r.replied_at is None and r.kind != "thanks")
    unanswered.replied_at = unanswered.received_at + dt.timedelta(days=3)
    unanswered.answer_days = deadlines.answer_days(unanswered)
    unanswered.save()
    pending = set(PendingRollup.objects.values_list("day", flat=True))
    assert unanswered.received_at.astimezone(PARIS).date() in pending
    result = rollups.refresh(org)
    assert result.days < 10  # a few days, not the history
    incremental = _rows(org)
    rollups.rebuild(org)
    assert incremental == _rows(org)


def test_other_organisations_are_left_alone(org, other_org, measured, year_of_requests):
    rollups.rebuild(org)
    assert not Rollup.objects.filter(organisation=other_org).exists()
    assert tasks.refresh_rollups(None) is None  # nothing pending anywhere


def test_changing_what_an_indicator_counts_rolls_up_its_whole_history(
    org, users, measured, year_of_requests
):
    rollups.rebuild(org)
    indicator = measured["in-time"]
    charter_services.update_indicator(
        indicator, actor=users["quality_manager"], channels=[Channel.EMAIL]
    )
    assert PendingRollup.objects.filter(indicator=indicator).exists()
    tasks.refresh_rollups(None)
    emails = sum(
        1
        for r in year_of_requests
        if r.channel == Channel.EMAIL and r.replied_at and r.kind != "thanks"
    )
    assert (
        sum(Rollup.objects.filter(indicator=indicator).values_list("denominator", flat=True))
        == emails
    )


def test_a_new_target_does_not_roll_up_anything_again(org, users, measured, year_of_requests):
    rollups.rebuild(org)
    charter_services.update_indicator(
        measured["in-time"], actor=users["quality_manager"], target=95
    )
    assert not PendingRollup.objects.filter(indicator__isnull=False).exists()


def test_a_rebuild_of_a_range_leaves_the_other_days(org, measured, year_of_requests):
    rollups.rebuild(org)
    before = _rows(org)
    Rollup.objects.filter(day__gte=dt.date(2025, 3, 1), day__lte=dt.date(2025, 3, 31)).delete()
    rollups.rebuild(org, start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
    assert _rows(org) == before


def test_a_month_sums_its_days_histograms_included(org, measured, year_of_requests):
    rollups.rebuild(org)
    median = measured["median"]
    march = MonthlyRollup.objects.filter(indicator=median, month=dt.date(2025, 3, 1)).latest(
        "denominator"
    )
    days = Rollup.objects.filter(
        indicator=median,
        service=march.service,
        day__gte=dt.date(2025, 3, 1),
        day__lte=dt.date(2025, 3, 31),
    )
    assert march.denominator == sum(d.denominator for d in days) > 0
    assert march.numerator == sum(d.numerator for d in days)
    summed: dict = {}
    for day in days:
        for value, count in day.histogram.items():
            summed[value] = summed.get(value, 0) + count
    assert march.histogram == summed


def test_revisions_cut_a_range_at_their_effective_dates(org, users, measured):
    indicator = measured["in-time"]
    charter_services.update_indicator(
        indicator, actor=users["quality_manager"], delay_days=10, effective_from=dt.date(2025, 6, 1)
    )
    indicator.refresh_from_db()
    spans = rollups._revision_spans(indicator, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert [(s, e, r.effective_from) for s, e, r in spans] == [
        (dt.date(2025, 1, 1), dt.date(2025, 5, 31), EARLIEST),
        (dt.date(2025, 6, 1), dt.date(2025, 12, 31), dt.date(2025, 6, 1)),
    ]
    assert [r.delay_days for _s, _e, r in spans] == [None, 10]


def test_an_answer_records_the_days_counted_since_receipt(org, users, measured):
    request = request_services.create_request(
        org,
        actor=users["agent"],
        kind="information",
        channel=Channel.EMAIL,
        subject="Question",
        citizen_name="Camille Martin",
        citizen_email="camille@example.org",
        received_at=dt.datetime(2025, 10, 6, 10, 0, tzinfo=PARIS),
    )
    request_services.submit_reply(
        request, actor=users["agent"], channel=Channel.PHONE, body="Réponse"
    )
    request.refresh_from_db()
    calendar = deadlines.calendar(
        org,
        site=deadlines.site_for(org, site=None, service=request.service),
        day_kind=request.day_kind,
    )
    assert request.answer_days == calendar.count_days(request.received_at, request.replied_at)
    assert request.answer_days > 100  # received in 2025, answered today


def test_a_new_time_zone_restamps_the_days_and_rolls_up_the_indicators_again(org, users, measured):
    request = request_services.create_request(
        org,
        actor=users["agent"],
        kind="information",
        channel=Channel.PHONE,
        subject="Horaires",
        citizen_name="Camille Martin",
        citizen_phone="0612345678",
        received_at=dt.datetime(2026, 3, 2, 0, 30, tzinfo=PARIS),
    )
    PendingRollup.objects.all().delete()
    organisation = Organisation.objects.get(pk=org.pk)
    organisation.time_zone = "America/Cayenne"  # UTC-3: 23:30 UTC on 1 March → 20:30 the 1st
    organisation.save()
    request.refresh_from_db()
    assert request.received_day == dt.date(2026, 3, 1)
    marked = set(PendingRollup.objects.exclude(indicator=None).values_list("indicator", flat=True))
    assert marked == {i.pk for i in measured.values() if i.source}


def test_a_new_threshold_rolls_up_again_an_indicator_measured_against_it(org, users, measured):
    within = charter_services.create_indicator(
        measured["answered"].commitment,
        actor=None,
        code="calls-25s",
        name="calls-25s",
        source="phone.answered_within",
        threshold_seconds=25,
        target=80,
    )
    PendingRollup.objects.all().delete()
    charter_services.update_indicator(
        within,
        actor=users["quality_manager"],
        threshold_seconds=20,
        effective_from=dt.date(2026, 1, 1),
    )
    assert PendingRollup.objects.filter(indicator=within).exists()
