"""What the dashboard pages show: the columns a member may see, the matrix, 12-month trends.

The figures come from `queries.results()` for the chosen period and `queries.trend()` for the
sparklines (twelve periods read at once); for one service, the period's figures are the last
point of its trend, so the page reads that service's roll-ups once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from qualicite.charter.models import Indicator, SourceKind
from qualicite.charter.models import Period as PeriodKind
from qualicite.core import permissions
from qualicite.core.models import Organisation, Service
from qualicite.core.queries import service_tree
from qualicite.indicators import queries, sources
from qualicite.indicators.models import ManualValue
from qualicite.indicators.periods import Period, containing, series
from qualicite.indicators.queries import Result

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
    service, `queries.trend()` (same figures, checked by a test) reads only its rows. A month is the
    last point of the 12-month trend already read; a quarter or a year is a trend of one.
    """
    if lines is None or period.kind != PeriodKind.MONTH:
        lines = queries.trend(organisation, indicators, period, 1, service=service)
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
            lines = queries.trend(
                organisation, indicators, months[-1], TREND_LENGTH, service=service
            )
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
            lines = queries.trend(
                organisation,
                [row.indicator for row in rows],
                months[-1],
                TREND_LENGTH,
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
        values = values.filter(
            service__in=queries._descendants(organisation).get(service.pk, {service.pk})
        )
    if allowed is not None:
        values = values.filter(service__in=allowed)
    return values.order_by("period_start", "service__name", "pk")
