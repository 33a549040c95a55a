"""Sums of roll-ups and of values entered by hand over consecutive periods, per service group.

The one place where figures are added up: `queries.results()` (one period, several groups of
services) and `queries.trend()` (twelve periods, one group) both call `computed_sums` and
`manual_sums`. Whole months, quarters and years read the monthly roll-ups (a dozen rows per
indicator and service for a year); days, weeks and periods cut inside a month read the days.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Sum

from qualicite.indicators import sources
from qualicite.indicators.models import ManualValue, MonthlyRollup, Rollup
from qualicite.indicators.periods import Period

CENT = Decimal("0.01")


def _whole_months(periods: list[Period]) -> bool:
    """Whether every period runs from a month's first day to a month's last."""
    return all(p.start.day == 1 and (p.end + timedelta(days=1)).day == 1 for p in periods)


def _histogram_sums(indicator_ids, periods: list[Period], members, per_service: bool):
    """[(indicator id, day, service id, value, count)]: the days' distributions summed by the
    database (service id None unless `per_service`).

    Reading every day's distribution into Python costs a JSON decoding per row; the
    database's own JSON functions sum them in place (days and weeks only: months, quarters
    and years read the monthly roll-ups, a dozen rows).
    """
    table = connection.ops.quote_name(Rollup._meta.db_table)
    if connection.vendor == "sqlite":
        pairs, count = "json_each(r.histogram) AS j", "j.value"
    else:
        pairs, count = "jsonb_each_text(r.histogram) AS j", "CAST(j.value AS BIGINT)"
    where = [
        f"r.indicator_id IN ({', '.join(['%s'] * len(indicator_ids))})",
        "r.day >= %s",
        "r.day <= %s",
    ]
    params = [*indicator_ids, periods[0].start, periods[-1].end]
    if members is not None:
        where.append(f"r.service_id IN ({', '.join(['%s'] * len(members))})")
        params += sorted(members)
    service = "r.service_id" if per_service else "NULL"
    sql = (
        f"SELECT r.indicator_id, r.day, {service}, j.key, SUM({count}) FROM {table} AS r, "
        f"{pairs} WHERE {' AND '.join(where)} GROUP BY r.indicator_id, r.day, {service}, j.key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_date(value) -> date:
    if isinstance(value, str):  # SQLite's raw rows
        return date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _quantile_ids(computed) -> list[int]:
    return [
        i.pk
        for i in computed
        if sources.get(i.source) and sources.get(i.source).measure == sources.Measure.QUANTILE
    ]


def computed_sums(
    computed, periods: list[Period], members, *, per_service: bool = False
) -> dict[tuple, list]:
    """{(indicator id, period index): [numerator, denominator, histogram]} in 1 or 2 queries.

    `periods` are consecutive; `members` the service ids counted (None: every record). With
    `per_service`, the keys end with the service id: each service's sums, for the caller to
    fold into several groups from one read.
    """
    if not computed:
        return {}
    if _whole_months(periods):
        return _monthly_sums(computed, periods, members, per_service)
    sums: dict[tuple, list] = {}
    starts = [period.start for period in periods]
    rows = Rollup.objects.filter(
        indicator__in=computed, day__gte=periods[0].start, day__lte=periods[-1].end
    )
    if members is not None:
        rows = rows.filter(service__in=members)
    fields = ("indicator_id", "day", "service_id") if per_service else ("indicator_id", "day")
    grouped = rows.order_by().values(*fields).annotate(num=Sum("numerator"), den=Sum("denominator"))
    for row in grouped:
        key = (row["indicator_id"], bisect_right(starts, _as_date(row["day"])) - 1)
        if per_service:
            key += (row["service_id"],)
        entry = sums.setdefault(key, [0, 0, {}])
        entry[0] += row["num"] or 0
        entry[1] += row["den"] or 0
    quantiles = _quantile_ids(computed)
    if quantiles:
        for indicator_id, day, service_id, value, n in _histogram_sums(
            quantiles, periods, members, per_service
        ):
            key = (indicator_id, bisect_right(starts, _as_date(day)) - 1)
            if per_service:
                key += (service_id,)
            if key in sums:
                histogram = sums[key][2]
                histogram[value] = histogram.get(value, 0) + int(n)
    return sums


def _monthly_sums(computed, periods: list[Period], members, per_service) -> dict[tuple, list]:
    """The same sums from the monthly roll-ups: one row per indicator, service and month."""
    sums: dict[tuple, list] = {}
    starts = [period.start for period in periods]
    rows = MonthlyRollup.objects.filter(
        indicator__in=computed, month__gte=periods[0].start, month__lte=periods[-1].end
    )
    if members is not None:
        rows = rows.filter(service__in=members)
    quantiles = set(_quantile_ids(computed))
    for indicator_id, service_id, month, numerator, denominator, histogram in rows.values_list(
        "indicator_id", "service_id", "month", "numerator", "denominator", "histogram"
    ):
        key = (indicator_id, bisect_right(starts, month) - 1)
        if per_service:
            key += (service_id,)
        entry = sums.setdefault(key, [0, 0, {}])
        entry[0] += numerator
        entry[1] += denominator
        if indicator_id in quantiles:
            summed = entry[2]
            for value, n in histogram.items():
                summed[value] = summed.get(value, 0) + n
    return sums


def manual_values(manual, periods: list[Period], members) -> dict[tuple, list]:
    """{(indicator id, period index): [ManualValue]} of the values whose period starts within."""
    collected: dict[tuple, list] = defaultdict(list)
    if not manual:
        return collected
    starts = [period.start for period in periods]
    values = ManualValue.objects.filter(
        indicator__in=manual,
        period_start__gte=periods[0].start,
        period_start__lte=periods[-1].end,
    )
    if members is not None:
        values = values.filter(service__in=members)
    for value in values:
        collected[(value.indicator_id, bisect_right(starts, value.period_start) - 1)].append(value)
    return collected


def combined(values: list) -> tuple:
    """Values entered by hand for one period combined: ("counts", numerator, denominator)
    when every value came with its counts, else ("values", their mean, how many)."""
    if all(v.numerator is not None and v.denominator for v in values):
        return ("counts", sum(v.numerator for v in values), sum(v.denominator for v in values))
    mean = sum(v.value for v in values) / len(values)
    return ("values", mean.quantize(CENT, rounding=ROUND_HALF_UP), len(values))


def manual_sums(manual, periods: list[Period], members) -> dict[tuple, tuple]:
    """{(indicator id, period index): `combined()` values entered by hand in that period}."""
    return {
        key: combined(values) for key, values in manual_values(manual, periods, members).items()
    }
