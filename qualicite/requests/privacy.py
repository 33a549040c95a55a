"""Personal data held in requests (RGPD): who read it, how long it is kept, what a citizen gets.

- `record_access`: one row per read, export or attachment opened (accountability, art. 5.2).
- Retention: a closed request keeps its personal data for the months its kind is given in
  `RequestSettings` (60 for complaints, 12 for information requests by default), counted from
  its closure; `anonymise_expired` then erases it, and the tick job runs that every minute.
- `export_citizen` / `export_citizen_pdf`: everything held about one e-mail address in one
  organisation (right of access, art. 15), each request exported being logged.

What anonymisation erases and keeps:
- erased: the citizen's name, e-mail, phone, address and postcode; the message; the
  **subject** too — it is typed freely by the citizen or the agent and often names a person,
  an address or a family event ("Acte de naissance de Léa Martin"), while the kind, theme and
  service already say what the request was about; the replies' subject, text and the service
  head's comment; the attachments (file and row); the reference of the delivered act
  (a passport or file number identifies a person); the free-text details of the request's
  events (reasons, notes, comments, file names), whose record name is reset to the code;
  the citizen's e-mail in the access log.
- kept, for the statistics and the complaints report: kind, channel, service, site, theme,
  prestation, every date (received, due, acknowledged, answered, closed), delays, outcome,
  escalation, the staff who handled it, the e-mail Message-ID (it names a mail server, not a
  person, and stops a re-read message from coming back as a new request).
"""

import calendar as stdlib_calendar
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qualicite.core import events
from qualicite.core.choices import RequestKind
from qualicite.core.models import Organisation
from qualicite.core.permissions import scope
from qualicite.core.tick import tick_job
from qualicite.requests.models import (
    Delivery,
    Escalation,
    PersonalDataAccess,
    Reply,
    ReplyStatus,
    Request,
    RequestEvent,
    RequestSettings,
    Status,
)
from qualicite.requests.services import log

logger = logging.getLogger("qualicite.requests")

Action = PersonalDataAccess.Action

# Requests anonymised by one tick at most: a first run on years of history must not hold the
# tick for long; the rest goes on the following minutes.
TICK_BATCH = 500
# "About to be anonymised" on the staff page: within this many days.
UPCOMING_DAYS = 30

# Event details that carry no personal data and feed statistics or the timeline.
_KEPT_DETAILS = frozenset(
    {
        "kind",
        "channel",
        "service",
        "due_at",
        "delay",
        "delay_source",
        "back_dated",
        "outcome",
        "days_left",
        "due_before",
        "due_after",
        "paused_since",
        "before",
        "after",
        "fields",
        "assignee",
        "reply",
        "in_time",
        "retention_months",
        "closed_at",
        "attachments_deleted",
        "replies_erased",
    }
)


# --- Access log ------------------------------------------------------------------------------


def record_access(request_obj: Request, *, user, action: str) -> PersonalDataAccess:
    """Log that `user` read, exported or opened an attachment of a request: one insert.

    The access log is itself the record of this read: no request event is written on top,
    so that opening a request stays one cheap insert.
    """
    if action not in Action.values:
        raise ValueError(f"unknown personal data action {action!r}")
    return PersonalDataAccess.objects.create(
        organisation_id=request_obj.organisation_id,
        request=request_obj,
        request_code=request_obj.code,
        citizen_email=request_obj.citizen_email,
        user=user if user is not None and user.pk else None,
        user_name=events.actor_display_name(user)[:200],
        action=action,
    )


def accesses(organisation, *, code: str = "", user=None) -> QuerySet[PersonalDataAccess]:
    rows = PersonalDataAccess.objects.filter(organisation=organisation)
    if code:
        rows = rows.filter(request_code=code)
    if user is not None:
        rows = rows.filter(user=user)
    return rows.order_by("-at", "-id")


# --- Retention -------------------------------------------------------------------------------


