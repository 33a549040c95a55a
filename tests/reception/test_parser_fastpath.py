"""The compiled fast path of the queue_log parser gives exactly what the pure-Python parser gives.

`_fastpath.c` reads the common lines and assembles the common calls in C, and hands every
other case back to the Python code. These tests parse the same bytes both ways
(QUALICITE_PURE_PARSERS=1 for the reference) and compare every record as a plain tuple
(`first_line` and `last_line` too, which `CallRecord.__eq__` ignores), the whole report and
the carried state: on generated logs shuffled, cut, repeated, corrupted and sprinkled with
uncommon but valid lines, across two files, and on every log of test_parsers_queue_log.py.
"""

from __future__ import annotations

import copy
import gc
import io
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qualicite.reception import parsers
from qualicite.reception.parsers import CallRecord, CarriedState, parse, queue_log
from qualicite.reception.parsers.calls import PURE_PARSERS, Assembler
from qualicite.reception.parsers.generate import generate
from qualicite.reception.parsers.times import MAX_TS, MIN_TS
from tests.reception import test_parsers_queue_log as queue_log_tests
from tests.reception.test_parser_properties import EXAMPLES, corruption, data_of, logs
from tests.reception.test_parsers_queue_log import require_compiled

T0 = 1736150400


@dataclass
class Parsed:
    records: list[tuple]
    report: Any
    carried: dict | None


class Chunked:
    """The bytes read at most `size` at a time: the parser then sees batches of a few lines,
    and assembles calls (`due`), sweeps and rotates its closed calls between them."""

    def __init__(self, data: bytes, size: int):
        self.file = io.BytesIO(data)
        self.size = size

    def read(self, size: int = -1) -> bytes:
        return self.file.read(self.size)


def parse_one_way(data, fmt: str, *, pure: bool, chunk: int | None = None, **options) -> Parsed:
    with pytest.MonkeyPatch.context() as patch:
        if pure:
            patch.setenv(PURE_PARSERS, "1")
        else:
            patch.delenv(PURE_PARSERS, raising=False)
        result = parse(data if chunk is None else Chunked(data, chunk), fmt, **options)
        if result._assembler is not None:
            assert result._assembler.use_compiled is not pure
        records = list(result)
    assert all(record.__class__ is CallRecord for record in records)
    carried = result.carried
    return Parsed(
        [tuple(record) for record in records],
        result.report,
        None if carried is None else carried.to_json(),
    )


def parse_both_ways(data, fmt: str = "asterisk-queue-log", **options) -> Parsed:
    """Parses `data` with and without the fast path, asserts the same outcome, returns it."""
    carried = options.pop("carried", None)  # each parse gets its own copy
    pure = parse_one_way(data, fmt, pure=True, carried=copy.deepcopy(carried), **options)
    compiled = parse_one_way(data, fmt, pure=False, carried=copy.deepcopy(carried), **options)
    assert compiled.records == pure.records
    assert compiled.report == pure.report
    assert compiled.report.as_dict() == pure.report.as_dict()
    assert compiled.carried == pure.carried
    return compiled


@pytest.fixture(autouse=True)
def compiled_path():
    require_compiled()


# ---------------------------------------------------------------------------
# The switch


def test_the_compiled_path_is_built_and_used_unless_switched_off(monkeypatch):
    assert queue_log.compiled is not None
    assert queue_log.compiled.__file__.endswith(".so")
    monkeypatch.delenv(PURE_PARSERS, raising=False)
    assert parsers.fastpath_active()
    assert parse(b"", "asterisk-queue-log")._assembler.use_compiled
    monkeypatch.setenv(PURE_PARSERS, "1")
    assert not parsers.fastpath_active()
    assert not parse(b"", "asterisk-queue-log")._assembler.use_compiled


