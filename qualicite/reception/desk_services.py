"""Every write on desk visits: the tablet's taps and the ticketing-system imports.

A visit goes waiting → called (at the counter) → done, or waiting → left without being
served. Each tap is one atomic service call with `actor=`, logged as a ReceptionEvent; a tap
that comes too late (another tablet already called the visitor) changes nothing and says so.
An import is one transaction: rows are created or updated by (site, ticket, arrival), and when
more than the mapping's share of lines is bad nothing at all is written.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.reception import desk_import
from qualicite.reception.desk_mapping import (
    FileRefused,
    ImportReport,
    MappedRow,
    RowError,
    load_mapping,
    read_rows,
)
from qualicite.reception.models import DeskVisit, ReceptionEvent, VisitSource
from qualicite.reception.signals import records_changed

CHUNK = 500
# The fields an import may change on a visit it finds again.
IMPORTED_FIELDS = (
    "service",
    "reason",
    "called_at",
    "done_at",
    "left_without_service",
    "right_first_time",
)


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


def _locked(visit: DeskVisit) -> DeskVisit:
    """The visit as stored now, locked until the end of the transaction."""
    return (
        DeskVisit.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=visit.pk)
    )


@transaction.atomic
def record_arrival(
    site, *, actor, service=None, reason: str = "", at: datetime | None = None, ticket: str = ""
) -> DeskVisit:
    organisation = site.organisation
    if service is not None and service.organisation_id != organisation.pk:
        raise ValidationError({"service": _("This service belongs to another organisation.")})
    visit = DeskVisit(
        organisation=organisation,
        site=site,
        service=service,
        reason=reason.strip()[:120],
        arrived_at=at or timezone.now(),
        ticket=ticket.strip(),
        source=VisitSource.TABLET,
        recorded_by=_user(actor),
    )
    visit.full_clean()
    visit.save()
    log(
        organisation,
        actor=actor,
        verb="desk.arrived",
        subject=visit,
        site=site.code,
        service=service.code if service else "",
        reason=visit.reason,
    )
    return visit


class TooLate(ValidationError):
    """The visit has moved on since the page was shown (another tablet, a double tap)."""


@transaction.atomic
def call_visitor(visit: DeskVisit, *, actor, at: datetime | None = None) -> DeskVisit:
    visit = _locked(visit)
    if visit.called_at is not None or visit.done_at is not None or visit.left_without_service:
        raise TooLate(_("This visitor has already been called."))
    visit.called_at = max(at or timezone.now(), visit.arrived_at)
    visit.save(update_fields=["called_at"])
    log(visit.organisation, actor=actor, verb="desk.called", subject=visit)
    return visit


@transaction.atomic
def finish_visit(
    visit: DeskVisit, *, actor, right_first_time: bool | None, at: datetime | None = None
) -> DeskVisit:
    """The visitor was served; `right_first_time`: were they sent to the right service first?"""
    visit = _locked(visit)
    if visit.called_at is None or visit.done_at is not None or visit.left_without_service:
        raise TooLate(_("This visit is not at the counter any more."))
    visit.done_at = max(at or timezone.now(), visit.called_at)
    visit.right_first_time = right_first_time
    visit.save(update_fields=["done_at", "right_first_time"])
    log(
        visit.organisation,
        actor=actor,
        verb="desk.done",
        subject=visit,
        right_first_time=right_first_time,
    )
    return visit


@transaction.atomic
def visitor_left(visit: DeskVisit, *, actor, at: datetime | None = None) -> DeskVisit:
    """The visitor went away before being served (waiting, or not there when called)."""
    visit = _locked(visit)
    if visit.done_at is not None or visit.left_without_service:
        raise TooLate(_("This visit is already over."))
    visit.left_without_service = True
    visit.done_at = max(at or timezone.now(), visit.called_at or visit.arrived_at)
    visit.save(update_fields=["left_without_service", "done_at"])
    log(visit.organisation, actor=actor, verb="desk.left", subject=visit)
    return visit


@transaction.atomic
def reopen_visit(visit: DeskVisit, *, actor) -> DeskVisit:
    """Undo a mistaken tap: a visit done or left goes back to the counter (or to waiting)."""
    visit = _locked(visit)
    if visit.done_at is not None or visit.left_without_service:
        visit.done_at = None
        visit.left_without_service = False
        visit.right_first_time = None
        undone = "done"
    elif visit.called_at is not None:
        visit.called_at = None
        undone = "called"
    else:
        raise TooLate(_("This visitor is still waiting: there is nothing to undo."))
    visit.save(update_fields=["done_at", "left_without_service", "right_first_time", "called_at"])
    log(visit.organisation, actor=actor, verb="desk.reopened", subject=visit, undone=undone)
    return visit


# --- Import ----------------------------------------------------------------------------------


class _Refused(Exception):
    """Raised inside the import's transaction to roll everything back."""


