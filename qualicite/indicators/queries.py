"""Indicator results read from the roll-ups: values, targets in force, statuses, drill-down.

Everything shown (dashboard, alerts, public results, `indicators show`, exports) goes through
`results()`, so a figure is computed one way. A period's value is the sum of its days'
numerators and denominators; a percentile is read from the sum of the days' distributions,
never averaged. No record in the period means "no data", never 0 % or 100 %.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cached_property

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Direction, Indicator, SourceKind, Unit
from qualicite.core.models import Organisation, Service
from qualicite.indicators import sources, sums
from qualicite.indicators.models import RollupState
from qualicite.indicators.periods import Period, containing, series

CENT = sums.CENT


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

    @cached_property  # shown twice per point of a trend: sparkline and table
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


def targets_over(indicator: Indicator, service: Service | None, periods: list[Period]) -> list:
    """`target_in_force` of each of `periods` (in order), each revision read once."""
    revisions = sorted(indicator.revisions.all(), key=lambda r: r.effective_from)
    starts = [r.effective_from for r in revisions]
    key = service.pk if service is not None else None
    found, known = [], {}
    for period in periods:
        index = bisect_right(starts, period.end) - 1
        if index not in known:
            known[index] = (
                indicator.target_for(service) if index < 0 else revisions[index].target_for(key)
            )
        found.append(known[index])
    return found


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


def _result(indicator, service, period, computed_entry, manual_entry, target) -> Result:
    """A result from the sums of its period (None when nothing was counted or entered)."""
    result = Result(indicator, service, period)
    if indicator.source_kind == SourceKind.COMPUTED:
        if computed_entry is not None and computed_entry[1]:
            result.numerator, result.denominator = computed_entry[0], computed_entry[1]
            result.histogram = dict(computed_entry[2])
            result.value = value_of(indicator, *computed_entry)
    elif manual_entry is not None and manual_entry[0] == "counts":
        result.numerator, result.denominator = manual_entry[1], manual_entry[2]
        result.value = value_of(indicator, manual_entry[1], manual_entry[2])
    elif manual_entry is not None:
        result.value = manual_entry[1]
    result.target, result.warning_threshold = target
    result.status = status_of(indicator, result.value, result.target, result.warning_threshold)
    return result


def _split(indicators) -> tuple[list, list]:
    computed = [i for i in indicators if i.source_kind == SourceKind.COMPUTED]
    return computed, [i for i in indicators if i.source_kind == SourceKind.MANUAL]


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
    computed, manual = _split(indicators)
    # Each service's sums read once, then folded into every group that counts it.
    read = None if consolidated else set().union(*groups.values()) if groups else set()
    per_service = sums.computed_sums(computed, [period], read, per_service=True)
    computed_sums: dict[tuple, list] = {}
    for (indicator_id, _position, service_id), (
        numerator,
        denominator,
        histogram,
    ) in per_service.items():
        for key, members in groups.items():
            if members is None or service_id in members:
                entry = computed_sums.setdefault((indicator_id, key), [0, 0, defaultdict(int)])
                entry[0] += numerator
                entry[1] += denominator
                for value, n in histogram.items():
                    entry[2][value] += n
    manual_values: dict[tuple, list] = defaultdict(list)
    for (indicator_id, _position), values in sums.manual_values(manual, [period], read).items():
        for value in values:
            for key, members in groups.items():
                if members is None or value.service_id in members:
                    manual_values[(indicator_id, key)].append(value)
    by_pk = {service.pk: service for service in services}
    found = {}
    for key, members in groups.items():
        service = by_pk.get(key)
        for indicator in _measured(indicators, tree, members):
            values = manual_values.get((indicator.pk, key))
            found[(indicator.pk, key)] = _result(
                indicator,
                service,
                period,
                computed_sums.get((indicator.pk, key)),
                sums.combined(values) if values else None,
                target_in_force(indicator, service, period),
            )
    return found


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


def trend(
    organisation: Organisation,
    indicators,
    last: Period,
    count: int = 12,
    *,
    service: Service | None = None,
) -> dict[int, list[Result]]:
    """{indicator id: [Result per period]} for `count` periods ending with `last` (sparklines).

    The figures `results()` gives for each period, read in one to three queries in all.
    """
    periods = series(last, count)
    tree = _descendants(organisation)
    members = tree.get(service.pk, {service.pk}) if service is not None else None
    measured = _measured(indicators, tree, members)
    computed, manual = _split(measured)
    computed_sums = sums.computed_sums(computed, periods, members)
    manual_sums = sums.manual_sums(manual, periods, members)
    found: dict[int, list[Result]] = {}
    for indicator in measured:
        targets = targets_over(indicator, service, periods)
        found[indicator.pk] = [
            _result(
                indicator,
                service,
                period,
                computed_sums.get((indicator.pk, position)),
                manual_sums.get((indicator.pk, position)),
                targets[position],
            )
            for position, period in enumerate(periods)
        ]
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
