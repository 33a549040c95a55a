"""Working days, opening hours and due dates: the only place that computes deadlines.

Every delay in the application (answer, acknowledgement, act delivery, action
plan) is computed here, so one rule is applied everywhere and an indicator
such as "answered within delay" means the same thing on every screen and in
every report.

Conventions
-----------

* **Open day**: a day that counts. It is one of the day kind's weekdays
  (working: Monday to Friday; business: Monday to Saturday; calendar: every
  day), is not a public holiday of the organisation's region (``holidays``
  package, with Good Friday and 26 December in Alsace-Moselle), is not in one
  of the site's closures and, when opening hours are known, the site opens
  that weekday. For the *calendar* kind every day is counted, but a delay may
  only *end* on an open day; without opening hours the site is then taken to
  be open Monday to Friday, the usual week of a town hall (a delay that ends on
  a Saturday or Sunday is carried to the next open day).
* **Effective start**: a request received outside opening hours (evening,
  weekend, holiday, closure) counts from the next open moment.
* **Counting**: the day of the effective start is day 0; a delay of *n* days
  ends on the *n*-th open day after it (calendar kind: *n* calendar days after
  it, moved to the next open day if that one is closed).
* **Due moment**: the end of the due day, 23:59:59.999999 local time, so an
  answer sent any time on the due day is on time and a simple ``answered_at <=
  due_at`` comparison is enough.

All instants must be timezone-aware. Date logic happens in the calendar's time
zone (the organisation's), and the returned instants are aware in that zone.
The class is pure: it reads the database only in :meth:`Calendar.for_organisation`.
"""

from __future__ import annotations

import bisect
import calendar as _stdlib_calendar
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import holidays as _holidays

from qualicite.core.choices import DayKind, HolidayRegion

__all__ = ["Calendar"]

# Weekdays that count for each kind when the site's opening hours are unknown.
# For the calendar kind these are the days a delay may *end* on (see module docstring).
_DEFAULT_WEEKDAYS = {
    DayKind.WORKING: frozenset(range(5)),
    DayKind.BUSINESS: frozenset(range(6)),
    DayKind.CALENDAR: frozenset(range(5)),
}
# Weekdays a day kind allows at all; opening hours can only narrow them.
_KIND_WEEKDAYS = {
    DayKind.WORKING: frozenset(range(5)),
    DayKind.BUSINESS: frozenset(range(6)),
    DayKind.CALENDAR: frozenset(range(7)),
}
# A calendar with closures over everything would loop for ever looking for an open day.
_MAX_SEARCH_YEARS = 50
_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


@functools.cache
def _public_holidays(region: str, year: int) -> Mapping[date, str]:
    """Public holidays of a region in a year, computed once per process (the package is slow)."""
    table = _holidays.France(subdiv=region or None, years=year, language="fr")
    return MappingProxyType(dict(sorted(table.items())))


def _check_aware(instant: datetime) -> None:
    if not isinstance(instant, datetime):
        raise TypeError(f"Expected a datetime, got {type(instant).__name__}.")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("The calendar needs timezone-aware datetimes, got a naive one.")


def _check_count(n: int, what: str = "days") -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"The number of {what} must be an integer, got {n!r}.")
    if n < 0:
        raise ValueError(f"The number of {what} cannot be negative, got {n}.")


def _normalise_spans(
    opening_hours: Mapping[int, Sequence[tuple[time, time]]],
) -> tuple[tuple[tuple[time, time], ...], ...]:
    """Sorted, merged spans per weekday (0 = Monday), so lookups never need to re-sort."""
    week: list[list[tuple[time, time]]] = [[] for _ in range(7)]
    for weekday, spans in opening_hours.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"Weekdays go from 0 (Monday) to 6 (Sunday), got {weekday!r}.")
        for opens, closes in spans:
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError("Opening hours are local wall-clock times, without a zone.")
            if closes <= opens:
                raise ValueError(f"A span must close after it opens, got {opens}–{closes}.")
            week[weekday].append((opens, closes))
    merged_week = []
    for spans in week:
        merged: list[tuple[time, time]] = []
        for opens, closes in sorted(spans):
            # Overlapping or touching spans (09:00–12:00 and 12:00–17:00) are one span.
            if merged and opens <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
            else:
                merged.append((opens, closes))
        merged_week.append(tuple(merged))
    return tuple(merged_week)


