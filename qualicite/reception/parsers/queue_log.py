"""Readers of the queue_log family: Asterisk's file and the Wazo/XiVO table export.

**Asterisk queue_log** — one event per line, fields separated by "|"::

    epoch|call id|queue|agent|event|data1|data2|…

The call id is the caller channel's unique id ("NONE", "MANAGER", "REALTIME" for events that
carry no call); the data fields depend on the event:

    ENTERQUEUE        url|callerid|position
    RINGNOANSWER      ringtime (ms)               RINGCANCELED  ringtime (ms)
    CONNECT           holdtime|bridged channel uniqueid|ringtime
    COMPLETEAGENT     holdtime|calltime|origposition   (COMPLETECALLER the same)
    TRANSFER          extension|context|holdtime|calltime|origposition (BLINDTRANSFER the same)
    ATTENDEDTRANSFER  method|method data…|holdtime|calltime|origposition
    ABANDON           position|origposition|waittime   (EXITWITHTIMEOUT, EXITEMPTY the same)
    EXITWITHKEY       key|position|origposition|waittime
    agent and queue events (ADDMEMBER, REMOVEMEMBER, PAUSE, UNPAUSE, PAUSEALL, UNPAUSEALL,
    AGENTLOGIN, AGENTLOGOFF, CONFIGRELOAD, QUEUESTART…) carry no call and are skipped.

Old Asterisk versions write fewer data fields (no waittime on EXITWITHKEY, no origposition):
a missing wait is then taken from the timestamps.

**Wazo/XiVO export** — the `queue_log` table of the `asterisk` database exported as CSV
(`\\copy (select * from queue_log) to 'file.csv' csv header`): columns time, callid,
queuename, agent, event, data1…data5 (others, such as id, are ignored), the time with
microseconds and with or without a UTC offset ("2012-07-03 15:27:23.896208+00"). A header
line names the columns (any order; delimiter "," ";" tab or "|" recognised from it); without
one the columns are taken in that order with ",".

Decisions, for both:

- Lines are decoded one by one: a line that is not UTF-8 is rejected ("not UTF-8") and the
  rest of the file is read.
- A last line without an end of line is rejected ("truncated last line"): the PBX always
  ends its lines, so it was cut while being copied. It is not counted in the bad share.
- A line with too few fields, a bad time, a time before 2000 or after 2100, or a data field
  that should be a number and is not, is rejected with its number and reason.
- An unknown event is a warning ("unknown event X"), not a rejection: dialplans write their
  own events with QueueLog(); it does not count in the bad share.
- Agent and queue events are counted in `ignored_lines`.
- If none of the first 50 non-blank lines has the shape of the format, the file is refused
  ("this file does not look like an Asterisk queue_log (first lines: …)") and nothing else
  is read.
- Out-of-order times and duplicate lines are handled by the assembler (`calls.py`): the
  events of a call are sorted by time when it is assembled, and a line identical to one
  already seen for its call is counted as a duplicate and ignored. A line more than a day
  older than the latest time read is rejected ("out of order").

Speed: the Asterisk reading is the hot path of an import (millions of lines), so a line is
read flat (`_line_reader`): one `split`, no regex, no `datetime` (times stay epoch numbers),
the common events' data read inline with a table of small numbers instead of `int()`. While
it reads a batch of lines the loop pauses Python's cyclic garbage collector (and restores it
before handing calls to the caller): it makes no reference cycles, everything it drops is
freed at once by reference counting, and the collector's passes over the young open calls
otherwise cost about a quarter of the time.

When the compiled extension is built (`_fastpath*.c`; `fastpath_active()`), the loop over a
batch runs in C (`_fastpath.read_lines`); with `Assembler.due` in C too a parse takes under
a third of the time. C reads the common line (a plain integer time in order, a known event
whose data `_line_reader` reads inline or `DATA`'s simple readers read, the numbers small, a
call open or not recently closed) exactly as `_line_reader` does, and hands any other line,
before changing anything, to `_line_reader`'s function, with the loop's state (number,
high_water, oldest, jumping, ignored) passed in and out (`_compiled_readers` tells C which
rule reads which event). `_line_reader` stays the reference, and the whole reading without
the extension or with `QUALICITE_PURE_PARSERS=1`; the tests parse every log both ways and
compare. A change to `_line_reader`'s common case is a change to `_fastpath_lines.c` too.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterator

from qualicite.reception.parsers.calls import Assembler, compiled
from qualicite.reception.parsers.lines import MAX_LINE, LastLine, LineReader
from qualicite.reception.parsers.records import (
    CALL_EVENTS,
    CONNECT,
    END,
    ENTER,
    NO_CALL_EVENTS,
    RING,
    CallRecord,
)
from qualicite.reception.parsers.report import FORMAT_NAMES, ImportReport
from qualicite.reception.parsers.times import MAX_TS, MIN_TS, Clock, epoch

PROBE_LINES = 50
SWEEP_EVERY = 3600  # seconds of log time between two looks for stale open calls


class BadLine(Exception):
    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


# ---------------------------------------------------------------------------
# Data fields of the call events: data text -> (a, b), see calls.Event


# Durations of a queue_log are small: looking their text up is much cheaper than int().
SMALL = {str(number): number for number in range(10_000)}


def _seconds(field: str, value: str) -> int | None:
    number = SMALL.get(value)
    if number is not None:
        return number
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadLine("bad_number", field=field, value=value) from None
    if number < 0:
        raise BadLine("negative_duration", field=field, value=number)
    return number


def _enter(data: str):
    fields = data.split("|", 2)
    return (fields[1] if len(fields) > 1 else ""), None


def _connect(data: str):
    return _seconds("holdtime", data.partition("|")[0]), None


def _complete(data: str):
    hold, bar, rest = data.partition("|")
    if not bar:
        raise BadLine("too_few_fields", found=6, expected=7)
    return _seconds("holdtime", hold), _seconds("calltime", rest.partition("|")[0])


def _transfer(data: str):
    fields = data.split("|")
    if len(fields) < 4:
        raise BadLine("too_few_fields", found=5 + len(fields), expected=9)
    return _seconds("holdtime", fields[2]), _seconds("calltime", fields[3])


def _attended_transfer(data: str):
    fields = data.rstrip("|").split("|")
    if len(fields) < 4:
        raise BadLine("too_few_fields", found=5 + len(fields), expected=9)
    return _seconds("holdtime", fields[-3]), _seconds("calltime", fields[-2])


def _exit(data: str):
    fields = data.split("|")
    return (_seconds("waittime", fields[2]) if len(fields) > 2 else None), None


def _exit_key(data: str):
    fields = data.split("|")
    return (_seconds("waittime", fields[3]) if len(fields) > 3 else None), None


def _nothing(data: str):
    return None, None


DATA: dict[str, Callable[[str], tuple]] = {
    "ENTERQUEUE": _enter,
    "CONNECT": _connect,
    "COMPLETEAGENT": _complete,
    "COMPLETECALLER": _complete,
    "TRANSFER": _transfer,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _attended_transfer,
    "ABANDON": _exit,
    "EXITWITHTIMEOUT": _exit,
    "EXITEMPTY": _exit,
    "LEAVEEMPTY": _exit,
    "EXITWITHKEY": _exit_key,
}
for _event in CALL_EVENTS:
    DATA.setdefault(_event, _nothing)


def _compiled_readers() -> dict[str, tuple[int | None, str]]:
    """How the compiled loop reads each event: {event: (rank, reader)}, from the loop's rules.

    "ignore": an agent or queue event; "none", "enter", "connect", "complete": the loop's
    inline cases (a "connect" or "complete" whose numbers are not small goes back to Python);
    "wait2", "wait3", "transfer", "attended": `_exit`, `_exit_key`, `_transfer`,
    `_attended_transfer`, when their fields are small numbers or empty; "slow": Python reads it.
    """
    readers: dict[str, tuple[int | None, str]] = {
        event: (None, "ignore") for event in NO_CALL_EVENTS
    }
    by_function = {
        _exit: "wait2",
        _exit_key: "wait3",
        _transfer: "transfer",
        _attended_transfer: "attended",
        _nothing: "none",
    }
    for event, rank in CALL_EVENTS.items():
        if rank == RING:
            reader = "none"
        elif rank == ENTER:
            reader = "enter"
        elif rank == CONNECT:
            reader = "connect"
        elif event == "COMPLETECALLER" or event == "COMPLETEAGENT":
            reader = "complete"
        else:
            reader = by_function.get(DATA[event], "slow")
        readers[event] = (rank, reader)
    return readers


if compiled is not None:
    compiled.setup_lines(
        _compiled_readers(), [SMALL[str(n)] for n in range(len(SMALL))], MIN_TS, MAX_TS, END
    )


# ---------------------------------------------------------------------------
# Shared: probing the format, the last line, the end of the file


def _probe(
    reader: LineReader, looks_right: Callable[[str], bool]
) -> tuple[list[list], list[str], bool, Iterator[list]]:
    """Reads batches until a line has the format's shape, or `PROBE_LINES` non-blank lines.

    Returns the batches read (to be processed first), the first non-blank lines (for the
    message), whether one of them has the shape of the format, and the rest of the batches.
    """
    batches: list[list] = []
    first: list[str] = []
    seen = 0
    shaped = False
    iterator = iter(reader)
    for batch in iterator:
        batches.append(batch)
        if batch.__class__ is LastLine:
            break  # a truncated line alone says nothing about the format
        for line in batch:
            if line == "":
                continue
            seen += 1
            if isinstance(line, str):
                if len(first) < 3:
                    first.append(line)
                if looks_right(line):
                    shaped = True
                    break
            elif len(first) < 3:
                first.append("<not UTF-8>" if line is None else "<overlong line>")
            if seen >= PROBE_LINES:
                break
        if seen >= PROBE_LINES or shaped:
            break
    return batches, first, shaped, iterator


def _wrong_format(report: ImportReport, first: list[str], lines: int = 0) -> None:
    report.lines_read = max(report.lines_read, lines)
    shown = " | ".join(repr(line[:80]) for line in first)
    report.fail("wrong_format", format=FORMAT_NAMES[report.fmt], first_lines=shown)


def _special(report: ImportReport, number: int, line) -> None:
    """A line that is not a non-empty str: blank, not decodable, overlong."""
    if line is None:
        report.reject(number, "not_utf8")
    elif line is False:
        report.reject(number, "too_long", limit=MAX_LINE)
    else:
        report.blank_lines += 1


def _truncated(report: ImportReport, number: int, line) -> None:
    if line == "":
        report.blank_lines += 1
        return
    report.truncated_last_line = True
    report.reject(number, "truncated")


# ---------------------------------------------------------------------------
# Asterisk queue_log


def _looks_asterisk(line: str) -> bool:
    parts = line.split("|", 5)
    return len(parts) >= 5 and epoch(parts[0]) is not None and parts[4].isupper()


def read_asterisk(
    reader: LineReader, report: ImportReport, assembler: Assembler, clock: Clock
) -> Iterator[list[CallRecord]]:
    """Yields the calls of an Asterisk queue_log as they end, in lists (one per block of
    lines read: no generator step per call), the hot path: keep it lean."""
    batches, first, shaped, rest = _probe(reader, _looks_asterisk)
    if not shaped and first:
        _wrong_format(report, first, min(PROBE_LINES, sum(map(len, batches))))
        return
    open_calls = assembler.open
    closed = assembler.closed
    closed_old = assembler.closed_old
    pending_append = assembler.pending.append
    reorder_seconds = assembler.reorder_seconds
    reorder_lines = assembler.reorder_lines
    max_open = assembler.max_open_seconds
    max_jump = assembler.MAX_JUMP
    high_water = assembler.high_water
    oldest = max(MIN_TS, high_water - max_open)
    jumping = assembler.jumps
    ignored = 0
    number = 0
    fast = assembler.use_compiled
    read_line = _line_reader(report, assembler, clock)
    if fast:
        read_lines = compiled.read_lines

    def chained():
        yield from batches
        yield from rest

    paused = False
    try:
        for batch in chained():
            if batch.__class__ is LastLine:
                for line in batch:
                    number += 1
                    _truncated(report, number, line)
                break
            paused = gc.isenabled()
            if paused:
                gc.disable()  # this loop makes no reference cycles: see the module docstring
            if fast:
                # The loop below, in C for the common lines (see the module docstring).
                number, high_water, oldest, jumping, ignored = read_lines(
                    batch,
                    number,
                    high_water,
                    oldest,
                    jumping,
                    ignored,
                    open_calls,
                    closed,
                    closed_old,
                    pending_append,
                    reorder_seconds,
                    reorder_lines,
                    max_open,
                    max_jump,
                    read_line,
                )
            else:
                for line in batch:
                    number += 1
                    high_water, oldest, jumping, ignored = read_line(
                        line, number, high_water, oldest, jumping, ignored
                    )
            report.lines_read = number
            assembler.high_water = high_water
            records = assembler.due(number)
            if paused:
                gc.enable()
                paused = False
            yield records
            closed, closed_old = assembler.closed, assembler.closed_old
            if high_water - assembler.last_sweep > SWEEP_EVERY:
                yield assembler.sweep(number)
        report.lines_read = number
        report.ignored_lines += ignored
        assembler.high_water = high_water
    finally:
        if paused:
            gc.enable()


def _line_reader(report: ImportReport, assembler: Assembler, clock: Clock) -> Callable:
    """The reading of one line of read_asterisk: the pure-Python loop calls it for every
    line, the compiled loop for the lines it hands back.

    `read_line(line, number, high_water, oldest, jumping, ignored)` reads the line numbered
    `number` and returns the loop's new (high_water, oldest, jumping, ignored). The compiled
    loop repeats its common case: change both together (the tests compare the two paths on
    every kind of line).
    """
    open_calls = assembler.open
    pending_append = assembler.pending.append
    call_events = CALL_EVENTS.get
    no_call = NO_CALL_EVENTS
    data_of = DATA
    small = SMALL.get
    reorder_seconds = assembler.reorder_seconds
    reorder_lines = assembler.reorder_lines
    max_open = assembler.max_open_seconds
    max_jump = assembler.MAX_JUMP

    def read_line(line, number, high_water, oldest, jumping, ignored):
        if not line:
            _special(report, number, line)
            return high_water, oldest, jumping, ignored
        try:
            ts_text, call_id, queue, agent, event, data = line.split("|", 5)
        except ValueError:
            parts = line.split("|", 5)
            if len(parts) != 5:
                report.reject(number, "too_few_fields", found=len(parts), expected=5)
                return high_water, oldest, jumping, ignored
            ts_text, call_id, queue, agent, event = parts
            data = ""
        try:
            ts = int(ts_text)
        except ValueError:
            ts = epoch(ts_text)
            if ts is None:
                ts = clock.parse(ts_text)
                if ts is None:
                    report.reject(number, "bad_timestamp", value=ts_text[:40])
                    return high_water, oldest, jumping, ignored
        if ts < oldest or ts > MAX_TS:
            if ts < MIN_TS or ts > MAX_TS:
                report.reject(number, "timestamp_out_of_range", value=ts_text[:40])
            else:
                report.reject(number, "out_of_order", value=ts_text[:40])
            return high_water, oldest, jumping, ignored
        if ts > high_water:
            if ts <= high_water + max_jump:
                high_water = ts
                oldest = ts - max_open
                if oldest < MIN_TS:
                    oldest = MIN_TS
                if jumping:
                    assembler.jumps = jumping = 0
            else:
                assembler.high_water = high_water
                high_water = assembler.advance(ts)
                oldest = max(MIN_TS, high_water - max_open)
                jumping = assembler.jumps
        rank = call_events(event)
        if rank is None:
            if event in no_call:
                ignored += 1
            else:
                report.warn(number, "unknown_event", event=event[:40])
            return high_water, oldest, jumping, ignored
        b = None
        if rank == RING:
            a = None
        elif rank == ENTER:
            a = data.partition("|")[2].partition("|")[0]
        elif rank == CONNECT:
            a = small(data.partition("|")[0])
        elif event == "COMPLETECALLER" or event == "COMPLETEAGENT":
            hold, _, rest_ = data.partition("|")
            a = small(hold)
            b = small(rest_.partition("|")[0])
            if b is None:
                a = None
        else:
            a = None
        if a is None and rank > RING:
            try:
                a, b = data_of[event](data)
            except BadLine as bad:
                report.reject(number, bad.code, **bad.params)
                return high_water, oldest, jumping, ignored
        key = f"{call_id}\x00{queue}"  # calls.key_of, inline
        call = (ts, rank, number, event, agent, line, a, b)
        events = open_calls.get(key)
        if events is None:
            # The loop's `closed`, `closed_old` are the assembler's between two `due`.
            if (key in assembler.closed or key in assembler.closed_old) and assembler.absorb(
                key, call
            ):
                return high_water, oldest, jumping, ignored
            open_calls[key] = [call]
        else:
            events.append(call)
        if rank == END:
            pending_append((ts + reorder_seconds, number + reorder_lines, key))
        return high_water, oldest, jumping, ignored

    return read_line


# ---------------------------------------------------------------------------
# Wazo / XiVO queue_log table export

WAZO_COLUMNS = ("time", "callid", "queuename", "agent", "event")
WAZO_DATA = ("data1", "data2", "data3", "data4", "data5")


def _sniff(header: str) -> str:
    counts = {delimiter: header.count(delimiter) for delimiter in (",", ";", "\t", "|")}
    return max(counts, key=counts.get)


def _is_wazo_header(line: str) -> bool:
    lowered = line.lower()
    return "callid" in lowered and "event" in lowered and "time" in lowered


def _wazo_shape(clock: Clock) -> Callable[[str], bool]:
    def looks_right(line: str) -> bool:
        if _is_wazo_header(line):
            return True
        fields = line.split(",")
        return len(fields) >= 5 and clock.parse(fields[0].strip('" ')) is not None

    return looks_right


def read_wazo(
    reader: LineReader, report: ImportReport, assembler: Assembler, clock: Clock
) -> Iterator[list[CallRecord]]:
    """Yields the calls of a Wazo/XiVO queue_log CSV export as they end, in lists."""
    batches, first, shaped, rest = _probe(reader, _wazo_shape(clock))
    if not shaped and first:
        _wrong_format(report, first, min(PROBE_LINES, sum(map(len, batches))))
        return
    delimiter = ","
    positions = list(range(5))
    data_positions = list(range(5, 10))
    width = 5
    open_calls = assembler.open
    pending = assembler.pending
    number = 0
    header_seen = False

    def chained():
        yield from batches
        yield from rest

    paused = False
    try:
        for batch in chained():
            if batch.__class__ is LastLine:
                for line in batch:
                    number += 1
                    _truncated(report, number, line)
                break
            paused = gc.isenabled()
            if paused:
                gc.disable()  # this loop makes no reference cycles: see the module docstring
            for line in batch:
                number += 1
                if not line:
                    _special(report, number, line)
                    continue
                if not header_seen and _is_wazo_header(line):
                    header_seen = True
                    delimiter = _sniff(line)
                    names = [name.strip().strip('"').lower() for name in _split(line, delimiter)]
                    missing = [column for column in WAZO_COLUMNS if column not in names]
                    if missing:
                        report.fail("missing_columns", columns=", ".join(missing))
                        return
                    positions = [names.index(column) for column in WAZO_COLUMNS]
                    data_positions = [
                        names.index(column) for column in WAZO_DATA if column in names
                    ]
                    width = max(positions) + 1
                    report.ignored_lines += 1
                    continue
                header_seen = True
                try:
                    fields = _split(line, delimiter)
                except csv.Error as error:
                    report.reject(number, "bad_csv", detail=str(error))
                    continue
                if len(fields) < width:
                    report.reject(number, "too_few_fields", found=len(fields), expected=width)
                    continue
                time_text, call_id, queue, agent, event = (fields[p].strip() for p in positions)
                ts = clock.parse(time_text)
                if ts is None:
                    ts = epoch(time_text)
                    if ts is None:
                        report.reject(number, "bad_timestamp", value=time_text[:40])
                        continue
                if ts < MIN_TS or ts > MAX_TS:
                    report.reject(number, "timestamp_out_of_range", value=time_text[:40])
                    continue
                high_water = assembler.high_water
                if high_water and ts < high_water - assembler.max_open_seconds:
                    report.reject(number, "out_of_order", value=time_text[:40])
                    continue
                if ts > high_water:
                    assembler.advance(ts)
                rank = CALL_EVENTS.get(event)
                if rank is None:
                    if event in NO_CALL_EVENTS:
                        report.ignored_lines += 1
                    else:
                        report.warn(number, "unknown_event", event=event[:40])
                    continue
                data = "|".join(fields[p] for p in data_positions if p < len(fields)).rstrip("|")
                if rank == RING:
                    a = b = None
                else:
                    try:
                        a, b = DATA[event](data)
                    except BadLine as bad:
                        report.reject(number, bad.code, **bad.params)
                        continue
                key = f"{call_id}\x00{queue}"  # calls.key_of, inline
                call = (ts, rank, number, event, agent, line, a, b)
                events = open_calls.get(key)
                if events is None:
                    if assembler.absorb(key, call):
                        continue
                    open_calls[key] = [call]
                else:
                    events.append(call)
                if rank == END:
                    pending.append(
                        (ts + assembler.reorder_seconds, number + assembler.reorder_lines, key)
                    )
            report.lines_read = number
            records = assembler.due(number)
            if paused:
                gc.enable()
                paused = False
            yield records
            if assembler.high_water - assembler.last_sweep > SWEEP_EVERY:
                yield assembler.sweep(number)
        report.lines_read = number
    finally:
        if paused:
            gc.enable()


def _split(line: str, delimiter: str) -> list[str]:
    if '"' not in line:
        return line.split(delimiter)
    return next(csv.reader((line,), delimiter=delimiter, strict=True))
