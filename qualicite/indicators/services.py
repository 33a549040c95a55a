"""Every write of the indicators app: values entered by hand, their corrections, closing alerts.

Each write is atomic, takes the acting user as `actor=` and logs an IndicatorEvent. The rules
of entry live here too, so that the pages, the reminders and the alerts read them from one
place:

- **Where a value is entered.** An indicator whose commitment names services gets one value
  per period for each of those services (or one of their sub-services); an indicator whose
  commitment covers every service gets one value per period for the whole organisation
  (`service=None`). Mixing both would count the same check twice in the organisation's
  figure, so the other combinations are refused.
- **Who enters it.** The indicator's responsible person, the heads of the value's service
  (a head without restriction heads every service), and the quality managers
  (Perm.MANAGE_INDICATORS); each needs Perm.ENTER_INDICATOR_VALUES in the organisation.
- **When.** From the first day of a period until GRACE_DAYS after its last day; after that
  the period is closed and only a quality manager may still enter or correct its value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from qualicite.charter.models import Indicator, SourceKind, Unit
from qualicite.core import events, permissions
from qualicite.core.models import Organisation, Role, Service
from qualicite.core.permissions import Perm
from qualicite.indicators import periods, queries, rollups, sources
from qualicite.indicators.models import Alert, IndicatorEvent, ManualValue
from qualicite.indicators.periods import Period
from qualicite.requests import attachments

# Values for last month can be entered until the 10th: a period stays open for entry this
# many days after its last day, then only a quality manager may enter or correct its value.
GRACE_DAYS = 10
# DecimalField(max_digits=12, decimal_places=2) holds values below this.
MAX_VALUE = Decimal("10000000000")


def log(organisation, *, actor, verb: str, subject=None, **details):
    return events.record(
        IndicatorEvent,
        organisation=organisation,
        actor=actor,
        verb=verb,
        subject=subject,
        details=details,
    )


# ---------------------------------------------------------------------------
# Rules of entry: periods, places and people
# ---------------------------------------------------------------------------


def entry_closes_on(period: Period) -> date:
    """The last day a value for `period` may be entered without the quality-manager role."""
    return period.end + timedelta(days=GRACE_DAYS)


def is_entry_closed(period: Period, today: date) -> bool:
    return today > entry_closes_on(period)


def last_closed_for_entry(kind: str, today: date) -> Period:
    """The latest period of `kind` whose entry closed before `today`."""
    period = periods.last_closed(kind, today)
    while not is_entry_closed(period, today):
        period = period.previous()
    return period


def scope_ids(indicator: Indicator) -> set[int] | None:
    """The services a value may be entered for (with sub-services); None: the organisation."""
    return sources.service_scope(indicator)


def entry_slots(indicator: Indicator) -> list[Service | None]:
    """Where a value is expected each period: the commitment's services, else the organisation."""
    services = sorted(indicator.commitment.services.all(), key=lambda s: (s.position, s.name))
    return list(services) or [None]


def may_enter(user, indicator: Indicator, service: Service | None) -> bool:
    """Whether `user` may enter (or correct) the value of `indicator` for `service`."""
    organisation = indicator.organisation
    if not permissions.has_perm(user, organisation, Perm.ENTER_INDICATOR_VALUES):
        return False
    if permissions.has_perm(user, organisation, Perm.MANAGE_INDICATORS):
        return True
    if indicator.owner_id is not None and indicator.owner_id == user.pk:
        return True
    membership = permissions.membership(user, organisation)
    if membership is None or membership.role != Role.SERVICE_HEAD:
        return False
    allowed = permissions.restricted_service_ids(user, organisation)
    if allowed is None:
        return True
    if service is not None:
        return service.pk in allowed
    roots = {s.pk for s in indicator.commitment.services.all()}
    return bool(roots) and roots <= allowed


def enterable_slots(user, indicator: Indicator) -> list[Service | None]:
    return [slot for slot in entry_slots(indicator) if may_enter(user, indicator, slot)]


def enterable_services(user, indicator: Indicator):
    """The services `user` may pick for a value of `indicator` (None: no choice to make)."""
    ids = scope_ids(indicator)
    if ids is None:
        return None
    services = Service.objects.filter(pk__in=ids).select_related("parent")
    return [service for service in services if may_enter(user, indicator, service)]


