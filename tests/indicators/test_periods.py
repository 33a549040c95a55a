import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualicite.indicators import periods

KINDS = ["day", "week", "month", "quarter", "year"]
days = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))


@given(day=days, kind=st.sampled_from(KINDS))
def test_a_period_contains_its_day_and_follows_its_neighbours(day, kind):
    period = periods.containing(day, kind)
    assert period.start <= day <= period.end
    assert period.previous().end == period.start - dt.timedelta(days=1)
    assert period.next().start == period.end + dt.timedelta(days=1)
    assert periods.containing(period.end, kind) == period


def test_weeks_start_on_monday_and_quarters_on_their_first_month():
    assert periods.containing(dt.date(2026, 11, 22), "week").start == dt.date(2026, 11, 16)
    quarter = periods.containing(dt.date(2026, 8, 15), "quarter")
    assert (quarter.start, quarter.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))


def test_the_last_closed_month_is_the_one_before_today():
    last = periods.last_closed("month", dt.date(2026, 11, 23))
    assert (last.start, last.end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert last.is_closed(dt.date(2026, 11, 1))
    assert not periods.containing(dt.date(2026, 11, 23), "month").is_closed(dt.date(2026, 11, 23))


def test_a_series_ends_with_the_given_period_oldest_first():
    last = periods.containing(dt.date(2026, 2, 10), "month")
    found = periods.series(last, 12)
    assert len(found) == 12
    assert found[-1] == last
    assert found[0].start == dt.date(2025, 3, 1)
    assert all(
        a.end + dt.timedelta(days=1) == b.start for a, b in zip(found, found[1:], strict=False)
    )


@given(first=days, length=st.integers(0, 800), kind=st.sampled_from(KINDS))
def test_split_covers_a_range_exactly_once(first, length, kind):
    last = first + dt.timedelta(days=length)
    parts = periods.split(first, last, kind)
    assert parts[0].start == first and parts[-1].end == last
    assert sum(p.days for p in parts) == length + 1
    assert all(
        a.end + dt.timedelta(days=1) == b.start for a, b in zip(parts, parts[1:], strict=False)
    )


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        periods.containing(dt.date(2026, 1, 1), "fortnight")