def test_only_the_uncommon_lines_are_handed_back_to_python(monkeypatch):
    handed_back: list[int] = []
    line_reader = queue_log._line_reader

    def counting(report, assembler, clock):
        read_line = line_reader(report, assembler, clock)
        if not assembler.use_compiled:
            return read_line  # the pure-Python loop reads every line with it

        def read(line, number, *state):
            handed_back.append(number)
            return read_line(line, number, *state)

        return read

    monkeypatch.setattr(queue_log, "_line_reader", counting)
    lines = queue_log_tests.answered_call() + queue_log_tests.answered_call("2.2", start=300)
    lines[5] = lines[5].replace("RINGNOANSWER", "CUSTOMSURVEY")  # an unknown event
    lines.insert(6, "")
    lines.append(f"{T0 + 310}|2.2|accueil|PJSIP/201|BLINDTRANSFER|212|ctx|20|99999|1")  # big
    parse_both_ways(data_of(lines))
    # The first three lines confirm the start of the log (Assembler.advance), in Python.
    assert handed_back == [1, 2, 3, 6, 7, 10]


def test_thousands_of_calls_and_agents_with_names_of_one_length_stay_apart():
    # More keys and agents than the compiled loop's caches of recent strings have slots.
    count = 3000
    lines = [f"{T0}|1.1|q{i:04d}|NONE|ENTERQUEUE||06{i:08d}|1" for i in range(count)]
    lines += [f"{T0 + 5}|1.1|q{i:04d}|PJSIP/{i:04d}|CONNECT|5|x|1" for i in range(count)]
    lines += [f"{T0 + 65}|1.1|q{i:04d}|PJSIP/{i:04d}|COMPLETEAGENT|5|60|1" for i in range(count)]
    lines += [f"{T0 + 200}|NONE|NONE|NONE|QUEUESTART|"]
    parsed = parse_both_ways(data_of(lines))
    assert sorted((record[1], record[5], record[10]) for record in parsed.records) == [
        (f"q{i:04d}", f"PJSIP/{i:04d}", f"06{i:08d}") for i in range(count)
    ]


def call(*events: str, call_id: str = "1.1", queue: str = "accueil") -> list[str]:
    """Lines of one call from "offset|agent|EVENT|data" texts."""
    lines = []
    for event in events:
        offset, rest = event.split("|", 1)
        lines.append(f"{T0 + int(offset)}|{call_id}|{queue}|{rest}")
    return lines


