"""Ticketing-system exports of desk visits: the column mapping and the reading of one row.

A queue-management system (ticket dispenser) exports one line per ticket. The mapping says
where each fact is, in the style of the phone-log mapping::

    delimiter: ";"
    encoding: cp1252
    time_format: "%d/%m/%Y %H:%M:%S"     # or a list of formats tried in turn
    timezone: Europe/Paris               # default: the organisation's time zone
    site: mairie                         # a constant site (code), when no column gives it
    columns:
      ticket: Ticket                     # without it: a digest of arrival, site, service, reason
      site: Agence                       # a site code or name (or through `sites`)
      service: Service                   # a service code or name (or through `services`)
      reason: Motif
      arrived_at: [Date, Arrivée]        # required; a list is joined with a space
      called_at: [Date, Appel]           # or wait_seconds: the wait before the call
      wait_seconds: Attente              # "75", "1:15" or "0:01:15"
      done_at: [Date, Fin]
      status: Statut
      right_first_time: Bien orienté     # oui/non, yes/no, 1/0
    statuses:                            # with columns.status: value → served | left
      Servi: served
      Abandon: left
    services:                            # optional: value in the file → service code
      EC: etat-civil
    sites:                               # optional: value in the file → site code
      Annexe nord: annexe

Without a status column a visit is served when it was called (a call time or a wait), and
left without service otherwise. A visit is identified by (site, ticket, arrival): importing
the file again, or an export overlapping the last one, changes nothing, and a later export
that completes a visit (called, done) updates it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core.models import Service, Site
from qualicite.reception.desk_mapping import MappedRow, RowError, Spec

SERVED, LEFT = "served", "left"
SPEC = Spec(
    fields=(
        "ticket",
        "site",
        "service",
        "reason",
        "arrived_at",
        "called_at",
        "wait_seconds",
        "done_at",
        "status",
        "right_first_time",
    ),
    required=(("arrived_at",),),
    tables={"statuses": frozenset({SERVED, LEFT}), "services": None, "sites": None},
    constants=("site", "service"),
)
YES = {"oui", "o", "yes", "y", "1", "true", "vrai", "x"}
NO = {"non", "n", "no", "0", "false", "faux"}

EXAMPLE_MAPPING = """\
# Export of the ticket dispenser (one line per ticket)
delimiter: ";"
time_format: "%d/%m/%Y %H:%M:%S"
columns:
  ticket: Ticket
  service: Service
  reason: Motif
  arrived_at: [Date, Arrivée]
  called_at: [Date, Appel]
  done_at: [Date, Fin]
  status: Statut
statuses:
  Servi: served
  Abandon: left
"""


@dataclass(frozen=True)
class VisitValues:
    site: Site
    service: Service | None
    ticket: str
    reason: str
    arrived_at: datetime
    called_at: datetime | None
    done_at: datetime | None
    left_without_service: bool
    right_first_time: bool | None

    @property
    def key(self) -> tuple:
        return (self.site.pk, self.ticket, self.arrived_at)


class Lookup:
    """Sites and services of the organisation by code and by name, read once per import."""

    def __init__(self, organisation, *, default_site=None, default_service=None):
        self.sites = _by_name(Site.objects.filter(organisation=organisation))
        self.services = _by_name(Service.objects.filter(organisation=organisation))
        self.default_site = default_site
        self.default_service = default_service

    def find_site(self, value: str) -> Site | None:
        return self.sites.get(value.strip().casefold())

    def find_service(self, value: str) -> Service | None:
        return self.services.get(value.strip().casefold())

    def site(self, value: str) -> Site:
        """The site named `value` (a code or a name), the default one when `value` is empty."""
        if not value:
            if self.default_site is None:
                raise RowError(_("no site: map a site column, or choose a site for the file"))
            return self.default_site
        found = self.find_site(value)
        if found is None:
            raise RowError(
                _("unknown site “%(value)s”: add it to the sites table of the mapping")
                % {"value": value[:60]}
            )
        return found

    def service(self, value: str) -> Service | None:
        if not value:
            return self.default_service
        found = self.find_service(value)
        if found is None:
            raise RowError(
                _("unknown service “%(value)s”: add it to the services table of the mapping")
                % {"value": value[:60]}
            )
        return found


def _by_name(queryset) -> dict:
    found = {}
    for item in queryset:
        found.setdefault(item.name.casefold(), item)
    for item in queryset:  # codes win over names
        found[item.code.casefold()] = item
    return found


def yes_no(text: str, column: str) -> bool | None:
    folded = text.strip().casefold()
    if not folded:
        return None
    if folded in YES:
        return True
    if folded in NO:
        return False
    raise RowError(
        _("%(column)s: “%(value)s” is neither yes nor no") % {"column": column, "value": text[:40]}
    )


def visit_values(row: MappedRow, lookup: Lookup, now: datetime) -> VisitValues:
    """The visit a row describes (RowError with the reason when it cannot be imported)."""
    arrived = row.time("arrived_at")
    if arrived is None:
        raise RowError(_("%(column)s is empty") % {"column": row.column("arrived_at")})
    if arrived > now + timedelta(minutes=5):
        raise RowError(_("the arrival is in the future"))
    called = row.time("called_at")
    wait = row.seconds("wait_seconds")
    if called is None and wait is not None:
        called = arrived + timedelta(seconds=wait)
    done = row.time("done_at")
    if row.has("status"):
        status = row.translated("status", "statuses")
        if status not in (SERVED, LEFT):
            raise RowError(
                _("%(column)s: “%(value)s” is not in the statuses of the mapping")
                % {"column": row.column("status"), "value": row.text("status")[:40]}
            )
        left = status == LEFT
    else:
        left = called is None
    if called is not None and called < arrived:
        raise RowError(_("the call is before the arrival"))
    if done is not None and done < (called or arrived):
        raise RowError(_("the end is before the call or the arrival"))
    if not left and called is None:
        raise RowError(_("a visitor served needs a call time or a wait"))
    ticket = row.text("ticket")
    if not row.has("ticket"):
        # What does not change when a later export completes the visit (call, end, status).
        stable = "\x1f".join(
            [arrived.isoformat(), row.text("site"), row.text("service"), row.text("reason")]
        )
        ticket = "#" + hashlib.sha1(stable.encode()).hexdigest()[:16]
    if not ticket:
        raise RowError(_("%(column)s is empty") % {"column": row.column("ticket")})
    return VisitValues(
        site=lookup.site(row.translated("site", "sites")),
        service=lookup.service(row.translated("service", "services")),
        ticket=ticket[:60],
        reason=row.text("reason")[:120],
        arrived_at=arrived,
        called_at=called,
        done_at=done,
        left_without_service=left,
        right_first_time=yes_no(row.text("right_first_time"), row.column("right_first_time")),
    )


def local_day(instant: datetime, organisation):
    return timezone.localtime(instant, organisation.zone).date()
