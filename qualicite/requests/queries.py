"""Reads of requests shared by the staff pages, the reports and the benches."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core import permissions
from qualicite.requests.models import OPEN_STATUSES, Request, RequestEvent, normalise_code


def visible_requests(user, organisation) -> QuerySet[Request]:
    """The requests `user` may see: their organisation's, limited to their services if so.

    A restricted member does not see requests without a service (nobody routed them yet).
    """
    return permissions.scope(Request.objects.all(), user, organisation)


@dataclass
class QueueFilter:
    status: str = ""  # "" = open ones, "all", or a Status value
    kind: str = ""
    channel: str = ""
    service: int | None = None
    site: int | None = None
    theme: int | None = None
    assigned: str = ""  # "", "me", "nobody"
    due: str = ""  # "", "overdue", "week"
    search: str = ""
    extra: dict = field(default_factory=dict)


def queue(user, organisation, chosen: QueueFilter, *, now: datetime | None = None):
    """The work queue: filtered, soonest due first (the ones to answer now on top)."""
    now = now or timezone.now()
    rows = visible_requests(user, organisation)
    if chosen.status == "all":
        pass
    elif chosen.status:
        rows = rows.filter(status=chosen.status)
    else:
        rows = rows.filter(status__in=OPEN_STATUSES)
    for name in ("kind", "channel"):
        value = getattr(chosen, name)
        if value:
            rows = rows.filter(**{name: value})
    for name in ("service", "site", "theme"):
        value = getattr(chosen, name)
        if value:
            rows = rows.filter(**{f"{name}_id": value})
    if chosen.assigned == "me":
        rows = rows.filter(assigned_to=user)
    elif chosen.assigned == "nobody":
        rows = rows.filter(assigned_to__isnull=True)
    if chosen.due == "overdue":
        rows = rows.filter(
            status__in=OPEN_STATUSES,
            replied_at__isnull=True,
            paused_at__isnull=True,
            due_at__lt=now,
        )
    elif chosen.due == "week":
        local_today = timezone.localtime(now).date()
        week_end = local_today + timedelta(days=6 - local_today.weekday())
        end = timezone.make_aware(datetime.combine(week_end, datetime.max.time()))
        rows = rows.filter(status__in=OPEN_STATUSES, due_at__gte=now, due_at__lte=end)
    if chosen.search:
        rows = rows.filter(search_q(chosen.search))
    return rows.select_related("service", "assigned_to", "theme").order_by("due_at", "id")


def search_q(text: str) -> Q:
    """Code, subject, message and citizen fields; each word must match somewhere."""
    condition = Q()
    for word in text.split()[:8]:
        code = normalise_code(word)
        word_q = (
            Q(subject__icontains=word)
            | Q(body__icontains=word)
            | Q(citizen_name__icontains=word)
            | Q(citizen_email__icontains=word)
        )
        if code:
            word_q |= Q(code=code)
        condition &= word_q
    return condition


def counts(user, organisation, *, now: datetime | None = None) -> dict[str, int]:
    """Headline numbers of the queue page."""
    now = now or timezone.now()
    rows = visible_requests(user, organisation).filter(status__in=OPEN_STATUSES)
    return {
        "open": rows.count(),
        "overdue": rows.filter(
            replied_at__isnull=True, paused_at__isnull=True, due_at__lt=now
        ).count(),
        "mine": rows.filter(assigned_to=user).count(),
        "validation": rows.filter(status="validation").count(),
    }


def timeline(request: Request) -> QuerySet[RequestEvent]:
    return RequestEvent.objects.filter(request=request).order_by("at", "id")


EVENT_LABELS = {
    "request.received": _("Received"),
    "request.acknowledged": _("Acknowledgement sent"),
    "request.updated": _("Details corrected"),
    "request.rerouted": _("Routed"),
    "request.assigned": _("Assigned"),
    "request.paused": _("Clock paused, waiting for the citizen"),
    "request.resumed": _("Clock running again"),
    "request.reminder_sent": _("Reminder sent before the due date"),
    "request.overdue_escalated": _("Service head told it is overdue"),
    "request.escalated": _("Escalated"),
    "request.escalation_closed": _("Escalation closed"),
    "request.attachments_added": _("Attachments added"),
    "request.closed": _("Closed"),
    "request.reopened": _("Reopened"),
    "request.anonymised": _("Personal data erased"),
    "reply.submitted": _("Reply submitted for validation"),
    "reply.validated": _("Reply validated"),
    "reply.rejected": _("Reply sent back for changes"),
    "reply.sent": _("Reply sent"),
    "delivery.recorded": _("Delivery recorded"),
    "delivery.delivered": _("Delivered"),
}


def described_timeline(request: Request) -> list[tuple[RequestEvent, str]]:
    return [(event, EVENT_LABELS.get(event.verb, event.verb)) for event in timeline(request)]


def recorded_with(organisation, field: str, value: str) -> QuerySet[Request]:
    """Requests recorded with this idempotency key or Message-ID (at most one).

    The explicit `field != ""` lets SQLite use the partial unique index, which it cannot
    prove applies to a bound parameter: without it each lookup reads every request.
    """
    if field not in ("idempotency_key", "message_id"):
        raise ValueError(field)
    return (
        Request.objects.filter(organisation=organisation, **{field: value})
        .exclude(**{field: ""})
        .order_by("pk")
    )
