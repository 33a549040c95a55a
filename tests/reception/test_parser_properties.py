"""Properties of the queue_log parser on generated, shuffled, cut, corrupted logs.

Every example draws calls whose outcome is known (`CallSpec`: answered with or without
RINGNOANSWERs and transfers, abandoned, timed out with an overflow to a second queue, sent
away by an empty queue or a key), writes them as a queue_log with agent events around, then
damages the file. Whatever the damage, the parser never raises, every damaged line is
reported with its number, and every call the damage did not touch comes out exactly as drawn.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualicite.reception.parsers import FORMATS, CarriedState, Outcome, parse
from qualicite.reception.parsers.generate import CallSpec
from tests.reception.test_parsers_queue_log import parser_path  # noqa: F401 (autouse: both paths)

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
T0 = 1736150400  # 2025-01-06 08:00 UTC
AGENTS = ["PJSIP/201", "PJSIP/202", "PJSIP/203", "Local/204@from-queue/n"]
OUTCOMES = [
    Outcome.ANSWERED,
    Outcome.ANSWERED,
    Outcome.ABANDONED,
    Outcome.TIMEOUT,
    Outcome.EXIT_EMPTY,
    Outcome.EXIT_KEY,
]


@st.composite
def calls(draw, max_calls: int = 25) -> list[CallSpec]:
    count = draw(st.integers(1, max_calls))
    specs: list[CallSpec] = []
    for index in range(count):
        entered = T0 + draw(st.integers(0, 1800))
        queue = draw(st.sampled_from(["accueil", "etat-civil", "urbanisme"]))
        outcome = draw(st.sampled_from(OUTCOMES))
        wait = draw(st.integers(0, 240))
        spec = CallSpec(
            call_id=f"{entered}.{index}",
            queue=queue,
            entered=entered,
            outcome=outcome,
            wait=wait,
            caller=f"06{draw(st.integers(0, 10**8 - 1)):08d}",
            rna_agents=draw(st.lists(st.sampled_from(AGENTS), max_size=3, unique=True)),
            position=draw(st.integers(1, 9)),
        )
        if outcome == Outcome.ANSWERED:
            spec.agent = draw(st.sampled_from(AGENTS))
            spec.talk = draw(st.integers(0, 1500))
            spec.hung_up_by_agent = draw(st.booleans())
            spec.transfer = draw(
                st.sampled_from(["", "", "TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"])
            )
        specs.append(spec)
        if outcome == Outcome.TIMEOUT and draw(st.booleans()):
            overflow = CallSpec(
                call_id=spec.call_id,
                queue="accueil-debordement",
                entered=spec.ended,
                outcome=draw(st.sampled_from([Outcome.ANSWERED, Outcome.ABANDONED])),
                wait=draw(st.integers(0, 120)),
                caller=spec.caller,
            )
            if overflow.outcome == Outcome.ANSWERED:
                overflow.agent, overflow.talk = "PJSIP/231", draw(st.integers(1, 600))
            specs.append(overflow)
    return specs


@st.composite
def logs(draw, max_calls: int = 25):
    """(calls, lines, index of each call's last line): a queue_log sorted by time."""
    specs = draw(calls(max_calls))
    timed: list[tuple[int, int, str, int | None]] = []
    for number, spec in enumerate(specs):
        for at, line in spec.lines():
            timed.append((at, len(timed), line, number))
    for _ in range(draw(st.integers(0, 6))):
        at = T0 + draw(st.integers(0, 2400))
        agent = draw(st.sampled_from(AGENTS))
        event = draw(st.sampled_from(["PAUSE|Déjeuner", "UNPAUSE|", "ADDMEMBER|", "CONFIGRELOAD|"]))
        line = f"{at}|NONE|accueil|{agent}|{event}"
        timed.append((at, len(timed), line, None))
    timed.sort()
    lines = [line for _, _, line, _ in timed]
    last_line = {}
    for position, (_, _, _, owner) in enumerate(timed):
        if owner is not None:
            last_line[owner] = position
    return specs, lines, last_line, [owner for _, _, _, owner in timed]


def data_of(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def key(record):
    return (record.call_id, record.queue, record.entered_at)


def expected(specs: list[CallSpec]) -> list:
    return sorted((spec.record() for spec in specs), key=key)


def run(data, **options):
    result = parse(data, "asterisk-queue-log", **options)
    records = sorted(result, key=key)
    return records, result.report, result.carried


@EXAMPLES
@given(logs())
def test_a_clean_log_gives_back_every_call(log):
    specs, lines, _, _ = log
    records, report, carried = run(data_of(lines))
    assert records == expected(specs)
    assert report.rejected_count == 0 and report.warnings_count == 0
    assert report.duplicates == 0 and report.importable
    assert report.lines_read == len(lines)
    assert len(carried) == 0


@EXAMPLES
@given(logs(), st.integers(2, 6), st.randoms(use_true_random=False))
def test_lines_shuffled_within_small_windows_give_the_same_calls(log, window, random):
    specs, lines, _, _ = log
    shuffled: list[str] = []
    start = random.randrange(window)
    chunks = [lines[:start]] + [lines[i : i + window] for i in range(start, len(lines), window)]
    for chunk in chunks:
        chunk = list(chunk)
        random.shuffle(chunk)
        shuffled.extend(chunk)
    records, report, carried = run(data_of(shuffled))
    assert records == expected(specs)
    assert report.rejected_count == 0 and report.warnings_count == 0
    assert len(carried) == 0


@EXAMPLES
@given(logs(), st.data())
def test_a_log_cut_in_two_files_gives_the_same_calls(log, data):
    specs, lines, _, _ = log
    cut = data.draw(st.integers(0, len(lines)))
    first, report, carried = run(data_of(lines[:cut]))
    assert report.rejected_count == 0
    stored = json.loads(json.dumps(carried.to_json()))
    second, report, carried = run(data_of(lines[cut:]), carried=CarriedState.from_json(stored))
    assert report.rejected_count == 0 and report.warnings_count == 0
    assert sorted(first + second, key=key) == expected(specs)
    assert len(carried) == 0


@EXAMPLES
@given(logs(), st.data())
def test_a_log_cut_in_the_middle_of_a_line_loses_only_the_calls_it_cuts(log, data):
    specs, lines, last_line, _ = log
    raw = data_of(lines)
    cut = data.draw(st.integers(0, len(raw)))
    records, report, carried = run(raw[:cut])
    complete_lines = raw[:cut].count(b"\n")
    whole = [spec for number, spec in enumerate(specs) if last_line[number] < complete_lines]
    assert records == expected(whole)
    if cut and raw[cut - 1 : cut] != b"\n":
        assert [(p.line, p.code) for p in report.rejected] == [(complete_lines + 1, "truncated")]
        assert report.bad_share == 0
    else:
        assert report.rejected_count == 0
    if complete_lines or report.rejected_count:
        assert report.importable
    open_keys = {spec.call_id for n, spec in enumerate(specs) if last_line[n] >= complete_lines}
    assert {call_id for call_id, _queue in carried.calls()} <= open_keys


garbage = st.text(
    st.characters(blacklist_characters="|\n\r\ufeff", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=40,
)


@st.composite
def corruption(draw, line: str) -> bytes:
    kind = draw(st.sampled_from(["bytes", "text", "cut", "time", "number"]))
    if kind == "bytes":
        head = line.encode()[: draw(st.integers(0, len(line)))]
        return head + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80abc"]))
    if kind == "text":
        return draw(garbage).encode()
    parts = line.split("|")
    if kind == "cut":
        return "|".join(parts[: draw(st.integers(1, 4))]).encode()
    if kind == "time":
        return "|".join([draw(st.sampled_from(["", "abc", "12", "9" * 12])), *parts[1:]]).encode()
    if parts[4] in ("CONNECT", "COMPLETEAGENT", "COMPLETECALLER"):
        parts[5] = draw(st.sampled_from(["x", "-3", "1.5"]))
        return "|".join(parts).encode()
    return b"\xff" + line.encode()


@EXAMPLES
@given(logs(), st.data())
def test_corrupt_lines_are_reported_and_spare_the_other_calls(log, data):
    specs, lines, _, owners = log
    damaged = data.draw(st.sets(st.integers(0, len(lines) - 1), max_size=max(1, len(lines) // 4)))
    raw = b"".join(
        (data.draw(corruption(line)) if index in damaged else line.encode()) + b"\n"
        for index, line in enumerate(lines)
    )
    records, report, _ = run(raw, keep=10_000)
    touched = {owners[index] for index in damaged}
    if report.error is not None and report.error.code == "wrong_format":
        assert records == []
        assert all(index in damaged for index in range(min(len(lines), 50)))
        return
    assert sorted(p.line for p in report.rejected) == sorted(index + 1 for index in damaged)
    assert report.too_many_bad == (len(damaged) / len(lines) > 0.05)
    wanted = {key(spec.record()): spec.record() for spec in specs}
    for record in records:
        assert key(record) in wanted  # a damaged call keeps its identity, or is left out
    intact = [spec.record() for n, spec in enumerate(specs) if n not in touched]
    by_key = {key(record): record for record in records}
    for record in intact:
        assert by_key.get(key(record)) == record


@EXAMPLES
@given(logs(), st.data())
def test_duplicate_lines_do_not_count_twice(log, data):
    specs, lines, _, owners = log
    copies = data.draw(st.lists(st.integers(0, len(lines) - 1), max_size=10))
    repeated = list(lines)
    call_copies = 0
    for index in sorted(copies, reverse=True):
        offset = data.draw(st.integers(0, 3))
        repeated.insert(min(index + 1 + offset, len(repeated)), lines[index])
        call_copies += owners[index] is not None
    records, report, _ = run(data_of(repeated))
    assert records == expected(specs)
    assert report.duplicates == call_copies
    assert report.rejected_count == 0 and report.warnings_count == 0


MAPPING = {"queue": "q", "columns": {"entered_at": "at", "wait_seconds": "wait"}}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(FORMATS))
def test_any_bytes_give_a_report_never_an_exception(raw, fmt):
    result = parse(raw, fmt, mapping=MAPPING if fmt == "csv" else None)
    records = list(result)
    report = result.report
    assert report.calls == len(records)
    if report.error is None or report.error.code in ("empty", "too_many_bad"):
        lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") or not raw else 1)
        assert report.lines_read == lines
    assert json.dumps(report.as_dict())
    assert report.importable == (report.error is None)
