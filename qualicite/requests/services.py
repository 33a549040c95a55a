"""Every write to requests goes through here: atomic, with the actor, logged as an event."""

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.core.choices import Channel, RequestKind
from qualicite.requests import attachments as attachment_rules
from qualicite.requests import deadlines, queries
from qualicite.requests.models import (
    Attachment,
    Delivery,
    Escalation,
    Outcome,
    Reply,
    ReplyStatus,
    Request,
    RequestEvent,
    RequestSettings,
    Status,
    new_code,
)
from qualicite.requests.signals import request_updated

CITIZEN_FIELDS = (
    "citizen_name",
    "citizen_email",
    "citizen_phone",
    "citizen_address",
    "citizen_postcode",
)

# Words that show a citizen wants to go further than the agent (QualiPARIS commitments 10, 11).
_ESCALATION_WORDS = re.compile(
    r"\b(m[ée]diat(eur|rice|ion)|rencontrer\s+(un|le|la|votre)\s+responsable|"
    r"parler\s+(à|a)\s+(un|le|la)\s+responsable|mediator|meet\s+a\s+manager)\b",
    re.IGNORECASE,
)


class ConcurrentEdit(Exception):
    """Someone else saved the request since this form was shown."""


def log(request: Request, *, actor, verb: str, **details) -> RequestEvent:
    return events.record(
        RequestEvent,
        organisation=request.organisation,
        actor=actor,
        verb=verb,
        subject=request,
        details=details,
        request=request,
    )


def mentions_escalation(*texts: str) -> bool:
    return any(_ESCALATION_WORDS.search(text or "") for text in texts)


def _check_contact(fields: dict, is_anonymous: bool) -> None:
    if is_anonymous:
        return
    if not any(fields.get(name) for name in ("citizen_email", "citizen_phone", "citizen_address")):
        raise ValidationError(
            {
                "citizen_email": _(
                    "Give at least one way to answer (e-mail, phone or postal address), "
                    "or mark the request as anonymous."
                )
            }
        )


def _schedule(request: Request) -> None:
    """Set the delay, the due date and the acknowledgement due date from the référentiel."""
    organisation = request.organisation
    site = deadlines.site_for(organisation, site=request.site, service=request.service)
    delay = deadlines.answer_delay(
        organisation,
        kind=request.kind,
        channel=request.channel,
        service=request.service,
        prestation=request.prestation,
    )
    request.delay_days, request.day_kind, request.delay_source = (
        delay.days,
        delay.day_kind,
        delay.source[:300],
    )
    request.due_at = deadlines.due_moment(organisation, request.received_at, delay, site=site)
    if request.is_anonymous:
        request.acknowledgement_due_at = None
    else:
        ack = deadlines.acknowledgement_delay(
            organisation, kind=request.kind, channel=request.channel, service=request.service
        )
        request.acknowledgement_due_at = deadlines.due_moment(
            organisation, request.received_at, ack, site=site
        )


def _store_attachments(request: Request, uploads, *, reply=None) -> list[Attachment]:
    existing = sum(a.size for a in request.attachments.all()) if request.pk else 0
    checked = attachment_rules.check(list(uploads))
    if existing + sum(u.size for u, _m in checked) > attachment_rules.MAX_TOTAL_BYTES:
        attachment_rules.check([*uploads, attachment_rules.Upload("", b"\0" * existing)])
    stored = []
    for upload, mime in checked:
        attachment = Attachment(
            organisation=request.organisation,
            request=request,
            reply=reply,
            name=upload.name[:255] or "piece-jointe",
            content_type=mime,
            size=upload.size,
        )
        attachment.file.save(upload.name or "piece-jointe", ContentFile(upload.content), save=False)
        attachment.save()
        stored.append(attachment)
    return stored