EDGE_CALLS = {
    "rings of every kind": call(
        "0|NONE|ENTERQUEUE||01|1",
        "5|PJSIP/1|RINGCANCELED|5000",
        "9|PJSIP/2|AGENTDUMP|",
        "12|PJSIP/3|SYSCOMPAT|",
        "15|PJSIP/4|RINGNOANSWER|15000",
        "20|PJSIP/5|CONNECT|20|x|1",
        "80|PJSIP/5|COMPLETEAGENT|20|60|1",
    ),
    "two rings in one second": call(
        "0|NONE|ENTERQUEUE||01|1",
        "5|PJSIP/1|RINGNOANSWER|5000",
        "5|PJSIP/2|RINGNOANSWER|5000",
        "30|NONE|ABANDON|1|1|30",
    ),
    "no holdtime, a talk longer than the call": call(
        "0|NONE|ENTERQUEUE||01|1", "10|PJSIP/1|COMPLETECALLER||60|1"
    ),
    "connect without holdtime": call(
        "0|NONE|ENTERQUEUE||01|1", "7|PJSIP/1|CONNECT||x|1", "50|PJSIP/1|COMPLETECALLER|9|41|1"
    ),
    "connect and end without holdtime": call(
        "0|NONE|ENTERQUEUE||01|1", "7|PJSIP/1|CONNECT", "50|PJSIP/1|COMPLETEAGENT||43"
    ),
    "two connects": call(
        "0|NONE|ENTERQUEUE||01|1",
        "7|PJSIP/1|CONNECT|7|x|1",
        "9|PJSIP/2|CONNECT|9|x|1",
        "50|PJSIP/2|COMPLETEAGENT|9|41|1",
    ),
    "abandoned after a connect": call(
        "0|NONE|ENTERQUEUE||01|1", "7|PJSIP/1|CONNECT|7|x|1", "50|NONE|ABANDON|1|1|50"
    ),
    "abandoned after a connect, no wait": call(
        "0|NONE|ENTERQUEUE||01|1", "7|PJSIP/1|CONNECT|7|x|1", "50|NONE|ABANDON|1|1"
    ),
    "turned away": call("0|NONE|ENTERQUEUE||01|1", "0|NONE|FULL|"),
    "an exit without its wait": call("0|NONE|ENTERQUEUE||01", "33|NONE|EXITWITHKEY|5|1"),
    "an empty queue left, Wazo's way": call("0|NONE|ENTERQUEUE||01|1", "4|NONE|LEAVEEMPTY|1|1|4"),
    "a wait that is not small": call("0|NONE|ENTERQUEUE||01|1", "10001|NONE|ABANDON|1|1|10001"),
    "no enterqueue": call("7|PJSIP/1|CONNECT|7|x|1", "50|PJSIP/1|COMPLETEAGENT|7|43|1"),
    "an end before its entry": call("0|NONE|ABANDON|1|1|3", "3|NONE|ENTERQUEUE||01|1"),
    "entered twice": call("0|NONE|ENTERQUEUE||01|1", "5|NONE|ENTERQUEUE||01|1", "9|NONE|ABANDON||"),
    "a five-field entry and a caller of one field": call(
        "0|NONE|ENTERQUEUE", "1|NONE|EXITEMPTY", call_id="2.2"
    )
    + call("0|NONE|ENTERQUEUE|x", "1|NONE|EXITEMPTY|1|1|1", call_id="2.3"),
    "an attended transfer": call(
        "0|NONE|ENTERQUEUE||01|1",
        "8|PJSIP/1|CONNECT|8|x|2",
        "98|PJSIP/1|ATTENDEDTRANSFER|LINK|PJSIP/1-1|PJSIP/212-2|8|90|1|",
    ),
    "transfers with too few fields": call(
        "0|NONE|ENTERQUEUE||01|1",
        "5|P/1|CONNECT|5|x|1",
        "50|P/1|TRANSFER|212|ctx|5",
        "51|P/1|BLINDTRANSFER|212|ctx",
        "52|P/1|ATTENDEDTRANSFER|BRIDGE|5|45|||",
        "53|P/1|TRANSFER",
        "54|P/1|ATTENDEDTRANSFER|",
        "55|P/1|TRANSFER|212|ctx|5|45",
    ),
    "a time with a fraction": call("0|NONE|ENTERQUEUE||01|1", "4|NONE|ABANDON|1|1|4")
    + [f"{T0 + 5}.25|1.1|accueil|NONE|ENTERQUEUE||01|1", f"{T0 + 9}.75|1.1|accueil|NONE|ABANDON"],
    "a jump to the future not confirmed": call("0|NONE|ENTERQUEUE||01|1", "1|P/1|RINGNOANSWER|1")
    + call("2|P/2|RINGNOANSWER|1")  # three lines confirm the start: the next can jump
    + [f"{T0 + 100_000}|NONE|accueil|P/1|PAUSE|", f"{T0 + 10}|NONE|accueil|P/1|UNPAUSE|"]
    + [f"{T0 + 100_010}|NONE|accueil|P/1|PAUSE|", f"{T0 + 100_020}|NONE|accueil|P/1|PAUSE|"]
    + call("30|NONE|ABANDON|1|1|30"),
    "a late line with a long time text": call("0|NONE|ENTERQUEUE||01|1", "1|P/1|RINGNOANSWER|1")
    + call("100000|P/2|RINGNOANSWER|1", "100001|P/2|RINGNOANSWER|1", "100002|NONE|ABANDON|1|1|2")
    + [f"{' ' * 45}{T0 + 5}|1.1|accueil|NONE|ABANDON|1|1|5"],
    "the first day of 2000": [
        f"{MIN_TS + 10}|1.1|accueil|NONE|ENTERQUEUE||01|1",
        f"{MIN_TS + 10}|1.2|accueil|NONE|ENTERQUEUE||01|1",
        f"{MIN_TS + 12}|1.3|accueil|NONE|ENTERQUEUE||01|1",
        f"+{MIN_TS + 500}|1.1|accueil|NONE|ABANDON|1|1|490",
        f"{MIN_TS - 50}|1.2|accueil|NONE|ABANDON|1|1|60",
        f"{MIN_TS + 600}|1.3|accueil|NONE|ABANDON|1|1|588",
    ],
    "the last day of 2099": [
        f"{MAX_TS - 100}|1.1|accueil|NONE|ENTERQUEUE||01|1",
        f"{MAX_TS - 90}|1.2|accueil|NONE|ENTERQUEUE||01|1",
        f"{MAX_TS - 80}|1.3|accueil|NONE|ENTERQUEUE||01|1",
        f"{MAX_TS - 50}|1.1|accueil|NONE|ABANDON|1|1|50",
        f"{MAX_TS + 50}|1.2|accueil|NONE|ABANDON|1|1|140",
        f"{MAX_TS}|1.3|accueil|NONE|ABANDON|1|1|80",
    ],
    "a date instead of an epoch": ["2025-01-06 08:00:00|1.1|accueil|NONE|ENTERQUEUE||01|1"]
    + call("4|NONE|ABANDON|1|1|4"),
}