def _merge_closures(closures: Iterable[tuple[date, date]]) -> tuple[tuple[date, date], ...]:
    ranges = []
    for first, last in closures:
        if isinstance(first, datetime) or isinstance(last, datetime):
            raise TypeError("Closures are ranges of dates, not datetimes.")
        if last < first:
            raise ValueError(f"A closure cannot end before it starts, got {first}–{last}.")
        ranges.append((first, last))
    merged: list[tuple[date, date]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + _ONE_DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


class _Year:
    """One year of a calendar: which days are open, and a running count of them.

    ``prefix[i]`` is the number of open days among the first ``i`` days of the year, so the
    open days in any range of the year are counted with one subtraction and the n-th open day
    is found with one bisection: no walking day by day, whatever the delay.
    """

    __slots__ = ("jan1", "length", "open", "prefix")

    def __init__(self, jan1: date, open_flags: bytearray):
        self.jan1 = jan1
        self.length = len(open_flags)
        self.open = bytes(open_flags)
        prefix = [0] * (self.length + 1)
        running = 0
        for index, flag in enumerate(open_flags):
            running += flag
            prefix[index + 1] = running
        self.prefix = prefix


class Calendar:
    """Open days and due dates for one organisation (and optionally one of its sites).

    Build it once per organisation/site and day kind and reuse it: it caches one small table
    per year, and every computation is then a few lookups.
    """

    def __init__(
        self,
        *,
        time_zone: str | ZoneInfo = "Europe/Paris",
        holiday_region: str = "",
        day_kind: str = DayKind.WORKING,
        opening_hours: Mapping[int, Sequence[tuple[time, time]]] | None = None,
        closures: Iterable[tuple[date, date]] = (),
    ):
        self.zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
        region = holiday_region or ""
        if region not in HolidayRegion.values and region not in _holidays.France.subdivisions:
            raise ValueError(f"Unknown holiday region {holiday_region!r}.")
        self.holiday_region = region
        if day_kind not in DayKind.values:
            raise ValueError(f"Unknown day kind {day_kind!r}.")
        self.day_kind = DayKind(day_kind)
        # None means "open all day on every open day": there is then no span to look at.
        self.spans = None if opening_hours is None else _normalise_spans(opening_hours)
        if self.spans is None:
            weekdays = _DEFAULT_WEEKDAYS[self.day_kind]
        else:
            weekdays = frozenset(day for day in _KIND_WEEKDAYS[self.day_kind] if self.spans[day])
        if not weekdays:
            raise ValueError(
                "No weekday is both counted by this day kind and open on this site: "
                "no delay could ever end."
            )
        self.open_weekdays = weekdays
        self.closures = _merge_closures(closures)
        # Per-instance caches: a calendar is reused for many requests, and a few thousand days
        # cover years of them, so these stay small while saving the zone arithmetic.
        self._years: dict[int, _Year] = {}
        self._day_spans: dict[date, tuple[tuple[datetime, datetime, datetime], ...]] = {}
        self._day_ends: dict[date, datetime] = {}

    @classmethod
    def for_organisation(cls, organisation, *, site=None, day_kind=DayKind.WORKING) -> Calendar:
        """The calendar of an organisation, with a site's opening hours and closures if given.

        Reads ``site.opening_hours.all()`` and ``site.closures.all()`` (one query each, none
        when they were prefetched). A site without any opening hours declared is taken as open
        all day on open days, rather than never open.
        """
        opening_hours = None
        closures: list[tuple[date, date]] = []
        if site is not None:
            if site.organisation_id != organisation.pk:
                raise ValueError("The site belongs to another organisation.")
            week: dict[int, list[tuple[time, time]]] = {}
            for row in site.opening_hours.all():
                week.setdefault(row.weekday, []).append((row.opens, row.closes))
            opening_hours = week or None
            closures = [(row.start_date, row.end_date) for row in site.closures.all()]
        return cls(
            time_zone=organisation.time_zone,
            holiday_region=organisation.holiday_region,
            day_kind=day_kind,
            opening_hours=opening_hours,
            closures=closures,
        )

    def __repr__(self):
        return (
            f"<Calendar {self.zone.key} region={self.holiday_region or 'mainland'} "
            f"{self.day_kind.value} weekdays={sorted(self.open_weekdays)} "
            f"closures={len(self.closures)}>"
        )

    # Days -------------------------------------------------------------------------------

    def holidays_in(self, year: int) -> dict[date, str]:
        """Public holidays of the calendar's region in ``year``, by date, with their French name."""
        return dict(_public_holidays(self.holiday_region, year))

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            table = self._years[year] = self._build_year(year)
        return table

    def _build_year(self, year: int) -> _Year:
        jan1 = date(year, 1, 1)
        length = 366 if _stdlib_calendar.isleap(year) else 365
        first_weekday = jan1.weekday()
        weekdays = self.open_weekdays
        flags = bytearray(1 if (first_weekday + i) % 7 in weekdays else 0 for i in range(length))
        for day in _public_holidays(self.holiday_region, year):
            flags[(day - jan1).days] = 0
        dec31 = date(year, 12, 31)
        for first, last in self.closures:
            if last < jan1 or first > dec31:
                continue
            start = (max(first, jan1) - jan1).days
            stop = (min(last, dec31) - jan1).days + 1
            flags[start:stop] = bytes(stop - start)
        return _Year(jan1, flags)

    def is_open_day(self, day: date) -> bool:
        """Whether a delay may count (or end on) this day; see the module docstring."""
        if isinstance(day, datetime):
            raise TypeError("is_open_day() takes a date; convert the instant with local_date().")
        table = self._year(day.year)
        return bool(table.open[(day - table.jan1).days])

    def _nth_open_day_after(self, day: date, n: int) -> date:
        """The n-th open day strictly after ``day`` (n >= 1), found year by year with bisection."""
        year = day.year
        table = self._year(year)
        base = table.prefix[(day - table.jan1).days + 1]
        for _ in range(_MAX_SEARCH_YEARS + n // 52 + 1):
            left_in_year = table.prefix[-1] - base
            if left_in_year >= n:
                # Smallest i with prefix[i] >= base + n: day i - 1 of the year is the n-th.
                index = bisect.bisect_left(table.prefix, base + n) - 1
                return table.jan1 + timedelta(days=index)
            n -= left_in_year
            year += 1
            table = self._year(year)
            base = 0
        raise ValueError(f"No open day found after {day}: check the site's closures.")

    def next_open_day(self, day: date) -> date:
        """``day`` itself when open, else the first open day after it."""
        return day if self.is_open_day(day) else self._nth_open_day_after(day, 1)

    def _count_open(self, after: date, through: date) -> int:
        """Open days d with after < d <= through."""
        if through <= after:
            return 0
        total = 0
        for year in range(after.year, through.year + 1):
            table = self._year(year)
            low = (after - table.jan1).days + 1 if year == after.year else 0
            high = (through - table.jan1).days + 1 if year == through.year else table.length
            total += table.prefix[high] - table.prefix[low]
        return total

    def open_days_between(self, first: date, last: date) -> Iterator[date]:
        """Open days from ``first`` to ``last``, both included, in order."""
        day = first
        while day <= last:
            table = self._year(day.year)
            index = (day - table.jan1).days
            stop = min((last - table.jan1).days + 1, table.length)
            for offset in range(index, stop):
                if table.open[offset]:
                    yield table.jan1 + timedelta(days=offset)
            day = date(day.year + 1, 1, 1)

    # Instants ---------------------------------------------------------------------------

    def local(self, instant: datetime) -> datetime:
        """``instant`` in the calendar's zone (ValueError when naive)."""
        _check_aware(instant)
        return instant.astimezone(self.zone)

    def local_date(self, instant: datetime) -> date:
        """The day ``instant`` falls on in the calendar's zone."""
        return self.local(instant).date()

    def _at(self, day: date, wall: time) -> datetime:
        # A wall time skipped by a DST change (02:30 on the last Sunday of March) is moved
        # forward by the gap, as a clock would be; the UTC round trip does exactly that.
        return datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC).astimezone(self.zone)

    def start_of_day(self, day: date) -> datetime:
        return self._at(day, time.min)

    def end_of_day(self, day: date) -> datetime:
        """The last microsecond of ``day`` in local time: the due moment of a delay ending then."""
        end = self._day_ends.get(day)
        if end is None:
            # Computed from the next midnight so it stays right in zones that change at midnight.
            next_midnight = self.start_of_day(day + _ONE_DAY).astimezone(UTC)
            end = self._day_ends[day] = (next_midnight - _ONE_MICROSECOND).astimezone(self.zone)
        return end

    def _spans_on(self, day: date) -> tuple[tuple[datetime, datetime, datetime], ...]:
        """The real spans of a day as (local start, UTC start, UTC end).

        A span wholly inside a DST gap does not happen that day and is left out.
        """
        spans = self._day_spans.get(day)
        if spans is None:
            real = []
            for opens, closes in self.spans[day.weekday()]:
                start, end = self._at(day, opens), self._at(day, closes)
                if start < end:
                    real.append((start, start.astimezone(UTC), end.astimezone(UTC)))
            spans = self._day_spans[day] = tuple(real)
        return spans

    def next_open_moment(self, instant: datetime) -> datetime:
        """``instant`` when the site is open then, else the start of the next opening span.

        Without opening hours an open day is open all day: the answer is ``instant`` on an open
        day, else midnight at the start of the next open day.
        """
        moment = self.local(instant)
        day = moment.date()
        if self.spans is None:
            if self.is_open_day(day):
                return moment
            return self.start_of_day(self._nth_open_day_after(day, 1))
        # Compare in UTC: two datetimes in the same zone compare by wall clock, which is wrong
        # during the hour that happens twice at the end of October.
        utc = moment.astimezone(UTC)
        if self.is_open_day(day):
            for start, start_utc, end_utc in self._spans_on(day):
                if utc < start_utc:
                    return start
                if utc < end_utc:
                    return moment
        # The next open day with a real span (only a span lost in a DST gap can make us skip one).
        for _ in range(_MAX_SEARCH_YEARS * 366):
            day = self._nth_open_day_after(day, 1)
            spans = self._spans_on(day)
            if spans:
                return spans[0][0]
        raise ValueError(f"No opening span found after {instant}.")

    def effective_start(self, instant: datetime) -> datetime:
        """When a request received at ``instant`` starts counting: the next open moment."""
        return self.next_open_moment(instant)

    def _start_day(self, instant: datetime) -> date:
        return self.effective_start(instant).date()

    def add_days(self, instant: datetime, n: int) -> datetime:
        """The due moment of an n-day delay starting at ``instant`` (end of the due day)."""
        _check_count(n)
        start_day = self._start_day(instant)
        if n == 0:
            due_day = start_day
        elif self.day_kind == DayKind.CALENDAR:
            # Every day counts, but a delay ending on a closed day moves to the next open day.
            due_day = self.next_open_day(start_day + timedelta(days=n))
        else:
            due_day = self._nth_open_day_after(start_day, n)
        return self.end_of_day(due_day)

    def add_months(self, instant: datetime, months: int) -> datetime:
        """The due moment of a delay in months ("answered within 1 month").

        Same day of the month ``months`` later than the effective start day (31 January + 1
        month = 28 or 29 February), moved to the next open day when closed; end of that day.
        """
        _check_count(months, "months")
        start_day = self._start_day(instant)
        month_index = start_day.month - 1 + months
        year, month = start_day.year + month_index // 12, month_index % 12 + 1
        last_day = _stdlib_calendar.monthrange(year, month)[1]
        target = date(year, month, min(start_day.day, last_day))
        return self.end_of_day(self.next_open_day(target))

    def count_days(self, start: datetime, end: datetime) -> int:
        """Days counted from ``start`` to ``end``: open days d with start day < d <= end's day.

        The start day is that of the effective start, so ``count_days(s, add_days(s, n)) == n``
        for working and business days. The calendar kind counts every day. 0 when ``end`` is
        not after the start day.
        """
        start_day = self._start_day(start)
        end_day = self.local_date(end)
        if end_day <= start_day:
            return 0
        if self.day_kind == DayKind.CALENDAR:
            return (end_day - start_day).days
        return self._count_open(start_day, end_day)
