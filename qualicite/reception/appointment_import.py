"""Booking-system exports of appointments: what one booking says, and the CSV mapping.

Both formats (`appointment_ics.py` for calendars, this module for CSV) give
`AppointmentValues`; `appointment_services.import_appointments` writes them. The booking
system's identifier (`external_id`) decides whether an appointment is new or an update:
importing the file again, or a later export, updates it and never doubles it. A CSV mapping
in the style of the desk and phone-log mappings::

    delimiter: ";"
    time_format: "%d/%m/%Y %H:%M"
    site: mairie                      # a constant site (code), when no column gives it
    columns:
      external_id: Numéro             # without it, a digest of (site, slot, subject, citizen)
      starts_at: [Date, Heure]        # required
      ends_at: [Date, Fin]            # or duration_minutes
      duration_minutes: Durée
      subject: Motif
      citizen: Nom                    # personal data: leave it out when it is not needed
      site: Lieu
      service: Service
      status: Statut
    statuses:                         # with columns.status: value → booked | cancelled
      Confirmé: booked
      Annulé: cancelled
    services: {CNI: etat-civil}       # optional: value in the file → service code
    sites: {Annexe: annexe}           # optional: value in the file → site code
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext as _

from qualicite.core.models import Service, Site
from qualicite.reception.desk_import import Lookup
from qualicite.reception.desk_mapping import MappedRow, RowError, Spec, read_rows

BOOKED, CANCELLED = "booked", "cancelled"
SPEC = Spec(
    fields=(
        "external_id",
        "starts_at",
        "ends_at",
        "duration_minutes",
        "subject",
        "citizen",
        "site",
        "service",
        "status",
    ),
    required=(("starts_at",),),
    tables={"statuses": frozenset({BOOKED, CANCELLED}), "services": None, "sites": None},
    constants=("site", "service"),
)

EXAMPLE_MAPPING = """\
# Export of the booking system (one line per appointment)
delimiter: ";"
time_format: "%d/%m/%Y %H:%M"
columns:
  external_id: Numéro
  starts_at: [Date, Heure]
  duration_minutes: Durée
  subject: Motif
  service: Service
  status: Statut
statuses:
  Confirmé: booked
  Annulé: cancelled
"""


@dataclass(frozen=True)
class AppointmentValues:
    external_id: str
    site: Site
    service: Service | None
    starts_at: datetime
    ends_at: datetime | None
    subject: str
    citizen: str | None  # None: the file does not say (keep what was entered)
    cancelled: bool


def check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise RowError(_("the end of the slot is not after its start"))


def csv_values(row: MappedRow, lookup: Lookup) -> AppointmentValues:
    starts = row.time("starts_at")
    if starts is None:
        raise RowError(_("%(column)s is empty") % {"column": row.column("starts_at")})
    ends = row.time("ends_at")
    if ends is None:
        minutes = row.seconds("duration_minutes")  # "15" → 15 min, "1:30" (h:mm) → 90 min
        if minutes:
            ends = starts + timedelta(minutes=minutes)
    check_times(starts, ends)
    cancelled = False
    if row.has("status"):
        status = row.translated("status", "statuses")
        if status not in (BOOKED, CANCELLED):
            raise RowError(
                _("%(column)s: “%(value)s” is not in the statuses of the mapping")
                % {"column": row.column("status"), "value": row.text("status")[:40]}
            )
        cancelled = status == CANCELLED
    site = lookup.site(row.translated("site", "sites"))
    subject = row.text("subject")[:200]
    citizen = row.text("citizen")[:200] if row.has("citizen") else None
    external_id = row.text("external_id")
    if not row.has("external_id"):
        source = "\x1f".join([site.code, starts.isoformat(), subject, citizen or ""])
        external_id = "csv-" + hashlib.sha1(source.encode()).hexdigest()[:20]
    if not external_id:
        raise RowError(_("%(column)s is empty") % {"column": row.column("external_id")})
    if len(external_id) > 255:
        raise RowError(_("the identifier is longer than 255 characters"))
    return AppointmentValues(
        external_id=external_id,
        site=site,
        service=lookup.service(row.translated("service", "services")),
        starts_at=starts,
        ends_at=ends,
        subject=subject,
        citizen=citizen,
        cancelled=cancelled,
    )


def csv_items(stream, mapping, lookup: Lookup):
    """(line, values or the reason the line is rejected) of a CSV export: what
    `appointment_services.import_appointments` takes, for the upload page and the command."""
    for item in read_rows(stream, mapping):
        if not isinstance(item, MappedRow):
            yield item
            continue
        try:
            yield item.number, csv_values(item, lookup)
        except RowError as error:
            yield item.number, str(error)