@pytest.mark.parametrize("chunk", [None, 100])  # 100: batches of a line or two
@pytest.mark.parametrize("reorder_lines", [0, 256])  # 0: assembled by `due`, not `finish`
@pytest.mark.parametrize("name", list(EDGE_CALLS))
def test_uncommon_calls_are_assembled_the_same_both_ways(name, reorder_lines, chunk):
    lines = EDGE_CALLS[name] + answered_calls(start=1000)
    for order in (lines, lines[::-1]):
        assert parse_both_ways(data_of(order), reorder_lines=reorder_lines, chunk=chunk).records


def answered_calls(start: int, count: int = 3) -> list[str]:
    return [
        line
        for number in range(count)
        for line in queue_log_tests.answered_call(f"9.{number}", start=start + 200 * number)
    ]


def carried_call(call_id: str, *events: list) -> list:
    """A call of a stored carried state: [call id, queue, events], times from T0."""
    return [call_id, "accueil", [[T0 + event[0], *event[1:]] for event in events]]


ENTER_01 = [0, 0, 1, "ENTERQUEUE", "NONE", "enter", "01", None]


def test_a_carried_state_of_unusual_values_is_assembled_the_same_both_ways():
    stored = {
        "high_water": T0 + 100,
        "open": [
            carried_call("negative", ENTER_01, [5, 2, 2, "CONNECT", "P/1", "c", -3, None]),
            carried_call("tie", ENTER_01, [5, 2, 2, "CONNECT", "PJSIP/B", "connect B", 5, None]),
            carried_call("float talk", ENTER_01, [30, 3, 3, "COMPLETECALLER", "P", "e", 5, 25.5]),
            carried_call("bool wait", ENTER_01, [30, 3, 3, "COMPLETECALLER", "P", "e", True, 9]),
            carried_call("float time", [0.5, *ENTER_01[1:]], [30, 3, 3, "ABANDON", "", "e", 7]),
            carried_call("float rank", ENTER_01, [30, 3.0, 3, "ABANDON", "NONE", "e", None]),
            carried_call("no caller", [0, 0, 1, "ENTERQUEUE", "NONE", "enter", None, None]),
            carried_call(
                "int caller", [*ENTER_01[:6], 612, None], [9, 3, 3, "ABANDON", "", "e", 9]
            ),
        ],
        "closed": [["closed", "accueil", f"enter\nend\n{T0 + 20}"]],
    }
    second = call("8|P/1|COMPLETEAGENT|5|60|1", call_id="negative")
    second += call("5|PJSIP/A|CONNECT|5|x|1", call_id="tie")  # line 2, as the carried CONNECT
    second += call("9|PJSIP/A|COMPLETEAGENT|5|60|1", call_id="tie")
    second += call("10|NONE|ABANDON|1|1|10", call_id="no caller")
    second += call("30|NONE|ENTERQUEUE||01|1", "40|NONE|ABANDON|1|1|10", call_id="closed")
    second += answered_calls(start=300)
    for reorder_lines in (0, 256):
        parsed = parse_both_ways(data_of(second), carried=stored, reorder_lines=reorder_lines)
        assert len(parsed.records) == 12
    # The same state as objects, the events of its ended calls lists rather than tuples.
    carried = CarriedState.from_json(stored)
    for key, events in carried.open.items():
        if events[-1][1] != 2 and len(events) > 1:
            carried.open[key] = [list(event) for event in events]
    assert len(parse_both_ways(data_of(second), carried=carried, reorder_lines=0).records) == 12


