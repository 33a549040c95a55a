"""Indicator results read from the roll-ups: values, targets in force, statuses, drill-down.

Everything shown (dashboard, alerts, public results, `indicators show`, exports) goes through
`results()`, so a figure is computed one way. A period's value is the sum of its days'
numerators and denominators; a percentile is read from the sum of the days' distributions,
never averaged. No record in the period means "no data", never 0 % or 100 %.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Direction, Indicator, SourceKind, Unit
from qualicite.core.models import Organisation, Service
from qualicite.indicators import sources
from qualicite.indicators.models import ManualValue, Rollup, RollupState
from qualicite.indicators.periods import Period, containing, series

CENT = Decimal("0.01")


class Status(StrEnum):
    MET = "met"
    WARNING = "warning"
    MISSED = "missed"
    NO_DATA = "no_data"
    WATCHED = "watched"


STATUS_LABELS = {
    Status.MET: _("Met"),
    Status.WARNING: _("Warning"),
    Status.MISSED: _("Missed"),
    Status.NO_DATA: _("No data"),
    Status.WATCHED: _("Watched"),
}
# A symbol beside the word, so that the status never rests on colour alone.
STATUS_SYMBOLS = {
    Status.MET: "✓",
    Status.WARNING: "!",
    Status.MISSED: "✗",
    Status.NO_DATA: "–",
    Status.WATCHED: "·",
}


@dataclass
class Result:
    indicator: Indicator
    service: Service | None  # None: the organisation's consolidated figure
    period: Period
    numerator: int | None = None
    denominator: int | None = None
    value: Decimal | None = None
    target: Decimal | None = None
    warning_threshold: Decimal | None = None
    status: Status = Status.NO_DATA
    histogram: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def has_data(self) -> bool:
        return self.value is not None

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])

    @property
    def status_symbol(self) -> str:
        return STATUS_SYMBOLS[self.status]

    @property
    def value_display(self) -> str:
        if self.value is None:
            return str(_("no data"))
        return self.indicator.format_value(self.value)

    @property
    def target_display(self) -> str:
        return (
            self.indicator.target_text(self.target)
            if self.target is not None
            else (self.indicator.target_text())
        )


def _quantile(histogram: dict[str, int], q: float) -> Decimal | None:
    """Nearest-rank percentile: the smallest value with at least q of the records at or below."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(Decimal(str(q)) * total))
    seen = 0
    for value in sorted(histogram, key=lambda v: Decimal(v)):
        seen += histogram[value]
        if seen >= rank:
            return Decimal(value)
    return None


def value_of(indicator: Indicator, numerator, denominator, histogram=None) -> Decimal | None:
    """The indicator's value from summed figures (None when nothing was measured)."""
    source = sources.get(indicator.source) if indicator.source_kind == SourceKind.COMPUTED else None
    if not denominator:
        return None
    if source is not None and source.measure == sources.Measure.QUANTILE:
        found = _quantile(histogram or {}, source.quantile)
        return None if found is None else found.quantize(CENT)
    if source is not None and source.measure == sources.Measure.COUNT:
        return Decimal(numerator).quantize(CENT)
    share = Decimal(numerator) / Decimal(denominator)
    if indicator.unit == Unit.PERCENT and (
        source is None or source.measure == sources.Measure.RATIO
    ):
        share *= 100
    return share.quantize(CENT, rounding=ROUND_HALF_UP)


def status_of(indicator: Indicator, value, target, warning) -> Status:
    if indicator.direction == Direction.WATCH or target is None:
        return Status.WATCHED if value is not None else Status.NO_DATA
    if value is None:
        return Status.NO_DATA
    if indicator.direction == Direction.HIGHER_IS_BETTER:
        if value >= target:
            return Status.MET
        return Status.WARNING if warning is not None and value >= warning else Status.MISSED
    if value <= target:
        return Status.MET
    return Status.WARNING if warning is not None and value <= warning else Status.MISSED