def months_before(moment: datetime, months: int, zone) -> datetime:
    """The same wall-clock time `months` calendar months earlier in `zone`.

    The day is kept, or the last day of a shorter month (31 March − 1 month = 28 or 29
    February): a request closed on 29 February 2024 is 12 months old on 1 March 2025.
    """
    local = moment.astimezone(zone)
    index = local.year * 12 + (local.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    day = min(local.day, stdlib_calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def retention_cutoffs(organisation, now: datetime) -> dict[str, datetime]:
    """Per kind, the closing moment before which a request's personal data has expired."""
    config = RequestSettings.of(organisation)
    return {
        kind: months_before(now, config.retention_months(kind), organisation.zone)
        for kind in RequestKind.values
    }


def _expired_condition(cutoffs: dict[str, datetime]) -> Q:
    condition = Q()
    for kind, cutoff in cutoffs.items():
        condition |= Q(kind=kind, closed_at__lt=cutoff)
    return condition


def _kept_requests(organisation) -> QuerySet[Request]:
    return Request.objects.filter(
        organisation=organisation,
        status=Status.CLOSED,
        closed_at__isnull=False,
        anonymised_at__isnull=True,
    )


def expired_requests(organisation, now: datetime) -> QuerySet[Request]:
    """Closed requests of `organisation` kept longer than the retention of their kind."""
    return _kept_requests(organisation).filter(
        _expired_condition(retention_cutoffs(organisation, now))
    )


@dataclass(frozen=True)
class RetentionRow:
    kind: str
    label: str
    months: int
    expired: int
    upcoming: int


def retention_overview(organisation, now: datetime) -> list[RetentionRow]:
    """Per kind: months kept, requests due for erasure now, and within UPCOMING_DAYS."""
    config = RequestSettings.of(organisation)
    now_cutoffs = retention_cutoffs(organisation, now)
    soon_cutoffs = retention_cutoffs(organisation, now + timedelta(days=UPCOMING_DAYS))
    counts = _kept_requests(organisation).aggregate(
        **{
            f"{kind}_now": Count("pk", filter=Q(kind=kind, closed_at__lt=now_cutoffs[kind]))
            for kind in RequestKind.values
        },
        **{
            f"{kind}_soon": Count("pk", filter=Q(kind=kind, closed_at__lt=soon_cutoffs[kind]))
            for kind in RequestKind.values
        },
    )
    return [
        RetentionRow(
            kind=kind,
            label=str(label),
            months=config.retention_months(kind),
            expired=counts[f"{kind}_now"],
            upcoming=counts[f"{kind}_soon"] - counts[f"{kind}_now"],
        )
        for kind, label in RequestKind.choices
    ]


def _scrubbed(details: dict) -> dict:
    kept = {key: value for key, value in details.items() if key in _KEPT_DETAILS}
    # "to" is a manager or the mediator for an escalation; elsewhere it could be an address.
    if details.get("to") in Escalation.values:
        kept["to"] = details["to"]
    return kept


@transaction.atomic
def anonymise(request: Request, *, actor, now: datetime | None = None) -> bool:
    """Erase the personal data of one closed request; False when there was nothing to do.

    Files are deleted last, inside the transaction: if it then fails, the rows stay and the
    next run erases them again (deleting a missing file is harmless), so no file is orphaned.
    """
    now = now or timezone.now()
    with translation.override(settings.LANGUAGE_CODE):
        erased_subject = _("Erased at the end of the retention period")
        erased_text = _(
            "The content of this request was erased at the end of its retention period."
        )
        erased_reply = _("The text of this reply was erased at the end of the retention period.")
    updated = Request.objects.filter(
        pk=request.pk, status=Status.CLOSED, anonymised_at__isnull=True
    ).update(
        citizen_name="",
        citizen_email="",
        citizen_phone="",
        citizen_address="",
        citizen_postcode="",
        subject=erased_subject,
        body=erased_text,
        anonymised_at=now,
    )
    if not updated:
        return False
    request.refresh_from_db()
    request.__dict__.pop("has_personal_data", None)
    replies = Reply.objects.filter(request=request).update(
        subject="", body=erased_reply, review_comment=""
    )
    attachments = list(request.attachments.all())
    request.attachments.all().delete()
    Delivery.objects.filter(request=request).update(reference="")
    PersonalDataAccess.objects.filter(request=request).update(citizen_email="")
    RequestEvent.objects.filter(request=request).update(subject_name=str(request)[:300])
    for event in RequestEvent.objects.filter(request=request).only("pk", "details"):
        kept = _scrubbed(event.details or {})
        if kept != event.details:
            RequestEvent.objects.filter(pk=event.pk).update(details=kept)
    log(
        request,
        actor=actor,
        verb="request.anonymised",
        kind=request.kind,
        closed_at=request.closed_at.isoformat(),
        retention_months=RequestSettings.of(request.organisation).retention_months(request.kind),
        attachments_deleted=len(attachments),
        replies_erased=replies,
    )
    for attachment in attachments:
        if attachment.file.name:
            attachment.file.storage.delete(attachment.file.name)
    return True


def anonymise_expired(
    now: datetime, organisation=None, *, limit: int | None = None, actor=None
) -> int:
    """Anonymise every request past its retention (in one organisation or all); how many."""
    if organisation is not None:
        organisations = [organisation]
    else:
        # Inactive organisations too: their citizens' data must not outlive its retention.
        holding = Request.objects.filter(status=Status.CLOSED, anonymised_at__isnull=True).values(
            "organisation"
        )
        organisations = Organisation.objects.filter(pk__in=holding).order_by("pk")
    done = 0
    for found in organisations:
        expired = (
            expired_requests(found, now).select_related("organisation").order_by("closed_at", "pk")
        )
        if limit is not None:
            expired = expired[: max(limit - done, 0)]
        for request in expired:
            if anonymise(request, actor=actor, now=now):
                done += 1
        if limit is not None and done >= limit:
            break
    return done


@tick_job("requests.retention")
def run_retention(now: datetime) -> str | None:
    done = anonymise_expired(now, limit=TICK_BATCH)
    return f"{done} request(s) anonymised" if done else None


# --- Citizen export --------------------------------------------------------------------------

# What each event means for the citizen; events absent here are internal (assignment,
# reminders to staff, validation) and left out of the export.
CITIZEN_EVENTS = {
    "request.received": gettext_lazy("Your request was received."),
    "request.acknowledged": gettext_lazy("An acknowledgement was sent to you."),
    "request.updated": gettext_lazy("Your details or your message were corrected."),
    "request.rerouted": gettext_lazy("Your request was passed to another service."),
    "request.attachments_added": gettext_lazy("Documents were added to your request."),
    "request.paused": gettext_lazy("Information was asked of you; the delay was suspended."),
    "request.resumed": gettext_lazy("The handling of your request resumed."),
    "request.escalated": gettext_lazy("Your request was passed to a manager or the mediator."),
    "request.escalation_closed": gettext_lazy("The manager or the mediator closed the matter."),
    "reply.sent": gettext_lazy("A reply was sent to you."),
    "request.closed": gettext_lazy("Your request was closed."),
    "request.reopened": gettext_lazy("Your request was reopened."),
    "delivery.recorded": gettext_lazy("The act you asked for was recorded."),
    "delivery.delivered": gettext_lazy("The act you asked for was delivered."),
}


def normalise_email(email: str) -> str:
    return (email or "").strip()


def citizen_requests(organisation, email: str, *, user=None) -> QuerySet[Request]:
    """The requests of `organisation` giving `email`, as far as `user` may see (None: all)."""
    email = normalise_email(email)
    if not email:
        return Request.objects.none()
    rows = Request.objects.filter(organisation=organisation)
    if user is not None:
        rows = scope(rows, user, organisation)
    return (
        rows.filter(citizen_email__iexact=email)
        .select_related("service", "site", "theme", "prestation", "delivery__prestation")
        .prefetch_related(
            Prefetch(
                "replies",
                queryset=Reply.objects.filter(status=ReplyStatus.SENT).order_by("sent_at", "pk"),
                to_attr="sent_replies",
            ),
            "attachments",
            Prefetch(
                "events",
                queryset=RequestEvent.objects.filter(verb__in=list(CITIZEN_EVENTS)).order_by(
                    "at", "pk"
                ),
                to_attr="citizen_events",
            ),
        )
        .order_by("received_at", "pk")
    )


def _delivery(request: Request) -> dict | None:
    try:
        delivery = request.delivery
    except Delivery.DoesNotExist:
        return None
    return {
        "prestation": delivery.prestation.name,
        "reference": delivery.reference,
        "requested_at": delivery.requested_at,
        "due_at": delivery.due_at,
        "delivered_at": delivery.delivered_at,
    }


def _request_record(request: Request) -> dict:
    return {
        "code": request.display_code,
        "kind": request.kind,
        "kind_label": request.get_kind_display(),
        "channel": request.get_channel_display(),
        "status": request.get_status_display(),
        "received_at": request.received_at,
        "due_at": request.due_at,
        "acknowledged_at": request.acknowledged_at,
        "replied_at": request.replied_at,
        "closed_at": request.closed_at,
        "outcome": request.get_outcome_display() if request.outcome else "",
        "service": request.service.name if request.service else "",
        "site": request.site.name if request.site else "",
        "theme": request.theme.name if request.theme else "",
        "prestation": request.prestation.name if request.prestation else "",
        "citizen": {
            "name": request.citizen_name,
            "email": request.citizen_email,
            "phone": request.citizen_phone,
            "address": request.citizen_address,
            "postcode": request.citizen_postcode,
            "preferred_reply_channel": request.get_preferred_reply_channel_display(),
        },
        "subject": request.subject,
        "body": request.body,
        "replies": [
            {
                "sent_at": reply.sent_at,
                "channel": reply.get_channel_display(),
                "subject": reply.subject,
                "body": reply.body,
            }
            for reply in request.sent_replies
        ],
        "attachments": [
            {
                "name": attachment.name,
                "size": attachment.size,
                "type": attachment.content_type,
                "added_at": attachment.uploaded_at,
            }
            for attachment in request.attachments.all()
        ],
        "history": [
            {"at": event.at, "what": str(CITIZEN_EVENTS[event.verb])}
            for event in request.citizen_events
        ],
        "delivery": _delivery(request),
    }


def citizen_data(organisation, email: str, *, user=None) -> dict:
    """Everything `organisation` holds about `email`, dates as datetimes (read only)."""
    requests = list(citizen_requests(organisation, email, user=user))
    return {
        "format": "qualicite-citizen-export",
        "version": 1,
        "organisation": {"name": organisation.name, "slug": organisation.slug},
        "email": normalise_email(email),
        "requests": [_request_record(request) for request in requests],
        "_requests": requests,
    }


def preview_citizen(organisation, email: str, *, actor) -> dict:
    """What the staff page shows before an export; each request shown is logged as read."""
    data = citizen_data(organisation, email, user=actor)
    for request in data["_requests"]:
        record_access(request, user=actor, action=Action.READ)
    return data


def _jsonable(value, zone):
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v, zone) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_jsonable(v, zone) for v in value]
    return value


