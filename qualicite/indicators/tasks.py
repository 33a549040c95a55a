"""Periodic work of the indicators, run by `qualicite tick`."""

from django.utils import timezone

from qualicite.charter.models import Indicator, SourceKind
from qualicite.core.models import Organisation
from qualicite.core.tick import tick_job
from qualicite.indicators import alerts, notifications, rollups, services
from qualicite.indicators.models import ManualReminder, PendingRollup, RollupState


@tick_job("indicators.rollups")
def refresh_rollups(now) -> str | None:
    """Roll up again the days whose records changed; everything for a never rolled-up one."""
    pending = set(PendingRollup.objects.values_list("organisation_id", flat=True).distinct())
    computed = set(
        Indicator.objects.filter(source_kind=SourceKind.COMPUTED)
        .values_list("organisation_id", flat=True)
        .distinct()
    )
    rebuilt = set(
        RollupState.objects.filter(rebuilt_at__isnull=False).values_list(
            "organisation_id", flat=True
        )
    )
    wanted = pending | (computed - rebuilt)
    done = []
    for organisation in Organisation.objects.filter(pk__in=wanted, is_active=True).order_by("pk"):
        result = rollups.refresh(organisation)
        done.append(f"{organisation.slug}: {result.rows} rows")
    return "; ".join(done) or None


@tick_job("indicators.alerts")
def raise_alerts(now) -> str | None:
    """Judge each organisation's last closed periods; send the alert e-mails not yet sent."""
    raised = 0
    for organisation in Organisation.objects.filter(is_active=True).order_by("pk"):
        today = timezone.localtime(now, organisation.zone).date()
        raised += len(alerts.raise_alerts(organisation, today=today))
    # New alerts were e-mailed as they were raised; these are the ones a mail server refused.
    retried = notifications.send_pending_alerts(now=now)
    parts = []
    if raised:
        parts.append(f"{raised} alert(s) raised")
    if retried:
        parts.append(f"{retried} alert e-mail(s) sent again")
    return "; ".join(parts) or None


@tick_job("indicators.manual_reminders")
def send_manual_reminders(now) -> str | None:
    """Remind those responsible of a value due by hand, once per indicator, service and period.

    A value is due from the last day of its period; a period whose entry closed without a
    value gets its reminder too (then saying that only a quality manager can still enter it).
    """
    sent = 0
    for organisation in Organisation.objects.filter(is_active=True).order_by("pk"):
        indicators = services.manual_indicators(organisation)
        if not indicators:
            continue
        today = timezone.localtime(now, organisation.zone).date()
        due = {
            i.pk: [
                p
                for p in services.periods_to_watch(i.period, today)
                if services.due_state(p, today) != services.Due.IN_PROGRESS
            ]
            for i in indicators
        }
        starts = {p.start for found in due.values() for p in found}
        done = services.entered_keys(organisation, indicators, starts) | set(
            ManualReminder.objects.filter(
                indicator__in=indicators, period_start__in=starts
            ).values_list("indicator_id", "service_id", "period_start")
        )
        for indicator in indicators:
            for slot in services.entry_slots(indicator):
                for period in due[indicator.pk]:
                    key = (indicator.pk, slot.pk if slot else None, period.start)
                    if key in done:
                        continue
                    to = notifications.send_value_reminder(indicator, slot, period, today=today)
                    if not to:
                        continue  # nobody to tell, or the mail server refused: next tick
                    _reminder, created = ManualReminder.objects.get_or_create(
                        organisation=organisation,
                        indicator=indicator,
                        service=slot,
                        period_start=period.start,
                        defaults={"sent_at": now},
                    )
                    done.add(key)
                    if created:
                        sent += 1
                        services.log(
                            organisation,
                            actor=None,
                            verb="manual_value.reminded",
                            subject=indicator,
                            indicator=indicator.code,
                            service=slot.code if slot else None,
                            period_start=period.start.isoformat(),
                            recipients=to,
                        )
    return f"{sent} reminder(s) of values to enter sent" if sent else None