def test_an_end_event_of_no_known_outcome_fails_the_same_both_ways(monkeypatch):
    stored = {"open": [carried_call("odd", ENTER_01, [30, 3, 3, "HANGUP", "", "e", 1, None])]}
    for pure in ("1", "0"):
        monkeypatch.setenv(PURE_PARSERS, pure)
        with pytest.raises(KeyError, match="HANGUP"):
            list(parse(data_of(answered_calls(start=300)), "asterisk-queue-log", carried=stored))


def test_times_of_every_shape_are_read_the_same_both_ways():
    start = answered_calls(start=0, count=1)[:3]  # three lines confirm the start of the log
    ts = str(T0 + 200)
    shapes = [ts, "0" + ts, "000" + ts, ts[:8], ts + "0", "9" * 17, "9" * 19, "１２３", "+" + ts]
    shapes += [ts[:i] + bad + ts[i + 1 :] for i in range(10) for bad in (":", "/", " ", "a")]
    lines = start + [
        f"{shape}|{n}.1|accueil|NONE|ENTERQUEUE||01|1" for n, shape in enumerate(shapes)
    ]
    parsed = parse_both_ways(data_of(lines), reorder_lines=0)
    assert parsed.report.rejected_count == len(shapes) - 4
    assert len(parsed.carried["open"]) == 4 + 1


# ---------------------------------------------------------------------------
# Generated logs, damaged


def odd_line(draw, line: str) -> str:
    """The line written in an uncommon but possible way, or made wrong in a new way."""
    parts = line.split("|")
    ts = parts[0]
    kind = draw(
        st.sampled_from(
            ["time", "number", "latin1", "wide", "event", "fields", "jump", "late", "crlf"]
        )
    )
    if kind == "time":
        stamp = draw(
            st.sampled_from(
                [f"+{ts}", f" {ts}", f"{ts} ", f"0{ts}", f"{ts}.0", f"{ts}.5", f"{ts[:4]}_{ts[4:]}"]
            )
        )
        return "|".join([stamp, *parts[1:]])
    if kind == "number" and len(parts) > 5:
        index = draw(st.integers(5, len(parts) - 1))
        parts[index] = draw(st.sampled_from(["007", "10000", "", " 5", "5 ", "-0", "٣"]))
        return "|".join(parts)
    if kind == "latin1":
        index = draw(st.sampled_from([1, 2, 3, len(parts) - 1]))
        parts[index] += "é"
        return "|".join(parts)
    if kind == "wide":
        index = draw(st.sampled_from([1, 2, 3, len(parts) - 1]))
        parts[index] += draw(st.sampled_from(["電話", "📞"]))
        return "|".join(parts)
    if kind == "event" and len(parts) > 4:
        parts[4] = draw(
            st.sampled_from(["enterqueue", "SURVEY", "PAUSE", "FULL", "AGENTDUMP", "Q" * 50])
        )
        return "|".join(parts)
    if kind == "fields":
        return draw(st.sampled_from(["|".join(parts[:5]), line + "|", line + "||x"]))
    if kind == "jump":  # sometimes with spaces around the time, as int() reads it
        stamp = str(int(ts) + draw(st.sampled_from([3601, 90_000, -90_000])))
        return "|".join([draw(st.sampled_from(["", " " * 45])) + stamp, *parts[1:]])
    if kind == "late":
        return "|".join([str(int(ts) - draw(st.integers(1, 300))), *parts[1:]])
    return line + "\r"