def _record_export(data: dict, *, actor, file_format: str) -> None:
    for request in data["_requests"]:
        record_access(request, user=actor, action=Action.EXPORT)
        log(request, actor=actor, verb="request.exported", format=file_format)


@transaction.atomic
def export_citizen(organisation, email: str, *, actor) -> dict:
    """Everything held about one citizen, ready for json.dumps; each request's export logged."""
    data = citizen_data(organisation, email, user=actor)
    _record_export(data, actor=actor, file_format="json")
    exported = _jsonable(data, organisation.zone)
    exported["exported_at"] = timezone.now().astimezone(organisation.zone).isoformat()
    exported["exported_by"] = events.actor_display_name(actor)
    return exported


@transaction.atomic
def export_citizen_pdf(organisation, email: str, *, actor) -> bytes:
    """The same as `export_citizen`, as a PDF document for the citizen (WeasyPrint)."""
    import weasyprint

    data = citizen_data(organisation, email, user=actor)
    _record_export(data, actor=actor, file_format="pdf")
    with timezone.override(organisation.zone):
        html = render_to_string(
            "requests/privacy/export.pdf.html",
            {
                "organisation": organisation,
                "data": data,
                "exported_at": timezone.now(),
                "exported_by": events.actor_display_name(actor),
            },
        )
    return weasyprint.HTML(string=html).write_pdf()
