"""The bulk writer of call imports: its fast paths must never change what is written."""

from __future__ import annotations

from datetime import time

import pytest
from django.db import connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from qualicite.reception import queries
from qualicite.reception.call_writer import CallWriter, merged_bounds
from qualicite.reception.models import Call, CallImport
from qualicite.reception.parsers.calls import CallRecord, Outcome
from tests.reception.test_import_calls import T0, at_paris, call_at, log, run


def record(call_id: str, outcome: str = Outcome.ANSWERED, talk: int | None = 60, start=0):
    return CallRecord(
        call_id=call_id,
        queue="accueil",
        entered_ts=T0 + start,
        wait_seconds=12,
        outcome=outcome,
        agent="PJSIP/201" if outcome == Outcome.ANSWERED else "",
        talk_seconds=talk,
        ended_ts=T0 + start + 72,
    )


def write(organisation, records) -> CallWriter:
    call_import = CallImport.objects.create(organisation=organisation, file_name="test")
    with transaction.atomic():
        writer = CallWriter(organisation, call_import, None)
        writer.add(records)
        writer.close()
    return writer


def test_a_call_staged_twice_in_one_batch_is_written_once_finished(org):
    unfinished = record("twice", talk=None)
    finished = record("twice")
    writer = write(org, [unfinished, record("other", start=300), finished])
    call = Call.objects.get(call_id="twice")
    assert call.talk_seconds == 60
    assert (writer.created, writer.unchanged) == (2, 1)
    assert Call.objects.count() == 2


def test_calls_older_than_the_newest_call_are_merged_not_doubled(org):
    write(org, [record("a", start=0), record("c", start=600)])
    writer = write(org, [record("a", start=0), record("b", start=300), record("d", start=900)])
    assert sorted(Call.objects.values_list("call_id", flat=True)) == ["a", "b", "c", "d"]
    assert (writer.created, writer.unchanged) == (2, 1)


def test_the_writer_leaves_no_foreign_key_constraint_on_the_calls_table(org):
    # The calls table is written by the million: no per-row checks (ADR 0002).
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Call._meta.db_table)
    assert not [name for name, details in constraints.items() if details["foreign_key"]]


@pytest.mark.parametrize(
    ("spans", "bounds"),
    [
        ([], []),
        ([(8, 12), (14, 17)], [8, 12, 14, 17]),
        ([(14, 17), (8, 12)], [8, 12, 14, 17]),
        ([(8, 12), (12, 17)], [8, 17]),
        ([(8, 13), (12, 17), (9, 10)], [8, 17]),
        ([(8, 8), (9, 10)], [9, 10]),
    ],
)
def test_opening_spans_are_merged_into_sorted_bounds(spans, bounds):
    assert merged_bounds(spans) == bounds


@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=6),
    st.integers(-1, 42),
)
def test_the_merged_bounds_say_what_any_span_says(spans, ts):
    from bisect import bisect_right

    inside = any(opens <= ts < closes for opens, closes in spans)
    assert (bisect_right(merged_bounds(spans), ts) % 2 == 1) is inside


def test_outside_hours_of_an_import_agree_with_the_opening_hours_call_by_call(org):
    mairie = org.site_set.get(code="mairie")
    moments = [
        f"2025-01-{day:02} {hour:02}:{minute:02}"
        for day in (6, 11)
        for hour in range(7, 19)
        for minute in (0, 29, 30)
    ]
    lines = []
    for number, moment in enumerate(moments):
        lines += call_at(f"c{number}", at_paris(moment))
    lines.sort(key=lambda line: int(line.split("|")[0]))
    run(org, log(*lines), site=mairie)
    hours = queries.LocalHours(org)
    calls = Call.objects.all()
    assert len(calls) == len(moments)
    for call in calls:
        assert call.outside_hours is hours.closed(mairie.pk, call.entered_at.timestamp())


def test_a_mapped_queue_takes_the_hours_of_its_site_not_of_the_import(org):
    from qualicite.core import services as core_services
    from qualicite.reception.models import QueueMapping

    mairie = org.site_set.get(code="mairie")  # Monday to Friday, 8:30 to 17:00
    night_desk = core_services.create_site(
        org,
        actor=None,
        code="permanence",
        name="Permanence de nuit",
        opening_hours=[(day, time(18, 0), time(23, 0)) for day in range(5)],
    )
    QueueMapping.objects.create(organisation=org, queue="nuit", site=night_desk)
    evening = at_paris("2025-01-06 19:00")
    lines = sorted(
        [*call_at("day", at_paris("2025-01-06 10:00")), *call_at("evening", evening)]
        + [line.replace("|accueil|", "|nuit|") for line in call_at("night-queue", evening + 60)],
        key=lambda line: int(line.split("|")[0]),
    )
    run(org, log(*lines), site=mairie)
    outside = dict(Call.objects.values_list("call_id", "outside_hours"))
    assert outside == {"day": False, "evening": True, "night-queue": False}
    assert Call.objects.get(call_id="night-queue").site == night_desk
