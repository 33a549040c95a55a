"""The queue_log readers: Asterisk's file and the Wazo/XiVO export, good and bad input."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime

import pytest

from qualicite.reception.parsers import CarriedState, Outcome, fastpath_active, parse
from qualicite.reception.parsers.calls import PURE_PARSERS
from qualicite.reception.parsers.generate import Generator, generate, wazo_lines

T0 = 1736150400  # 2025-01-06 08:00:00 UTC, a Monday


def require_compiled() -> None:
    """The compiled fast path must be built: a failure in CI, a skip on a machine without gcc."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(PURE_PARSERS, raising=False)
        if fastpath_active():
            return
    if os.environ.get("CI") == "true":
        pytest.fail("the parsers' compiled fast path (_fastpath.c) is not built")
    pytest.skip("the parsers' compiled fast path is not built (no C compiler?)")


@pytest.fixture(autouse=True, scope="module", params=["compiled", "pure"])
def parser_path(request):
    """Every test of the module runs with the compiled fast path, then in pure Python."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "pure":
            patch.setenv(PURE_PARSERS, "1")
        else:
            require_compiled()
            patch.delenv(PURE_PARSERS, raising=False)
        yield request.param


def log(*lines: str, end: str = "\n") -> bytes:
    return (end.join(lines) + end).encode()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def read(data: bytes, fmt: str = "asterisk-queue-log", **options):
    result = parse(data, fmt, **options)
    calls = result.all()
    return calls, result.report, result.carried


def answered_call(call_id: str = "1736150400.1", queue: str = "accueil", start: int = 0):
    t = T0 + start
    return [
        f"{t}|{call_id}|{queue}|NONE|ENTERQUEUE||0612345678|1",
        f"{t + 15}|{call_id}|{queue}|PJSIP/202|RINGNOANSWER|15000",
        f"{t + 20}|{call_id}|{queue}|PJSIP/201|CONNECT|20|{t + 20}.7|4",
        f"{t + 140}|{call_id}|{queue}|PJSIP/201|COMPLETECALLER|20|120|1",
    ]


# ---------------------------------------------------------------------------
# Outcomes


def test_an_answered_call_has_its_agent_wait_and_talk_time():
    calls, report, carried = read(log(*answered_call()))
    assert len(calls) == 1
    call = calls[0]
    assert call.call_id == "1736150400.1"
    assert call.queue == "accueil"
    assert call.entered_at == at(0)
    assert call.entered_at.tzinfo is UTC
    assert call.outcome == Outcome.ANSWERED
    assert (call.agent, call.wait_seconds, call.talk_seconds) == ("PJSIP/201", 20, 120)
    assert call.ring_no_answer == 1
    assert call.ended_at == at(140)
    assert call.caller == "0612345678"
    assert (call.first_line, call.last_line) == (1, 4)
    assert report.calls == 1 and report.lines_read == 4 and report.rejected_count == 0
    assert report.importable
    assert len(carried) == 0


def test_an_abandoned_call_keeps_its_wait():
    calls, report, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||0145678910|2",
            f"{T0 + 37}|1.1|accueil|NONE|ABANDON|1|2|37",
        )
    )
    [call] = calls
    assert call.outcome == Outcome.ABANDONED
    assert call.wait_seconds == 37
    assert call.agent == "" and call.talk_seconds is None
    assert call.ended_at == at(37)


def test_timeouts_empty_queues_and_keys_are_told_apart():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0}|1.2|accueil|NONE|ENTERQUEUE||02|2",
            f"{T0}|1.3|accueil|NONE|ENTERQUEUE||03|3",
            f"{T0 + 4}|1.3|accueil|NONE|EXITEMPTY|3|3|4",
            f"{T0 + 42}|1.2|accueil|NONE|EXITWITHKEY|9|2|2|42",
            f"{T0 + 180}|1.1|accueil|NONE|EXITWITHTIMEOUT|1|1|180",
        )
    )
    outcomes = {call.call_id: (call.outcome, call.wait_seconds) for call in calls}
    assert outcomes == {
        "1.1": (Outcome.TIMEOUT, 180),
        "1.2": (Outcome.EXIT_KEY, 42),
        "1.3": (Outcome.EXIT_EMPTY, 4),
    }


def test_a_transfer_after_the_answer_is_still_answered_and_counted():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 5}|1.1|accueil|PJSIP/201|CONNECT|5|{T0 + 5}.2|2",
            f"{T0 + 65}|1.1|accueil|PJSIP/201|BLINDTRANSFER|212|from-internal|5|60|1",
        )
    )
    [call] = calls
    assert call.outcome == Outcome.ANSWERED
    assert (call.transfers, call.wait_seconds, call.talk_seconds) == (1, 5, 60)


def test_an_attended_transfer_reads_its_times_from_the_last_fields():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 8}|1.1|accueil|PJSIP/201|CONNECT|8|x|2",
            f"{T0 + 98}|1.1|accueil|PJSIP/201|ATTENDEDTRANSFER|LINK|PJSIP/201-1|PJSIP/212-2|8|90|1",
            f"{T0 + 100}|1.2|accueil|NONE|ENTERQUEUE||02|1",
            f"{T0 + 102}|1.2|accueil|PJSIP/201|CONNECT|2|x|2",
            f"{T0 + 130}|1.2|accueil|PJSIP/201|ATTENDEDTRANSFER|BRIDGE|b-1|2|28|1",
        )
    )
    assert [(c.talk_seconds, c.wait_seconds, c.transfers) for c in calls] == [
        (90, 8, 1),
        (28, 2, 1),
    ]


def test_agent_and_queue_events_are_ignored_not_rejected():
    calls, report, _ = read(
        log(
            f"{T0}|NONE|NONE|NONE|QUEUESTART|",
            f"{T0}|NONE|accueil|PJSIP/201|ADDMEMBER|",
            f"{T0}|NONE|accueil|PJSIP/201|PAUSE|Déjeuner",
            f"{T0}|MANAGER|accueil|PJSIP/201|UNPAUSE|",
            f"{T0}|NONE|NONE|Agent/1|AGENTLOGIN|PJSIP/201",
            f"{T0}|NONE|NONE|NONE|CONFIGRELOAD|",
            *answered_call(start=10),
        )
    )
    assert len(calls) == 1
    assert report.ignored_lines == 6
    assert report.rejected_count == 0 and report.warnings_count == 0


def test_a_call_through_two_queues_gives_one_record_per_queue():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 180}|1.1|accueil|NONE|EXITWITHTIMEOUT|1|1|180",
            f"{T0 + 180}|1.1|accueil-debordement|NONE|ENTERQUEUE||01|1",
            f"{T0 + 190}|1.1|accueil-debordement|PJSIP/231|CONNECT|10|x|3",
            f"{T0 + 250}|1.1|accueil-debordement|PJSIP/231|COMPLETEAGENT|10|60|1",
        )
    )
    assert [(c.queue, c.outcome, c.wait_seconds, c.entered_at) for c in calls] == [
        ("accueil", Outcome.TIMEOUT, 180, at(0)),
        ("accueil-debordement", Outcome.ANSWERED, 10, at(180)),
    ]


def test_a_call_entering_the_same_queue_again_gives_two_visits():
    calls, report, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 60}|1.1|accueil|NONE|EXITWITHKEY|1|1|1|60",
            f"{T0 + 60}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 70}|1.1|accueil|PJSIP/201|CONNECT|10|x|3",
            f"{T0 + 100}|1.1|accueil|PJSIP/201|COMPLETEAGENT|10|30|1",
        )
    )
    assert [(c.outcome, c.entered_at, c.wait_seconds) for c in calls] == [
        (Outcome.EXIT_KEY, at(0), 60),
        (Outcome.ANSWERED, at(60), 10),
    ]
    assert report.warnings_count == 0


# ---------------------------------------------------------------------------
# Two files


def test_a_call_spanning_two_files_is_completed_by_the_second():
    lines = answered_call()
    first, report, carried = read(log(*lines[:2]))
    assert first == [] and report.calls_carried == 1 and report.importable
    second, report, carried = read(log(*lines[2:]), carried=carried)
    whole, _, _ = read(log(*lines))
    assert second == whole
    assert second[0].caller == "0612345678"
    assert len(carried) == 0


def test_the_carried_state_survives_json():
    lines = answered_call()
    _, _, carried = read(log(*lines[:3]))
    stored = json.loads(json.dumps(carried.to_json()))
    second, _, _ = read(log(*lines[3:]), carried=CarriedState.from_json(stored))
    also, _, _ = read(log(*lines[3:]), carried=stored)
    whole, _, _ = read(log(*lines))
    assert second == whole == also


def test_lines_repeated_at_the_start_of_the_next_file_are_not_counted_twice():
    lines = answered_call() + answered_call("1736150400.2", start=200)
    _, _, carried = read(log(*lines[:6]))
    second, report, _ = read(log(*lines[2:]), carried=carried)
    assert [call.call_id for call in second] == ["1736150400.2"]
    assert report.duplicates == 4


# ---------------------------------------------------------------------------
# Disorder and repetition


def test_duplicate_lines_are_not_counted_twice():
    lines = answered_call()
    calls, report, _ = read(log(*lines[:2], lines[1], *lines[2:], lines[3], lines[0]))
    whole, _, _ = read(log(*lines))
    assert calls == whole
    assert calls[0].ring_no_answer == 1
    assert report.duplicates == 3
    assert report.rejected_count == 0


def test_lines_out_of_order_within_a_call_are_sorted():
    lines = answered_call()
    calls, report, _ = read(log(lines[3], lines[1], lines[2], lines[0]))
    whole, _, _ = read(log(*lines))
    assert calls == whole
    assert report.warnings_count == 0


def test_a_line_arriving_long_after_its_call_ended_is_a_warning():
    lines = answered_call()
    # Over a mebibyte of agent events: the call is assembled before its late line comes.
    filler = [f"{T0 + 200 + i // 100}|NONE|accueil|PJSIP/201|UNPAUSE|" for i in range(30_000)]
    calls, report, _ = read(log(lines[0], *lines[2:], *filler, lines[1]))
    [call] = calls
    assert call.ring_no_answer == 0
    assert [(p.line, p.code) for p in report.warnings] == [(30_004, "late_event")]
    assert report.ignored_lines == 30_000


def test_a_line_more_than_a_day_out_of_order_is_rejected():
    calls, report, _ = read(
        log(
            *answered_call(start=100_000),
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            *answered_call("1736150400.2", start=100_200),
        )
    )
    assert len(calls) == 2
    assert [(p.line, p.code) for p in report.rejected] == [(5, "out_of_order")]


def test_one_line_with_a_time_far_in_the_future_does_not_disturb_the_others():
    lines = answered_call() + answered_call("1736150400.2", start=300)
    future = f"{T0 + 40_000_000}|NONE|accueil|PJSIP/201|PAUSE|"
    calls, report, _ = read(log(*lines[:2], future, *lines[2:]))
    whole, _, _ = read(log(*lines))
    assert calls == whole
    assert report.rejected_count == 0


# ---------------------------------------------------------------------------
# Bad input


def test_a_line_that_is_not_utf8_is_rejected_alone():
    lines = answered_call()
    data = log(*lines[:2]) + b"\xff\xfe garbage \xc3\x28|x\n" + log(*lines[2:])
    calls, report, _ = read(data)
    assert len(calls) == 1
    assert [(p.line, p.code) for p in report.rejected] == [(3, "not_utf8")]
    assert report.lines_read == 5


def test_a_truncated_last_line_is_rejected_and_does_not_count_as_bad():
    lines = answered_call()
    data = log(*lines[:3]) + lines[3][:30].encode()
    calls, report, carried = read(data)
    assert calls == []
    assert [(p.line, p.code) for p in report.rejected] == [(4, "truncated")]
    assert report.truncated_last_line
    assert report.bad_share == 0 and report.importable
    assert len(carried) == 1


def test_a_complete_last_line_without_newline_is_still_truncated():
    # The PBX always ends its lines: this one may have lost digits.
    calls, report, _ = read(log(*answered_call(), end="\n")[:-1])
    assert calls == []
    assert report.counts["truncated"] == 1


def test_an_unknown_event_is_a_warning_not_a_rejection():
    calls, report, _ = read(
        log(*answered_call(), f"{T0 + 300}|1736150400.9|accueil|NONE|CUSTOMSURVEY|5")
    )
    assert len(calls) == 1
    assert report.rejected_count == 0
    assert [(p.line, p.code, p.params) for p in report.warnings] == [
        (5, "unknown_event", {"event": "CUSTOMSURVEY"})
    ]
    assert "unknown event 'CUSTOMSURVEY'" in report.warnings[0].message


def test_malformed_fields_are_rejected_with_their_reason():
    calls, report, _ = read(
        log(
            *answered_call(),
            "1736150999|2.1|accueil",
            "yesterday|2.2|accueil|NONE|ENTERQUEUE||01|1",
            "17|2.3|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 500}|2.4|accueil|PJSIP/201|CONNECT|soon|x|1",
            f"{T0 + 500}|2.5|accueil|PJSIP/201|COMPLETEAGENT|12",
            *answered_call("1736150400.7", start=1000),
        ),
        max_bad_share=0.5,
    )
    assert len(calls) == 2
    assert [(p.line, p.code) for p in report.rejected] == [
        (5, "too_few_fields"),
        (6, "bad_timestamp"),
        (7, "timestamp_out_of_range"),
        (8, "bad_number"),
        (9, "too_few_fields"),
    ]
    assert report.importable


def test_an_empty_file_is_reported():
    for data in (b"", b"\n\n  \n"[:2]):
        calls, report, _ = read(data)
        assert calls == []
        assert report.error is not None and report.error.code == "empty"
        assert not report.importable


def test_a_file_of_another_format_is_refused_with_its_first_lines():
    cdr = b'"","0612345678","3000","from-trunk","0612345678","SIP/t-01","","Queue","accueil"\n'
    calls, report, _ = read(cdr * 80)
    assert calls == []
    assert report.error.code == "wrong_format"
    assert "does not look like an Asterisk queue_log" in report.error.message
    assert "0612345678" in report.error.message
    assert report.lines_read == 50  # it stopped reading


def test_random_bytes_are_refused_without_a_crash():
    data = bytes(range(256)) * 50
    calls, report, _ = read(data)
    assert calls == [] and not report.importable


def test_too_many_bad_lines_refuse_the_file():
    good = answered_call()
    calls, report, _ = read(log(*good, "garbage"))
    assert report.too_many_bad  # 1 of 5 lines
    assert report.error.code == "too_many_bad"
    assert len(calls) == 1  # the caller must roll them back: the report says so
    calls, report, _ = read(log(*good, "garbage"), max_bad_share=0.25)
    assert report.importable


def test_rejected_reasons_are_capped_but_all_counted():
    calls, report, _ = read(log(*answered_call(), *["x|y"] * 30), keep=10, max_bad_share=1)
    assert report.rejected_count == 30
    assert len(report.rejected) == 10
    assert report.counts["too_few_fields"] == 30
    assert json.dumps(report.as_dict())


def test_a_call_without_its_enterqueue_line_is_rebuilt_from_its_wait():
    lines = answered_call()
    calls, report, _ = read(log(*lines[1:]))
    [call] = calls
    assert call.entered_at == at(0)
    assert (call.wait_seconds, call.talk_seconds, call.caller) == (20, 120, "")
    assert [p.code for p in report.warnings] == ["no_enterqueue"]


def test_a_call_that_never_ends_is_closed_incomplete_after_a_day():
    calls, report, carried = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            *answered_call("1736150400.2", start=90000),
        )
    )
    assert [(c.call_id, c.outcome) for c in calls] == [
        ("1.1", Outcome.INCOMPLETE),
        ("1736150400.2", Outcome.ANSWERED),
    ]
    assert [p.code for p in report.warnings] == ["incomplete"]
    assert len(carried) == 0


def test_an_answered_call_whose_end_is_lost_stays_answered():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 9}|1.1|accueil|PJSIP/201|CONNECT|9|x|1",
            f"{T0 + 500}|1.1|accueil|NONE|ENTERQUEUE||01|1",
            f"{T0 + 530}|1.1|accueil|NONE|ABANDON|1|1|30",
        )
    )
    assert [(c.outcome, c.wait_seconds, c.talk_seconds, c.agent) for c in calls] == [
        (Outcome.ANSWERED, 9, None, "PJSIP/201"),
        (Outcome.ABANDONED, 30, None, ""),
    ]


def test_an_old_asterisk_without_waittime_uses_the_timestamps():
    calls, _, _ = read(
        log(
            f"{T0}|1.1|accueil|NONE|ENTERQUEUE||01",
            f"{T0 + 33}|1.1|accueil|NONE|EXITWITHKEY|5|1",
        )
    )
    assert [(c.outcome, c.wait_seconds, c.caller) for c in calls] == [(Outcome.EXIT_KEY, 33, "01")]


def test_windows_line_endings_and_a_byte_order_mark_are_read():
    data = b"\xef\xbb\xbf" + log(*answered_call(), end="\r\n")
    calls, report, _ = read(data)
    assert len(calls) == 1 and report.rejected_count == 0
    assert calls[0].caller == "0612345678"


def test_an_overlong_line_is_rejected_without_filling_the_memory():
    lines = answered_call()
    data = log(lines[0]) + b"x" * 3_000_000 + b"\n" + log(*lines[1:])
    calls, report, _ = read(data)
    assert len(calls) == 1
    assert [(p.line, p.code) for p in report.rejected] == [(2, "too_long")]


# ---------------------------------------------------------------------------
# Generated files


def test_a_generated_week_is_read_back_exactly():
    generator = Generator(seed=7, calls_per_day=250)
    days = [generator.next_day() for _ in range(6)]
    expected = sorted((spec.record() for day in days for spec in day.specs), key=key)
    data = "".join(line + "\n" for day in days for line in day.lines()).encode()
    calls, report, carried = read(data)
    assert sorted(calls, key=key) == expected
    assert report.rejected_count == 0 and report.warnings_count == 0
    assert report.ignored_lines > 0
    assert {c.outcome for c in calls} >= {
        Outcome.ANSWERED,
        Outcome.ABANDONED,
        Outcome.TIMEOUT,
        Outcome.EXIT_EMPTY,
        Outcome.EXIT_KEY,
    }
    assert any(c.transfers for c in calls) and any(c.ring_no_answer for c in calls)
    assert any(c.queue == "accueil-debordement" for c in calls)
    assert len(carried) == 0


def test_reading_line_by_line_or_in_one_piece_gives_the_same_calls():
    out = io.BytesIO()
    generate(out, days=2, seed=3, calls_per_day=120)
    data = out.getvalue()
    whole, _, _ = read(data)
    by_lines, _, _ = read(io.BytesIO(data).readlines())
    from_file, _, _ = read(io.BytesIO(data))
    assert whole == by_lines == from_file
    assert len(whole) > 200


def test_the_generator_is_deterministic():
    first, second = io.BytesIO(), io.BytesIO()
    generate(first, lines=5000, seed=11)
    generate(second, lines=5000, seed=11)
    assert first.getvalue() == second.getvalue()
    assert first.getvalue().count(b"\n") == 5000


def test_memory_holds_only_the_open_calls():
    out = io.BytesIO()
    generate(out, days=3, seed=5, calls_per_day=400)
    result = parse(out.getvalue(), "asterisk-queue-log")
    largest = 0
    for _call in result:
        largest = max(largest, result.open_calls)
    # The calls open at once, plus those ended within the last `reorder_lines` lines.
    assert 0 < largest < 150 < result.report.calls


# ---------------------------------------------------------------------------
# Wazo / XiVO export


def key(call):
    return (call.call_id, call.queue, call.entered_at)


def test_a_wazo_export_gives_the_same_calls_as_the_queue_log():
    generator = Generator(seed=2, calls_per_day=150)
    days = [generator.next_day() for _ in range(2)]
    lines = [line for day in days for line in day.lines()]
    asterisk, _, _ = read(log(*lines))
    wazo_data = log("time,callid,queuename,agent,event,data1,data2,data3,data4,data5")
    wazo_data += log(*wazo_lines(lines))
    wazo, report, _ = read(wazo_data, "wazo-queue-log-csv")
    assert report.rejected_count == 0 and report.warnings_count == 0
    assert report.ignored_lines > 1
    wazo = [
        call._replace(entered_ts=int(call.entered_ts), ended_ts=int(call.ended_ts)) for call in wazo
    ]
    assert sorted(wazo, key=key) == sorted(asterisk, key=key)


def test_a_wazo_export_with_another_column_order_and_semicolons():
    calls, report, _ = read(
        log(
            "id;event;time;callid;queuename;agent;data1;data2;data3",
            "1;ENTERQUEUE;2025-01-06 09:00:00.250000;1.1;accueil;NONE;;0612345678;1",
            "2;CONNECT;2025-01-06 09:00:12.500000;1.1;accueil;Agent/3001;12;x;3",
            "3;COMPLETEAGENT;2025-01-06 09:02:12.900000;1.1;accueil;Agent/3001;12;120;1",
        ),
        "wazo-queue-log-csv",
        timezone="Europe/Paris",
    )
    assert report.rejected_count == 0
    [call] = calls
    assert call.entered_at == datetime(2025, 1, 6, 8, 0, 0, 250000, tzinfo=UTC)
    assert (call.agent, call.wait_seconds, call.talk_seconds) == ("Agent/3001", 12, 120)


def test_wazo_times_with_an_offset_ignore_the_timezone():
    calls, _, _ = read(
        log(
            "time,callid,queuename,agent,event,data1,data2,data3,data4,data5",
            "2025-07-01 10:00:00.000001+02,1.1,q1,NONE,ENTERQUEUE,,01,1,,",
            '2025-07-01 10:00:30.5+02:00,1.1,q1,NONE,ABANDON,1,1,"30",,',
        ),
        "wazo-queue-log-csv",
        timezone="America/New_York",
    )
    [call] = calls
    assert call.entered_at == datetime(2025, 7, 1, 8, 0, 0, 1, tzinfo=UTC)
    assert call.wait_seconds == 30


def test_a_queue_log_given_as_wazo_is_refused():
    calls, report, _ = read(log(*answered_call() * 20), "wazo-queue-log-csv")
    assert calls == [] and report.error.code == "wrong_format"
    assert "Wazo" in report.error.message
