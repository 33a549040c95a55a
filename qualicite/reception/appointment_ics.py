"""Calendar exports (.ics, RFC 5545) of a booking system, read with `icalendar`.

Each VEVENT is one appointment: UID → the booking system's identifier (with RECURRENCE-ID
when an event overrides one occurrence), DTSTART and DTEND (or DURATION) → the slot,
SUMMARY → the subject, STATUS:CANCELLED → cancelled. LOCATION gives the site and CATEGORIES
the service, through the optional YAML tables of the import form::

    sites:                       # LOCATION → site code (site codes and names match as they are)
      "Mairie annexe, 2 rue Haute": annexe
    services:                    # a category → service code
      Passeport: etat-civil

An unknown location falls back on the site chosen in the form (an address is not a site);
the first category naming a service gives the service, else the one chosen in the form.
Times without a zone are read in the organisation's zone. All-day events and recurring
events (RRULE) are not appointments: they are listed with their line number as ignored, and
do not count as bad lines; events without UID or start, or whose times cannot be read, are
rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import yaml
from django.utils.translation import gettext as _

from qualicite.reception.appointment_import import AppointmentValues, check_times
from qualicite.reception.desk_import import Lookup
from qualicite.reception.desk_mapping import FileRefused, MappingError, RowError, Skipped

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EVENT_LINE = re.compile(rb"^BEGIN:VEVENT\s*$", re.IGNORECASE | re.MULTILINE)


def load_tables(text: str) -> dict[str, dict[str, str]]:
    """The optional `sites` and `services` tables (MappingError listing every problem)."""
    if not text.strip():
        return {"sites": {}, "services": {}}
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise MappingError([f"not valid YAML: {error}"]) from None
    problems, tables = [], {"sites": {}, "services": {}}
    if not isinstance(data, dict):
        raise MappingError(["the tables must be a YAML mapping (key: value lines)"])
    for key, value in data.items():
        if key not in tables:
            problems.append(f"unknown key {key!r} (expected sites or services)")
        elif not isinstance(value, dict):
            problems.append(f"{key} must map values of the calendar to codes")
        else:
            tables[key] = {str(k).strip().casefold(): str(v).strip() for k, v in value.items()}
    if problems:
        raise MappingError(problems)
    return tables


class NotAnAppointment(RowError):
    """A well-formed event that is no appointment (a closure all day, a weekly meeting)."""


def _instant(value, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _text(event, name: str) -> str:
    value = event.get(name)
    return str(value).strip() if value is not None else ""


def _categories(event) -> list[str]:
    found = []
    values = event.get("CATEGORIES")
    for item in values if isinstance(values, list) else [values]:
        if item is None:
            continue
        for category in getattr(item, "cats", [item]):
            found.append(str(category).strip())
    return [c for c in found if c]


def _site(event, lookup: Lookup, tables) -> object:
    location = _text(event, "LOCATION")
    if location:
        named = tables["sites"].get(location.casefold(), location)
        found = lookup.find_site(named)
        if found is not None:
            return found
        if location.casefold() in tables["sites"]:
            raise RowError(_("unknown site “%(value)s” in the sites table") % {"value": named})
    if lookup.default_site is None:
        raise RowError(
            _("the location “%(value)s” is not a site: add it to the sites table or choose a site")
            % {"value": location[:60]}
        )
    return lookup.default_site


def _service(event, lookup: Lookup, tables):
    for category in _categories(event):
        named = tables["services"].get(category.casefold(), category)
        found = lookup.find_service(named)
        if found is not None:
            return found
    return lookup.default_service


def event_values(event, lookup: Lookup, tables, zone: ZoneInfo) -> AppointmentValues:
    uid = _text(event, "UID")
    if not uid:
        raise RowError(_("the event has no UID"))
    if event.get("RRULE") is not None:
        raise NotAnAppointment(_("a recurring event (RRULE) is not an appointment: ignored"))
    if event.get("DTSTART") is None:
        raise RowError(_("the event has no start (DTSTART)"))
    start = event.decoded("DTSTART")
    if isinstance(start, datetime):
        starts_at = _instant(start, zone)
    elif isinstance(start, date):
        raise NotAnAppointment(_("an all-day event is not an appointment: ignored"))
    else:
        raise RowError(_("the start “%(value)s” is not a date and time") % {"value": start})
    ends_at = None
    if event.get("DTEND") is not None:
        end = event.decoded("DTEND")
        if not isinstance(end, datetime):
            raise RowError(_("the end (DTEND) is not a date and time"))
        ends_at = _instant(end, zone)
    elif event.get("DURATION") is not None:
        duration = event.decoded("DURATION")
        if not isinstance(duration, timedelta):
            raise RowError(_("the duration (DURATION) is not a duration"))
        ends_at = starts_at + duration
    check_times(starts_at, ends_at)
    recurrence = event.get("RECURRENCE-ID")
    external_id = uid
    if recurrence is not None:
        external_id = f"{uid}#{_instant(event.decoded('RECURRENCE-ID'), zone).isoformat()}"
    if len(external_id) > 255:
        raise RowError(_("the identifier is longer than 255 characters"))
    return AppointmentValues(
        external_id=external_id,
        site=_site(event, lookup, tables),
        service=_service(event, lookup, tables),
        starts_at=starts_at,
        ends_at=ends_at,
        subject=_text(event, "SUMMARY")[:200],
        citizen=None,
        cancelled=_text(event, "STATUS").upper() == "CANCELLED",
    )


def read_events(
    data: bytes, lookup: Lookup, tables, zone: ZoneInfo
) -> Iterator[tuple[int, AppointmentValues | str]]:
    """(line of BEGIN:VEVENT, values or the reason the event is rejected), event by event.

    Raises FileRefused when the file is not a calendar.
    """
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except (ValueError, IndexError, KeyError) as error:
        raise FileRefused(
            _("This file is not an iCalendar (.ics) file: %(detail)s")
            % {"detail": str(error)[:200]}
        ) from None
    lines = [data.count(b"\n", 0, match.start()) + 1 for match in _EVENT_LINE.finditer(data)]
    index = 0
    for calendar in calendars:
        for event in calendar.walk("VEVENT"):
            line = lines[index] if index < len(lines) else 0
            index += 1
            try:
                yield line, event_values(event, lookup, tables, zone)
            except NotAnAppointment as error:
                yield line, Skipped(error)
            except RowError as error:
                yield line, str(error)
            except (ValueError, TypeError, icalendar.InvalidCalendar) as error:
                yield line, _("the event cannot be read: %(detail)s") % {"detail": str(error)[:200]}
