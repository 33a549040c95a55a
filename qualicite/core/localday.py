"""The local day of a stored instant, computed by the database, fast on both back-ends.

PostgreSQL converts natively (``AT TIME ZONE``). Django's SQLite back-end would call a Python
function for every row; over millions of records that is the slowest part of a roll-up, so on
SQLite the zone's UTC offsets over the range are written into the query as a CASE on the
stored UTC text, and SQLite's own ``date()`` shifts it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import DateField, Func
from django.db.models.functions import TruncDate


def _offset_minutes(zone: ZoneInfo, instant: datetime) -> int:
    return int(instant.astimezone(zone).utcoffset().total_seconds() // 60)


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(UTC instant from which the offset applies, offset in minutes)], first at `start`."""
    changes = [(start, _offset_minutes(zone, start))]
    step = timedelta(hours=6)
    moment = start
    while moment < end:
        following = min(moment + step, end)
        if _offset_minutes(zone, following) != changes[-1][1]:
            low, high = moment, following  # the change lies in (low, high]: find its minute
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                middle = middle.replace(second=0, microsecond=0)
                if middle <= low:
                    middle = low + timedelta(minutes=1)
                if _offset_minutes(zone, middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, _offset_minutes(zone, high)))
        moment = following
    return changes


class _SqliteLocalDate(Func):
    output_field = DateField()

    def __init__(self, expression, changes):
        super().__init__(expression)
        self.changes = changes

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        # SQLite's date() rounds fractional seconds to the millisecond: 23:59:59.9999995 would
        # fall on the next day. The whole seconds decide the day, so the fraction is cut off.
        column = f"substr({column}, 1, 19)"
        branches, branch_params = [], []
        for (_since, offset), (until, _next) in zip(self.changes, self.changes[1:], strict=False):
            branches.append(f"WHEN {column} < %s THEN date({column}, %s)")
            branch_params += [
                *params,
                until.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                *params,
                f"{offset:+d} minutes",
            ]
        last = self.changes[-1][1]
        if not branches:  # one offset over the whole range
            return f"date({column}, %s)", (*params, f"{last:+d} minutes")
        sql = f"CASE {' '.join(branches)} ELSE date({column}, %s) END"
        return sql, (*branch_params, *params, f"{last:+d} minutes")


def local_date(field: str, zone: ZoneInfo, start: datetime, end: datetime):
    """An expression for the local day of `field`, valid for instants in [start, end)."""
    return _LocalDate(field, zone, start, end)


class _LocalDate(Func):
    output_field = DateField()

    def __init__(self, field, zone, start, end):
        super().__init__(field)
        self.zone, self.start, self.end = zone, start, end

    def as_sqlite(self, compiler, connection, **extra):
        changes = offset_changes(self.zone, self.start, self.end)
        return _SqliteLocalDate(self.source_expressions[0], changes).as_sql(compiler, connection)

    def as_sql(self, compiler, connection, **extra):
        truncated = TruncDate(self.source_expressions[0], tzinfo=self.zone)
        return truncated.as_sql(compiler, connection)
