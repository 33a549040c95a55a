"""Daily roll-ups: computed from the sources, rebuilt on demand, refreshed by tick.

One code path writes roll-ups — `roll_up(organisation, start, end, indicators)`: delete the
days in range, compute them again from the records, insert. A full rebuild is that over all
history; the incremental path is that over the days whose records changed (marked by
`signals`). The two therefore give the same rows, which a test checks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from qualicite.charter.models import Indicator, SourceKind
from qualicite.core.models import Organisation
from qualicite.indicators import sources
from qualicite.indicators.models import MonthlyRollup, PendingRollup, Rollup, RollupState

BATCH = 5000


def computed_indicators(organisation: Organisation, *, family: str | None = None) -> list:
    """The organisation's indicators computed by a registered source (of `family`)."""
    found = []
    indicators = (
        Indicator.objects.filter(organisation=organisation, source_kind=SourceKind.COMPUTED)
        .select_related("commitment", "organisation")
        .prefetch_related("commitment__services", "revisions")
        .order_by("pk")
    )
    for indicator in indicators:
        source = sources.get(indicator.source)
        if source is not None and (family is None or source.family == family):
            found.append(indicator)
    return found


def _revision_spans(indicator: Indicator, start: date, end: date):
    """[(start, end, revision in force)] covering start..end, cut at each effective date."""
    revisions = sorted(indicator.revisions.all(), key=lambda r: r.effective_from)
    spans, current, day = [], None, start
    for revision in revisions:
        if revision.effective_from <= start:
            current = revision
    for revision in revisions:
        if start < revision.effective_from <= end:
            spans.append((day, revision.effective_from - timedelta(days=1), current))
            day, current = revision.effective_from, revision
    spans.append((day, end, current))
    return spans


def compute(indicator: Indicator, start: date, end: date) -> list[sources.Row]:
    """The day rows of one indicator over start..end, straight from the records."""
    source = sources.get(indicator.source)
    service_ids = sources.service_scope(indicator)
    spans = _revision_spans(indicator, start, end) if source.versioned else [(start, end, None)]
    rows = []
    for span_start, span_end, revision in spans:
        scope = sources.Scope(
            organisation=indicator.organisation,
            indicator=indicator,
            start=span_start,
            end=span_end,
            revision=revision,
            service_ids=service_ids,
        )
        rows.extend(source.compute(scope))
    return rows


def compute_all(organisation: Organisation, start: date, end: date, indicators) -> dict:
    """{indicator id: day rows} over start..end; sources sharing a scan read their records once."""
    found, by_scan = {}, defaultdict(list)
    for indicator in indicators:
        source = sources.get(indicator.source)
        if source.scan is not None and not source.versioned:
            by_scan[source.scan].append(indicator)
        else:
            found[indicator.pk] = compute(indicator, start, end)
    for scan, group in by_scan.items():
        scopes = [
            sources.Scope(
                organisation=organisation,
                indicator=indicator,
                start=start,
                end=end,
                service_ids=sources.service_scope(indicator),
            )
            for indicator in group
        ]
        found.update(scan(scopes))
    return found


def _write(indicator: Indicator, rows: Iterable[sources.Row]) -> int:
    written = [
        Rollup(
            organisation_id=indicator.organisation_id,
            indicator_id=indicator.pk,
            service_id=row.service_id,
            day=row.day,
            numerator=row.numerator,
            denominator=row.denominator,
            histogram=row.histogram,
        )
        for row in rows
        if row.denominator
    ]
    Rollup.objects.bulk_create(written, batch_size=BATCH)
    return len(written)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def roll_months(indicators, start: date, end: date) -> None:
    """Write again the monthly sums of the months that start..end touches, from the days."""
    first, last = _month_start(start), _month_end(end)
    MonthlyRollup.objects.filter(
        indicator__in=indicators, month__gte=first, month__lte=last
    ).delete()
    sums: dict[tuple, list] = {}
    days = Rollup.objects.filter(indicator__in=indicators, day__gte=first, day__lte=last)
    rows = days.values_list(
        "organisation_id", "indicator_id", "service_id", "day", "numerator", "denominator"
    )
    for organisation_id, indicator_id, service_id, day, numerator, denominator in rows.iterator(
        chunk_size=BATCH
    ):
        key = (indicator_id, service_id, _month_start(day))
        entry = sums.setdefault(key, [organisation_id, 0, 0, defaultdict(int)])
        entry[1] += numerator
        entry[2] += denominator
    with_histograms = [
        i.pk
        for i in indicators
        if sources.get(i.source) is not None
        and sources.get(i.source).measure == sources.Measure.QUANTILE
    ]
    if with_histograms:
        rows = days.filter(indicator_id__in=with_histograms).values_list(
            "indicator_id", "service_id", "day", "histogram"
        )
        for indicator_id, service_id, day, histogram in rows.iterator(chunk_size=BATCH):
            summed = sums[(indicator_id, service_id, _month_start(day))][3]
            for value, count in histogram.items():
                summed[value] += count
    MonthlyRollup.objects.bulk_create(
        [
            MonthlyRollup(
                organisation_id=organisation_id,
                indicator_id=indicator_id,
                service_id=service_id,
                month=month,
                numerator=numerator,
                denominator=denominator,
                histogram=dict(histogram),
            )
            for (indicator_id, service_id, month), (
                organisation_id,
                numerator,
                denominator,
                histogram,
            ) in sums.items()
        ],
        batch_size=BATCH,
    )


