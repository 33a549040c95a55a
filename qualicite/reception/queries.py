"""Reads of the phone side of reception, shared by the pages, the command and the reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from qualicite.core import permissions
from qualicite.core.calendar import Calendar
from qualicite.core.choices import DayKind
from qualicite.core.models import Organisation, Site
from qualicite.reception.models import Call, CallImport, ImportStatus, QueueMapping
from qualicite.reception.parsers.report import MESSAGES

FINISHED = (ImportStatus.DONE, ImportStatus.REFUSED, ImportStatus.FAILED)


def progress_path(call_import_id: int) -> Path:
    return Path(settings.VAR_DIR) / "progress" / f"call-import-{call_import_id}.json"


def previous_state(organisation, fmt: str, site) -> dict | None:
    """The calls left open by the imported file of this PBX (format and site) that ends last.

    "Ends last" is the log's latest time (`high_water`), not the latest import: an old file
    imported again must not hand its open calls to the next day's file.
    """
    done = CallImport.objects.filter(
        organisation=organisation, format=fmt, status=ImportStatus.DONE, carried__isnull=False
    )
    done = done.filter(site=site) if site is not None else done.filter(site__isnull=True)
    ends = done.annotate(end=KeyTextTransform("high_water", "carried")).values_list("pk", "end")
    best = max(ends, key=lambda row: (float(row[1] or 0), row[0]), default=None)
    if best is None:
        return None
    return CallImport.objects.values_list("carried", flat=True).get(pk=best[0]) or None


def imports_of(organisation: Organisation):
    return CallImport.objects.filter(organisation=organisation).select_related("site", "created_by")


def import_progress(call_import: CallImport) -> dict:
    """Where an import stands: the progress file while it runs, the row once it has ended.

    Read by another process than the one importing (the page, while the worker imports):
    the row's figures are written only when the import ends, in its transaction.
    """
    bytes_read, lines_read = call_import.bytes_read, call_import.lines_read
    if call_import.status in (ImportStatus.WAITING, ImportStatus.RUNNING):
        try:
            data = json.loads(progress_path(call_import.pk).read_text())
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            bytes_read = int(data.get("bytes_read", bytes_read))
            lines_read = int(data.get("lines_read", lines_read))
    finished = call_import.status in FINISHED
    total = call_import.bytes_total
    if finished:
        percent = 100
    elif total:
        percent = min(99, bytes_read * 100 // total)
    else:
        percent = 0
    return {
        "status": call_import.status,
        "status_label": str(call_import.get_status_display()),
        "finished": finished,
        "percent": percent,
        "bytes_read": bytes_read,
        "bytes_total": total,
        "lines_read": lines_read,
        "calls_created": call_import.calls_created,
        "calls_completed": call_import.calls_completed,
        "calls_unchanged": call_import.calls_unchanged,
        "lines_rejected": call_import.lines_rejected,
    }


@dataclass(frozen=True)
class ProblemRow:
    line: int | None
    message: str


def _problem_message(problem: dict) -> str:
    code = problem.get("code", "")
    template = MESSAGES.get(code)
    if template is None:
        return code
    try:
        return _(template) % (problem.get("params") or {})
    except (KeyError, TypeError, ValueError):
        return _(template)


def report_problems(call_import: CallImport, kind: str) -> list[ProblemRow]:
    """The rejected lines (`kind` "rejected") or warnings kept in the report, translated."""
    return [
        ProblemRow(problem.get("line"), _problem_message(problem))
        for problem in (call_import.report or {}).get(kind, [])
    ]


def queues(organisation: Organisation) -> list[QueueMapping]:
    """Every queue seen, with its number of calls (`calls`), the unmapped ones first.

    The calls are counted in one pass grouped by queue (a count per queue would read the
    organisation's calls once per queue: no index starts with the queue; the unique key
    holds it, so the pass reads that index alone).
    """
    counts = dict(
        Call.objects.filter(organisation=organisation)
        .order_by()
        .values_list("queue")
        .annotate(n=Count("pk"))
    )
    mappings = list(
        QueueMapping.objects.filter(organisation=organisation).select_related("service", "site")
    )
    for mapping in mappings:
        mapping.calls = counts.get(mapping.queue, 0)
    mappings.sort(key=lambda mapping: (mapping.service_id is not None, mapping.queue))
    return mappings


def visible_calls(user, organisation: Organisation):
    """The calls a member may see: of their services when restricted."""
    calls = Call.objects.select_related("service", "site")
    return permissions.scope(calls, user, organisation)


def filtered_calls(
    calls,
    organisation: Organisation,
    *,
    day: date | None = None,
    queue: str = "",
    outcome: str = "",
    test_only: bool = False,
):
    if day is not None:
        zone = organisation.zone
        start = datetime.combine(day, time.min, tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        calls = calls.filter(entered_at__gte=start, entered_at__lt=end)
    if queue:
        calls = calls.filter(queue=queue)
    if outcome:
        calls = calls.filter(outcome=outcome)
    if test_only:
        calls = calls.filter(is_test=True)
    return calls.order_by("-entered_at", "-pk")


def outside_hours_changes(organisation: Organisation, calls) -> dict[bool, list[int]]:
    """The calls whose `outside_hours` their site's hours now contradict, by the new value."""
    hours = LocalHours(organisation)
    flips: dict[bool, list[int]] = {True: [], False: []}
    rows = calls.values_list("pk", "site_id", "entered_at", "outside_hours")
    for pk, site_id, entered_at, outside in rows.iterator(chunk_size=5000):
        closed = hours.closed(site_id, entered_at.timestamp())
        if closed != outside:
            flips[closed].append(pk)
    return flips


