"""Every write of the phone side of reception: call-log imports, queue mappings, test calls.

**Imports** (`import_calls`). A file of phone-system logs is streamed through the parsers
(`parsers.parse`) and its calls are written in batches inside ONE transaction: when the
parsers' verdict is that the file cannot be imported (empty, wrong format, too many bad
lines) everything is rolled back and the import is REFUSED; an error of ours is FAILED, with
nothing imported either. The import is idempotent on the call's key (organisation, call id,
queue, entered at): a call already there is left alone ("unchanged"), except a row written
as incomplete (its end unknown) that this file completes; a call that the previous file of
the same PBX left open (its `carried` state) and this file ends is "completed". So importing
a file again changes nothing, and overlapping files never count a call twice.

Calls are written through a staging table and merged by the database
(`call_writer.CallWriter`); a large file is parsed in a child process meanwhile
(`parsers.pipeline`).

**Progress** of a running import lives in a small JSON file (`queries.progress_path`), not
in the database: the import's transaction holds SQLite's only write lock while it runs, and
a row written inside it would stay invisible to the page until the end. The CallImport row
keeps the final figures.

**Queue mappings** and **test calls** change which calls count where: their services update
the calls at once and send `signals.records_changed` with the local days of those calls, so
that the indicators roll those days up again.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connection, transaction
from django.db.models import Case, OuterRef, Subquery, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from qualicite.core import events
from qualicite.core.models import Organisation, Service, Site
from qualicite.reception import parsers, queries
from qualicite.reception.call_writer import CallWriter
from qualicite.reception.models import (
    Call,
    CallFormat,
    CallImport,
    ImportStatus,
    QueueMapping,
    ReceptionEvent,
)
from qualicite.reception.parsers import pipeline
from qualicite.reception.signals import records_changed

logger = logging.getLogger(__name__)

# Lines between two progress reports; the most read at once from the file (the parsers ask
# for 1 MiB: progress is seen between two reads).
PROGRESS_LINES = 100_000
READ_CHUNK = 1 << 20
# From this size on, the file is parsed in a child process while this one writes.
PARALLEL_MIN_BYTES = 16 << 20
# Share of malformed lines above which a file is refused (the parsers' default).
MAX_BAD_SHARE = 0.05
# Rejected lines and warnings kept in the stored report (all are counted).
REPORT_KEEP = 100


def log(organisation, *, actor, verb: str, subject=None, **details) -> ReceptionEvent:
    return events.record(
        ReceptionEvent,
        organisation=organisation,
        actor=actor,
        verb=verb,
        subject=subject,
        details=details,
    )


def bad_share_limit() -> float:
    return float(getattr(settings, "QUALICITE_CALL_IMPORT_MAX_BAD_SHARE", MAX_BAD_SHARE))


# ---------------------------------------------------------------------------
# Progress, outside the import's transaction


def publish_progress(call_import_id: int, bytes_read: int, lines_read: int) -> None:
    """Writes the progress file atomically (a reader never sees half a file)."""
    path = queries.progress_path(call_import_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    data = {"bytes_read": bytes_read, "lines_read": lines_read, "at": time.time()}
    temporary.write_text(json.dumps(data))
    os.replace(temporary, path)


def forget_progress(call_import_id: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        queries.progress_path(call_import_id).unlink()


class _Progress:
    """Publishes where the import stands about every PROGRESS_LINES lines (or 2 seconds)."""

    def __init__(self, call_import_id: int, callback: Callable[[int, int], None] | None):
        self.call_import_id = call_import_id
        self.callback = callback
        self.bytes_read = self.lines_read = 0
        self.lines_of: Callable[[], int] | None = None
        self._lines, self._at = 0, time.monotonic()

    def __call__(self, bytes_read: int, lines_read: int | None = None, final=False) -> None:
        if lines_read is None:
            lines_read = self.lines_of() if self.lines_of is not None else 0
        self.bytes_read, self.lines_read = bytes_read, lines_read
        now = time.monotonic()
        if final or lines_read - self._lines >= PROGRESS_LINES or now - self._at >= 2:
            self._lines, self._at = lines_read, now
            publish_progress(self.call_import_id, bytes_read, lines_read)
            if self.callback is not None:
                self.callback(bytes_read, lines_read)


def _worth_a_child(size: int) -> bool:
    """Whether to parse in a child process (`parsers.pipeline`): large files, two cores."""
    return (
        getattr(settings, "QUALICITE_CALL_IMPORT_PARALLEL", True)
        and size >= PARALLEL_MIN_BYTES
        and (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
    )


class _CountingReader:
    """The uploaded file as the parsers read it, counting bytes and reporting progress."""

    def __init__(self, stream: BinaryIO, report_progress: Callable[[int], None]):
        self.stream = stream
        self.bytes_read = 0
        self.report_progress = report_progress

    def read(self, size: int = -1) -> bytes:
        self.report_progress(self.bytes_read)  # before reading on: the lines of what was read
        block = self.stream.read(READ_CHUNK if size < 0 else min(size, READ_CHUNK))
        if isinstance(block, str):
            raise TypeError("open the file in binary mode ('rb')")
        self.bytes_read += len(block)
        return block


def _size_of(stream) -> int:
    size = getattr(stream, "size", None)
    if isinstance(size, int):
        return size
    with contextlib.suppress(AttributeError, OSError, ValueError):
        return os.fstat(stream.fileno()).st_size
    with contextlib.suppress(AttributeError, OSError, ValueError):
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    return 0


class _Refused(Exception):
    """Rolls the import's transaction back: the file's verdict is that it cannot be saved."""


# The assembled calls a carried state keeps to recognise their lines repeated by the next
# file (log rotation): those that ended within this long of the end of the file.
CLOSED_KEPT_SECONDS = 1800


def _pruned(state):
    """The carried state without the calls that ended long before the end of the file.

    The parsers hand over every call assembled since their last rotation, which for a small
    file is the whole file (and, file after file, the whole history): only the last half
    hour can be repeated at the start of the next file.
    """
    if state is None:
        return None
    since = state.high_water - CLOSED_KEPT_SECONDS
    # A signature's last line is the call's end time (parsers.calls._signature).
    state.closed = {
        key: signature
        for key, signature in state.closed.items()
        if float(signature.rsplit("\n", 1)[-1]) >= since
    }
    return state


def _mark(call_import: CallImport, **fields) -> None:
    for name, value in fields.items():
        setattr(call_import, name, value)
    CallImport.objects.filter(pk=call_import.pk).update(**fields)


def import_calls(
    organisation: Organisation,
    stream: BinaryIO,
    *,
    actor,
    fmt: str,
    file_name: str,
    mapping_text: str = "",
    site: Site | None = None,
    call_import: CallImport | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_bad_share: float | None = None,
) -> CallImport:
    """Imports one file of phone-system logs whole or not at all; see the module docstring.

    `stream` is a binary file. `call_import` is the row of an uploaded file (the page), else
    one is created (the command). `progress(bytes_read, lines_read)` is called about every
    PROGRESS_LINES lines and once at the end. `max_bad_share` overrides the share of
    malformed lines that refuses a file (setting QUALICITE_CALL_IMPORT_MAX_BAD_SHARE).
    Not atomic as a whole, on purpose: the calls are written in one transaction, and the
    REFUSED or FAILED verdict is saved after its rollback. Returns the CallImport: DONE,
    REFUSED or FAILED.
    """
    if fmt not in CallFormat.values:
        raise ValueError(f"unknown format {fmt!r}")
    if site is not None and site.organisation_id != organisation.pk:
        raise ValueError("the site belongs to another organisation")
    if call_import is None:
        call_import = CallImport.objects.create(
            organisation=organisation,
            file_name=file_name[:255],
            format=fmt,
            mapping=mapping_text,
            site=site,
            created_by=actor if actor is not None and actor.pk else None,
        )
    _mark(
        call_import,
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        bytes_total=_size_of(stream),
    )
    publish_progress(call_import.pk, 0, 0)
    mapping = None
    if fmt == CallFormat.CSV:
        try:
            mapping = parsers.load_mapping(mapping_text or "")
        except parsers.MappingError as error:
            return _refuse(call_import, actor, {"mapping_problems": error.problems})
    carried = None
    if fmt in (CallFormat.ASTERISK_QUEUE_LOG, CallFormat.WAZO_QUEUE_LOG_CSV):
        carried = queries.previous_state(organisation, fmt, site)
    tracker = _Progress(call_import.pk, progress)
    options = {
        "mapping": mapping,
        "carried": carried,
        "max_bad_share": bad_share_limit() if max_bad_share is None else max_bad_share,
        "timezone": organisation.time_zone,
        "keep": REPORT_KEEP,
    }
    result = None
    thresholds = gc.get_threshold()
    try:
        # Millions of short-lived calls and no reference cycles: collect far less often.
        gc.set_threshold(100_000, 50, 100)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # The merges' plans look costly to the planner (temporary tables have no
                # statistics): compiling them just in time cost more than running them.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL jit = off")
            if _worth_a_child(call_import.bytes_total):
                result = pipeline.ParsedAside(
                    stream, fmt, progress=tracker, read_chunk=READ_CHUNK, **options
                )
            else:
                result = parsers.parse(_CountingReader(stream, tracker), fmt, **options)
                tracker.lines_of = lambda: result.report.lines_read
            state = parsers.CarriedState.from_json(carried) if carried else None
            writer = CallWriter(organisation, call_import, state)
            if isinstance(result, pipeline.ParsedAside):
                for batch in result.batches():
                    writer.add(batch)
            else:
                writer.add(result)
            report = result.report
            tracker(tracker.bytes_read, report.lines_read, final=True)
            if not report.importable:
                raise _Refused
            writer.close()
            new_state = _pruned(result.carried)
            _finish(call_import, actor, writer, report, new_state, tracker.bytes_read)
    except _Refused:
        return _refuse(call_import, actor, result.report.as_dict(), bytes_read=tracker.bytes_read)
    except Exception as error:
        logger.exception(
            "import of %s (call import %s) failed%s",
            file_name,
            call_import.pk,
            f"; in the parsing process:\n{error.details}" if hasattr(error, "details") else "",
        )
        with transaction.atomic():
            _mark(
                call_import,
                status=ImportStatus.FAILED,
                finished_at=timezone.now(),
                report={"failure": f"{type(error).__name__}: {error}"[:1000]},
                bytes_read=tracker.bytes_read,
                lines_read=tracker.lines_read,
            )
            log(
                organisation,
                actor=actor,
                verb="calls.import_failed",
                subject=call_import,
                error=type(error).__name__,
            )
        forget_progress(call_import.pk)
        return call_import
    finally:
        gc.set_threshold(*thresholds)
    forget_progress(call_import.pk)
    return call_import


def _finish(call_import, actor, writer: CallWriter, report, new_state, bytes_read) -> None:
    """Inside the import's transaction: the import's figures, its event, the days touched."""
    organisation = call_import.organisation
    _mark(
        call_import,
        status=ImportStatus.DONE,
        finished_at=timezone.now(),
        bytes_read=bytes_read,
        lines_read=report.lines_read,
        lines_rejected=report.rejected_count,
        calls_created=writer.created,
        calls_completed=writer.completed,
        calls_unchanged=writer.unchanged,
        report=report.as_dict(),
        carried=new_state.to_json() if new_state is not None else None,
    )
    log(
        organisation,
        actor=actor,
        verb="calls.imported",
        subject=call_import,
        file=call_import.file_name,
        format=call_import.format,
        lines_read=report.lines_read,
        lines_rejected=report.rejected_count,
        calls_created=writer.created,
        calls_completed=writer.completed,
        calls_unchanged=writer.unchanged,
        calls_carried=report.calls_carried,
        new_queues=writer.new_queues,
    )
    if writer.days:
        records_changed.send(sender=Call, organisation_id=organisation.pk, days=writer.days)


@transaction.atomic
def _refuse(call_import, actor, report: dict, *, bytes_read: int = 0) -> CallImport:
    _mark(
        call_import,
        status=ImportStatus.REFUSED,
        finished_at=timezone.now(),
        report=report,
        bytes_read=bytes_read,
        lines_read=report.get("lines_read", 0),
        lines_rejected=report.get("rejected_count", 0),
        calls_created=0,
        calls_completed=0,
        calls_unchanged=0,
    )
    log(
        call_import.organisation,
        actor=actor,
        verb="calls.import_refused",
        subject=call_import,
        reason=queries.refusal_message(call_import),
    )
    forget_progress(call_import.pk)
    return call_import


# ---------------------------------------------------------------------------
# Uploads imported in the background


@transaction.atomic
def submit_import(
    organisation: Organisation,
    upload: File,
    *,
    actor,
    fmt: str,
    mapping_text: str = "",
    site: Site | None = None,
) -> CallImport:
    """Saves an uploaded file as a WAITING import and queues its import after the commit."""
    if site is not None and site.organisation_id != organisation.pk:
        raise ValidationError({"site": _("This site belongs to another organisation.")})
    call_import = CallImport(
        organisation=organisation,
        file_name=os.path.basename(upload.name or "")[:255] or "queue_log",
        format=fmt,
        mapping=mapping_text,
        site=site,
        created_by=actor,
        bytes_total=upload.size or 0,
    )
    call_import.full_clean(exclude=["file"])
    call_import.file.save(f"{organisation.slug}-{call_import.file_name}", upload, save=False)
    call_import.save()
    log(organisation, actor=actor, verb="calls.uploaded", subject=call_import, format=fmt)

    def enqueue():
        from qualicite.reception.tasks import import_call_file

        import_call_file.enqueue(call_import.pk)

    transaction.on_commit(enqueue)
    return call_import


def run_import(call_import_id: int) -> CallImport | None:
    """Imports an uploaded file (the background task); a finished import is left alone."""
    call_import = (
        CallImport.objects.select_related("organisation", "site", "created_by")
        .filter(pk=call_import_id)
        .first()
    )
    if call_import is None or call_import.status in queries.FINISHED:
        return call_import
    with call_import.file.open("rb") as stream:
        return import_calls(
            call_import.organisation,
            stream,
            actor=call_import.created_by,
            fmt=call_import.format,
            file_name=call_import.file_name,
            mapping_text=call_import.mapping,
            site=call_import.site,
            call_import=call_import,
        )


# ---------------------------------------------------------------------------
# Queue mappings and test calls


def _recompute_outside_hours(organisation: Organisation, calls) -> None:
    """Sets `outside_hours` of `calls` again from their site's hours."""
    for value, pks in queries.outside_hours_changes(organisation, calls).items():
        for start in range(0, len(pks), 5000):
            Call.objects.filter(pk__in=pks[start : start + 5000]).update(outside_hours=value)


