"""Importing phone-system logs into calls: every format, idempotency, refusals, progress.

The helpers at the top are shared with the other test modules of the phone pages.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualicite.reception import call_writer, parsers, queries, services
from qualicite.reception.models import (
    Call,
    CallImport,
    CallOutcome,
    ImportStatus,
    QueueMapping,
    ReceptionEvent,
)
from qualicite.reception.parsers.generate import generate
from qualicite.reception.signals import records_changed

T0 = 1736150400  # 2025-01-06 08:00:00 UTC, 09:00 in Paris, a Monday
QUEUE_LOG = "asterisk-queue-log"


def log(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def answered_call(call_id: str = "1736150400.1", queue: str = "accueil", start: int = 0):
    t = T0 + start
    return [
        f"{t}|{call_id}|{queue}|NONE|ENTERQUEUE||0612345678|1",
        f"{t + 15}|{call_id}|{queue}|PJSIP/202|RINGNOANSWER|15000",
        f"{t + 20}|{call_id}|{queue}|PJSIP/201|CONNECT|20|{t + 20}.7|4",
        f"{t + 140}|{call_id}|{queue}|PJSIP/201|COMPLETECALLER|20|120|1",
    ]


def abandoned_call(call_id: str = "1736150500.2", queue: str = "accueil", start: int = 100):
    t = T0 + start
    return [
        f"{t}|{call_id}|{queue}|NONE|ENTERQUEUE||0699999999|1",
        f"{t + 48}|{call_id}|{queue}|NONE|ABANDON|1|1|48",
    ]


def run(organisation, data: bytes, fmt: str = QUEUE_LOG, **options) -> CallImport:
    options.setdefault("actor", None)
    options.setdefault("file_name", "queue_log")
    return services.import_calls(organisation, io.BytesIO(data), fmt=fmt, **options)


def generated(days: int = 3, fmt: str = "asterisk", seed: int = 1, **options) -> bytes:
    out = io.BytesIO()
    generate(out, days=days, fmt=fmt, seed=seed, **options)
    return out.getvalue()


def rows(organisation) -> set[tuple]:
    """Every call of the organisation, as the comparable facts a parser gives."""
    return set(
        Call.objects.filter(organisation=organisation).values_list(
            "call_id",
            "queue",
            "entered_at",
            "wait_seconds",
            "outcome",
            "agent",
            "talk_seconds",
            "transfers",
            "ring_no_answer",
            "ended_at",
            "caller",
        )
    )


def expected(data: bytes, fmt: str = QUEUE_LOG, **options) -> set[tuple]:
    """What the parser reads from the whole file, as `rows` gives it."""
    return {
        (
            r.call_id,
            r.queue,
            r.entered_at,
            r.wait_seconds,
            r.outcome,
            r.agent,
            r.talk_seconds,
            r.transfers,
            r.ring_no_answer,
            r.ended_at,
            r.caller,
        )
        for r in parsers.parse(data, fmt, **options).all()
    }


@pytest.fixture
def days_changed():
    """The `records_changed` signals sent during the test: [(organisation id, days)]."""
    sent = []

    def receiver(sender, organisation_id, days, **kwargs):
        sent.append((organisation_id, set(days)))

    records_changed.connect(receiver, sender=Call, dispatch_uid="test-days-changed")
    yield sent
    records_changed.disconnect(dispatch_uid="test-days-changed", sender=Call)


# ---------------------------------------------------------------------------
# Every format


def test_a_generated_queue_log_is_imported_call_by_call(org):
    data = generated(days=3)
    call_import = run(org, data)
    assert call_import.status == ImportStatus.DONE
    assert rows(org) == expected(data)
    assert call_import.calls_created == Call.objects.count() > 1000
    assert call_import.lines_read == data.count(b"\n")
    assert (call_import.calls_completed, call_import.calls_unchanged) == (0, 0)
    assert call_import.bytes_read == call_import.bytes_total == len(data)
    assert call_import.report["rejected_count"] == 0
    assert call_import.started_at <= call_import.finished_at


def test_calls_are_written_in_many_batches_without_losing_one(org, monkeypatch):
    monkeypatch.setattr(call_writer, "BATCH", 97)
    data = generated(days=3)
    call_import = run(org, data)
    assert rows(org) == expected(data)
    assert call_import.calls_created == len(rows(org)) > 10 * 97
    lines = data.decode().splitlines(keepends=True)
    again = run(org, "".join(lines[len(lines) // 3 :]).encode(), file_name="overlap")
    assert (again.calls_created, again.calls_completed) == (0, 0)
    assert rows(org) == expected(data)


def test_a_wazo_export_gives_the_same_calls_as_the_asterisk_file(org, other_org):
    asterisk, wazo = generated(days=2), generated(days=2, fmt="wazo")
    assert run(org, asterisk).status == ImportStatus.DONE
    assert run(other_org, wazo, fmt="wazo-queue-log-csv").status == ImportStatus.DONE

    # Wazo times carry milliseconds to keep a second's events in order: compare seconds.
    def seconds(found):
        return {(r[0], r[1], r[2].replace(microsecond=0), r[3], r[4], r[5], r[6]) for r in found}

    assert seconds(rows(org)) == seconds(rows(other_org))


def test_an_asterisk_cdr_file_is_imported(org):
    from tests.reception.test_parsers_cdr import row

    data = "\n".join(
        [
            row(uniqueid="1.1"),
            row(uniqueid="1.2", disposition="NO ANSWER", dstchannel="", billsec=0, duration=30),
        ]
    ).encode()
    call_import = run(org, data, fmt="asterisk-cdr-csv")
    assert call_import.status == ImportStatus.DONE, call_import.report
    answered = Call.objects.get(call_id="1.1")
    assert (answered.outcome, answered.wait_seconds, answered.talk_seconds) == ("answered", 20, 180)
    assert answered.entered_at == datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert Call.objects.get(call_id="1.2").outcome == CallOutcome.ABANDONED
    assert call_import.carried is None


def test_any_csv_export_is_imported_through_its_column_mapping(org):
    from tests.reception.test_parsers_mapped_csv import FRENCH_EXPORT, FRENCH_MAPPING

    call_import = run(org, FRENCH_EXPORT.encode("cp1252"), fmt="csv", mapping_text=FRENCH_MAPPING)
    assert call_import.status == ImportStatus.DONE, call_import.report
    assert call_import.mapping == FRENCH_MAPPING
    assert sorted(Call.objects.values_list("call_id", "queue", "outcome")) == [
        ("A1", "Accueil", "answered"),
        ("A2", "État civil", "abandoned"),
        ("A3", "Accueil", "timeout"),
    ]
    assert Call.objects.get(call_id="A1").entered_at == datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def test_a_csv_without_a_valid_mapping_is_refused(org):
    call_import = run(org, b"a;b\n1;2\n", fmt="csv", mapping_text="columns: [")
    assert call_import.status == ImportStatus.REFUSED
    with translation.override("en"):
        assert "not valid YAML" in queries.refusal_message(call_import)
    assert not Call.objects.exists()


def test_a_sub_second_time_is_stored_as_django_stores_it(org):
    """The writer formats instants itself: the ORM must find them again, to the microsecond."""
    data = (
        b"time,callid,queuename,agent,event,data1,data2,data3,data4,data5\n"
        b"2025-01-06 08:00:00.250000+00,c1,accueil,NONE,ENTERQUEUE,,0600000000,1,,\n"
        b"2025-01-06 08:00:10.500000+00,c1,accueil,NONE,ABANDON,1,1,10,,\n"
    )
    assert run(org, data, fmt="wazo-queue-log-csv").status == ImportStatus.DONE
    entered = datetime(2025, 1, 6, 8, 0, 0, 250000, tzinfo=UTC)
    call = Call.objects.get(entered_at=entered)
    assert call.ended_at == datetime(2025, 1, 6, 8, 0, 10, 500000, tzinfo=UTC)


# ---------------------------------------------------------------------------
# Idempotency: again, overlapping, spanning two files


def snapshot(organisation) -> list[dict]:
    return list(Call.objects.filter(organisation=organisation).order_by("pk").values())


def test_importing_a_file_again_changes_nothing(org, days_changed):
    data = generated(days=2)
    first = run(org, data)
    before = snapshot(org)
    days_changed.clear()
    again = run(org, data)
    assert again.status == ImportStatus.DONE
    assert (again.calls_created, again.calls_completed) == (0, 0)
    assert snapshot(org) == before
    assert days_changed == []
    assert first.calls_created == len(before)


def test_importing_an_old_file_again_after_a_newer_one_changes_nothing(org):
    lines = generated(days=4).decode().splitlines(keepends=True)
    half = len(lines) // 2
    older, newer = "".join(lines[:half]).encode(), "".join(lines[half:]).encode()
    run(org, older)
    run(org, newer)
    before = snapshot(org)
    again = run(org, older)
    assert (again.status, again.calls_created, again.calls_completed) == ("done", 0, 0)
    assert again.calls_unchanged > 0
    assert snapshot(org) == before


def test_overlapping_files_never_count_a_call_twice(org):
    data = generated(days=4)
    lines = data.decode().splitlines(keepends=True)
    first = "".join(lines[: len(lines) * 6 // 10]).encode()
    second = "".join(lines[len(lines) * 4 // 10 :]).encode()
    run(org, first)
    second_import = run(org, second)
    assert second_import.status == ImportStatus.DONE
    assert rows(org) == expected(data)
    assert second_import.report["duplicates"] > 0


def test_a_call_open_at_the_end_of_a_file_is_completed_by_the_next(org):
    spanning = answered_call(call_id="span.1", start=3000)
    first = run(org, log(*answered_call(), *spanning[:3]))
    assert first.report["calls_carried"] == 1
    assert first.carried["open"][0][:2] == ["span.1", "accueil"]
    assert not Call.objects.filter(call_id="span.1").exists()
    second = run(org, log(spanning[3], *abandoned_call(start=3400)))
    assert (second.calls_created, second.calls_completed) == (1, 1)
    call = Call.objects.get(call_id="span.1")
    assert (call.outcome, call.wait_seconds, call.talk_seconds) == ("answered", 20, 120)
    assert call.call_import == second
    assert call.caller == "0612345678"


def test_a_row_written_as_incomplete_is_completed_by_a_later_file(org):
    Call.objects.create(
        organisation=org,
        call_id="1736150400.1",
        queue="accueil",
        entered_at=datetime.fromtimestamp(T0, UTC),
        wait_seconds=0,
        outcome=CallOutcome.INCOMPLETE,
    )
    call_import = run(org, log(*answered_call(), *abandoned_call()))
    assert (call_import.calls_created, call_import.calls_completed) == (1, 1)
    call = Call.objects.get(call_id="1736150400.1")
    assert (call.outcome, call.talk_seconds, call.agent) == ("answered", 120, "PJSIP/201")
    # A finished row is never overwritten by another reading of the same call.
    again = run(org, log(*answered_call()[:3]), file_name="cut")
    assert Call.objects.get(call_id="1736150400.1").talk_seconds == 120
    assert again.calls_completed == 0


# ---------------------------------------------------------------------------
# Refusals, bad lines, failures


def test_a_file_with_too_many_bad_lines_is_refused_and_leaves_nothing(org, days_changed):
    data = log(*answered_call(), *abandoned_call(), "garbage", "more|garbage", "x", "y")
    call_import = run(org, data)
    assert call_import.status == ImportStatus.REFUSED
    assert call_import.report["error"]["code"] == "too_many_bad"
    with translation.override("en"):
        assert "malformed" in queries.refusal_message(call_import)
    assert call_import.lines_read == 10 and call_import.lines_rejected == 4
    assert not Call.objects.exists()
    assert not QueueMapping.objects.exists()  # the new queue's mapping went with the rest
    assert days_changed == []
    assert ReceptionEvent.objects.filter(verb="calls.import_refused").count() == 1
    assert not queries.progress_path(call_import.pk).exists()


def test_an_empty_file_is_refused(org):
    call_import = run(org, b"")
    assert call_import.status == ImportStatus.REFUSED
    with translation.override("en"):
        assert queries.refusal_message(call_import) == "the file is empty"


def test_a_file_of_another_format_is_refused(org):
    call_import = run(org, generated(days=1, fmt="wazo"))
    assert call_import.status == ImportStatus.REFUSED
    assert call_import.report["error"]["code"] == "wrong_format"
    with translation.override("en"):
        assert "does not look like an Asterisk queue_log" in queries.refusal_message(call_import)
    assert not Call.objects.exists()


def test_bad_lines_are_reported_with_their_number_and_the_rest_is_imported(org):
    good = answered_call() + abandoned_call()
    filler = [f"{T0 + 1000 + n}|NONE|accueil|PJSIP/201|PAUSE|" for n in range(60)]
    lines = good[:2] + ["1736150410|broken"] + good[2:] + filler
    data = log(*lines) + b"\xff\xfe|not utf-8\n"
    call_import = run(org, data)
    assert call_import.status == ImportStatus.DONE
    assert call_import.lines_rejected == 2
    rejected = [(p["line"], p["code"]) for p in call_import.report["rejected"]]
    assert rejected == [(3, "too_few_fields"), (len(lines) + 1, "not_utf8")]
    assert Call.objects.count() == 2
    with translation.override("en"):
        shown = queries.report_problems(call_import, "rejected")
    assert shown[0].line == 3 and "fields where at least 5 are expected" in shown[0].message


class BreaksAfter(io.BytesIO):
    """A file whose disk fails half way (an OSError from read)."""

    def __init__(self, data: bytes, limit: int):
        super().__init__(data)
        self.limit = limit

    def read(self, size=-1):
        if self.tell() >= self.limit:
            raise OSError("Input/output error")
        return super().read(size)


def test_an_error_half_way_fails_the_import_and_imports_nothing(org):
    data = generated(days=40)
    assert len(data) > 3 << 20
    call_import = services.import_calls(
        org, BreaksAfter(data, 2 << 20), actor=None, fmt=QUEUE_LOG, file_name="broken"
    )
    assert call_import.status == ImportStatus.FAILED
    assert "Input/output error" in call_import.report["failure"]
    assert call_import.lines_read > 10_000  # it had read and written calls before the error
    assert not Call.objects.exists()
    assert ReceptionEvent.objects.filter(verb="calls.import_failed").exists()


# ---------------------------------------------------------------------------
# Queues, sites, opening hours, days


def test_queues_take_their_mapping_and_new_queues_are_listed_unmapped(org):
    accueil = org.service_set.get(code="accueil")
    mairie = org.site_set.get(code="mairie")
    QueueMapping.objects.create(organisation=org, queue="accueil", service=accueil)
    QueueMapping.objects.create(organisation=org, queue="interne", counted=False)
    data = log(*answered_call(), *abandoned_call(queue="interne"), *abandoned_call("c3", "neuve"))
    call_import = run(org, data, site=mairie)
    assert call_import.site == mairie
    first = Call.objects.get(queue="accueil")
    assert (first.service, first.site, first.counted) == (accueil, mairie, True)
    assert not Call.objects.get(queue="interne").counted
    new = QueueMapping.objects.get(queue="neuve")
    assert (new.service, new.site, new.counted) == (None, None, True)
    assert Call.objects.get(queue="neuve").site == mairie
    event = ReceptionEvent.objects.get(verb="calls.imported")
    assert event.details["new_queues"] == ["neuve"]
    assert event.details["calls_created"] == 3


def at_paris(text: str) -> int:
    from zoneinfo import ZoneInfo

    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Paris")).timestamp())


def call_at(call_id: str, ts: int) -> list[str]:
    return [
        f"{ts}|{call_id}|accueil|NONE|ENTERQUEUE||0600000000|1",
        f"{ts + 30}|{call_id}|accueil|NONE|ABANDON|1|1|30",
    ]


def test_calls_entering_when_the_site_is_closed_are_outside_hours(org):
    from qualicite.core import services as core_services

    mairie = org.site_set.get(code="mairie")  # Monday to Friday, 8:30 to 17:00
    core_services.add_site_closure(
        mairie, actor=None, start_date=date(2025, 1, 8), end_date=date(2025, 1, 8)
    )
    moments = {
        "open": "2025-01-06 10:00",
        "before-opening": "2025-01-06 08:29",
        "at-opening": "2025-01-06 08:30",
        "evening": "2025-01-06 17:00",
        "saturday": "2025-01-11 10:00",
        "closure": "2025-01-08 10:00",
        "holiday": "2025-05-01 10:00",  # a Thursday, Labour Day
    }
    lines = sorted(
        (line for name, moment in moments.items() for line in call_at(name, at_paris(moment))),
        key=lambda line: int(line.split("|")[0]),
    )
    run(org, log(*lines), site=mairie)
    outside = dict(Call.objects.values_list("call_id", "outside_hours"))
    assert outside == {
        "open": False,
        "before-opening": True,
        "at-opening": False,
        "evening": True,
        "saturday": True,
        "closure": True,
        "holiday": True,
    }


def test_a_call_of_no_site_is_never_outside_hours(org):
    run(org, log(*call_at("night", at_paris("2025-01-06 23:00"))))
    assert Call.objects.get().outside_hours is False


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(min_value=1735686000, max_value=1767222000))
def test_outside_hours_agrees_with_the_calendar(org, ts):
    from qualicite.core.calendar import Calendar
    from qualicite.core.choices import DayKind

    mairie = org.site_set.get(code="mairie")
    calendar = Calendar.for_organisation(org, site=mairie, day_kind=DayKind.CALENDAR)
    instant = datetime.fromtimestamp(ts, UTC)
    is_open = calendar.next_open_moment(instant) == instant
    assert queries.LocalHours(org).closed(mairie.pk, ts) is not is_open


def test_an_import_names_the_local_days_it_touched(org, days_changed):
    late = call_at("late", at_paris("2025-01-06 23:30"))  # 22:30 UTC, still the 6th in Paris
    next_day = call_at("next", at_paris("2025-01-07 00:30"))  # 23:30 UTC on the 6th
    run(org, log(*answered_call(), *late, *next_day))
    assert days_changed == [(org.pk, {date(2025, 1, 6), date(2025, 1, 7)})]


# ---------------------------------------------------------------------------
# Progress


def test_progress_is_reported_as_the_file_is_read(org, monkeypatch):
    monkeypatch.setattr(services, "PROGRESS_LINES", 5000)
    monkeypatch.setattr(services, "READ_CHUNK", 64 << 10)
    data = generated(days=40)
    seen = []
    call_import = run(org, data, progress=lambda done, lines: seen.append((done, lines)))
    assert len(seen) > 5
    assert seen == sorted(seen)
    assert seen[-1] == (len(data), call_import.lines_read)
    assert not queries.progress_path(call_import.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_to_another_connection_while_the_import_runs(org, monkeypatch):
    """The page reads progress in another thread (another connection) during the import."""
    monkeypatch.setattr(services, "PROGRESS_LINES", 5000)
    monkeypatch.setattr(services, "READ_CHUNK", 64 << 10)
    data = generated(days=40)
    seen: list[dict] = []

    def look(done, lines):
        if done == len(data):
            return
        found = {}

        def other_connection():
            try:
                call_import = CallImport.objects.get(file_name="watched")
                found.update(queries.import_progress(call_import))
            finally:
                connection.close()

        thread = threading.Thread(target=other_connection)
        thread.start()
        thread.join(timeout=30)
        seen.append(found)

    call_import = run(org, data, progress=look, file_name="watched")
    assert call_import.status == ImportStatus.DONE
    assert len(seen) > 3
    assert all(view["status"] == "running" for view in seen)
    lines = [view["lines_read"] for view in seen]
    assert lines == sorted(lines) and lines[-1] > lines[0] > 0
    assert 0 < seen[-1]["percent"] < 100
    final = queries.import_progress(call_import)
    assert (final["percent"], final["lines_read"]) == (100, call_import.lines_read)


def test_the_progress_file_is_read_while_running_and_ignored_after(org):
    call_import = CallImport.objects.create(
        organisation=org, file_name="f", format=QUEUE_LOG, status="running", bytes_total=1000
    )
    services.publish_progress(call_import.pk, 250, 1234)
    assert json.loads(queries.progress_path(call_import.pk).read_text())["lines_read"] == 1234
    shown = queries.import_progress(call_import)
    assert (shown["percent"], shown["lines_read"], shown["finished"]) == (25, 1234, False)
    call_import.status = ImportStatus.DONE
    call_import.lines_read = 2000
    assert queries.import_progress(call_import)["lines_read"] == 2000


# ---------------------------------------------------------------------------
# Properties: any cut into two overlapping files gives the whole file's calls


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.floats(min_value=0.05, max_value=0.95), overlap=st.integers(0, 400))
def test_two_overlapping_pieces_of_a_log_give_the_calls_of_the_whole(org, cut, overlap):
    data = generated(days=2, seed=7)
    lines = data.decode().splitlines(keepends=True)
    at = int(len(lines) * cut)
    first, second = lines[:at], lines[max(0, at - overlap) :]
    with transaction.atomic():
        run(org, "".join(first).encode())
        run(org, "".join(second).encode())
        assert rows(org) == expected(data)
        transaction.set_rollback(True)
