"""E-mails of the indicators: an alert to those responsible, a reminder of a value due by hand.

Messages are written in the platform's language (French by default), with absolute links
built on QUALICITE_BASE_URL. A mail server that refuses a message leaves the alert unsent
(`notified_at` empty) and the reminder unrecorded: the next tick tries again.
"""

from __future__ import annotations

import logging
from datetime import date

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from qualicite.charter.models import Indicator
from qualicite.core.models import Service
from qualicite.indicators import alerts, services
from qualicite.indicators.models import Alert
from qualicite.indicators.periods import Period
from qualicite.requests.notifications import absolute, sender

logger = logging.getLogger("qualicite.indicators")


def _render(template: str, context: dict) -> tuple[str, str]:
    subject = render_to_string(f"indicators/email/{template}_subject.txt", context)
    body = render_to_string(f"indicators/email/{template}.txt", context)
    return " ".join(subject.split()), body


def drilldown_path(alert: Alert) -> str | None:
    """The dashboard cell behind the alert's figure (None while the dashboard is not there)."""
    try:
        path = reverse(
            "indicators:drilldown",
            kwargs={"org_slug": alert.organisation.slug, "pk": alert.indicator_id},
        )
    except NoReverseMatch:
        return None
    query = f"period={alert.period}&date={alert.period_start.isoformat()}"
    if alert.service_id is not None:
        query = f"service={alert.service.code}&{query}"
    return f"{path}?{query}"


def alerts_path(organisation) -> str:
    return reverse("indicator_alerts:index", kwargs={"org_slug": organisation.slug})


def _period_of(alert: Alert) -> Period:
    return Period(alert.period_start, alert.period_end, alert.period)


def send_alert(alert: Alert, *, now=None) -> bool:
    """E-mail one alert to those responsible; True once sent and recorded."""
    if alert.notified_at is not None or alert.closed_at is not None:
        return False
    to = alerts.recipients(alert.indicator, alert.service)
    if not to:
        logger.warning("alert %s has nobody to tell", alert.pk)
        return False
    drilldown = drilldown_path(alert)
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "alert",
            {
                "alert": alert,
                "indicator": alert.indicator,
                "organisation": alert.organisation,
                "period": _period_of(alert),
                "value": alert.indicator.format_value(alert.value),
                "target": alert.indicator.target_text(alert.target),
                "drilldown_url": absolute(drilldown) if drilldown else None,
                "alerts_url": absolute(alerts_path(alert.organisation)),
            },
        )
    try:
        EmailMessage(subject, body, sender(alert.organisation), to).send()
    except OSError:  # smtplib errors are OSErrors: the server is down or refused us
        logger.warning("alert %s not sent", alert.pk, exc_info=True)
        return False
    updated = Alert.objects.filter(pk=alert.pk, notified_at__isnull=True).update(
        notified_at=now or timezone.now(), recipients=to
    )
    if updated:
        alert.refresh_from_db(fields=["notified_at", "recipients"])
        services.log(
            alert.organisation, actor=None, verb="alert.notified", subject=alert, recipients=to
        )
    return bool(updated)


def send_pending_alerts(*, now=None, organisation=None) -> int:
    """Send the open alerts whose e-mail has not gone yet (mail server down last time)."""
    pending = Alert.objects.filter(
        notified_at__isnull=True, closed_at__isnull=True, organisation__is_active=True
    ).select_related("organisation", "indicator", "indicator__commitment", "service")
    if organisation is not None:
        pending = pending.filter(organisation=organisation)
    return sum(send_alert(alert, now=now) for alert in pending.order_by("pk")[:200])


def enter_path(indicator: Indicator, service: Service | None, period: Period) -> str:
    path = reverse(
        "indicator_values:enter",
        kwargs={"org_slug": indicator.organisation.slug, "pk": indicator.pk},
    )
    query = f"period_start={period.start.isoformat()}"
    if service is not None:
        query = f"service={service.code}&{query}"
    return f"{path}?{query}"


def send_value_reminder(
    indicator: Indicator, service: Service | None, period: Period, *, today: date
) -> list[str]:
    """Tell those responsible that a value is due (or overdue); the addresses it went to."""
    to = alerts.recipients(indicator, service)
    if not to:
        return []
    closed = services.is_entry_closed(period, today)
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = _render(
            "reminder",
            {
                "indicator": indicator,
                "service": service,
                "organisation": indicator.organisation,
                "period": period,
                "closed": closed,
                "closes_on": services.entry_closes_on(period),
                "url": absolute(enter_path(indicator, service, period)),
            },
        )
    try:
        EmailMessage(subject, body, sender(indicator.organisation), to).send()
    except OSError:
        logger.warning("reminder for %s %s not sent", indicator.code, period.start, exc_info=True)
        return []
    return to
