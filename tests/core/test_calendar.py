"""The calendar: public holidays, open days, opening hours and due dates."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from qualicite.core.calendar import Calendar
from qualicite.core.choices import DayKind, HolidayRegion

PARIS = ZoneInfo("Europe/Paris")
END_OF_DAY = time(23, 59, 59, 999999)
# A town-hall week: Monday to Friday, closed at lunch.
TOWN_HALL_HOURS = {day: [(time(8, 30), time(12)), (time(13, 30), time(17))] for day in range(5)}


def at(year, month, day, hour=10, minute=0, zone=PARIS):
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def due(year, month, day, zone=PARIS):
    return datetime.combine(date(year, month, day), END_OF_DAY, tzinfo=zone)


# Public holidays ---------------------------------------------------------------------------

NATIONAL = {
    2025: [
        "2025-01-01",
        "2025-04-21",  # Easter Monday
        "2025-05-01",
        "2025-05-08",
        "2025-05-29",  # Ascension
        "2025-06-09",  # Whit Monday
        "2025-07-14",
        "2025-08-15",
        "2025-11-01",
        "2025-11-11",
        "2025-12-25",
    ],
    2026: [
        "2026-01-01",
        "2026-04-06",
        "2026-05-01",
        "2026-05-08",
        "2026-05-14",
        "2026-05-25",
        "2026-07-14",
        "2026-08-15",
        "2026-11-01",
        "2026-11-11",
        "2026-12-25",
    ],
    2027: [
        "2027-01-01",
        "2027-03-29",
        "2027-05-01",
        "2027-05-08",
        "2027-05-06",
        "2027-05-17",
        "2027-07-14",
        "2027-08-15",
        "2027-11-01",
        "2027-11-11",
        "2027-12-25",
    ],
}
# Alsace-Moselle adds Good Friday and 26 December.
LOCAL_LAW = {
    2025: ["2025-04-18", "2025-12-26"],
    2026: ["2026-04-03", "2026-12-26"],
    2027: ["2027-03-26", "2027-12-26"],
}


def as_dates(texts):
    return {date.fromisoformat(text) for text in texts}


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_it_knows_exactly_the_mainland_public_holidays(year):
    assert set(Calendar().holidays_in(year)) == as_dates(NATIONAL[year])


@pytest.mark.parametrize("region", [HolidayRegion.MOSELLE, HolidayRegion.ALSACE])
@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_it_adds_good_friday_and_saint_stephen_in_alsace_moselle(region, year):
    expected = as_dates(NATIONAL[year] + LOCAL_LAW[year])
    assert set(Calendar(holiday_region=region).holidays_in(year)) == expected


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_mainland_works_on_good_friday_and_26_december(year):
    calendar = Calendar()
    for day in as_dates(LOCAL_LAW[year]):
        assert day not in calendar.holidays_in(year)


@pytest.mark.parametrize(
    "region, day",
    [
        (HolidayRegion.REUNION, date(2025, 12, 20)),
        (HolidayRegion.REUNION, date(2026, 12, 20)),
        (HolidayRegion.GUADELOUPE, date(2026, 5, 27)),
        (HolidayRegion.MARTINIQUE, date(2026, 5, 22)),
        (HolidayRegion.MARTINIQUE, date(2027, 5, 22)),
    ],
)
def test_it_knows_the_abolition_of_slavery_overseas(region, day):
    assert day in Calendar(holiday_region=region).holidays_in(day.year)
    assert day not in Calendar().holidays_in(day.year)


@pytest.mark.parametrize("region", HolidayRegion.values)
def test_every_region_keeps_whit_monday(region):
    assert date(2026, 5, 25) in Calendar(holiday_region=region).holidays_in(2026)


def test_holiday_names_are_french():
    assert Calendar().holidays_in(2026)[date(2026, 5, 25)] == "Lundi de Pentecôte"


def test_changing_the_returned_holidays_does_not_change_the_calendar():
    calendar = Calendar()
    calendar.holidays_in(2026).clear()
    assert date(2026, 7, 14) in calendar.holidays_in(2026)
    assert not calendar.is_open_day(date(2026, 7, 14))


# Open days ---------------------------------------------------------------------------------


def test_it_skips_ascension_day():
    assert not Calendar().is_open_day(date(2026, 5, 14))


def test_weekends_are_not_working_days_but_saturday_is_a_business_day():
    working, business = Calendar(), Calendar(day_kind=DayKind.BUSINESS)
    assert not working.is_open_day(date(2026, 3, 14))
    assert business.is_open_day(date(2026, 3, 14))
    assert not business.is_open_day(date(2026, 3, 15))


def test_a_site_is_not_open_on_a_weekday_without_opening_hours():
    calendar = Calendar(opening_hours={0: [(time(9), time(12))], 2: [(time(9), time(12))]})
    assert [calendar.is_open_day(date(2026, 3, 9) + timedelta(days=i)) for i in range(5)] == [
        True,
        False,
        True,
        False,
        False,
    ]


def test_open_days_between_lists_open_days_across_new_year():
    days = list(Calendar().open_days_between(date(2025, 12, 24), date(2026, 1, 5)))
    assert days == [
        date(2025, 12, 24),
        date(2025, 12, 26),
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 2),
        date(2026, 1, 5),
    ]


def test_open_days_between_is_empty_when_last_is_before_first():
    assert list(Calendar().open_days_between(date(2026, 3, 10), date(2026, 3, 9))) == []


# Effective start ---------------------------------------------------------------------------


def test_a_receipt_on_friday_evening_after_closing_counts_from_monday():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    friday_evening = at(2026, 3, 13, 18)
    assert calendar.effective_start(friday_evening) == at(2026, 3, 16, 8, 30)
    assert calendar.add_days(friday_evening, 1) == due(2026, 3, 17)


def test_without_opening_hours_a_friday_evening_receipt_counts_from_friday():
    calendar = Calendar()
    assert calendar.effective_start(at(2026, 3, 13, 18)) == at(2026, 3, 13, 18)
    assert calendar.add_days(at(2026, 3, 13, 18), 1) == due(2026, 3, 16)


def test_a_receipt_on_saturday_counts_from_monday_morning():
    calendar = Calendar()
    assert calendar.effective_start(at(2026, 3, 14, 11)) == at(2026, 3, 16, 0)
    assert calendar.add_days(at(2026, 3, 14, 11), 1) == due(2026, 3, 17)
    assert calendar.add_days(at(2026, 3, 14, 11), 0) == due(2026, 3, 16)


def test_a_receipt_on_saturday_counts_from_saturday_in_business_days():
    calendar = Calendar(day_kind=DayKind.BUSINESS)
    assert calendar.add_days(at(2026, 3, 14, 11), 1) == due(2026, 3, 16)


def test_a_receipt_at_lunch_time_counts_from_the_afternoon():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    assert calendar.next_open_moment(at(2026, 3, 10, 12, 30)) == at(2026, 3, 10, 13, 30)


def test_a_receipt_during_opening_hours_counts_from_itself():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    assert calendar.next_open_moment(at(2026, 3, 10, 9, 15)) == at(2026, 3, 10, 9, 15)


def test_a_receipt_at_closing_time_is_already_outside_the_span():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    assert calendar.next_open_moment(at(2026, 3, 10, 17)) == at(2026, 3, 11, 8, 30)


def test_a_site_with_only_morning_hours_counts_afternoon_receipts_from_the_next_morning():
    mornings = {day: [(time(8, 30), time(12))] for day in range(6)}
    calendar = Calendar(opening_hours=mornings)
    assert calendar.next_open_moment(at(2026, 3, 10, 14)) == at(2026, 3, 11, 8, 30)
    assert calendar.add_days(at(2026, 3, 10, 14), 2) == due(2026, 3, 13)
    # Saturday mornings do not count as working days even though the site is open.
    assert calendar.next_open_moment(at(2026, 3, 13, 14)) == at(2026, 3, 16, 8, 30)


def test_the_result_is_in_the_calendar_zone_whatever_the_zone_given():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    moment = calendar.next_open_moment(datetime(2026, 3, 10, 8, 15, tzinfo=UTC))
    assert moment.tzinfo == PARIS
    assert moment == at(2026, 3, 10, 9, 15)


# Due dates ---------------------------------------------------------------------------------


def test_the_due_moment_is_the_end_of_the_due_day():
    result = Calendar().add_days(at(2026, 3, 10, 9), 5)
    assert result == due(2026, 3, 17)
    assert result.time() == END_OF_DAY
    assert result.tzinfo == PARIS


def test_zero_days_is_the_end_of_the_start_day():
    assert Calendar().add_days(at(2026, 3, 10, 9), 0) == due(2026, 3, 10)


def test_add_days_skips_the_ascension_bridge():
    receipt = at(2026, 5, 13)  # Wednesday; Thursday 14 is Ascension, Friday 15 the "pont".
    assert Calendar().add_days(receipt, 2) == due(2026, 5, 18)
    bridge_closed = Calendar(closures=[(date(2026, 5, 15), date(2026, 5, 15))])
    assert bridge_closed.add_days(receipt, 1) == due(2026, 5, 18)
    assert bridge_closed.add_days(receipt, 2) == due(2026, 5, 19)


def test_fifteen_working_days_skip_the_may_holidays():
    # Friday 1 May, Friday 8 May, Thursday 14 May (Ascension) and Monday 25 May (Whit Monday):
    # 4 + 4 + 5 + 1 working days bring us to Tuesday 26 May, the 15th is Wednesday 27.
    assert Calendar().add_days(at(2026, 4, 30), 15) == due(2026, 5, 27)


def test_business_days_count_saturdays():
    receipt = at(2026, 3, 12)  # Thursday
    assert Calendar(day_kind=DayKind.BUSINESS).add_days(receipt, 2) == due(2026, 3, 14)
    assert Calendar(day_kind=DayKind.WORKING).add_days(receipt, 2) == due(2026, 3, 16)


def test_calendar_days_landing_on_a_sunday_move_to_monday():
    calendar = Calendar(day_kind=DayKind.CALENDAR)
    assert calendar.add_days(at(2026, 3, 2), 6) == due(2026, 3, 9)


def test_calendar_days_landing_on_a_saturday_move_to_monday_for_a_weekday_site():
    calendar = Calendar(day_kind=DayKind.CALENDAR, opening_hours=TOWN_HALL_HOURS)
    assert calendar.add_days(at(2026, 3, 2), 5) == due(2026, 3, 9)


def test_calendar_days_may_end_on_a_day_the_site_opens_even_a_sunday():
    every_day = {day: [(time(10), time(19))] for day in range(7)}
    calendar = Calendar(day_kind=DayKind.CALENDAR, opening_hours=every_day)
    assert calendar.add_days(at(2026, 3, 2, 11), 6) == due(2026, 3, 8)


def test_calendar_days_landing_on_a_holiday_move_to_the_next_open_day():
    calendar = Calendar(day_kind=DayKind.CALENDAR)
    assert calendar.add_days(at(2026, 7, 9), 5) == due(2026, 7, 15)


def test_a_site_closure_is_skipped():
    summer = Calendar(closures=[(date(2026, 8, 3), date(2026, 8, 14))])
    receipt = at(2026, 7, 31)  # Friday before the closure
    assert summer.add_days(receipt, 3) == due(2026, 8, 19)
    assert summer.count_days(receipt, due(2026, 8, 19)) == 3


def test_a_receipt_during_a_closure_counts_from_the_reopening():
    summer = Calendar(closures=[(date(2026, 8, 3), date(2026, 8, 14))])
    assert summer.effective_start(at(2026, 8, 5)) == at(2026, 8, 17, 0)
    assert summer.add_days(at(2026, 8, 5), 1) == due(2026, 8, 18)


def test_overlapping_closures_are_merged():
    calendar = Calendar(
        closures=[(date(2026, 3, 9), date(2026, 3, 11)), (date(2026, 3, 10), date(2026, 3, 12))]
    )
    assert calendar.add_days(at(2026, 3, 6), 1) == due(2026, 3, 13)


def test_good_friday_is_skipped_in_moselle_but_not_in_paris():
    receipt = at(2026, 4, 2)  # Thursday before Easter
    assert Calendar().add_days(receipt, 1) == due(2026, 4, 3)
    assert Calendar(holiday_region=HolidayRegion.MOSELLE).add_days(receipt, 1) == due(2026, 4, 7)


def test_due_moments_are_in_the_organisation_time_zone():
    reunion = ZoneInfo("Indian/Reunion")
    calendar = Calendar(time_zone="Indian/Reunion", holiday_region=HolidayRegion.REUNION)
    # Friday 18 December 2026; Sunday 20 December is the abolition of slavery.
    result = calendar.add_days(at(2026, 12, 18, zone=reunion), 2)
    assert result == due(2026, 12, 22, zone=reunion)
    assert result.tzinfo == reunion


def test_the_local_date_decides_the_day():
    # 23:30 UTC on Friday is already Saturday in Paris: it counts from Monday.
    calendar = Calendar()
    friday_utc = datetime(2026, 3, 13, 23, 30, tzinfo=UTC)
    assert calendar.add_days(friday_utc, 1) == due(2026, 3, 17)


def test_long_delays_match_a_day_by_day_count():
    calendar = Calendar(
        holiday_region=HolidayRegion.ALSACE,
        opening_hours=TOWN_HALL_HOURS,
        closures=[(date(2026, 8, 3), date(2026, 8, 21)), (date(2027, 12, 24), date(2028, 1, 2))],
    )
    receipt = at(2026, 1, 7, 15)
    result = calendar.add_days(receipt, 3000)
    day, left = date(2026, 1, 7), 3000
    while left:
        day += timedelta(days=1)
        left -= calendar.is_open_day(day)
    assert result == due(day.year, day.month, day.day)
    assert calendar.count_days(receipt, result) == 3000


# Months ------------------------------------------------------------------------------------


def test_one_month_keeps_the_day_of_the_month():
    assert Calendar().add_months(at(2026, 3, 10), 1) == due(2026, 4, 10)


def test_one_month_from_the_31st_is_clamped_to_the_end_of_the_month():
    assert Calendar().add_months(at(2025, 1, 31), 1) == due(2025, 2, 28)
    assert Calendar().add_months(at(2028, 1, 31), 1) == due(2028, 2, 29)


def test_one_month_landing_on_a_holiday_moves_to_the_next_open_day():
    assert Calendar().add_months(at(2026, 4, 14), 1) == due(2026, 5, 15)


def test_months_cross_the_year_end():
    assert Calendar().add_months(at(2026, 11, 30), 2) == due(2027, 2, 1)  # 30 January is a Saturday


# Counting ----------------------------------------------------------------------------------


def test_count_days_is_the_inverse_of_add_days():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    receipt = at(2026, 4, 30, 18)
    for n in range(40):
        assert calendar.count_days(receipt, calendar.add_days(receipt, n)) == n


def test_count_days_of_an_end_before_the_start_is_zero():
    assert Calendar().count_days(at(2026, 3, 10), at(2026, 3, 2)) == 0


def test_count_days_on_the_same_day_is_zero():
    assert Calendar().count_days(at(2026, 3, 10, 9), at(2026, 3, 10, 17)) == 0


def test_count_days_counts_every_day_for_calendar_days():
    calendar = Calendar(day_kind=DayKind.CALENDAR)
    assert calendar.count_days(at(2026, 3, 10), at(2026, 3, 20)) == 10


def test_an_answer_the_next_morning_after_a_friday_evening_receipt_took_one_day():
    calendar = Calendar(opening_hours=TOWN_HALL_HOURS)
    assert calendar.count_days(at(2026, 3, 13, 18), at(2026, 3, 17, 9)) == 1


# Daylight-saving time ----------------------------------------------------------------------


@pytest.mark.parametrize("sunday", [date(2026, 3, 29), date(2026, 10, 25)])
def test_end_of_day_is_right_on_daylight_saving_sundays(sunday):
    calendar = Calendar(day_kind=DayKind.CALENDAR, opening_hours={6: [(time(1), time(4))]})
    end = calendar.end_of_day(sunday)
    assert end.time() == END_OF_DAY
    assert end.date() == sunday
    assert end + timedelta(microseconds=1) == calendar.start_of_day(sunday + timedelta(days=1))


def test_due_dates_across_the_spring_change_end_at_local_midnight():
    result = Calendar().add_days(at(2026, 3, 27), 1)
    assert result == due(2026, 3, 30)
    assert result.utcoffset() == timedelta(hours=2)


def test_due_dates_across_the_autumn_change_end_at_local_midnight():
    result = Calendar().add_days(at(2026, 10, 23), 1)
    assert result == due(2026, 10, 26)
    assert result.utcoffset() == timedelta(hours=1)


def test_a_span_starting_in_the_spring_gap_starts_when_the_clocks_have_moved():
    calendar = Calendar(day_kind=DayKind.CALENDAR, opening_hours={6: [(time(2, 30), time(5))]})
    moment = calendar.next_open_moment(at(2026, 3, 29, 1))
    assert moment.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_the_repeated_autumn_hour_is_compared_in_real_time():
    calendar = Calendar(day_kind=DayKind.CALENDAR, opening_hours={6: [(time(2, 30), time(5))]})
    # 02:10 the second time round (01:10 UTC) is after 02:30 the first time (00:30 UTC).
    second_pass = datetime(2026, 10, 25, 2, 10, fold=1, tzinfo=PARIS)
    assert calendar.next_open_moment(second_pass).astimezone(UTC) == second_pass.astimezone(UTC)


# Errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda calendar, naive: calendar.add_days(naive, 1),
        lambda calendar, naive: calendar.add_months(naive, 1),
        lambda calendar, naive: calendar.next_open_moment(naive),
        lambda calendar, naive: calendar.effective_start(naive),
        lambda calendar, naive: calendar.count_days(naive, naive),
    ],
)
def test_a_naive_datetime_raises(call):
    with pytest.raises(ValueError, match="naive"):
        call(Calendar(), datetime(2026, 3, 10, 10))


def test_a_negative_delay_raises():
    with pytest.raises(ValueError):
        Calendar().add_days(at(2026, 3, 10), -1)
    with pytest.raises(ValueError):
        Calendar().add_months(at(2026, 3, 10), -1)


@pytest.mark.parametrize(
    "options",
    [
        {"holiday_region": "75"},
        {"day_kind": "fortnightly"},
        {"opening_hours": {7: [(time(9), time(12))]}},
        {"opening_hours": {0: [(time(12), time(9))]}},
        {"opening_hours": {6: [(time(9), time(12))]}},  # only Sunday: no working day ever
        {"closures": [(date(2026, 3, 10), date(2026, 3, 9))]},
    ],
)
def test_an_impossible_calendar_raises(options):
    with pytest.raises(ValueError):
        Calendar(**options)


def test_a_closure_without_end_in_sight_raises_instead_of_looping():
    calendar = Calendar(closures=[(date(2026, 1, 1), date(2199, 12, 31))])
    with pytest.raises(ValueError, match="closures"):
        calendar.add_days(at(2026, 3, 10), 1)


# From the database -------------------------------------------------------------------------


@pytest.fixture
def organisation(db):
    from qualicite.core.models import Organisation

    return Organisation.objects.create(
        name="Metz", slug="metz", holiday_region=HolidayRegion.MOSELLE, time_zone="Europe/Paris"
    )


@pytest.fixture
def site(organisation):
    from qualicite.core.models import OpeningHours, Site, SiteClosure

    site = Site.objects.create(organisation=organisation, code="mairie", name="Hôtel de ville")
    for weekday in range(5):
        OpeningHours.objects.create(site=site, weekday=weekday, opens=time(8), closes=time(12))
        OpeningHours.objects.create(site=site, weekday=weekday, opens=time(13, 30), closes=time(17))
    SiteClosure.objects.create(
        site=site, start_date=date(2026, 5, 15), end_date=date(2026, 5, 15), reason="Pont"
    )
    return site


@pytest.mark.django_db
def test_for_organisation_uses_the_region_hours_and_closures_of_the_site(organisation, site):
    calendar = Calendar.for_organisation(organisation, site=site)
    assert calendar.holiday_region == HolidayRegion.MOSELLE
    assert not calendar.is_open_day(date(2026, 4, 3))  # Good Friday in Moselle
    assert not calendar.is_open_day(date(2026, 5, 15))  # the closure
    assert calendar.next_open_moment(at(2026, 3, 10, 12, 15)) == at(2026, 3, 10, 13, 30)
    assert calendar.add_days(at(2026, 5, 13), 1) == due(2026, 5, 18)


@pytest.mark.django_db
def test_for_organisation_without_site_is_open_all_day_on_working_days(organisation):
    calendar = Calendar.for_organisation(organisation, day_kind=DayKind.BUSINESS)
    assert calendar.day_kind == DayKind.BUSINESS
    assert calendar.next_open_moment(at(2026, 3, 10, 20)) == at(2026, 3, 10, 20)
    assert calendar.is_open_day(date(2026, 3, 14))


@pytest.mark.django_db
def test_for_organisation_treats_a_site_without_hours_as_open_all_day(organisation):
    from qualicite.core.models import Site

    annexe = Site.objects.create(organisation=organisation, code="annexe", name="Annexe")
    calendar = Calendar.for_organisation(organisation, site=annexe)
    assert calendar.spans is None
    assert calendar.next_open_moment(at(2026, 3, 10, 20)) == at(2026, 3, 10, 20)


@pytest.mark.django_db
def test_for_organisation_reads_one_query_per_table_and_none_when_prefetched(
    organisation, site, django_assert_num_queries
):
    from qualicite.core.models import Site

    with django_assert_num_queries(2):
        Calendar.for_organisation(organisation, site=site)
    prefetched = Site.objects.prefetch_related("opening_hours", "closures").get(pk=site.pk)
    with django_assert_num_queries(0):
        Calendar.for_organisation(organisation, site=prefetched)


@pytest.mark.django_db
def test_for_organisation_refuses_a_site_of_another_organisation(organisation, site):
    from qualicite.core.models import Organisation

    other = Organisation.objects.create(name="Nancy", slug="nancy")
    with pytest.raises(ValueError):
        Calendar.for_organisation(other, site=site)