def manual_indicators(organisation: Organisation, user=None) -> list[Indicator]:
    """The organisation's indicators entered by hand (those `user` may enter, when given)."""
    found = [
        indicator
        for indicator in queries.indicators_of(organisation)
        if indicator.source_kind == SourceKind.MANUAL
    ]
    if user is None:
        return found
    return [i for i in found if enterable_slots(user, i) or enterable_services(user, i)]


# ---------------------------------------------------------------------------
# What is due
# ---------------------------------------------------------------------------


class Due:
    IN_PROGRESS = "in_progress"  # the period is still running: a value may already be entered
    DUE = "due"  # the period ended, entry is open until GRACE_DAYS after it
    CLOSED = "closed"  # entry closed with no value: only a quality manager may still enter it


@dataclass
class DueEntry:
    indicator: Indicator
    service: Service | None
    period: Period
    state: str
    closes_on: date
    may_enter: bool

    @property
    def rank(self) -> int:
        return {Due.CLOSED: 0, Due.DUE: 1, Due.IN_PROGRESS: 2}[self.state]


def periods_to_watch(kind: str, today: date) -> list[Period]:
    """The running period, the one before, and the last one whose entry closed."""
    current = periods.containing(today, kind)
    found = [current, current.previous(), last_closed_for_entry(kind, today)]
    return sorted(set(found), reverse=True)


def due_state(period: Period, today: date) -> str:
    if today < period.end:
        return Due.IN_PROGRESS
    return Due.CLOSED if is_entry_closed(period, today) else Due.DUE


def entered_keys(organisation: Organisation, indicators, starts) -> set[tuple]:
    """(indicator id, service id, period start) of the values entered for those periods.

    A value entered for a sub-service also stands for its parents: the slot it falls in has
    its value (the heads of Naissances answer for État civil's desk count too).
    """
    parents = dict(Service.objects.filter(organisation=organisation).values_list("pk", "parent_id"))
    rows = ManualValue.objects.filter(indicator__in=indicators, period_start__in=starts)
    found = set()
    for indicator_id, service_id, start in rows.values_list(
        "indicator_id", "service_id", "period_start"
    ):
        found.add((indicator_id, service_id, start))
        seen = {service_id}
        while service_id is not None and parents.get(service_id) not in seen:
            service_id = parents.get(service_id)
            seen.add(service_id)
            if service_id is not None:
                found.add((indicator_id, service_id, start))
    return found


def due_entries(user, organisation: Organisation, today: date) -> list[DueEntry]:
    """Values `user` may enter that are still missing, the closed ones first."""
    indicators = manual_indicators(organisation, user)
    watched = {i.pk: periods_to_watch(i.period, today) for i in indicators}
    starts = {p.start for found in watched.values() for p in found}
    entered = entered_keys(organisation, indicators, starts)
    manager = permissions.has_perm(user, organisation, Perm.MANAGE_INDICATORS)
    found = []
    for indicator in indicators:
        for slot in enterable_slots(user, indicator):
            for period in watched[indicator.pk]:
                key = (indicator.pk, slot.pk if slot else None, period.start)
                if key in entered:
                    continue
                state = due_state(period, today)
                found.append(
                    DueEntry(
                        indicator,
                        slot,
                        period,
                        state,
                        entry_closes_on(period),
                        manager or state != Due.CLOSED,
                    )
                )
    found.sort(key=lambda e: (e.rank, e.period.start, e.indicator.pk))
    return found


def values_for(user, organisation: Organisation):
    """Values entered for the indicators `user` may enter, in the services they may enter."""
    indicators = manual_indicators(organisation, user)
    if permissions.has_perm(user, organisation, Perm.MANAGE_INDICATORS):
        allowed = Q(indicator__in=indicators)
    else:
        allowed = Q(pk__in=[])
        restricted = permissions.restricted_service_ids(user, organisation)
        for indicator in indicators:
            if indicator.owner_id == user.pk or restricted is None:
                allowed |= Q(indicator=indicator)
            else:
                allowed |= Q(indicator=indicator, service__in=restricted)
    return (
        ManualValue.objects.filter(allowed, organisation=organisation)
        .select_related("indicator", "service", "entered_by")
        .order_by("-period_start", "indicator__position", "indicator_id", "service__name")
    )


