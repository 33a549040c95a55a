"""Periods (day, week, month, quarter, year) as ranges of local days, both ends included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from qualicite.charter.models import Period as PeriodKind

KINDS = [kind.value for kind in PeriodKind]


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date  # included
    kind: str

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _label(self, get_language())

    def _label(self) -> str:
        if self.kind == PeriodKind.DAY:
            return formats.date_format(self.start, "DATE_FORMAT")
        if self.kind == PeriodKind.WEEK:
            return _("week of %(day)s") % {"day": formats.date_format(self.start, "DATE_FORMAT")}
        if self.kind == PeriodKind.MONTH:
            return formats.date_format(self.start, "YEAR_MONTH_FORMAT")
        if self.kind == PeriodKind.QUARTER:
            return _("Q%(quarter)s %(year)s") % {
                "quarter": (self.start.month - 1) // 3 + 1,
                "year": self.start.year,
            }
        if self.kind == PeriodKind.YEAR:
            return str(self.start.year)
        return _("%(start)s to %(end)s") % {
            "start": formats.date_format(self.start, "SHORT_DATE_FORMAT"),
            "end": formats.date_format(self.end, "SHORT_DATE_FORMAT"),
        }

    @property
    def short_label(self) -> str:
        """What fits under a sparkline point or in a column heading."""
        return _short_label(self, get_language())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def is_closed(self, today: date) -> bool:
        return self.end < today

    def previous(self) -> Period:
        return containing(self.start - timedelta(days=1), self.kind)

    def next(self) -> Period:
        return containing(self.end + timedelta(days=1), self.kind)


# A dashboard writes the same twelve months hundreds of times (sparklines, tables, captions):
# each label is formatted once per language.
@lru_cache(maxsize=4096)
def _label(period: Period, language: str | None) -> str:
    return period._label()


@lru_cache(maxsize=4096)
def _short_label(period: Period, language: str | None) -> str:
    if period.kind == PeriodKind.MONTH:
        return formats.date_format(period.start, "M Y")
    return period._label()


def custom(start: date, end: date) -> Period:
    return Period(start, end, "custom")


def containing(day: date, kind: str) -> Period:
    """The period of `kind` that contains `day` (weeks start on Monday)."""
    if kind == PeriodKind.DAY:
        return Period(day, day, kind)
    if kind == PeriodKind.WEEK:
        start = day - timedelta(days=day.weekday())
        return Period(start, start + timedelta(days=6), kind)
    if kind == PeriodKind.MONTH:
        start = day.replace(day=1)
    elif kind == PeriodKind.QUARTER:
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    elif kind == PeriodKind.YEAR:
        start = date(day.year, 1, 1)
    else:
        raise ValueError(f"Unknown period kind: {kind}")
    months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[kind]
    return Period(start, _add_months(start, months) - timedelta(days=1), kind)


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def last_closed(kind: str, today: date) -> Period:
    """The latest period of `kind` that ended before `today`."""
    return containing(today, kind).previous()


def series(last: Period, count: int) -> list[Period]:
    """`count` consecutive periods ending with `last`, oldest first."""
    periods = [last]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return periods[::-1]


def split(start: date, end: date, kind: str) -> list[Period]:
    """The periods of `kind` that cover start..end, the first and last cut to the range."""
    found = []
    day = start
    while day <= end:
        period = containing(day, kind)
        found.append(Period(max(period.start, start), min(period.end, end), kind))
        day = period.end + timedelta(days=1)
    return found
