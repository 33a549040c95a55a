"""Periodic work on requests, run by `qualicite tick`: each message goes out once."""

from datetime import datetime, timedelta

from qualicite.core.calendar import Calendar
from qualicite.core.choices import DayKind
from qualicite.core.tick import tick_job
from qualicite.requests import deadlines, notifications, services
from qualicite.requests.models import OPEN_STATUSES, Request, RequestSettings


@tick_job("requests.acknowledgements")
def send_pending_acknowledgements(now: datetime) -> str | None:
    """Acknowledgements whose first attempt failed (mail server down) are tried again."""
    pending = (
        Request.objects.filter(
            acknowledged_at__isnull=True, is_anonymous=False, anonymised_at__isnull=True
        )
        .exclude(citizen_email="")
        .values_list("pk", flat=True)
    )
    sent = sum(notifications.send_acknowledgement(pk) for pk in pending[:200])
    return f"{sent} acknowledgement(s) sent" if sent else None


def _open(now: datetime):
    return Request.objects.filter(status__in=OPEN_STATUSES, paused_at__isnull=True).select_related(
        "organisation", "service", "site", "assigned_to"
    )


@tick_job("requests.reminders")
def send_reminders(now: datetime) -> str | None:
    """Remind the assignee N working days before the due date (RequestSettings), once."""
    sent = 0
    settings_by_org: dict[int, RequestSettings] = {}
    # Every open request due within the window is looked at each minute: build each
    # calendar once per (site, service), not once per request.
    calendars: dict[tuple, Calendar] = {}
    candidates = _open(now).filter(
        reminded_at__isnull=True, replied_at__isnull=True, due_at__gt=now
    )
    # A reminder is never due more than a few weeks ahead: look no further.
    candidates = candidates.filter(due_at__lte=now + timedelta(days=60))
    for request in candidates.iterator():
        config = settings_by_org.get(request.organisation_id)
        if config is None:
            config = settings_by_org[request.organisation_id] = RequestSettings.of(
                request.organisation
            )
        key = (request.organisation_id, request.site_id, request.service_id)
        calendar = calendars.get(key)
        if calendar is None:
            site = deadlines.site_for(
                request.organisation, site=request.site, service=request.service
            )
            calendar = calendars[key] = deadlines.calendar(
                request.organisation, site=site, day_kind=DayKind.WORKING
            )
        left = calendar.count_days(now, request.due_at)
        if left > config.reminder_days_before:
            continue
        if notifications.send_reminder(request):
            updated = Request.objects.filter(pk=request.pk, reminded_at__isnull=True).update(
                reminded_at=now
            )
            if updated:
                services.log(request, actor=None, verb="request.reminder_sent", days_left=left)
                sent += 1
    return f"{sent} reminder(s) sent" if sent else None


@tick_job("requests.escalations")
def send_overdue_escalations(now: datetime) -> str | None:
    """Tell the service head about each overdue request, once."""
    sent = 0
    overdue = _open(now).filter(escalated_at__isnull=True, replied_at__isnull=True, due_at__lt=now)
    for request in overdue.iterator():
        if notifications.send_overdue_escalation(request):
            updated = Request.objects.filter(pk=request.pk, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if updated:
                services.log(request, actor=None, verb="request.overdue_escalated")
                sent += 1
    return f"{sent} overdue request(s) escalated" if sent else None
