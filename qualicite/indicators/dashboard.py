"""What the dashboard pages show: the columns a member may see, the matrix, 12-month trends.

The figure of a cell is always `queries.results()` for the chosen period. The sparklines need
twelve periods: `queries.trend()` gives them by calling `results()` twelve times, which reads
every service's roll-ups twelve times over; at ten million records that takes about 300 ms
for one service. `trend()` below gives the same `Result` objects from one grouped query over
the roll-ups of the services concerned (plus one for distributions and one for values entered
by hand), then applies the same `value_of`, `target_in_force` and `status_of`; a test checks
that both give the same figures for every indicator, service and month.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP

from django.db import connection
from django.db.models import DateField, Func, Sum
from django.utils.translation import gettext as _

from qualicite.charter.models import Indicator, SourceKind
from qualicite.charter.models import Period as PeriodKind
from qualicite.core import permissions
from qualicite.core.models import Organisation, Service
from qualicite.core.queries import service_tree
from qualicite.indicators import queries, sources
from qualicite.indicators.models import ManualValue, Rollup
from qualicite.indicators.periods import Period, containing, series
from qualicite.indicators.queries import CENT, Result

TREND_LENGTH = 12


# --- Columns -----------------------------------------------------------------------------------


@dataclass
class Column:
    """A column of the matrix: the organisation as a whole (service None) or one service."""

    service: Service | None
    label: str
    depth: int = 0

    @property
    def key(self) -> int | None:
        return self.service.pk if self.service is not None else None

    @property
    def code(self) -> str:
        return self.service.code if self.service is not None else ""


def organisation_column() -> Column:
    return Column(None, _("Organisation"))


def columns_for(user, organisation: Organisation, *, subservices: bool = False) -> list[Column]:
    """The organisation (for unrestricted members), then each visible top-level service.

    A member restricted to some services sees those services only: their own top services
    are the ones whose parent they may not see.
    """
    found = []
    if permissions.restricted_service_ids(user, organisation) is None:
        found.append(organisation_column())
    for service, depth in service_tree(permissions.visible_services(user, organisation)):
        if depth == 0 or subservices:
            found.append(Column(service, service.name, depth))
    return found


def visible_service(user, organisation: Organisation, code: str) -> Service | None:
    """The service of that code if the member may see it (None otherwise)."""
    return permissions.visible_services(user, organisation).filter(code=code).first()


# --- Trends ------------------------------------------------------------------------------------


def _descendants(organisation: Organisation) -> dict[int, set[int]]:
    """Each service with all its sub-services (as `queries.results()` counts them)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    rows = list(Service.objects.filter(organisation=organisation).values_list("pk", "parent_id"))
    for pk, parent in rows:
        children[parent].append(pk)
    found: dict[int, set[int]] = {}

    def walk(pk: int) -> set[int]:
        if pk not in found:
            found[pk] = {pk}
            for child in children.get(pk, ()):
                found[pk] |= walk(child)
        return found[pk]

    for pk, _parent in rows:
        walk(pk)
    return found


class MonthStart(Func):
    """The first day of a date's month, computed natively by the database.

    Django's `Trunc` calls a Python function per row on SQLite; over the roll-ups of every
    service for a year that is most of the page's time. SQLite stores a date as ISO text, so
    its month is a prefix; PostgreSQL truncates natively.
    """

    output_field = DateField()

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"substr({sql}, 1, 7) || '-01'", params

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(DATE_TRUNC('month', {sql}) AS DATE)", params