def may_view_value(user, manual_value: ManualValue) -> bool:
    """Those who may enter it, and those who see the indicators of its service (auditors…)."""
    indicator = manual_value.indicator
    if may_enter(user, indicator, manual_value.service):
        return True
    organisation = indicator.organisation
    if not permissions.has_perm(user, organisation, Perm.VIEW_INDICATORS):
        return False
    allowed = permissions.restricted_service_ids(user, organisation)
    return allowed is None or (
        manual_value.service_id is not None and manual_value.service_id in allowed
    )


# ---------------------------------------------------------------------------
# Checks shared by entering and correcting
# ---------------------------------------------------------------------------


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("NaN")


def _matches(typed: Decimal, exact: Decimal) -> bool:
    """Whether `typed` is `exact` rounded to the decimals that were typed (66.7 for 2 ÷ 3)."""
    exponent = min(typed.as_tuple().exponent, 0)
    step = Decimal(1).scaleb(exponent)
    return exact.quantize(step, rounding=ROUND_HALF_UP) == typed


def figures(indicator: Indicator, value, numerator, denominator):
    """(value, numerator, denominator) to store, and the errors by field.

    With counts, the value is what they give (the typed value must agree with them).
    """
    errors: dict[str, str] = {}
    value = _decimal(value)
    if value is not None and not value.is_finite():
        errors["value"] = _("Enter a number.")
        value = None
    counts = {"numerator": numerator, "denominator": denominator}
    if (numerator is None) != (denominator is None):
        missing = "numerator" if numerator is None else "denominator"
        errors[missing] = _("Give both counts, or neither.")
    for name, count in counts.items():
        if count is not None and count < 0:
            errors[name] = _("A count cannot be negative.")
    if not errors and denominator is not None:
        if denominator == 0:
            errors["denominator"] = _("At least one item must have been counted.")
        elif indicator.unit == Unit.PERCENT and numerator > denominator:
            errors["numerator"] = _(
                "It cannot exceed the number of items counted in all (%(denominator)s)."
            ) % {"denominator": denominator}
    if errors:
        return None, errors
    if denominator is not None:
        exact = Decimal(numerator) / Decimal(denominator)
        if indicator.unit == Unit.PERCENT:
            exact *= 100
        computed = queries.value_of(indicator, numerator, denominator)
        if value is not None and not _matches(value, exact):
            errors["value"] = _(
                "%(numerator)s out of %(denominator)s gives %(expected)s, not %(value)s. "
                "Leave the value empty to have it computed from the counts."
            ) % {
                "numerator": numerator,
                "denominator": denominator,
                "expected": indicator.format_value(computed),
                "value": indicator.format_value(value),
            }
            return None, errors
        value = computed
    if value is None:
        errors["value"] = _("Enter the value, or the counts it comes from.")
    elif value < 0:
        errors["value"] = _("A value cannot be negative.")
    elif indicator.unit == Unit.PERCENT and value > 100:
        errors["value"] = _("A percentage lies between 0 and 100.")
    elif value >= MAX_VALUE:
        errors["value"] = _("This value is too large.")
    if errors:
        return None, errors
    return (value.quantize(queries.CENT, rounding=ROUND_HALF_UP), numerator, denominator), {}


def _upload(evidence) -> attachments.Upload | None:
    """An Upload from what a caller gives: an Upload, a Django file, or nothing."""
    if evidence is None or isinstance(evidence, attachments.Upload):
        return evidence
    if getattr(evidence, "size", 0) and evidence.size > attachments.MAX_FILE_BYTES:
        # Refused on its size alone, without reading a huge file into memory.
        raise ValidationError({"evidence": [too_large(evidence.name)]})
    evidence.seek(0)
    return attachments.Upload(getattr(evidence, "name", "") or "", evidence.read())


def too_large(name: str) -> str:
    return _("“%(name)s” is too large (at most %(max)s).") % {
        "name": name,
        "max": filesizeformat(attachments.MAX_FILE_BYTES),
    }