@dataclass
class RollupResult:
    indicators: int = 0
    days: int = 0
    rows: int = 0


def roll_up(organisation: Organisation, start: date, end: date, indicators) -> RollupResult:
    """Replace the roll-ups of `indicators` for the days start..end by freshly computed ones."""
    result = RollupResult(days=(end - start).days + 1)
    indicators = list(indicators)
    with transaction.atomic():
        Rollup.objects.filter(indicator__in=indicators, day__gte=start, day__lte=end).delete()
        computed = compute_all(organisation, start, end, indicators)
        for indicator in indicators:
            result.rows += _write(indicator, computed[indicator.pk])
            result.indicators += 1
        roll_months(indicators, start, end)
    return result


def today(organisation: Organisation) -> date:
    return timezone.localtime(timezone.now(), organisation.zone).date()


def history_start(organisation: Organisation, indicators) -> date:
    """The first day any of `indicators` has records (today when none has any)."""
    first = today(organisation)
    for source in {sources.get(i.source) for i in indicators}:
        day = source.first_day(organisation) if source.first_day is not None else None
        if day is not None and day < first:
            first = day
    return first


def rebuild(
    organisation: Organisation,
    *,
    start: date | None = None,
    end: date | None = None,
    indicators=None,
) -> RollupResult:
    """Compute the roll-ups again for a range (all history by default); idempotent.

    Without a range, days outside the history (records deleted since) are dropped too.
    """
    every = computed_indicators(organisation)
    indicators = every if indicators is None else list(indicators)
    if not indicators:
        return RollupResult()
    whole_history = start is None and end is None
    start = start or history_start(organisation, indicators)
    end = end or today(organisation)
    if end < start:
        return RollupResult()
    started = timezone.now()
    with transaction.atomic():
        if whole_history:
            Rollup.objects.filter(indicator__in=indicators).exclude(
                day__gte=start, day__lte=end
            ).delete()
            MonthlyRollup.objects.filter(indicator__in=indicators).exclude(
                month__gte=_month_start(start), month__lte=end
            ).delete()
        result = roll_up(organisation, start, end, indicators)
        state, _created = RollupState.objects.get_or_create(organisation=organisation)
        state.updated_at = timezone.now()
        if whole_history:
            PendingRollup.objects.filter(indicator__in=indicators).delete()
            if len(indicators) == len(every):
                state.rebuilt_at = state.updated_at
                # Days marked before this rebuild began are in it; later marks stay for tick.
                PendingRollup.objects.filter(
                    organisation=organisation, created_at__lte=started
                ).delete()
        state.save()
    return result


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into (first, last) ranges."""
    ranges = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def refresh(organisation: Organisation) -> RollupResult:
    """Apply the pending work of one organisation: changed days, redefined indicators."""
    total = RollupResult()
    state = RollupState.objects.filter(organisation=organisation).first()
    if state is None or state.rebuilt_at is None:
        # Never rolled up (new installation, data loaded in bulk): everything once.
        pending = list(
            PendingRollup.objects.filter(organisation=organisation).values_list("pk", flat=True)
        )
        total = rebuild(organisation)
        PendingRollup.objects.filter(pk__in=pending).delete()
        return total
    pending = list(PendingRollup.objects.filter(organisation=organisation))
    if not pending:
        return total
    whole = {p.indicator_id for p in pending if p.indicator_id}
    days: dict[str, list[date]] = defaultdict(list)
    for p in pending:
        if p.family and p.day:
            days[p.family].append(p.day)
    with transaction.atomic():
        if whole:
            indicators = [i for i in computed_indicators(organisation) if i.pk in whole]
            if indicators:
                result = rebuild(organisation, indicators=indicators)
                total.indicators += result.indicators
                total.rows += result.rows
        for family, family_days in days.items():
            indicators = [
                i for i in computed_indicators(organisation, family=family) if i.pk not in whole
            ]
            if not indicators:
                continue
            for first, last in _ranges(family_days):
                result = roll_up(organisation, first, last, indicators)
                total.days += result.days
                total.rows += result.rows
            total.indicators = max(total.indicators, len(indicators))
        PendingRollup.objects.filter(pk__in=[p.pk for p in pending]).delete()
        RollupState.objects.filter(organisation=organisation).update(updated_at=timezone.now())
    return total


def mark_days(organisation_id: int, family: str, days: Iterable[date]) -> None:
    PendingRollup.objects.bulk_create(
        [
            PendingRollup(organisation_id=organisation_id, family=family, day=day)
            for day in sorted(set(days))
        ]
    )


def mark_indicator(indicator: Indicator) -> None:
    PendingRollup.objects.create(organisation_id=indicator.organisation_id, indicator=indicator)
