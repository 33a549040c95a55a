"""E-mails about requests: acknowledgements to citizens, reminders and escalations to staff.

Sending happens after the transaction commits; a failure is logged and `tick` tries again,
so an unreachable mail server delays a message but never loses a request.
"""

import logging
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from qualicite.core.models import Membership, Role
from qualicite.requests.models import Request

logger = logging.getLogger("qualicite.requests")


def sender(organisation) -> str:
    """The organisation's name in front of the platform's address."""
    return formataddr((organisation.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


def absolute(path: str) -> str:
    return settings.QUALICITE_BASE_URL.rstrip("/") + path


def _render(template: str, context: dict) -> tuple[str, str]:
    subject = render_to_string(f"requests/email/{template}_subject.txt", context)
    body = render_to_string(f"requests/email/{template}.txt", context)
    return " ".join(subject.split()), body


def tracking_url(request: Request) -> str:
    return absolute(
        reverse("requests_public:track", kwargs={"org_slug": request.organisation.slug})
    )


def send_acknowledgement(request_id: int) -> bool:
    """E-mail the code, service and due date; record when it went. False when not sent."""
    from qualicite.requests import services

    request = Request.objects.select_related("organisation", "service").get(pk=request_id)
    if request.acknowledged_at is not None or not request.citizen_email:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "acknowledgement", {"request": request, "tracking_url": tracking_url(request)}
        )
    message = EmailMessage(subject, body, sender(request.organisation), [request.citizen_email])
    try:
        message.send()
    except OSError:  # smtplib errors are OSErrors: the server is down or refused us
        logger.warning("acknowledgement of request %s not sent", request.pk, exc_info=True)
        return False
    services.acknowledge(request, actor=None, channel="email")
    return True


def _staff_message(template: str, request: Request, recipients: list[str]) -> bool:
    if not recipients:
        return False
    path = reverse(
        "requests:detail", kwargs={"org_slug": request.organisation.slug, "pk": request.pk}
    )
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(template, {"request": request, "url": absolute(path)})
    try:
        EmailMessage(subject, body, sender(request.organisation), recipients).send()
    except OSError:
        logger.warning("%s for request %s not sent", template, request.pk, exc_info=True)
        return False
    return True


def service_heads(request: Request) -> list[str]:
    """E-mails of the heads of the request's service (or of a parent), else quality managers."""
    memberships = (
        Membership.objects.filter(
            organisation=request.organisation, is_active=True, user__is_active=True
        )
        .select_related("user")
        .prefetch_related("services")
    )
    chain, service = set(), request.service
    while service is not None:
        chain.add(service.pk)
        service = service.parent
    heads = [
        m.user.email
        for m in memberships
        if m.role == Role.SERVICE_HEAD
        and m.user.email
        and (not m.services.all() or chain & {s.pk for s in m.services.all()})
    ]
    if heads:
        return sorted(set(heads))
    return sorted(
        {m.user.email for m in memberships if m.role == Role.QUALITY_MANAGER and m.user.email}
    )


def send_reminder(request: Request) -> bool:
    recipients = (
        [request.assigned_to.email] if request.assigned_to and request.assigned_to.email else []
    )
    return _staff_message("reminder", request, recipients or service_heads(request))


def send_overdue_escalation(request: Request) -> bool:
    return _staff_message("overdue", request, service_heads(request))


def send_reply(reply) -> str:
    """E-mail a reply with its attachments; the Message-ID sent. Errors reach the agent."""
    from django.core.mail import make_msgid

    request = reply.request
    message_id = make_msgid(domain=parseaddr(settings.DEFAULT_FROM_EMAIL)[1].split("@")[-1])
    message = EmailMessage(
        reply.subject,
        reply.body,
        sender(request.organisation),
        [request.citizen_email],
        headers={"Message-ID": message_id},
    )
    for attachment in reply.attachments.all():
        with attachment.file.open("rb") as handle:
            message.attach(attachment.name, handle.read(), attachment.content_type)
    message.send()
    return message_id