def evidence_errors(upload: attachments.Upload | None) -> dict[str, list[str]]:
    """What is wrong with an evidence file: the limits and types of request attachments."""
    if upload is None:
        return {}
    if upload.size > attachments.MAX_FILE_BYTES:
        return {"evidence": [too_large(upload.name)]}
    try:
        attachments.check([upload])
    except ValidationError as error:
        return {"evidence": error.messages}
    return {}


def _period_errors(actor, indicator: Indicator, period: Period, today: date) -> dict[str, str]:
    if period.start > today:
        return {
            "period_start": _("%(period)s has not started yet: its value cannot be entered.")
            % {"period": _capital(period.label)}
        }
    organisation = indicator.organisation
    if (
        actor is not None
        and is_entry_closed(period, today)
        and not permissions.has_perm(actor, organisation, Perm.MANAGE_INDICATORS)
    ):
        return {
            "period_start": _(
                "%(period)s is closed: its values could be entered until %(date)s. "
                "Ask a quality manager to enter or correct it."
            )
            % {
                "period": _capital(period.label),
                "date": formats.date_format(entry_closes_on(period), "DATE_FORMAT"),
            }
        }
    return {}


def _service_errors(indicator: Indicator, service: Service | None) -> dict[str, str]:
    ids = scope_ids(indicator)
    if ids is None and service is not None:
        return {
            "service": _(
                "This commitment covers every service: its value is entered once for the "
                "whole organisation."
            )
        }
    if ids is not None and service is None:
        return {"service": _("Choose the service this value is for.")}
    if service is not None and (
        service.organisation_id != indicator.organisation_id or service.pk not in ids
    ):
        return {"service": _("This service is not concerned by the commitment.")}
    return {}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _check_actor(actor, indicator: Indicator, service: Service | None) -> None:
    """None is the system (demo data, imports): no role to check."""
    if actor is not None and not may_enter(actor, indicator, service):
        raise PermissionDenied(_("You may not enter the values of this indicator."))


def _store_evidence(manual_value: ManualValue, upload: attachments.Upload) -> None:
    name = upload.name.replace("\\", "/").rsplit("/", 1)[-1][:200] or "justificatif"
    manual_value.evidence.save(name, ContentFile(upload.content), save=False)
    manual_value.evidence_name = name


def _snapshot(manual_value: ManualValue) -> dict:
    return {
        "value": str(manual_value.value),
        "numerator": manual_value.numerator,
        "denominator": manual_value.denominator,
        "comment": manual_value.comment,
        "evidence": manual_value.evidence_name,
    }


def _duplicate_message(period: Period, service: Service | None) -> str:
    if service is None:
        return _("A value was already entered for %(period)s: correct it instead.") % {
            "period": period.label
        }
    return _("A value was already entered for %(period)s and %(service)s: correct it instead.") % {
        "period": period.label,
        "service": service.name,
    }


# ---------------------------------------------------------------------------
# Writes
# ---------------------------------------------------------------------------


@transaction.atomic
def enter_value(
    indicator: Indicator,
    *,
    actor,
    period_start: date,
    value=None,
    service: Service | None = None,
    numerator: int | None = None,
    denominator: int | None = None,
    comment: str = "",
    evidence=None,
    today: date | None = None,
) -> ManualValue:
    """Record the value of a manual indicator for the period that contains `period_start`.

    Refused (ValidationError by field) outside the rules of entry above, or when the period
    already has a value (`correct_value` changes it); PermissionDenied when `actor` may not
    enter this indicator for this service.
    """
    organisation = indicator.organisation
    if indicator.source_kind != SourceKind.MANUAL:
        raise ValidationError(
            _("“%(indicator)s” is computed from a data source: its values are not entered by hand.")
            % {"indicator": indicator.name}
        )
    _check_actor(actor, indicator, service)
    today = today or rollups.today(organisation)
    period = periods.containing(period_start, indicator.period)
    errors: dict = {}
    errors.update(_service_errors(indicator, service))
    errors.update(_period_errors(actor, indicator, period, today))
    stored, figure_errors = figures(indicator, value, numerator, denominator)
    errors.update(figure_errors)
    upload = _upload(evidence)
    errors.update(evidence_errors(upload))
    existing = ManualValue.objects.filter(
        indicator=indicator, service=service, period_start=period.start
    )
    if "period_start" not in errors and "service" not in errors and existing.exists():
        errors["period_start"] = _duplicate_message(period, service)
    if errors:
        raise ValidationError(errors)
    value, numerator, denominator = stored
    manual_value = ManualValue(
        organisation=organisation,
        indicator=indicator,
        service=service,
        period_start=period.start,
        period_end=period.end,
        value=value,
        numerator=numerator,
        denominator=denominator,
        comment=(comment or "").replace("\r\n", "\n").strip(),
        entered_by=actor if actor is not None and actor.pk else None,
        entered_at=timezone.now(),
    )
    if upload is not None:
        _store_evidence(manual_value, upload)
    try:
        with transaction.atomic():
            manual_value.save()
    except IntegrityError:
        # Two people entering the same period at once: the second is told, as above.
        if manual_value.evidence:
            manual_value.evidence.delete(save=False)
        raise ValidationError({"period_start": _duplicate_message(period, service)}) from None
    log(
        organisation,
        actor=actor,
        verb="manual_value.entered",
        subject=manual_value,
        indicator=indicator.code,
        service=service.code if service else None,
        period_start=period.start.isoformat(),
        period_end=period.end.isoformat(),
        **_snapshot(manual_value),
    )
    return manual_value