def target_in_force(indicator: Indicator, service: Service | None, period: Period):
    """(target, warning) in force on the period's last day, the service's own when it has one.

    A change of target applies from its effective date: a period is judged by the
    definition in force when it ended, and periods that ended before keep theirs.
    """
    revisions = [r for r in indicator.revisions.all() if r.effective_from <= period.end]
    if not revisions:
        return indicator.target_for(service)
    revision = max(revisions, key=lambda r: r.effective_from)
    return revision.target_for(service.pk if service is not None else None)


def _descendants(organisation: Organisation) -> dict[int, set[int]]:
    """Each service with all its sub-services."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in Service.objects.filter(organisation=organisation).values_list(
        "pk", "parent_id"
    ):
        children[parent].append(pk)
    found = {}

    def walk(pk):
        if pk not in found:
            found[pk] = {pk}
            for child in children.get(pk, ()):
                found[pk] |= walk(child)
        return found[pk]

    for pk_list in list(children.values()):
        for pk in pk_list:
            walk(pk)
    return found


def indicators_of(organisation: Organisation, pks=None):
    """The organisation's indicators in référentiel order, ready for results()."""
    query = (
        Indicator.objects.filter(organisation=organisation)
        .select_related("commitment__programme", "organisation", "owner")
        .prefetch_related("revisions", "service_targets", "commitment__services")
        .order_by("commitment__programme__position", "commitment__position", "position", "pk")
    )
    if pks is not None:
        query = query.filter(pk__in=pks)
    return list(query)


def _computed_sums(indicators, period: Period, service_groups: dict):
    """{(indicator id, group key): [numerator, denominator, histogram]} over the period."""
    sums: dict[tuple, list] = {}
    computed = [i for i in indicators if i.source_kind == SourceKind.COMPUTED]
    if not computed:
        return sums
    quantiles = {
        i.pk
        for i in computed
        if sources.get(i.source) and sources.get(i.source).measure == sources.Measure.QUANTILE
    }
    rows = Rollup.objects.filter(indicator__in=computed, day__gte=period.start, day__lte=period.end)
    if None not in service_groups:
        # Services only: read their rows, not the whole organisation's.
        rows = rows.filter(service_id__in=set().union(*service_groups.values()))
    per_service = (
        rows.order_by()
        .values("indicator_id", "service_id")
        .annotate(num=Sum("numerator"), den=Sum("denominator"))
    )
    histograms: dict[tuple, dict] = defaultdict(lambda: defaultdict(int))
    if quantiles:
        for indicator_id, service_id, histogram in rows.filter(
            indicator_id__in=quantiles
        ).values_list("indicator_id", "service_id", "histogram"):
            for value, n in histogram.items():
                histograms[(indicator_id, service_id)][value] += n
    for row in per_service:
        for key, members in service_groups.items():
            if members is not None and row["service_id"] not in members:
                continue
            entry = sums.setdefault((row["indicator_id"], key), [0, 0, defaultdict(int)])
            entry[0] += row["num"] or 0
            entry[1] += row["den"] or 0
            for value, n in histograms.get((row["indicator_id"], row["service_id"]), {}).items():
                entry[2][value] += n
    return sums


def _manual_sums(indicators, period: Period, service_groups: dict):
    """Values entered by hand whose period starts within `period`, combined per group.

    Counts add up when every value came with them; otherwise the values are averaged.
    """
    sums: dict[tuple, list] = {}
    manual = [i for i in indicators if i.source_kind == SourceKind.MANUAL]
    if not manual:
        return sums
    collected: dict[tuple, list] = defaultdict(list)
    for value in ManualValue.objects.filter(
        indicator__in=manual, period_start__gte=period.start, period_start__lte=period.end
    ):
        for key, members in service_groups.items():
            if members is None or value.service_id in members:
                collected[(value.indicator_id, key)].append(value)
    for key, values in collected.items():
        if all(v.numerator is not None and v.denominator for v in values):
            sums[key] = (
                "counts",
                sum(v.numerator for v in values),
                sum(v.denominator for v in values),
            )
        else:
            mean = sum(v.value for v in values) / len(values)
            sums[key] = ("values", mean.quantize(CENT, rounding=ROUND_HALF_UP), len(values))
    return sums


