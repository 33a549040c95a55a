"""Every write on appointments: booking, editing, the day's taps, imports, no-shows.

An appointment is booked, then on its day the citizen arrives (checked in) and is served;
or the citizen does not come (no-show), or the appointment is cancelled. Each write is atomic,
takes `actor=` and logs a ReceptionEvent. "Back to booked" undoes a mistaken tap.

**No-shows by default.** An appointment still booked once its day is over (local midnight in
the organisation's zone) was never checked in: tick marks it "did not come"
(`mark_past_no_shows`), so that the no-show share of a day is final the next morning and the
day's figures do not change later on their own. An agent who forgot to check a citizen in
corrects it on the appointment's page (arrival and service times), which counts it again.

**Imports** (ICS or CSV) update an appointment found by the booking system's identifier and
never double it; a cancelled event cancels an appointment still booked (one already honoured
keeps its outcome), and a booking confirmed again after a cancellation is booked again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.core.models import Organisation
from qualicite.core.tick import tick_job
from qualicite.reception.appointment_import import AppointmentValues
from qualicite.reception.desk_mapping import FileRefused, ImportReport
from qualicite.reception.models import Appointment, AppointmentStatus, ReceptionEvent
from qualicite.reception.signals import records_changed

S = AppointmentStatus
CHUNK = 500
# A file with a larger share of bad events is refused whole: it is the wrong file or mapping.
DEFAULT_MAX_BAD_SHARE = 0.05
BOOKING_FIELDS = ("site", "service", "starts_at", "ends_at", "subject", "citizen")


def log(organisation, *, actor, verb: str, subject=None, **details) -> ReceptionEvent:
    return events.record(
        ReceptionEvent,
        organisation=organisation,
        actor=actor,
        verb=verb,
        subject=subject,
        details=details,
    )


def _user(actor):
    return actor if actor is not None and actor.pk else None


def local_day(instant: datetime, organisation):
    return timezone.localtime(instant, organisation.zone).date()


def _check_booking(organisation, site, service, starts_at, ends_at) -> None:
    errors = {}
    if site.organisation_id != organisation.pk:
        errors["site"] = _("This site belongs to another organisation.")
    if service is not None and service.organisation_id != organisation.pk:
        errors["service"] = _("This service belongs to another organisation.")
    if ends_at is not None and ends_at <= starts_at:
        errors["ends_at"] = _("The end of the slot must be after its start.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_appointment(
    organisation,
    *,
    actor,
    site,
    starts_at: datetime,
    service=None,
    ends_at: datetime | None = None,
    subject: str = "",
    citizen: str = "",
    external_id: str = "",
) -> Appointment:
    _check_booking(organisation, site, service, starts_at, ends_at)
    appointment = Appointment(
        organisation=organisation,
        site=site,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        subject=subject.strip(),
        citizen=citizen.strip(),
        external_id=external_id,
        created_by=_user(actor),
    )
    appointment.full_clean()
    appointment.save()
    log(organisation, actor=actor, verb="appointment.created", subject=appointment)
    return appointment


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("organisation", "site", "service")
        .get(pk=appointment.pk)
    )


def _status_from_times(appointment: Appointment) -> str:
    if appointment.served_at is not None:
        return S.SERVED
    if appointment.checked_in_at is not None:
        return S.CHECKED_IN
    if appointment.status in (S.CHECKED_IN, S.SERVED):
        return S.BOOKED
    return appointment.status


@transaction.atomic
def update_appointment(appointment: Appointment, *, actor, now=None, **fields) -> Appointment:
    """Change the booking (site, service, slot, subject, citizen) or correct what happened
    (`checked_in_at`, `served_at`): the status follows the times given."""
    appointment = _locked(appointment)
    now = now or timezone.now()
    allowed = set(BOOKING_FIELDS) | {"checked_in_at", "served_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    before = {name: getattr(appointment, name) for name in fields}
    for name, value in fields.items():
        setattr(appointment, name, value.strip() if isinstance(value, str) else value)
    _check_booking(
        appointment.organisation,
        appointment.site,
        appointment.service,
        appointment.starts_at,
        appointment.ends_at,
    )
    errors = {}
    for name in ("checked_in_at", "served_at"):
        value = getattr(appointment, name)
        if value is not None and value > now:
            errors[name] = _("This time is in the future.")
    checked, served = appointment.checked_in_at, appointment.served_at
    if checked and served and served < checked:
        errors["served_at"] = _("The citizen cannot be served before arriving.")
    if (checked or served) and appointment.status == S.CANCELLED:
        errors["__all__"] = _("A cancelled appointment cannot be honoured: book it again first.")
    if errors:
        raise ValidationError(errors)
    appointment.status = _status_from_times(appointment)
    appointment.full_clean()
    appointment.save()
    changed = sorted(name for name in fields if before[name] != getattr(appointment, name))
    log(
        appointment.organisation,
        actor=actor,
        verb="appointment.updated",
        subject=appointment,
        fields=changed,
    )
    return appointment


def _same_day_or_past(appointment: Appointment, now: datetime) -> None:
    organisation = appointment.organisation
    if local_day(appointment.starts_at, organisation) > local_day(now, organisation):
        raise ValidationError(_("This appointment is on a later day."))


@transaction.atomic
def check_in(appointment: Appointment, *, actor, at: datetime | None = None) -> Appointment:
    appointment = _locked(appointment)
    at = at or timezone.now()
    if appointment.status not in (S.BOOKED, S.NO_SHOW):
        raise ValidationError(_("Only a booked appointment can be checked in."))
    _same_day_or_past(appointment, at)
    appointment.status = S.CHECKED_IN
    appointment.checked_in_at = at
    appointment.save(update_fields=["status", "checked_in_at"])
    log(appointment.organisation, actor=actor, verb="appointment.checked_in", subject=appointment)
    return appointment


@transaction.atomic
def serve(appointment: Appointment, *, actor, at: datetime | None = None) -> Appointment:
    appointment = _locked(appointment)
    at = at or timezone.now()
    if appointment.status not in (S.BOOKED, S.CHECKED_IN, S.NO_SHOW):
        raise ValidationError(_("This appointment cannot be served any more."))
    _same_day_or_past(appointment, at)
    if appointment.checked_in_at is not None and at < appointment.checked_in_at:
        at = appointment.checked_in_at
    appointment.status = S.SERVED
    appointment.served_at = at
    appointment.save(update_fields=["status", "served_at"])
    log(appointment.organisation, actor=actor, verb="appointment.served", subject=appointment)
    return appointment


@transaction.atomic
def mark_no_show(appointment: Appointment, *, actor, now: datetime | None = None) -> Appointment:
    appointment = _locked(appointment)
    if appointment.status != S.BOOKED:
        raise ValidationError(_("Only a booked appointment can be marked as missed."))
    _same_day_or_past(appointment, now or timezone.now())
    appointment.status = S.NO_SHOW
    appointment.save(update_fields=["status"])
    log(appointment.organisation, actor=actor, verb="appointment.no_show", subject=appointment)
    return appointment


@transaction.atomic
def cancel(appointment: Appointment, *, actor) -> Appointment:
    appointment = _locked(appointment)
    if appointment.status not in (S.BOOKED, S.NO_SHOW):
        raise ValidationError(_("An appointment already honoured cannot be cancelled."))
    appointment.status = S.CANCELLED
    appointment.save(update_fields=["status"])
    log(appointment.organisation, actor=actor, verb="appointment.cancelled", subject=appointment)
    return appointment


@transaction.atomic
def reset(appointment: Appointment, *, actor) -> Appointment:
    """Back to booked: undoes a check-in, a service, a no-show or a cancellation."""
    appointment = _locked(appointment)
    if appointment.status == S.BOOKED:
        raise ValidationError(_("This appointment is already booked."))
    previous = appointment.status
    appointment.status = S.BOOKED
    appointment.checked_in_at = appointment.served_at = None
    appointment.save(update_fields=["status", "checked_in_at", "served_at"])
    log(
        appointment.organisation,
        actor=actor,
        verb="appointment.reset",
        subject=appointment,
        previous=previous,
    )
    return appointment


# --- No-shows once the day is over -----------------------------------------------------------


def mark_past_no_shows(organisation: Organisation, *, now: datetime | None = None) -> int:
    """Appointments still booked on a day now over become no-shows; idempotent."""
    now = now or timezone.now()
    zone = organisation.zone
    today_start = datetime.combine(local_day(now, organisation), time.min, tzinfo=zone)
    with transaction.atomic():
        late = Appointment.objects.select_for_update().filter(
            organisation=organisation, status=S.BOOKED, starts_at__lt=today_start
        )
        found = list(late.values_list("pk", "starts_at"))
        if not found:
            return 0
        Appointment.objects.filter(pk__in=[pk for pk, _start in found]).update(status=S.NO_SHOW)
        days = sorted({local_day(start, organisation) for _pk, start in found})
        records_changed.send(sender=Appointment, organisation_id=organisation.pk, days=days)
        log(organisation, actor=None, verb="appointment.no_shows_marked", count=len(found))
    return len(found)


@tick_job("reception.appointment_no_shows")
def no_shows_tick(now: datetime) -> str | None:
    marked = 0
    organisations = Organisation.objects.filter(
        is_active=True,
        pk__in=Appointment.objects.filter(status=S.BOOKED, starts_at__lt=now).values(
            "organisation_id"
        ),
    )
    for organisation in organisations:
        marked += mark_past_no_shows(organisation, now=now)
    return f"{marked} appointments marked as missed" if marked else None


# --- Import ----------------------------------------------------------------------------------


class _Refused(Exception):
    pass


def import_appointments(
    organisation,
    items: Iterable[tuple[int, AppointmentValues | str]],
    *,
    actor,
    file_name: str,
    file_format: str,
    mapping_text: str = "",
    max_bad_share: float = DEFAULT_MAX_BAD_SHARE,
) -> ImportReport:
    """Write the bookings of a file whole or not at all; `items` yields (line, values|reason).

    The reading may raise FileRefused (from `desk_mapping`): nothing is written then either.
    """
    report = ImportReport(file_name=file_name)
    days: set = set()
    try:
        with transaction.atomic():
            chunk: dict[str, tuple[int, AppointmentValues]] = {}
            for line, values in items:
                report.rows += 1
                if isinstance(values, str):
                    report.reject(line, values)
                    continue
                if values.external_id in chunk:
                    _write_chunk(organisation, chunk, report, days, actor)
                    chunk = {}
                chunk[values.external_id] = (line, values)
                if len(chunk) >= CHUNK:
                    _write_chunk(organisation, chunk, report, days, actor)
                    chunk = {}
            _write_chunk(organisation, chunk, report, days, actor)
            report.judge(max_bad_share, empty=_("The file has no appointment to import."))
            if report.error:
                raise _Refused
            if days:
                records_changed.send(
                    sender=Appointment, organisation_id=organisation.pk, days=sorted(days)
                )
            log(
                organisation,
                actor=actor,
                verb="appointment.imported",
                format=file_format,
                mapping=mapping_text,
                **report.as_details(),
            )
    except FileRefused as refused:
        report.error = str(refused)
    except _Refused:
        pass
    if report.error:
        report.nothing_written()
        log(
            organisation,
            actor=actor,
            verb="appointment.import_refused",
            format=file_format,
            **report.as_details(),
        )
    return report


def _apply(found: Appointment, values: AppointmentValues) -> tuple[bool, bool]:
    """Bring `found` in line with the file: (changed, cancelled by this import)."""
    changed = cancelled = False
    for name in BOOKING_FIELDS:
        value = getattr(values, name)
        if value is None and name == "citizen":
            continue
        if getattr(found, name) != value:
            setattr(found, name, value)
            changed = True
    if values.cancelled and found.status in (S.BOOKED, S.NO_SHOW):
        found.status = S.CANCELLED
        changed = cancelled = True
    elif not values.cancelled and found.status == S.CANCELLED:
        found.status = S.BOOKED
        changed = True
    return changed, cancelled


def _write_chunk(organisation, chunk, report: ImportReport, days: set, actor) -> None:
    if not chunk:
        return
    existing = {
        a.external_id: a
        for a in Appointment.objects.filter(organisation=organisation, external_id__in=chunk)
    }
    created, updated = [], []
    for external_id, (_line, values) in chunk.items():
        found = existing.get(external_id)
        if found is None:
            created.append(
                Appointment(
                    organisation=organisation,
                    site=values.site,
                    service=values.service,
                    starts_at=values.starts_at,
                    ends_at=values.ends_at,
                    subject=values.subject,
                    citizen=values.citizen or "",
                    status=S.CANCELLED if values.cancelled else S.BOOKED,
                    external_id=external_id,
                    created_by=_user(actor),
                )
            )
            report.cancelled += values.cancelled
            days.add(local_day(values.starts_at, organisation))
            continue
        old_day = local_day(found.starts_at, organisation)
        changed, cancelled = _apply(found, values)
        if changed:
            updated.append(found)
            report.cancelled += cancelled
            days.update({old_day, local_day(found.starts_at, organisation)})
        else:
            report.unchanged += 1
    Appointment.objects.bulk_create(created, batch_size=CHUNK)
    if updated:
        Appointment.objects.bulk_update(updated, [*BOOKING_FIELDS, "status"], batch_size=CHUNK)
    report.created += len(created)
    report.updated += len(updated)