@transaction.atomic
def create_request(
    organisation,
    *,
    actor,
    kind: str,
    channel: str,
    subject: str,
    body: str = "",
    service=None,
    site=None,
    theme=None,
    prestation=None,
    received_at: datetime | None = None,
    is_anonymous: bool = False,
    preferred_reply_channel: str = "",
    uploads=(),
    message_id: str = "",
    idempotency_key: str = "",
    **citizen,
) -> Request:
    """Record a request from any channel; it gets a code, a due date and its acknowledgement.

    With an `idempotency_key` (public form, API) or a `message_id` (mailbox) already used in
    the organisation, the request recorded the first time is returned and nothing is added.
    """
    unknown = set(citizen) - set(CITIZEN_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields: {', '.join(sorted(unknown))}")
    for key, value in (("idempotency_key", idempotency_key), ("message_id", message_id)):
        if value:
            found = queries.recorded_with(organisation, key, value).first()
            if found is not None:
                return found
    if kind not in RequestKind.values:
        raise ValidationError({"kind": _("Unknown kind of request.")})
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel.")})
    for related, name in ((service, "service"), (site, "site"), (theme, "theme")):
        if related is not None and related.organisation_id != organisation.pk:
            raise ValidationError({name: _("This choice belongs to another organisation.")})
    citizen = {key: (value or "").strip() for key, value in citizen.items()}
    _check_contact(citizen, is_anonymous)
    now = timezone.now()
    received_at = received_at or now
    if received_at > now:
        raise ValidationError({"received_at": _("A request cannot be received in the future.")})
    request = Request(
        organisation=organisation,
        kind=kind,
        channel=channel,
        subject=subject.strip()[:300] or _("(no subject)"),
        body=body,
        service=service,
        site=site,
        theme=theme,
        prestation=prestation if kind == RequestKind.SERVICE else None,
        received_at=received_at,
        entered_at=now,
        entered_by=actor if actor is not None and actor.pk else None,
        is_anonymous=is_anonymous,
        preferred_reply_channel=preferred_reply_channel,
        message_id=message_id[:998],
        idempotency_key=idempotency_key[:64],
        wants_escalation=mentions_escalation(subject, body),
        **citizen,
    )
    _schedule(request)
    if channel in (Channel.PHONE, Channel.DESK) and not is_anonymous:
        # The agent gives the code and the due date to the citizen there and then.
        request.acknowledged_at, request.acknowledgement_channel = now, channel
    request.full_clean(exclude=["code", "due_at"])
    for _attempt in range(10):
        request.code = new_code()
        try:
            with transaction.atomic():
                request.save()
            break
        except IntegrityError:
            if not Request.objects.filter(organisation=organisation, code=request.code).exists():
                raise
    else:
        raise RuntimeError("could not draw a free tracking code")
    _store_attachments(request, uploads)
    log(
        request,
        actor=actor,
        verb="request.received",
        kind=kind,
        channel=channel,
        service=str(service or ""),
        due_at=request.due_at.isoformat(),
        delay=f"{request.delay_days} {request.day_kind}",
        delay_source=request.delay_source,
        back_dated=received_at < now - timedelta(minutes=5),
    )
    if request.citizen_email and request.acknowledged_at is None:
        from qualicite.requests import notifications

        transaction.on_commit(lambda: notifications.send_acknowledgement(request.pk))
    return request


def _saved(request: Request, *, version: int | None, fields: list[str]) -> None:
    """Save `fields` unless someone saved the request since `version` was read."""
    expected = request.version if version is None else version
    fields = [*fields, *request.stamp_days()]
    values = {name: getattr(request, name) for name in fields}
    updated = Request.objects.filter(pk=request.pk, version=expected).update(
        version=F("version") + 1, **values
    )
    if not updated:
        raise ConcurrentEdit
    request.version = expected + 1
    request_updated.send(sender=Request, instance=request, fields=fields)


@transaction.atomic
def acknowledge(request: Request, *, actor, channel: str, at: datetime | None = None) -> Request:
    """Record that the acknowledgement went out (e-mail sent, letter posted)."""
    if request.acknowledged_at is not None:
        return request
    request.acknowledged_at, request.acknowledgement_channel = at or timezone.now(), channel
    _saved(request, version=None, fields=["acknowledged_at", "acknowledgement_channel"])
    log(request, actor=actor, verb="request.acknowledged", channel=channel)
    return request


@transaction.atomic
def reroute(
    request: Request,
    *,
    actor,
    reason: str,
    version: int | None = None,
    **changes,
) -> Request:
    """Change the service, kind, site, theme or prestation; a new delay when it changes."""
    allowed = {"service", "kind", "site", "theme", "prestation"}
    if set(changes) - allowed:
        raise TypeError(f"cannot reroute {sorted(set(changes) - allowed)}")
    changed = {k: v for k, v in changes.items() if getattr(request, k) != v}
    if not changed:
        return request
    if not reason.strip() and ({"service", "kind"} & set(changed)):
        raise ValidationError({"reason": _("Say why the request changes service or kind.")})
    before = {k: str(getattr(request, k) or "") for k in changed}
    for key, value in changed.items():
        if hasattr(value, "organisation_id") and value.organisation_id != request.organisation_id:
            raise ValidationError({key: _("This choice belongs to another organisation.")})
        setattr(request, key, value)
    if request.kind != RequestKind.SERVICE:
        request.prestation = None
    old_due = request.due_at
    _schedule(request)
    if request.is_paused:
        # The new delay, less the days that had run before the clock was paused.
        site = deadlines.site_for(request.organisation, site=request.site, service=request.service)
        request.remaining_days = deadlines.days_left(
            request.organisation,
            request.paused_at,
            request.due_at,
            day_kind=request.day_kind,
            site=site,
        )
    fields = [*changed, "prestation", "delay_days", "day_kind", "delay_source", "due_at"]
    fields += ["acknowledgement_due_at", "remaining_days"]
    if "service" in changed and request.assigned_to_id is not None:
        request.assigned_to = None
        fields.append("assigned_to")
    _saved(request, version=version, fields=list(dict.fromkeys(fields)))
    log(
        request,
        actor=actor,
        verb="request.rerouted",
        reason=reason,
        before=before,
        after={k: str(getattr(request, k) or "") for k in changed},
        due_before=old_due.isoformat(),
        due_after=request.due_at.isoformat(),
    )
    return request


@transaction.atomic
def update_details(request: Request, *, actor, version: int, **fields) -> Request:
    """Correct the subject, message or citizen details (not the routing: see reroute)."""
    allowed = {"subject", "body", "preferred_reply_channel", "is_anonymous", *CITIZEN_FIELDS}
    if set(fields) - allowed:
        raise TypeError(f"cannot update {sorted(set(fields) - allowed)}")
    changed = {k: v for k, v in fields.items() if getattr(request, k) != v}
    for key, value in changed.items():
        setattr(request, key, value)
    _check_contact({k: getattr(request, k) for k in CITIZEN_FIELDS}, request.is_anonymous)
    _saved(request, version=version, fields=list(changed))
    if changed:
        log(request, actor=actor, verb="request.updated", fields=sorted(changed))
    return request


@transaction.atomic
def assign(request: Request, *, actor, assignee, version: int | None = None) -> Request:
    if request.assigned_to_id == (assignee.pk if assignee else None):
        return request
    request.assigned_to = assignee
    fields = ["assigned_to"]
    if request.status == Status.NEW:
        request.status = Status.IN_PROGRESS
        fields.append("status")
    _saved(request, version=version, fields=fields)
    log(
        request,
        actor=actor,
        verb="request.assigned",
        assignee=events.actor_display_name(assignee) if assignee else "",
    )
    return request


@transaction.atomic
def pause_clock(request: Request, *, actor, reason: str, now: datetime | None = None) -> Request:
    """Stop the clock while waiting for the citizen; the remaining days are kept."""
    if request.is_paused or not request.is_open:
        return request
    now = now or timezone.now()
    site = deadlines.site_for(request.organisation, site=request.site, service=request.service)
    request.remaining_days = deadlines.days_left(
        request.organisation, now, request.due_at, day_kind=request.day_kind, site=site
    )
    request.paused_at, request.status = now, Status.WAITING
    _saved(request, version=None, fields=["remaining_days", "paused_at", "status"])
    log(
        request, actor=actor, verb="request.paused", reason=reason, days_left=request.remaining_days
    )
    return request


@transaction.atomic
def resume_clock(request: Request, *, actor, now: datetime | None = None) -> Request:
    """Start the clock again with the days that were left when it was paused."""
    if not request.is_paused:
        return request
    now = now or timezone.now()
    site = deadlines.site_for(request.organisation, site=request.site, service=request.service)
    delay = deadlines.Delay(request.remaining_days or 0, request.day_kind, request.delay_source)
    request.due_at = deadlines.due_moment(request.organisation, now, delay, site=site)
    paused_since = request.paused_at
    request.paused_at, request.remaining_days = None, None
    request.status = Status.IN_PROGRESS
    _saved(request, version=None, fields=["due_at", "paused_at", "remaining_days", "status"])
    log(
        request,
        actor=actor,
        verb="request.resumed",
        paused_since=paused_since.isoformat(),
        due_at=request.due_at.isoformat(),
    )
    return request


@transaction.atomic
def close(request: Request, *, actor, outcome: str = "", version: int | None = None) -> Request:
    """Close a request; complaints record whether they were founded."""
    if not request.is_open:
        return request
    if request.kind == RequestKind.COMPLAINT and outcome not in Outcome.values:
        raise ValidationError({"outcome": _("Say whether the complaint was founded.")})
    if request.replied_at is None and request.kind != RequestKind.THANKS:
        raise ValidationError(
            _("Send or log a reply before closing: every request gets an answer.")
        )
    request.status, request.closed_at = Status.CLOSED, timezone.now()
    request.outcome = outcome if request.kind == RequestKind.COMPLAINT else ""
    if request.is_paused:
        request.paused_at, request.remaining_days = None, None
    _saved(
        request,
        version=version,
        fields=["status", "closed_at", "outcome", "paused_at", "remaining_days"],
    )
    log(request, actor=actor, verb="request.closed", outcome=request.outcome)
    return request


@transaction.atomic
def reopen(request: Request, *, actor, reason: str) -> Request:
    if request.is_open:
        return request
    request.status, request.closed_at, request.outcome = Status.IN_PROGRESS, None, ""
    _saved(request, version=None, fields=["status", "closed_at", "outcome"])
    log(request, actor=actor, verb="request.reopened", reason=reason)
    return request


@transaction.atomic
def escalate(
    request: Request, *, actor, to: str, reason: str = "", now: datetime | None = None
) -> Request:
    """Hand the request to a manager or the mediator, with its own answer delay."""
    if to not in Escalation.values:
        raise ValidationError({"to": _("Choose a manager or the mediator.")})
    now = now or timezone.now()
    site = deadlines.site_for(request.organisation, site=request.site, service=request.service)
    delay = deadlines.answer_delay(
        request.organisation, kind=request.kind, channel=request.channel, service=request.service
    )
    request.escalation, request.escalation_at = to, now
    request.escalation_due_at = deadlines.due_moment(request.organisation, now, delay, site=site)
    request.escalation_closed_at = None
    _saved(
        request,
        version=None,
        fields=["escalation", "escalation_at", "escalation_due_at", "escalation_closed_at"],
    )
    log(
        request,
        actor=actor,
        verb="request.escalated",
        to=to,
        reason=reason,
        due_at=request.escalation_due_at.isoformat(),
    )
    return request


@transaction.atomic
def close_escalation(request: Request, *, actor, note: str = "") -> Request:
    if not request.escalation or request.escalation_closed_at is not None:
        return request
    request.escalation_closed_at = timezone.now()
    _saved(request, version=None, fields=["escalation_closed_at"])
    log(request, actor=actor, verb="request.escalation_closed", note=note)
    return request


@transaction.atomic
def add_attachments(request: Request, *, actor, uploads) -> list[Attachment]:
    stored = _store_attachments(request, uploads)
    if stored:
        log(request, actor=actor, verb="request.attachments_added", names=[a.name for a in stored])
    return stored


@transaction.atomic
def record_delivery(
    prestation,
    *,
    actor,
    requested_at: datetime,
    delivered_at: datetime | None = None,
    reference: str = "",
    request: Request | None = None,
) -> Delivery:
    """An act requested (and perhaps delivered): its due date from the announced delay."""
    organisation = prestation.organisation
    if request is not None and request.organisation_id != organisation.pk:
        raise ValidationError({"request": _("This request belongs to another organisation.")})
    if delivered_at is not None and delivered_at < requested_at:
        raise ValidationError({"delivered_at": _("A delivery cannot precede its request.")})
    delay = deadlines.Delay(prestation.announced_delay_days, prestation.day_kind, prestation.name)
    site = deadlines.site_for(organisation, site=None, service=prestation.service)
    delivery = Delivery.objects.create(
        organisation=organisation,
        prestation=prestation,
        request=request,
        reference=reference,
        requested_at=requested_at,
        due_at=deadlines.due_moment(organisation, requested_at, delay, site=site),
        delivered_at=delivered_at,
        recorded_by=actor if actor is not None and actor.pk else None,
    )
    log_delivery(delivery, actor=actor, verb="delivery.recorded", reference=reference)
    return delivery


def log_delivery(delivery: Delivery, *, actor, verb: str, **details) -> RequestEvent:
    """A delivery's event: in its request's history when it has one, always in the log."""
    return events.record(
        RequestEvent,
        organisation=delivery.organisation,
        actor=actor,
        verb=verb,
        subject=delivery,
        details={"prestation": delivery.prestation.name, **details},
        request=delivery.request,
    )


@transaction.atomic
def mark_delivered(delivery: Delivery, *, actor, delivered_at: datetime) -> Delivery:
    if delivered_at < delivery.requested_at:
        raise ValidationError({"delivered_at": _("A delivery cannot precede its request.")})
    delivery.delivered_at = delivered_at
    delivery.save(update_fields=["delivered_at"])
    log_delivery(delivery, actor=actor, verb="delivery.delivered")
    return delivery


def settings_of(organisation) -> RequestSettings:
    return RequestSettings.of(organisation)


# Replies ----------------------------------------------------------------------------------

_VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")


def template_variables(request: Request) -> dict[str, str]:
    """What a reply template may use; plain substitution, never the template language."""
    from django.utils import formats

    local = timezone.localtime
    return {
        "citizen_name": request.citizen_name,
        "code": request.display_code,
        "subject": request.subject,
        "service": request.service.name if request.service else "",
        "organisation": request.organisation.name,
        "received_date": formats.date_format(local(request.received_at), "j F Y"),
        "due_date": formats.date_format(local(request.due_at), "j F Y"),
        "today": formats.date_format(local(timezone.now()), "j F Y"),
    }


def fill_template(text: str, request: Request) -> str:
    values = template_variables(request)
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def needs_validation(request: Request, actor) -> bool:
    from qualicite.core.permissions import Perm, has_perm

    return (
        request.kind == RequestKind.COMPLAINT
        and RequestSettings.of(request.organisation).complaint_replies_need_validation
        and not has_perm(actor, request.organisation, Perm.VALIDATE_REPLIES)
    )


@transaction.atomic
def submit_reply(
    request: Request,
    *,
    actor,
    channel: str,
    body: str,
    subject: str = "",
    template=None,
    uploads=(),
) -> Reply:
    """Answer the citizen on any channel; a complaint reply may first go to the service head."""
    if not request.is_open:
        raise ValidationError(_("This request is closed: reopen it to answer again."))
    if channel not in Channel.values or channel in (Channel.WEB, Channel.API, Channel.SOCIAL):
        raise ValidationError({"channel": _("Answer by e-mail, letter, phone or at the desk.")})
    if channel == Channel.EMAIL and not request.citizen_email:
        raise ValidationError({"channel": _("This citizen gave no e-mail address.")})
    if channel == Channel.LETTER and not request.citizen_address:
        raise ValidationError({"channel": _("This citizen gave no postal address.")})
    if not body.strip():
        raise ValidationError({"body": _("Write the answer (or what was said).")})
    reply = Reply.objects.create(
        organisation=request.organisation,
        request=request,
        channel=channel,
        subject=subject.strip()[:300]
        or _("Your request %(code)s") % {"code": request.display_code},
        body=body,
        template=template,
        author=actor,
    )
    _store_attachments(request, uploads, reply=reply)
    if needs_validation(request, actor):
        reply.status = ReplyStatus.AWAITING_VALIDATION
        reply.save(update_fields=["status"])
        request.status = Status.VALIDATION
        _saved(request, version=None, fields=["status"])
        log(request, actor=actor, verb="reply.submitted", channel=channel, reply=reply.pk)
        return reply
    return _send(reply, actor=actor)


def _send(reply: Reply, *, actor) -> Reply:
    request = reply.request
    now = timezone.now()
    if reply.channel == Channel.EMAIL:
        from qualicite.requests import notifications

        reply.email_message_id = notifications.send_reply(reply)
    reply.status, reply.sent_at = ReplyStatus.SENT, now
    reply.save(update_fields=["status", "sent_at", "email_message_id"])
    fields = ["status"]
    request.status = Status.IN_PROGRESS
    if request.replied_at is None:
        request.replied_at = now
        request.answer_days = deadlines.answer_days(request)
        fields += ["replied_at", "answer_days"]
    if request.is_paused:
        request.paused_at, request.remaining_days = None, None
        fields += ["paused_at", "remaining_days"]
    _saved(request, version=None, fields=fields)
    log(
        request,
        actor=actor,
        verb="reply.sent",
        channel=reply.channel,
        reply=reply.pk,
        in_time=request.replied_at <= request.due_at,
    )
    return reply


@transaction.atomic
def review_reply(reply: Reply, *, actor, approve: bool, comment: str = "") -> Reply:
    """The service head validates a complaint reply (it goes out) or sends it back."""
    from qualicite.core.permissions import Perm, has_perm

    if reply.status != ReplyStatus.AWAITING_VALIDATION:
        raise ValidationError(_("This reply is not waiting for validation."))
    if not has_perm(actor, reply.organisation, Perm.VALIDATE_REPLIES):
        raise ValidationError(_("Only a service head or the quality manager validates replies."))
    if not approve and not comment.strip():
        raise ValidationError({"comment": _("Say what should change.")})
    reply.review_comment = comment
    reply.validated_by, reply.validated_at = actor, timezone.now()
    if approve:
        reply.save(update_fields=["review_comment", "validated_by", "validated_at"])
        log(reply.request, actor=actor, verb="reply.validated", reply=reply.pk)
        return _send(reply, actor=actor)
    reply.status = ReplyStatus.REJECTED
    reply.save(update_fields=["status", "review_comment", "validated_by", "validated_at"])
    request = reply.request
    request.status = Status.IN_PROGRESS
    _saved(request, version=None, fields=["status"])
    log(request, actor=actor, verb="reply.rejected", reply=reply.pk, comment=comment)
    return reply