def results(
    organisation: Organisation,
    indicators,
    period: Period,
    *,
    services=(),
    consolidated: bool = True,
) -> dict[tuple[int, int | None], Result]:
    """Results of `indicators` over `period`, keyed (indicator id, service id or None).

    Each service's figure includes its sub-services; None is the organisation's figure (every
    record, those of no service included). An indicator scoped to some services gets no
    result for a service outside its scope.
    """
    tree = _descendants(organisation)
    groups: dict = {service.pk: tree.get(service.pk, {service.pk}) for service in services}
    if consolidated:
        groups[None] = None
    computed = _computed_sums(indicators, period, groups)
    manual = _manual_sums(indicators, period, groups)
    by_pk = {service.pk: service for service in services}
    found = {}
    for indicator in indicators:
        roots = [s.pk for s in indicator.commitment.services.all()]
        scope = set().union(*(tree.get(pk, {pk}) for pk in roots)) if roots else None
        for key in groups:
            if key is not None and scope is not None and not (groups[key] & scope):
                continue
            service = by_pk.get(key)
            result = Result(indicator, service, period)
            if indicator.source_kind == SourceKind.COMPUTED:
                entry = computed.get((indicator.pk, key))
                if entry is not None and entry[1]:
                    result.numerator, result.denominator = entry[0], entry[1]
                    result.histogram = dict(entry[2])
                    result.value = value_of(indicator, entry[0], entry[1], entry[2])
            else:
                entry = manual.get((indicator.pk, key))
                if entry is not None and entry[0] == "counts":
                    result.numerator, result.denominator = entry[1], entry[2]
                    result.value = value_of(indicator, entry[1], entry[2])
                elif entry is not None:
                    result.value = entry[1]
            result.target, result.warning_threshold = target_in_force(indicator, service, period)
            result.status = status_of(
                indicator, result.value, result.target, result.warning_threshold
            )
            found[(indicator.pk, key)] = result
    return found


def trend(organisation: Organisation, indicators, last: Period, count: int = 12, *, service=None):
    """{indicator id: [Result per period]} for `count` periods ending with `last` (sparklines)."""
    periods = series(last, count)
    services = [service] if service is not None else []
    found: dict[int, list[Result]] = defaultdict(list)
    for period in periods:
        key = service.pk if service is not None else None
        for (indicator_id, service_key), result in results(
            organisation,
            indicators,
            period,
            services=services,
            consolidated=service is None,
        ).items():
            if service_key == key:
                found[indicator_id].append(result)
    return found


def month_of(day) -> Period:
    return containing(day, "month")


def last_updated(organisation: Organisation):
    state = RollupState.objects.filter(organisation=organisation).first()
    return state.updated_at if state else None


@dataclass
class Drilldown:
    indicator: Indicator
    source: sources.Source
    records: object  # QuerySet
    failing_filter: Q | None

    @property
    def columns(self):
        return self.source.columns

    def link(self, record) -> str | None:
        return self.source.link(record) if self.source.link else None


def drilldown(
    organisation: Organisation, indicator: Indicator, period: Period, *, service=None, allowed=None
) -> Drilldown | None:
    """The records behind a computed result: the same filters as the source's roll-up.

    `allowed` (service ids or None) limits them to what the user may see.
    """
    source = sources.get(indicator.source)
    if indicator.source_kind != SourceKind.COMPUTED or source is None or source.records is None:
        return None
    scope_ids = sources.service_scope(indicator)
    if service is not None:
        chosen = _descendants(organisation).get(service.pk, {service.pk})
        scope_ids = chosen if scope_ids is None else scope_ids & chosen
    if allowed is not None:
        scope_ids = set(allowed) if scope_ids is None else scope_ids & set(allowed)
    scope = sources.Scope(
        organisation=organisation,
        indicator=indicator,
        start=period.start,
        end=period.end,
        service_ids=scope_ids,
    )
    return Drilldown(indicator, source, source.records(scope), source.failing)