@transaction.atomic
def correct_value(
    manual_value: ManualValue,
    *,
    actor,
    value=None,
    numerator: int | None = None,
    denominator: int | None = None,
    comment: str | None = None,
    evidence=None,
    today: date | None = None,
) -> ManualValue:
    """Replace the figures of a value (and its comment, or evidence, when given).

    The same people as for entering it, with the same checks; the event keeps before/after.
    A new evidence file replaces the old one, which is deleted once the change is saved.
    """
    indicator = manual_value.indicator
    organisation = indicator.organisation
    _check_actor(actor, indicator, manual_value.service)
    today = today or rollups.today(organisation)
    period = periods.containing(manual_value.period_start, indicator.period)
    errors: dict = {}
    errors.update(_period_errors(actor, indicator, period, today))
    stored, figure_errors = figures(indicator, value, numerator, denominator)
    errors.update(figure_errors)
    upload = _upload(evidence)
    errors.update(evidence_errors(upload))
    if errors:
        raise ValidationError(errors)
    before = _snapshot(manual_value)
    manual_value.value, manual_value.numerator, manual_value.denominator = stored
    if comment is not None:
        manual_value.comment = comment.replace("\r\n", "\n").strip()
    replaced = None
    if upload is not None:
        replaced = manual_value.evidence.name or None
        _store_evidence(manual_value, upload)
    after = _snapshot(manual_value)
    if after == before:
        return manual_value
    manual_value.save()
    if replaced:
        storage = manual_value.evidence.storage
        transaction.on_commit(lambda: storage.delete(replaced))
    changed = sorted(name for name in after if after[name] != before[name])
    log(
        organisation,
        actor=actor,
        verb="manual_value.corrected",
        subject=manual_value,
        indicator=indicator.code,
        service=manual_value.service.code if manual_value.service else None,
        period_start=manual_value.period_start.isoformat(),
        fields=changed,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    return manual_value


@transaction.atomic
def close_alert(alert: Alert, *, actor, comment: str) -> Alert:
    """Close an alert with what was done about it (the owner, a recipient, a quality manager)."""
    from qualicite.indicators import alerts

    if not alerts.may_close(actor, alert):
        raise PermissionDenied(_("You may not close this alert."))
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.closed_at is not None:
        raise ValidationError(_("This alert is already closed."))
    comment = (comment or "").replace("\r\n", "\n").strip()
    if not comment:
        raise ValidationError({"comment": _("Say what was done about this result.")})
    alert.closed_at = timezone.now()
    alert.closed_by = actor
    alert.closing_comment = comment
    alert.save(update_fields=["closed_at", "closed_by", "closing_comment"])
    log(
        alert.organisation,
        actor=actor,
        verb="alert.closed",
        subject=alert,
        indicator=alert.indicator.code,
        service=alert.service.code if alert.service else None,
        period_start=alert.period_start.isoformat(),
        comment=comment,
    )
    return alert