@transaction.atomic
def update_queue_mapping(
    mapping: QueueMapping,
    *,
    actor,
    service: Service | None,
    site: Site | None,
    counted: bool,
) -> QueueMapping:
    """Maps a queue to a service and site and moves its calls there at once."""
    organisation = mapping.organisation
    for row, field in ((service, "service"), (site, "site")):
        if row is not None and row.organisation_id != organisation.pk:
            raise ValidationError({field: _("This belongs to another organisation.")})
    before = {
        "service": mapping.service.code if mapping.service else None,
        "site": mapping.site.code if mapping.site else None,
        "counted": mapping.counted,
    }
    site_changed = mapping.site_id != (site.pk if site else None)
    mapping.service, mapping.site, mapping.counted = service, site, counted
    mapping.full_clean()
    after = {
        "service": service.code if service else None,
        "site": site.code if site else None,
        "counted": counted,
    }
    if before == after:
        return mapping
    mapping.save()
    calls = Call.objects.filter(organisation=organisation, queue=mapping.queue)
    if site is not None:
        site_value = Value(site.pk)
    else:
        # Back to the site the call's import named, if any.
        site_value = Subquery(
            CallImport.objects.filter(pk=OuterRef("call_import_id")).values("site_id")[:1]
        )
    changed = calls.update(
        service=service,
        site_id=site_value,
        counted=Case(When(is_test=True, then=Value(False)), default=Value(counted)),
    )
    if site_changed:
        _recompute_outside_hours(organisation, calls)
    log(
        organisation,
        actor=actor,
        verb="queue.mapped",
        subject=mapping,
        before=before,
        after=after,
        calls=changed,
    )
    if changed:
        records_changed.send(
            sender=Call,
            organisation_id=organisation.pk,
            days=queries.local_days(organisation, calls),
        )
    return mapping


@transaction.atomic
def flag_test_call(call: Call, *, actor, is_test: bool) -> Call:
    """Marks a call as a test call (left out of the statistics), or back as a real one."""
    if call.is_test == is_test:
        return call
    mapping = QueueMapping.objects.filter(organisation_id=call.organisation_id, queue=call.queue)
    queue_counted = mapping.values_list("counted", flat=True).first()
    call.is_test = is_test
    call.counted = (not is_test) and (queue_counted is not False)
    call.save(update_fields=["is_test", "counted"])
    log(
        call.organisation,
        actor=actor,
        verb="call.flagged_test" if is_test else "call.unflagged_test",
        subject=call,
        queue=call.queue,
        entered_at=call.entered_at.isoformat(),
    )
    day = call.entered_at.astimezone(call.organisation.zone).date()
    records_changed.send(sender=Call, organisation_id=call.organisation_id, days={day})
    return call
