"""Which results raise alerts, who is responsible for them, who sees and closes them.

An alert is raised when an indicator with a target misses it (or falls into its warning band)
for its last closed period, for the organisation's figure or for one service. Only that last
period is judged: installing Qualicité on a site with years of history raises at most one
alert per indicator and service, not one per past month. A computed indicator's last closed
period is the one that ended before today, or before its source's settling days (a share of
requests answered, per day of receipt, still rises as late answers come in); an indicator
entered by hand is judged once entry for the period has closed (services.GRACE_DAYS after its
end), so that an alert never rests on the first of several values still expected.

Who is responsible (receives the e-mail, may close the alert):
- the indicator's responsible person (`Indicator.owner`) when set and still a member;
- else, for a service's figure, the heads of that service or of a parent service (a head
  whose membership is not restricted heads every service, as for request escalations);
- else, and always for the organisation's consolidated figure, the quality managers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q

from qualicite.charter.models import Direction, Indicator, SourceKind
from qualicite.core import permissions
from qualicite.core.models import Membership, Organisation, Role, Service
from qualicite.core.permissions import Perm
from qualicite.indicators import periods, queries, rollups, services, sources
from qualicite.indicators.models import Alert, AlertStatus
from qualicite.indicators.periods import Period

ALERTING = {queries.Status.MISSED: AlertStatus.MISSED, queries.Status.WARNING: AlertStatus.WARNING}


def judged_period(indicator: Indicator, today: date) -> Period:
    """The period of the indicator whose result may raise an alert today."""
    if indicator.source_kind == SourceKind.MANUAL:
        return services.last_closed_for_entry(indicator.period, today)
    source = sources.get(indicator.source)
    settling = timedelta(days=source.settles_in_days if source is not None else 0)
    return periods.last_closed(indicator.period, today - settling)


def _alerted_services(organisation: Organisation, indicators) -> list[Service]:
    """Top-level services and every service a commitment names: one figure each."""
    named = {s.pk for i in indicators for s in i.commitment.services.all()}
    return list(
        Service.objects.filter(organisation=organisation)
        .filter(Q(parent__isnull=True) | Q(pk__in=named))
        .select_related("parent")
        .order_by("position", "name")
    )


def raise_alerts(organisation: Organisation, *, today: date | None = None) -> list[Alert]:
    """Create the alerts of the last closed periods, e-mail them; the alerts created.

    Idempotent: an alert exists once per indicator, service and period, so running it again
    creates nothing and sends nothing.
    """
    from qualicite.indicators import notifications

    today = today or rollups.today(organisation)
    indicators = [i for i in queries.indicators_of(organisation) if i.direction != Direction.WATCH]
    if not indicators:
        return []
    alerted = _alerted_services(organisation, indicators)
    by_period: dict[Period, list[Indicator]] = defaultdict(list)
    for indicator in indicators:
        by_period[judged_period(indicator, today)].append(indicator)
    created = []
    for period, group in by_period.items():
        found = queries.results(organisation, group, period, services=alerted)
        for result in found.values():
            if result.has_data and result.status in ALERTING:
                alert = _record(organisation, result)
                if alert is not None:
                    created.append(alert)
    for alert in created:
        notifications.send_alert(alert)
    return created


@transaction.atomic
def _record(organisation: Organisation, result: queries.Result) -> Alert | None:
    alert, was_created = Alert.objects.get_or_create(
        organisation=organisation,
        indicator=result.indicator,
        service=result.service,
        period=result.period.kind,
        period_start=result.period.start,
        defaults={
            "period_end": result.period.end,
            "status": ALERTING[result.status],
            "value": result.value,
            "target": result.target,
            "numerator": result.numerator,
            "denominator": result.denominator,
        },
    )
    if not was_created:
        return None
    services.log(
        organisation,
        actor=None,
        verb="alert.raised",
        subject=alert,
        indicator=result.indicator.code,
        service=result.service.code if result.service else None,
        period_start=result.period.start.isoformat(),
        period_end=result.period.end.isoformat(),
        status=alert.status,
        value=str(result.value),
        target=str(result.target),
    )
    return alert


# ---------------------------------------------------------------------------
# Responsibility
# ---------------------------------------------------------------------------


def _members(organisation: Organisation):
    return list(
        Membership.objects.filter(organisation=organisation, is_active=True, user__is_active=True)
        .select_related("user")
        .prefetch_related("services")
    )


def _chain(service: Service) -> set[int]:
    found = set()
    while service is not None and service.pk not in found:
        found.add(service.pk)
        service = service.parent
    return found


def responsible_levels(indicator: Indicator, service: Service | None) -> list[list]:
    """Users by order of responsibility: [owner], [service heads], [quality managers]."""
    members = _members(indicator.organisation)
    levels = []
    if indicator.owner_id is not None:
        levels.append([m.user for m in members if m.user_id == indicator.owner_id])
    if service is not None:
        chain = _chain(service)
        levels.append(
            [
                m.user
                for m in members
                if m.role == Role.SERVICE_HEAD
                and (not m.services.all() or chain & {s.pk for s in m.services.all()})
            ]
        )
    levels.append([m.user for m in members if m.role == Role.QUALITY_MANAGER])
    return levels


def responsible_people(indicator: Indicator, service: Service | None) -> list:
    """The first level of responsible people that has anyone in it."""
    for level in responsible_levels(indicator, service):
        if level:
            return sorted(level, key=lambda u: u.pk)
    return []


def recipients(indicator: Indicator, service: Service | None) -> list[str]:
    """E-mail addresses of the first level of responsible people that has one."""
    for level in responsible_levels(indicator, service):
        found = sorted({user.email for user in level if user.email})
        if found:
            return found
    return []


def visible_alerts(user, organisation: Organisation):
    """Alerts `user` sees in the list: their services' (consolidated ones when unrestricted)."""
    query = Alert.objects.filter(organisation=organisation).select_related(
        "indicator", "indicator__commitment", "service", "closed_by"
    )
    if not permissions.has_perm(user, organisation, Perm.VIEW_INDICATORS):
        return query.none()
    allowed = permissions.restricted_service_ids(user, organisation)
    if allowed is None:
        return query
    return query.filter(service__in=allowed)


def may_close(user, alert: Alert) -> bool:
    """A quality manager, a person it was sent to, or one responsible for it now."""
    organisation = alert.organisation
    if permissions.membership(user, organisation) is None:
        return False
    if permissions.has_perm(user, organisation, Perm.MANAGE_INDICATORS):
        return True
    if user.email and user.email in (alert.recipients or []):
        return True
    return any(
        person.pk == user.pk for person in responsible_people(alert.indicator, alert.service)
    )