def queue_names(user, organisation: Organisation) -> list[str]:
    """The queues a member may filter the calls on: every queue seen, or those of their
    services when restricted (from the mappings: no scan of the calls)."""
    mappings = QueueMapping.objects.filter(organisation=organisation)
    allowed = permissions.restricted_service_ids(user, organisation)
    if allowed is not None:
        mappings = mappings.filter(service__in=allowed)
    return list(mappings.order_by("queue").values_list("queue", flat=True))


def refusal_message(call_import: CallImport) -> str:
    """Why a file was refused, in the current language."""
    report = call_import.report or {}
    if report.get("mapping_problems"):
        return _("The column mapping is not valid: %(problems)s.") % {
            "problems": "; ".join(report["mapping_problems"])
        }
    error = report.get("error")
    if not error:
        return ""
    template = MESSAGES.get(error["code"], error["code"])
    params = dict(error.get("params") or {})
    if error["code"] == "wrong_format" and "format" in params:
        params["format"] = _(params["format"])
    try:
        return _(template) % params
    except (KeyError, TypeError, ValueError):
        return template


def local_days(organisation: Organisation, calls) -> set[date]:
    """The local days (organisation's zone) of a queryset of calls."""
    return set(
        calls.order_by()
        .annotate(day=TruncDate("entered_at", tzinfo=organisation.zone))
        .values_list("day", flat=True)
        .distinct()
    )


# ---------------------------------------------------------------------------
# Local days and opening hours, in epoch seconds


class LocalHours:
    """Local days and "was the site closed?" for epoch instants, computed once per day.

    An instant's local day is cached per quarter hour (every zone's offset is a multiple of
    15 minutes); a site's opening spans per local day, from its `Calendar` (opening hours,
    closures, public holidays of the organisation's region). A site without opening hours
    is open all day on open days (Monday to Friday but holidays and closures); a call with
    no site is never outside hours.
    """

    def __init__(self, organisation: Organisation):
        self.organisation = organisation
        self.zone = organisation.zone
        self._days: dict[int, date] = {}
        self._calendars: dict[int, Calendar] = {}
        self._spans: dict[tuple[int, date], tuple[tuple[float, float], ...]] = {}

    def day(self, ts: float) -> date:
        bucket = int(ts // 900)
        found = self._days.get(bucket)
        if found is None:
            found = self._days[bucket] = datetime.fromtimestamp(bucket * 900, self.zone).date()
        return found

    def _calendar(self, site_id: int) -> Calendar:
        calendar = self._calendars.get(site_id)
        if calendar is None:
            site = Site.objects.prefetch_related("opening_hours", "closures").get(
                pk=site_id, organisation=self.organisation
            )
            calendar = self._calendars[site_id] = Calendar.for_organisation(
                self.organisation, site=site, day_kind=DayKind.CALENDAR
            )
        return calendar

    def _epoch(self, day: date, wall) -> float:
        return datetime.combine(day, wall, tzinfo=self.zone).timestamp()

    def spans(self, site_id: int, day: date) -> tuple[tuple[float, float], ...]:
        key = (site_id, day)
        found = self._spans.get(key)
        if found is None:
            calendar = self._calendar(site_id)
            if not calendar.is_open_day(day):
                found = ()
            elif calendar.spans is None:
                start = datetime.combine(day, datetime.min.time(), tzinfo=self.zone)
                end = datetime.fromordinal(day.toordinal() + 1).replace(tzinfo=self.zone)
                found = ((start.timestamp(), end.timestamp()),)
            else:
                found = tuple(
                    (self._epoch(day, opens), self._epoch(day, closes))
                    for opens, closes in calendar.spans[day.weekday()]
                )
            self._spans[key] = found
        return found

    def closed(self, site_id: int | None, ts: float) -> bool:
        if site_id is None:
            return False
        return not any(start <= ts < end for start, end in self.spans(site_id, self.day(ts)))
