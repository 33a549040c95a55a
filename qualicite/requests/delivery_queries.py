"""Reads of the service-delivery pages: prestations with their in-time figures, open deliveries.

A delivery counts in the period in which it was delivered (the indicator "act delivered
within delay" is delivered in time ÷ delivered); months and years are the organisation's
local ones, so a passport handed over on 31 December at 17:00 counts in December.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from qualicite.core import permissions
from qualicite.requests.models import Delivery, Prestation


def visible_prestations(user, organisation) -> QuerySet[Prestation]:
    return permissions.scope(Prestation.objects.all(), user, organisation, service_field="service")


def visible_deliveries(user, organisation) -> QuerySet[Delivery]:
    return permissions.scope(
        Delivery.objects.all(), user, organisation, service_field="prestation__service"
    )


def open_deliveries(user, organisation) -> QuerySet[Delivery]:
    """Deliveries still to hand over, the soonest due first."""
    return (
        visible_deliveries(user, organisation)
        .filter(delivered_at__isnull=True)
        .select_related("prestation", "prestation__service")
        .order_by("due_at", "id")
    )


@dataclass(frozen=True)
class Figures:
    delivered: int = 0
    in_time: int = 0

    @property
    def share(self) -> float | None:
        """Percentage delivered within the announced delay; None when nothing was delivered."""
        if not self.delivered:
            return None
        return 100 * self.in_time / self.delivered


@dataclass(frozen=True)
class PrestationRow:
    prestation: Prestation
    month: Figures
    year: Figures
    open: int

    @property
    def period_figures(self) -> tuple[Figures, Figures]:
        return (self.month, self.year)


@dataclass(frozen=True)
class Periods:
    month_start: datetime
    year_start: datetime
    end: datetime  # start of next month: nothing after it is counted

    @classmethod
    def around(cls, organisation, now: datetime) -> "Periods":
        local = timezone.localtime(now, organisation.zone)
        month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        next_month = (
            month_start.replace(year=month_start.year + 1, month=1)
            if month_start.month == 12
            else month_start.replace(month=month_start.month + 1)
        )
        # ZoneInfo offsets follow the wall time, so these stay right across a DST change.
        return cls(month_start=month_start, year_start=month_start.replace(month=1), end=next_month)


def prestation_table(user, organisation, *, now: datetime | None = None) -> list[PrestationRow]:
    """Each visible prestation with this month's and this year's figures and its open count.

    Prestations no longer offered stay listed while they have deliveries this year or open
    ones, so the year's figures do not silently lose rows.
    """
    periods = Periods.around(organisation, now or timezone.now())
    prestations = list(visible_prestations(user, organisation).select_related("service"))
    ids = [p.pk for p in prestations]
    in_time = Q(delivered_at__lte=F("due_at"))
    in_month = Q(delivered_at__gte=periods.month_start)
    counted = {
        row["prestation"]: row
        for row in Delivery.objects.filter(
            organisation=organisation,
            prestation__in=ids,
            delivered_at__gte=periods.year_start,
            delivered_at__lt=periods.end,
        )
        .values("prestation")
        .annotate(
            year=Count("id"),
            year_in_time=Count("id", filter=in_time),
            month=Count("id", filter=in_month),
            month_in_time=Count("id", filter=in_month & in_time),
        )
    }
    still_open = dict(
        Delivery.objects.filter(
            organisation=organisation, prestation__in=ids, delivered_at__isnull=True
        )
        .values("prestation")
        .annotate(n=Count("id"))
        .values_list("prestation", "n")
    )
    rows = []
    for prestation in prestations:
        found = counted.get(prestation.pk, {})
        row = PrestationRow(
            prestation=prestation,
            month=Figures(found.get("month", 0), found.get("month_in_time", 0)),
            year=Figures(found.get("year", 0), found.get("year_in_time", 0)),
            open=still_open.get(prestation.pk, 0),
        )
        if prestation.is_active or row.year.delivered or row.open:
            rows.append(row)
    return rows
