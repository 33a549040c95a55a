"""Reads of the desk pages: the site's queue, the day's visits, arrivals by weekday and hour.

Every read goes through `permissions.scope`, so a member restricted to some services sees
only their visits (a visit without a service is then hidden, as everywhere else).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.charter.models import Indicator
from qualicite.core import permissions
from qualicite.core.models import Service, Site
from qualicite.reception.models import DeskVisit

# The wait the indicator counts against when the référentiel does not say (DOMAIN.md: 10 min).
DEFAULT_WAIT_SECONDS = 600
QUICK_REASONS = 6
# Offered on the tablet until the site's own reasons are known (the most used recently).
DEFAULT_REASONS = (
    _("Information"),
    _("Identity card or passport"),
    _("Civil-status certificate"),
    _("Registration (school, electoral roll)"),
    _("Payment"),
    _("Appointment"),
)
REASON_WINDOW_DAYS = 60
WEEKDAYS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)


def sites(organisation):
    return Site.objects.filter(organisation=organisation).order_by("name")


def site_services(site: Site, user) -> list[Service]:
    """The services a visitor can be received for at `site`, among those the user sees."""
    visible = permissions.visible_services(user, site.organisation)
    offered = site.services.all()
    chosen = visible.filter(pk__in=offered) if offered.exists() else visible
    return list(chosen.order_by("position", "name"))


def visible_visits(user, organisation):
    return permissions.scope(
        DeskVisit.objects.select_related("site", "service"), user, organisation
    )


def day_bounds(organisation, day: date) -> tuple[datetime, datetime]:
    zone = organisation.zone
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def today(organisation) -> date:
    return timezone.localtime(timezone.now(), organisation.zone).date()


def visits_of_day(user, organisation, day: date, site: Site | None = None):
    return _of_day(user, organisation, site, day)


def _of_day(user, organisation, site, day):
    start, end = day_bounds(organisation, day)
    visits = visible_visits(user, organisation).filter(arrived_at__gte=start, arrived_at__lt=end)
    return visits.filter(site=site) if site is not None else visits


OPEN = Q(done_at__isnull=True, left_without_service=False)


def queue(user, site: Site, now: datetime) -> list[DeskVisit]:
    """Today's visitors not yet done at `site`, the longest waiting first."""
    day = timezone.localtime(now, site.organisation.zone).date()
    found = list(
        _of_day(user, site.organisation, site, day).filter(OPEN).order_by("arrived_at", "pk")
    )
    for visit in found:
        visit.elapsed = _minutes((visit.called_at or now) - visit.arrived_at)
        visit.at_counter = _minutes(now - visit.called_at) if visit.called_at else None
    return found


def recent(user, site: Site, limit: int = 8) -> list[DeskVisit]:
    return list(
        _of_day(user, site.organisation, site, today(site.organisation))
        .exclude(OPEN)
        .order_by("-done_at", "-pk")[:limit]
    )


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def wait_minutes(visit: DeskVisit) -> int | None:
    if visit.called_at is None:
        return None
    return _minutes(visit.called_at - visit.arrived_at)


def day_summary(visits) -> dict:
    counts = visits.aggregate(
        arrived=Count("id"),
        served=Count("id", filter=Q(called_at__isnull=False, left_without_service=False)),
        left=Count("id", filter=Q(left_without_service=True)),
        waiting=Count("id", filter=Q(called_at__isnull=True) & OPEN),
    )
    return counts


def quick_reasons(site: Site, now: datetime) -> list[str]:
    """The reasons most used at the site lately, completed by the default ones."""
    used = (
        DeskVisit.objects.filter(
            organisation=site.organisation,
            site=site,
            arrived_at__gte=now - timedelta(days=REASON_WINDOW_DAYS),
        )
        .exclude(reason="")
        .values("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")[:QUICK_REASONS]
    )
    found = [row["reason"] for row in used]
    for reason in DEFAULT_REASONS:
        if len(found) >= QUICK_REASONS:
            break
        if str(reason).casefold() not in {r.casefold() for r in found}:
            found.append(str(reason))
    return found


def wait_threshold(organisation) -> int:
    """The desk wait in seconds the référentiel commits to (its wait indicator), else 10 min."""
    found = (
        Indicator.objects.filter(
            organisation=organisation, source="desk.wait_within", threshold_seconds__isnull=False
        )
        .order_by("pk")
        .values_list("threshold_seconds", flat=True)
        .first()
    )
    return found or DEFAULT_WAIT_SECONDS


# --- Visits by weekday and hour, for staffing ------------------------------------------------


@dataclass
class HourFigures:
    hour: int
    arrivals: int = 0
    served: int = 0
    within: int = 0
    left: int = 0
    wait_seconds: int = 0

    @property
    def within_share(self) -> float | None:
        return 100 * self.within / self.served if self.served else None

    @property
    def mean_wait_minutes(self) -> float | None:
        return self.wait_seconds / self.served / 60 if self.served else None


@dataclass
class Staffing:
    start: date
    end: date
    threshold_seconds: int
    weekdays: list[int]  # 0 = Monday, the days with arrivals (Monday–Friday at least)
    hours: list[int]  # the hours with arrivals, every hour between the first and the last
    grid: dict[tuple[int, int], int] = field(default_factory=dict)  # (weekday, hour) → n
    by_hour: list[HourFigures] = field(default_factory=list)
    total: HourFigures = field(default_factory=lambda: HourFigures(-1))

    @property
    def weeks(self) -> float:
        return round(((self.end - self.start).days + 1) / 7, 1)

    @property
    def peak(self) -> int:
        return max(self.grid.values(), default=0)

    @property
    def threshold_minutes(self) -> int:
        return round(self.threshold_seconds / 60)

    def rows(self) -> list[tuple[str, list[int], int]]:
        """[(weekday name, arrivals per hour, total)] for the table."""
        found = []
        for weekday in self.weekdays:
            values = [self.grid.get((weekday, hour), 0) for hour in self.hours]
            found.append((WEEKDAYS[weekday], values, sum(values)))
        return found


def staffing(user, organisation, start: date, end: date, *, site=None, service=None) -> Staffing:
    begin, _end = day_bounds(organisation, start)
    _start, finish = day_bounds(organisation, end)
    visits = visible_visits(user, organisation).filter(arrived_at__gte=begin, arrived_at__lt=finish)
    if site is not None:
        visits = visits.filter(site=site)
    if service is not None:
        visits = visits.filter(service=service)
    threshold = wait_threshold(organisation)
    zone = organisation.zone
    grid: Counter = Counter()
    hours: dict[int, HourFigures] = {}
    total = HourFigures(-1)
    rows = visits.values_list("arrived_at", "called_at", "left_without_service")
    for arrived, called, left in rows.iterator(chunk_size=2000):
        local = arrived.astimezone(zone)
        grid[(local.weekday(), local.hour)] += 1
        figures = hours.setdefault(local.hour, HourFigures(local.hour))
        for target in (figures, total):
            target.arrivals += 1
            if left:
                target.left += 1
            elif called is not None:
                wait = (called - arrived).total_seconds()
                target.served += 1
                target.wait_seconds += round(wait)
                target.within += wait <= threshold
    hour_span = list(range(min(hours), max(hours) + 1)) if hours else []
    weekdays = sorted({weekday for weekday, _hour in grid} | {0, 1, 2, 3, 4})
    return Staffing(
        start=start,
        end=end,
        threshold_seconds=threshold,
        weekdays=weekdays,
        hours=hour_span,
        grid=dict(grid),
        by_hour=[hours.get(hour, HourFigures(hour)) for hour in hour_span],
        total=total,
    )