@st.composite
def damaged_logs(draw) -> tuple[bytes, dict]:
    """Generated calls, then any mix of shuffles, repeats, odd lines, corruption and a cut."""
    _, lines, _, _ = draw(logs())
    lines = list(lines)
    if draw(st.booleans()):  # shuffled within small windows
        window = draw(st.integers(2, 6))
        for start in range(0, len(lines), window):
            chunk = lines[start : start + window]
            lines[start : start + window] = draw(st.permutations(chunk))
    for index in draw(st.sets(st.integers(0, len(lines) - 1))):  # rings of other kinds
        ring = draw(st.sampled_from(["RINGCANCELED", "AGENTDUMP", "SYSCOMPAT"]))
        lines[index] = lines[index].replace("|RINGNOANSWER|", f"|{ring}|")
    for index in draw(st.lists(st.integers(0, len(lines) - 1), max_size=5)):  # repeated
        lines.insert(min(len(lines), index + draw(st.integers(0, 40))), lines[index])
    for index in draw(st.sets(st.integers(0, len(lines) - 1), max_size=6)):
        lines[index] = odd_line(draw, lines[index])
    raw = [line.encode() for line in lines]
    for index in draw(st.sets(st.integers(0, len(lines) - 1), max_size=3)):
        raw[index] = draw(corruption(lines[index])) if lines[index].count("|") >= 4 else b"\xff"
    data = b"".join(line + b"\n" for line in raw)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    options = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "reorder_seconds": st.sampled_from([0, 5, 600, 2.5]),
                "reorder_lines": st.sampled_from([0, 3, 10_000]),
                "max_open_seconds": st.sampled_from([300, 3600, 86400.0]),
                "keep": st.sampled_from([2, 10_000]),
                "max_bad_share": st.sampled_from([0.0, 1.0]),
                "chunk": st.integers(1, 400),
            },
        )
    )
    return data, options


@EXAMPLES
@given(damaged_logs())
def test_damaged_generated_logs_parse_the_same_both_ways(damaged):
    data, options = damaged
    parse_both_ways(data, **options)


@EXAMPLES
@given(damaged_logs(), st.data())
def test_a_log_cut_in_two_files_parses_the_same_both_ways(damaged, data):
    raw, options = damaged
    cut = data.draw(st.integers(0, len(raw)))
    cut = raw.rfind(b"\n", 0, cut) + 1  # between two lines, as a log rotation cuts
    first = parse_both_ways(raw[:cut], **options)
    carried = json.loads(json.dumps(first.carried))
    parse_both_ways(raw[cut:], carried=carried, **options)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_generated_log_in_three_files_parses_the_same_both_ways(seed):
    out = io.BytesIO()
    generate(out, lines=60_000, seed=seed, calls_per_day=900)
    lines = out.getvalue().splitlines(keepends=True)
    carried = None
    for start, end in ((0, 20_000), (19_990, 41_000), (41_000, None)):  # rotations repeat lines
        parsed = parse_both_ways(b"".join(lines[start:end]), carried=carried)
        assert len(parsed.records) > 3000
        carried = parsed.carried


def test_a_wazo_export_with_fractional_times_parses_the_same_both_ways():
    out = io.BytesIO()
    generate(out, lines=20_000, seed=3, fmt="wazo")
    parsed = parse_both_ways(out.getvalue(), "wazo-queue-log-csv")
    assert len(parsed.records) > 4000
    assert any(isinstance(record[2], float) for record in parsed.records)


# ---------------------------------------------------------------------------
# Every log of test_parsers_queue_log.py

