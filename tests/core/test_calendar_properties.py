"""Properties of the calendar that must hold for any region, opening hours and closures."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qualicite.core.calendar import Calendar
from qualicite.core.choices import DayKind, HolidayRegion

PARIS = ZoneInfo("Europe/Paris")
EXAMPLES = settings(max_examples=100, deadline=None)

instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2028, 12, 31, 23, 59),
    timezones=st.just(PARIS),
    allow_imaginary=False,
)
delays = st.integers(min_value=0, max_value=400)


@st.composite
def opening_hours(draw):
    """None (open all day) or, per weekday, 0 to 2 spans on a quarter-hour grid, 06:00–21:00.

    Real opening hours never start in the night, so DST gaps are tested in the unit tests.
    """
    if draw(st.booleans()):
        return None
    week = {}
    for weekday in range(7):
        quarters = draw(
            st.lists(st.integers(24, 84), min_size=0, max_size=4, unique=True).map(sorted)
        )
        bounds = [time(q // 4, q % 4 * 15) for q in quarters[: len(quarters) // 2 * 2]]
        week[weekday] = list(zip(bounds[::2], bounds[1::2], strict=True))
    return week


closures = st.lists(
    st.tuples(
        st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 6, 30)),
        st.integers(min_value=0, max_value=20),
    ).map(lambda pair: (pair[0], pair[0] + timedelta(days=pair[1]))),
    max_size=4,
)


@st.composite
def calendars(draw, kinds=(DayKind.WORKING, DayKind.BUSINESS)):
    hours = draw(opening_hours())
    kind = draw(st.sampled_from(kinds))
    if hours is not None:
        # A site must open on at least one weekday the kind counts, or no delay could end.
        counted = {DayKind.WORKING: range(5), DayKind.BUSINESS: range(6)}.get(kind, range(7))
        assume(any(hours[day] for day in counted))
    return Calendar(
        holiday_region=draw(st.sampled_from(HolidayRegion.values)),
        day_kind=kind,
        opening_hours=hours,
        closures=draw(closures),
    )


def is_inside_a_span(calendar, moment):
    if calendar.spans is None:
        return True
    wall = moment.time()
    return any(opens <= wall < closes for opens, closes in calendar.spans[moment.weekday()])


@EXAMPLES
@given(calendar=calendars(), start=instants, n=delays)
def test_counting_the_days_to_a_due_date_gives_back_the_delay(calendar, start, n):
    assert calendar.count_days(start, calendar.add_days(start, n)) == n


@EXAMPLES
@given(calendar=calendars(), start=instants, n=delays)
def test_a_due_date_always_falls_on_an_open_day(calendar, start, n):
    result = calendar.add_days(start, n)
    assert result.tzinfo == PARIS
    assert calendar.is_open_day(result.date())
    assert result.time() == time(23, 59, 59, 999999)


@EXAMPLES
@given(calendar=calendars(), start=instants, n=delays)
def test_a_longer_delay_always_ends_later(calendar, start, n):
    assert calendar.add_days(start, n) < calendar.add_days(start, n + 1)


@EXAMPLES
@given(calendar=calendars(kinds=tuple(DayKind)), moment=instants)
def test_the_next_open_moment_is_never_earlier_and_is_open(calendar, moment):
    result = calendar.next_open_moment(moment)
    assert result.astimezone(UTC) >= moment.astimezone(UTC)
    assert calendar.is_open_day(result.date())
    assert is_inside_a_span(calendar, result)
    if calendar.spans is None and result != moment:
        assert result.time() == time(0)


@EXAMPLES
@given(calendar=calendars(), start=instants, n=st.integers(min_value=0, max_value=60))
def test_add_days_matches_walking_day_by_day(calendar, start, n):
    day, left = calendar.effective_start(start).date(), n
    while left:
        day += timedelta(days=1)
        left -= calendar.is_open_day(day)
    assert calendar.add_days(start, n).date() == day


@EXAMPLES
@given(calendar=calendars(kinds=(DayKind.CALENDAR,)), start=instants, n=delays)
def test_calendar_days_never_end_before_n_days_have_passed(calendar, start, n):
    result = calendar.add_days(start, n)
    # n calendar days move the wall clock n days on (Python adds to an aware datetime that
    # way); n × 24 real hours would be an hour too many across the spring change.
    assert result.astimezone(UTC) >= (start + timedelta(days=n)).astimezone(UTC)
    assert calendar.is_open_day(result.date())
    assert calendar.count_days(start, result) >= n
    assert calendar.add_days(start, n) <= calendar.add_days(start, n + 1)
