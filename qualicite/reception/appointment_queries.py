"""Reads of the appointment pages: a day's appointments per site and service, and its counts.

Every read goes through `permissions.scope`: a member restricted to some services sees only
their appointments (one without a service is then hidden, as everywhere else).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from qualicite.core import permissions
from qualicite.reception.models import Appointment, AppointmentStatus, ReceptionEvent

S = AppointmentStatus


def visible_appointments(user, organisation):
    return permissions.scope(
        Appointment.objects.select_related("site", "service", "organisation"), user, organisation
    )


def today(organisation) -> date:
    return timezone.localtime(timezone.now(), organisation.zone).date()


def of_day(user, organisation, day: date, *, site=None, service=None):
    zone = organisation.zone
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    found = visible_appointments(user, organisation).filter(starts_at__gte=start, starts_at__lt=end)
    if site is not None:
        found = found.filter(site=site)
    if service is not None:
        found = found.filter(service=service)
    return found.order_by("starts_at", "pk")


def counts(appointments) -> dict:
    return appointments.aggregate(
        total=Count("id"),
        booked=Count("id", filter=Q(status=S.BOOKED)),
        checked_in=Count("id", filter=Q(status=S.CHECKED_IN)),
        served=Count("id", filter=Q(status=S.SERVED)),
        no_show=Count("id", filter=Q(status=S.NO_SHOW)),
        cancelled=Count("id", filter=Q(status=S.CANCELLED)),
    )


def late_minutes(appointment: Appointment, now: datetime) -> int | None:
    """Minutes past the slot for a citizen who arrived and still waits, else None."""
    if appointment.status != S.CHECKED_IN:
        return None
    late = (now - appointment.starts_at).total_seconds() // 60
    return int(late) if late > 0 else None


def last_mapping(organisation, file_format: str) -> str:
    event = (
        ReceptionEvent.objects.filter(
            organisation=organisation, verb="appointment.imported", details__format=file_format
        )
        .order_by("-at", "-pk")
        .first()
    )
    return event.details.get("mapping", "") if event else ""