QUEUE_LOG_TESTS = sorted(name for name in dir(queue_log_tests) if name.startswith("test_"))


@pytest.mark.parametrize("name", QUEUE_LOG_TESTS)
def test_every_log_of_the_queue_log_tests_parses_the_same_both_ways(name, monkeypatch):
    compared = []

    def parse_twice(source, fmt, **options):
        if hasattr(source, "read"):
            source = source.read()
        elif not isinstance(source, bytes):
            source = b"".join(source)
        compared.append(parse_both_ways(source, fmt, **options))
        return parse(source, fmt, **options)  # for the test's own assertions

    monkeypatch.delenv(PURE_PARSERS, raising=False)
    monkeypatch.setattr(queue_log_tests, "parse", parse_twice)
    getattr(queue_log_tests, name)()
    assert compared or name == "test_the_generator_is_deterministic"


def test_the_forked_parsing_process_uses_the_compiled_path(monkeypatch, tmp_path):
    from qualicite.reception.parsers.pipeline import parse_aside

    seen = tmp_path / "seen"
    original = queue_log._line_reader

    def noting(report, assembler, clock):  # runs in the child: it writes what it used
        with open(seen, "a") as file:
            file.write(f"{os.getpid()} {assembler.use_compiled}\n")
        return original(report, assembler, clock)

    monkeypatch.delenv(PURE_PARSERS, raising=False)
    monkeypatch.setattr(queue_log, "_line_reader", noting)
    out = io.BytesIO()
    generate(out, lines=20_000, seed=6)
    aside = parse_aside(io.BytesIO(out.getvalue()), "asterisk-queue-log")
    records = list(aside)
    assert records == parse_both_ways(out.getvalue()).records
    assert aside.carried.to_json() == parse_both_ways(out.getvalue()).carried
    pid, used = seen.read_text().split("\n")[0].split()
    assert int(pid) != os.getpid() and used == "True"


# ---------------------------------------------------------------------------
# Errors and memory


def test_an_error_raised_while_assembling_a_call_comes_out_of_the_compiled_loop(monkeypatch):
    def failing(self, *args, **kwargs):
        raise RuntimeError("assembling failed")

    monkeypatch.delenv(PURE_PARSERS, raising=False)
    monkeypatch.setattr(Assembler, "_assemble", failing)
    lines = queue_log_tests.answered_call()
    lines[1] = lines[1].replace("RINGNOANSWER", "CONNECT")  # two CONNECTs: not the fast case
    filler = [f"{T0 + 200 + i // 100}|NONE|accueil|PJSIP/201|UNPAUSE|" for i in range(30_000)]
    with pytest.raises(RuntimeError, match="assembling failed"):
        list(parse(data_of(lines + filler), "asterisk-queue-log"))


def test_an_error_raised_for_a_line_handed_back_comes_out_of_the_compiled_loop(monkeypatch):
    def read_line(line, number, *state):
        raise ValueError(f"line {number}")

    monkeypatch.delenv(PURE_PARSERS, raising=False)
    monkeypatch.setattr(queue_log, "_line_reader", lambda *args: read_line)
    with pytest.raises(ValueError, match="line 1"):
        list(parse(data_of(queue_log_tests.answered_call()), "asterisk-queue-log"))


def test_parsing_again_and_again_keeps_no_memory(monkeypatch):
    monkeypatch.delenv(PURE_PARSERS, raising=False)
    out = io.BytesIO()
    generate(out, lines=20_000, seed=4)
    data = out.getvalue()

    def parse_all():  # in small batches: `due` runs a hundred times per parse
        result = parse(Chunked(data, 16_384), "asterisk-queue-log", reorder_lines=16)
        assert sum(1 for _ in result) > 4000
        assert result.carried is not None

    parse_all()
    parse_all()
    gc.collect()
    before = sys.getallocatedblocks()
    for _ in range(3):
        parse_all()
    gc.collect()
    # One object kept per line, per call or per batch would be hundreds to tens of thousands.
    assert sys.getallocatedblocks() - before < 100
