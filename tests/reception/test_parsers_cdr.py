"""The Asterisk CDR reader (Master.csv and exports with a header)."""

from __future__ import annotations

from datetime import UTC, datetime

from qualicite.reception.parsers import Outcome, parse
from qualicite.reception.parsers.cdr import agent_of


def row(
    *,
    src="0612345678",
    dst="3000",
    channel="PJSIP/trunk-0000001a",
    dstchannel="PJSIP/201-0000001b",
    lastapp="Queue",
    lastdata="accueil,t,,,300",
    start="2025-01-06 09:00:00",
    duration=200,
    billsec=180,
    disposition="ANSWERED",
    uniqueid="1736150400.12",
) -> str:
    values = [
        "",
        src,
        dst,
        "from-trunk",
        f'"Jean" <{src}>',
        channel,
        dstchannel,
        lastapp,
        lastdata,
        start,
        "",
        "",
    ]
    quoted = ",".join('"' + value.replace('"', '""') + '"' for value in values)
    tail = f'"{disposition}","DOCUMENTATION","{uniqueid}",""'
    return f"{quoted},{duration},{billsec},{tail}"


def read(text: str, **options):
    result = parse(text.encode(), "asterisk-cdr-csv", **options)
    calls = result.all()
    return calls, result.report


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_answered_queue_call_takes_its_agent_from_the_dstchannel():
    calls, report = read(row() + "\n")
    [call] = calls
    assert (call.call_id, call.queue, call.outcome) == ("1736150400.12", "accueil", "answered")
    assert call.entered_at == at("2025-01-06 09:00:00")
    assert (call.wait_seconds, call.talk_seconds, call.agent) == (20, 180, "PJSIP/201")
    assert call.ended_at == at("2025-01-06 09:03:20")
    assert call.caller == "0612345678"
    assert report.calls == 1 and report.rejected_count == 0 and report.importable


def test_a_call_that_rang_several_agents_is_one_call():
    calls, report = read(
        "\n".join(
            [
                row(
                    dstchannel="PJSIP/202-0000001c", disposition="NO ANSWER", billsec=0, duration=15
                ),
                row(
                    dstchannel="PJSIP/203-0000001d", disposition="NO ANSWER", billsec=0, duration=15
                ),
                row(),
            ]
        )
        + "\n"
    )
    [call] = calls
    assert (call.outcome, call.agent, call.ring_no_answer) == ("answered", "PJSIP/201", 2)
    assert call.first_line == 1 and call.last_line == 3


def test_unanswered_calls_are_abandoned_and_busy_ones_not_admitted():
    calls, _ = read(
        "\n".join(
            [
                row(uniqueid="1.1", dstchannel="", billsec=45, duration=45),
                row(uniqueid="1.2", dstchannel="", disposition="NO ANSWER", billsec=0, duration=30),
                row(uniqueid="1.3", dstchannel="", disposition="BUSY", billsec=0, duration=2),
            ]
        )
        + "\n"
    )
    assert [(c.call_id, c.outcome, c.wait_seconds, c.talk_seconds) for c in calls] == [
        ("1.1", Outcome.ABANDONED, 45, None),
        ("1.2", Outcome.ABANDONED, 30, None),
        ("1.3", Outcome.NOT_ADMITTED, 0, None),
    ]


def test_a_call_outside_a_queue_is_named_by_its_destination():
    calls, _ = read(row(lastapp="Dial", lastdata="PJSIP/201,30", dst="201") + "\n")
    assert calls[0].queue == "201"


def test_an_export_with_a_header_and_calldate_is_read_by_names():
    text = (
        "calldate,clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,duration,billsec,"
        "disposition,amaflags,accountcode,uniqueid,userfield\n"
        "2025-01-06 10:00:00,Jean,0612,3000,from-trunk,PJSIP/t-01,PJSIP/211-02,Queue,"
        "etat-civil,100,90,ANSWERED,3,,1736154000.5,\n"
    )
    calls, report = read(text)
    [call] = calls
    assert (call.call_id, call.queue, call.agent) == ("1736154000.5", "etat-civil", "PJSIP/211")
    assert (call.wait_seconds, call.talk_seconds) == (10, 90)
    assert report.ignored_lines == 1


def test_times_are_read_in_the_pbx_zone():
    calls, _ = read(row() + "\n", timezone="Europe/Paris")
    assert calls[0].entered_at == at("2025-01-06 08:00:00")


def test_bad_rows_are_rejected_and_duplicates_ignored():
    good = row()
    calls, report = read(
        "\n".join(
            [
                good,
                row(uniqueid="2.1", duration="long"),
                row(uniqueid="2.2", start="06/01/2025 09:00"),
                '"a","b"',
                good,
                row(uniqueid="2.3"),
            ]
        )
        + "\n",
        max_bad_share=0.6,
    )
    assert [c.call_id for c in calls] == ["1736150400.12", "2.3"]
    assert [(p.line, p.code) for p in report.rejected] == [
        (2, "bad_number"),
        (3, "bad_timestamp"),
        (4, "too_few_fields"),
    ]
    assert report.duplicates == 1
    assert report.importable


def test_a_last_row_without_newline_is_kept_when_complete():
    calls, report = read(row(uniqueid="1.1") + "\n" + row(uniqueid="1.2"))
    assert [c.call_id for c in calls] == ["1.1", "1.2"]
    assert not report.truncated_last_line


def test_a_row_cut_in_the_middle_is_truncated():
    calls, report = read(row(uniqueid="1.1") + "\n" + row(uniqueid="1.2")[:70])
    assert [c.call_id for c in calls] == ["1.1"]
    assert [(p.line, p.code) for p in report.rejected] == [(2, "truncated")]
    assert report.importable


def test_a_queue_log_given_as_cdr_is_refused():
    calls, report = read("1736150400|1.1|accueil|NONE|ENTERQUEUE||01|1\n" * 60)
    assert calls == []
    assert report.error.code == "wrong_format"
    assert "CDR" in report.error.message


def test_an_empty_cdr_file_is_reported():
    calls, report = read("")
    assert calls == [] and report.error.code == "empty"


def test_agent_names_lose_their_channel_suffix():
    assert agent_of("SIP/201-0000002a") == "SIP/201"
    assert agent_of("Local/201@from-queue-00000012;1") == "Local/201@from-queue"
    assert agent_of("PJSIP/accueil-ext") == "PJSIP/accueil-ext"
    assert agent_of("") == ""