def _histogram_sums(indicator_ids, periods: list[Period], members, by_month: bool):
    """[(indicator id, bucket, value, count)]: the distributions summed by the database.

    Reading every day's distribution into Python costs a JSON decoding per row (15,000 rows
    for a year of 20 services); the database's own JSON functions sum them in place.
    """
    table = connection.ops.quote_name(Rollup._meta.db_table)
    if connection.vendor == "sqlite":
        bucket = "substr(r.day, 1, 7) || '-01'" if by_month else "r.day"
        pairs, count = "json_each(r.histogram) AS j", "j.value"
    else:
        bucket = "CAST(DATE_TRUNC('month', r.day) AS DATE)" if by_month else "r.day"
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
    sql = (
        f"SELECT r.indicator_id, {bucket}, j.key, SUM({count}) FROM {table} AS r, {pairs} "
        f"WHERE {' AND '.join(where)} GROUP BY r.indicator_id, {bucket}, j.key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _as_date(value) -> date:
    if isinstance(value, str):  # SQLite's raw rows
        return date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _measured(indicators, tree, members) -> list[Indicator]:
    """The indicators measured for a group of services (all of them for the organisation)."""
    if members is None:
        return list(indicators)
    kept = []
    for indicator in indicators:
        roots = [s.pk for s in indicator.commitment.services.all()]
        scope = set().union(*(tree.get(pk, {pk}) for pk in roots)) if roots else None
        if scope is None or members & scope:
            kept.append(indicator)
    return kept


def _computed_sums(computed, periods: list[Period], members) -> dict[tuple, list]:
    """{(indicator id, period index): [numerator, denominator, histogram]} in 1 or 2 queries."""
    sums: dict[tuple, list] = {}
    if not computed:
        return sums
    starts = [period.start for period in periods]
    rows = Rollup.objects.filter(
        indicator__in=computed, day__gte=periods[0].start, day__lte=periods[-1].end
    )
    if members is not None:
        rows = rows.filter(service__in=members)
    # Months are summed by the database, then folded into quarters or years; shorter
    # periods (days, weeks) are summed per day.
    bucket = "day" if periods[0].kind in (PeriodKind.DAY, PeriodKind.WEEK) else MonthStart("day")
    grouped = (
        rows.order_by()
        .annotate(bucket=bucket)
        .values("indicator_id", "bucket")
        .annotate(num=Sum("numerator"), den=Sum("denominator"))
    )
    for row in grouped:
        key = (row["indicator_id"], bisect_right(starts, _as_date(row["bucket"])) - 1)
        entry = sums.setdefault(key, [0, 0, {}])
        entry[0] += row["num"] or 0
        entry[1] += row["den"] or 0
    quantiles = [
        i.pk
        for i in computed
        if sources.get(i.source) and sources.get(i.source).measure == sources.Measure.QUANTILE
    ]
    if quantiles:
        for indicator_id, day, value, n in _histogram_sums(
            quantiles, periods, members, by_month=not isinstance(bucket, str)
        ):
            key = (indicator_id, bisect_right(starts, _as_date(day)) - 1)
            if key in sums:
                histogram = sums[key][2]
                histogram[value] = histogram.get(value, 0) + int(n)
    return sums


def _manual_sums(manual, periods: list[Period], members) -> dict[tuple, tuple]:
    """Values entered by hand, combined per period exactly as `queries.results()` does."""
    sums: dict[tuple, tuple] = {}
    if not manual:
        return sums
    starts = [period.start for period in periods]
    values = ManualValue.objects.filter(
        indicator__in=manual,
        period_start__gte=periods[0].start,
        period_start__lte=periods[-1].end,
    )
    if members is not None:
        values = values.filter(service__in=members)
    collected: dict[tuple, list] = defaultdict(list)
    for value in values:
        collected[(value.indicator_id, bisect_right(starts, value.period_start) - 1)].append(value)
    for key, found in collected.items():
        if all(v.numerator is not None and v.denominator for v in found):
            sums[key] = (
                "counts",
                sum(v.numerator for v in found),
                sum(v.denominator for v in found),
            )
        else:
            mean = sum(v.value for v in found) / len(found)
            sums[key] = ("values", mean.quantize(CENT, rounding=ROUND_HALF_UP), len(found))
    return sums


def trend(
    organisation: Organisation,
    indicators,
    last: Period,
    count: int = TREND_LENGTH,
    *,
    service: Service | None = None,
) -> dict[int, list[Result]]:
    """{indicator id: [Result per period]} for `count` periods ending with `last`.

    The same answer as `queries.trend()`, read in three queries whatever the history.
    """
    periods = series(last, count)
    tree = _descendants(organisation)
    members = tree.get(service.pk, {service.pk}) if service is not None else None
    measured = _measured(indicators, tree, members)
    computed = _computed_sums(
        [i for i in measured if i.source_kind == SourceKind.COMPUTED], periods, members
    )
    manual = _manual_sums(
        [i for i in measured if i.source_kind == SourceKind.MANUAL], periods, members
    )
    found: dict[int, list[Result]] = {}
    for indicator in measured:
        line = found.setdefault(indicator.pk, [])
        for position, period in enumerate(periods):
            result = Result(indicator, service, period)
            if indicator.source_kind == SourceKind.COMPUTED:
                entry = computed.get((indicator.pk, position))
                if entry is not None and entry[1]:
                    result.numerator, result.denominator = entry[0], entry[1]
                    result.histogram = entry[2]
                    result.value = queries.value_of(indicator, entry[0], entry[1], entry[2])
            else:
                entry = manual.get((indicator.pk, position))
                if entry is not None and entry[0] == "counts":
                    result.numerator, result.denominator = entry[1], entry[2]
                    result.value = queries.value_of(indicator, entry[1], entry[2])
                elif entry is not None:
                    result.value = entry[1]
            result.target, result.warning_threshold = queries.target_in_force(
                indicator, service, period
            )
            result.status = queries.status_of(
                indicator, result.value, result.target, result.warning_threshold
            )
            line.append(result)
    return found


def months_to(period: Period) -> Period:
    """The month a 12-month trend ends with: the last month of the chosen period."""
    return containing(period.end, PeriodKind.MONTH)


# --- The matrix --------------------------------------------------------------------------------


@dataclass
class Cell:
    column: Column
    result: Result | None  # None: the indicator does not measure this service


@dataclass
class Row:
    indicator: Indicator
    cells: list[Cell]
    trend: list[Result] = field(default_factory=list)  # of the first column

    @property
    def first(self) -> Result | None:
        return self.cells[0].result if self.cells else None


@dataclass
class CommitmentRows:
    commitment: object
    rows: list[Row]


@dataclass
class ProgrammeRows:
    programme: object
    commitments: list[CommitmentRows]

    @property
    def rows(self) -> list[Row]:
        return [row for group in self.commitments for row in group.rows]


@dataclass
class Matrix:
    organisation: Organisation
    period: Period
    columns: list[Column]
    programmes: list[ProgrammeRows]
    months: list[Period]  # the periods of every row's trend

    @property
    def rows(self) -> list[Row]:
        return [row for programme in self.programmes for row in programme.rows]

    @property
    def trend_column(self) -> Column | None:
        return self.columns[0] if self.columns else None


def group(rows: list[Row]) -> list[ProgrammeRows]:
    """Rows in référentiel order, grouped by programme then commitment."""
    programmes: list[ProgrammeRows] = []
    for row in rows:
        commitment = row.indicator.commitment
        if not programmes or programmes[-1].programme.pk != commitment.programme_id:
            programmes.append(ProgrammeRows(commitment.programme, []))
        groups = programmes[-1].commitments
        if not groups or groups[-1].commitment.pk != commitment.pk:
            groups.append(CommitmentRows(commitment, []))
        groups[-1].rows.append(row)
    return programmes


def _one_service(organisation, indicators, period: Period, service, lines) -> dict:
    """The period's figures of one service, read from that service's roll-ups alone.

    `queries.results()` sums every service's roll-ups and keeps the ones asked for; for one
    service, `trend()` (same figures, checked by a test) reads only its rows. A month is the
    last point of the 12-month trend already read; a quarter or a year is a trend of one.
    """
    if lines is None or period.kind != PeriodKind.MONTH:
        lines = trend(organisation, indicators, period, 1, service=service)
    return {(pk, service.pk): line[-1] for pk, line in lines.items()}


def matrix(
    organisation: Organisation, period: Period, columns: list[Column], *, with_trend: bool = True
) -> Matrix:
    """Every indicator × column for `period`; rows measuring none of the columns are left out."""
    indicators = queries.indicators_of(organisation)
    months = series(months_to(period), TREND_LENGTH)
    lines = None
    if len(columns) == 1 and columns[0].service is not None:
        service = columns[0].service
        if with_trend:
            lines = trend(organisation, indicators, months[-1], service=service)
        found = _one_service(organisation, indicators, period, service, lines)
    else:
        found = queries.results(
            organisation,
            indicators,
            period,
            services=[c.service for c in columns if c.service is not None],
            consolidated=any(c.service is None for c in columns),
        )
    rows = []
    for indicator in indicators:
        cells = [Cell(column, found.get((indicator.pk, column.key))) for column in columns]
        if any(cell.result is not None for cell in cells):
            rows.append(Row(indicator, cells))
    if with_trend and columns and rows:
        if lines is None:
            lines = trend(
                organisation,
                [row.indicator for row in rows],
                months[-1],
                service=columns[0].service,
            )
        for row in rows:
            row.trend = lines.get(row.indicator.pk, [])
    return Matrix(organisation, period, columns, group(rows), months)


# --- Cells as people read them -----------------------------------------------------------------


def basis(result: Result | None) -> str:
    """What a figure rests on: "12 out of 19" for a share, "19 measured" for a delay."""
    if result is None or result.value is None:
        return ""
    indicator = result.indicator
    source = sources.get(indicator.source) if indicator.source_kind == SourceKind.COMPUTED else None
    if result.denominator is None:
        return _("entered by hand")
    if source is None or source.measure == sources.Measure.RATIO:
        return _("%(numerator)s out of %(denominator)s") % {
            "numerator": result.numerator,
            "denominator": result.denominator,
        }
    if source.measure == sources.Measure.COUNT:
        return ""
    return _("%(count)s measured") % {"count": result.denominator}


def manual_values(
    organisation: Organisation, indicator: Indicator, period: Period, *, service=None, allowed=None
):
    """The values entered by hand behind a result (those `queries.results()` combined)."""
    values = ManualValue.objects.filter(
        organisation=organisation,
        indicator=indicator,
        period_start__gte=period.start,
        period_start__lte=period.end,
    ).select_related("service", "entered_by")
    if service is not None:
        values = values.filter(service__in=_descendants(organisation).get(service.pk, {service.pk}))
    if allowed is not None:
        values = values.filter(service__in=allowed)
    return values.order_by("period_start", "service__name", "pk")
