"""The registry of data sources: how each computed indicator is measured from records.

A source is a named function giving, for one organisation and a range of local days, the
numerator and denominator (and, for percentiles, a distribution) of an indicator per service
and per day. Apps above `indicators` in the dependency order feed it through this registry,
and apps below it are read here; the phone, desk, survey and kiosk issues add their own.

A source also says which records stand behind a number (the drill-down), and which family of
records it reads, so that a change to one request rolls up again only the days it touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils.functional import Promise

from qualicite.charter.models import Indicator, IndicatorRevision
from qualicite.core.models import Organisation, Service


class Measure(StrEnum):
    RATIO = "ratio"  # numerator ÷ denominator; a percentage when the unit is percent
    MEAN = "mean"  # numerator (a sum of values) ÷ denominator (how many values)
    QUANTILE = "quantile"  # a percentile of the distribution
    COUNT = "count"  # the numerator alone, summed


@dataclass(frozen=True)
class Row:
    service_id: int | None
    day: date
    numerator: int
    denominator: int
    histogram: dict[str, int] = field(default_factory=dict)


@dataclass
class Scope:
    """What one computation covers: an indicator, the definition in force, a range of days."""

    organisation: Organisation
    indicator: Indicator
    start: date
    end: date  # included
    revision: IndicatorRevision | None = None
    service_ids: set[int] | None = None  # the commitment's services with their sub-services

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.organisation.time_zone)

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=self.zone).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """The first instant after the range (exclusive bound)."""
        return datetime.combine(
            self.end + timedelta(days=1), time.min, tzinfo=self.zone
        ).astimezone(UTC)

    @property
    def channels(self) -> list[str]:
        """The channels measured: the indicator's, else its commitment's; empty means all."""
        return list(self.indicator.channels or self.indicator.commitment.channels or [])

    @property
    def delay_days(self) -> int | None:
        return self.revision.delay_days if self.revision else self.indicator.delay_days

    @property
    def threshold_seconds(self) -> int | None:
        if self.revision is not None:
            return self.revision.threshold_seconds
        return self.indicator.threshold_seconds

    def service_filter(self, field_name: str = "service") -> Q:
        """Records of the services in scope (every record, unrouted ones too, when all)."""
        if self.service_ids is None:
            return Q()
        return Q(**{f"{field_name}__in": self.service_ids})


@dataclass(frozen=True)
class Column:
    label: str | Promise
    value: Callable  # record → what the cell shows


@dataclass(frozen=True)
class Source:
    name: str
    family: str  # the records it reads; a change to them marks days of this family
    label: str | Promise
    measure: Measure
    compute: Callable[[Scope], Iterable[Row]]
    # Drill-down: the records counted in the denominator over a scope, those that fail
    # (not in the numerator: late, abandoned…), the columns shown and each record's link.
    records: Callable[[Scope], QuerySet] | None = None
    failing: Q | None = None
    columns: tuple[Column, ...] = ()
    link: Callable | None = None
    quantile: float | None = None  # for Measure.QUANTILE, e.g. 0.5 for the median
    # Whether the value depends on delay_days / threshold_seconds in force each day.
    versioned: bool = False
    # The first day with records, to bound a full rebuild.
    first_day: Callable[[Organisation], date | None] | None = None
    # Days after a period's end before its figure is final and may raise an alert: a share
    # counted per day of receipt still rises as late answers come in.
    settles_in_days: int = 0
    # Several sources computed in one read of their records: called with the scopes of all
    # the indicators (same organisation and days) whose source has this same `scan`, it
    # returns {indicator id: rows}, the rows `compute` gives for each. Not for versioned ones.
    scan: Callable[[list[Scope]], dict[int, list[Row]]] | None = None


_sources: dict[str, Source] = {}


def register(source: Source) -> Source:
    _sources[source.name] = source
    return source


def get(name: str) -> Source | None:
    return _sources.get(name)


def registered() -> dict[str, Source]:
    return dict(sorted(_sources.items()))


def families() -> set[str]:
    return {source.family for source in _sources.values()}


def service_scope(indicator: Indicator) -> set[int] | None:
    """The services an indicator measures: its commitment's and their sub-services; None = all."""
    roots = {service.pk for service in indicator.commitment.services.all()}
    if not roots:
        return None
    children: dict[int | None, list[int]] = {}
    for pk, parent in Service.objects.filter(organisation_id=indicator.organisation_id).values_list(
        "pk", "parent_id"
    ):
        children.setdefault(parent, []).append(pk)
    found, pending = set(), list(roots)
    while pending:
        pk = pending.pop()
        if pk not in found:
            found.add(pk)
            pending.extend(children.get(pk, ()))
    return found