def import_visits(
    organisation,
    stream,
    *,
    actor,
    mapping_text: str,
    file_name: str = "",
    default_site=None,
    default_service=None,
    now: datetime | None = None,
) -> ImportReport:
    """Import a ticketing-system export (binary stream) through a YAML mapping.

    Raises MappingError (the mapping is refused, every problem listed); otherwise returns the
    report, whose `error` says why nothing was imported when that is the case.
    """
    mapping = load_mapping(mapping_text, desk_import.SPEC, default_timezone=organisation.time_zone)
    report = ImportReport(file_name=file_name)
    lookup = desk_import.Lookup(
        organisation, default_site=default_site, default_service=default_service
    )
    now = now or timezone.now()
    days: set = set()
    try:
        with transaction.atomic():
            seen: set[tuple] = set()
            chunk: list[desk_import.VisitValues] = []
            for item in read_rows(stream, mapping):
                report.rows += 1
                if not isinstance(item, MappedRow):
                    report.reject(*item)
                    continue
                try:
                    values = desk_import.visit_values(item, lookup, now)
                except RowError as error:
                    report.reject(item.number, str(error))
                    continue
                if values.key in seen:
                    report.unchanged += 1  # the same ticket twice in one file
                    continue
                seen.add(values.key)
                chunk.append(values)
                if len(chunk) >= CHUNK:
                    _write_chunk(organisation, chunk, report, days, actor)
                    chunk = []
            _write_chunk(organisation, chunk, report, days, actor)
            report.judge(mapping.max_bad_share, empty=_("The file has no line to import."))
            if report.error:
                raise _Refused
            if days:
                records_changed.send(
                    sender=DeskVisit, organisation_id=organisation.pk, days=sorted(days)
                )
            log(
                organisation,
                actor=actor,
                verb="desk.imported",
                mapping=mapping_text,
                **report.as_details(),
            )
    except FileRefused as refused:
        report.error = str(refused)
    except _Refused:
        pass
    if report.error:
        report.nothing_written()
        log(organisation, actor=actor, verb="desk.import_refused", **report.as_details())
    return report


def _write_chunk(organisation, chunk, report: ImportReport, days: set, actor) -> None:
    if not chunk:
        return
    existing = {
        (v.site_id, v.ticket, v.arrived_at): v
        for v in DeskVisit.objects.filter(
            organisation=organisation,
            site__in={values.site.pk for values in chunk},
            ticket__in={values.ticket for values in chunk},
            arrived_at__in={values.arrived_at for values in chunk},
        )
    }
    created, updated = [], []
    for values in chunk:
        found = existing.get(values.key)
        if found is None:
            created.append(
                DeskVisit(
                    organisation=organisation,
                    site=values.site,
                    service=values.service,
                    reason=values.reason,
                    arrived_at=values.arrived_at,
                    called_at=values.called_at,
                    done_at=values.done_at,
                    left_without_service=values.left_without_service,
                    right_first_time=values.right_first_time,
                    ticket=values.ticket,
                    source=VisitSource.IMPORT,
                    recorded_by=_user(actor),
                )
            )
            days.add(desk_import.local_day(values.arrived_at, organisation))
            continue
        changed = False
        for name in IMPORTED_FIELDS:
            if getattr(found, name) != getattr(values, name):
                setattr(found, name, getattr(values, name))
                changed = True
        if changed:
            updated.append(found)
            days.add(desk_import.local_day(values.arrived_at, organisation))
        else:
            report.unchanged += 1
    DeskVisit.objects.bulk_create(created, batch_size=CHUNK)
    if updated:
        DeskVisit.objects.bulk_update(updated, IMPORTED_FIELDS, batch_size=CHUNK)
    report.created += len(created)
    report.updated += len(updated)
