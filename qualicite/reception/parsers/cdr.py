"""Reader of Asterisk call detail records in CSV (`Master.csv` of cdr_csv, or an export).

`Master.csv` has no header; its columns, every value quoted, are::

    accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
    start, answer, end, duration, billsec, disposition, amaflags[, uniqueid[, userfield…]]

An export with a header line (recognised by its "src", "dst" and "start" or "calldate"
columns, any order; "calldate" is the start in the MySQL/ODBC `cdr` table) is read by
column names. Times are the PBX's local time unless they carry an offset: give the PBX's
zone (`timezone`, UTC by default).

A CDR knows less than a queue_log, so each call is read as follows (documented limits):

- One call may have several rows, one per agent its queue rang (Asterisk ≥ 12): rows are
  grouped by (call id, queue) — the call id is `uniqueid`, or channel@start without it;
  the queue is the first argument of `lastdata` when `lastapp` is Queue, else `dst`.
- **answered** when a row is ANSWERED with a `dstchannel` (the agent's channel, without its
  "-0000002a" suffix, is the agent): wait = duration − billsec, talk = billsec.
- otherwise **abandoned** when a row is NO ANSWER, or ANSWERED without a `dstchannel`
  (answered by the PBX itself: the queue's music, an IVR), with wait = the longest duration;
  and **not_admitted** (wait 0) when every row is BUSY, FAILED or CONGESTION.
- `ring_no_answer` counts the NO ANSWER rows that name an agent; transfers are not known
  (0). A timeout to voicemail looks like an answered call to the voicemail: map it away
  with the queue/service mapping.

Rows of one call are written together when it hangs up, so a group is assembled once the
file has moved past its end (`reorder_seconds`, `reorder_lines`), and at the end of the
file; nothing is carried to the next file. A row identical to one already read for its call
is a duplicate and ignored. A last line without an end of line is accepted when it has all
its columns (exports often omit the final newline).
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator

from qualicite.reception.parsers.calls import CallRecord, Outcome
from qualicite.reception.parsers.lines import LastLine, LineReader
from qualicite.reception.parsers.queue_log import (
    PROBE_LINES,
    BadLine,
    _seconds,
    _special,
    _wrong_format,
)
from qualicite.reception.parsers.report import ImportReport
from qualicite.reception.parsers.times import MAX_TS, MIN_TS, Clock, epoch

MASTER_COLUMNS = (
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
    "uniqueid",
    "userfield",
)
REQUIRED = ("src", "dst", "channel", "dstchannel", "lastapp", "lastdata", "start")
REQUIRED += ("duration", "billsec", "disposition")
MIN_COLUMNS = 16


def agent_of(channel: str) -> str:
    """ "SIP/201-0000002a" → "SIP/201"; "Local/201@from-queue-00000012;1" → "Local/201@…"."""
    if ";" in channel:
        channel = channel.rsplit(";", 1)[0]
    dash = channel.rfind("-")
    if dash > channel.find("/") >= 0:
        suffix = channel[dash + 1 :]
        if suffix and all(c in "0123456789abcdefABCDEF" for c in suffix):
            channel = channel[:dash]
    return channel


def _fields(line: str) -> list[str]:
    if '"' not in line:
        return line.split(",")
    return next(csv.reader((line,), strict=True))


def _is_header(fields: list[str]) -> bool:
    names = {name.strip().lower() for name in fields}
    return "src" in names and "dst" in names and bool(names & {"start", "calldate"})


def _looks_cdr(line: str) -> bool:
    try:
        fields = _fields(line)
    except csv.Error:
        return False
    return _is_header(fields) or len(fields) >= MIN_COLUMNS


# A row: (start, end, line, disposition, agent, duration, billsec, caller, text)


def _assemble(key: tuple[str, str], rows: list[tuple]) -> CallRecord:
    rows.sort()
    answered = [row for row in rows if row[3] == "ANSWERED" and row[4]]
    first_line = min(row[2] for row in rows)
    last_line = max(row[2] for row in rows)
    ring_no_answer = sum(1 for row in rows if row[3] == "NO ANSWER" and row[4])
    entered = rows[0][0]
    if answered:
        row = max(answered, key=lambda row: (row[6], -row[2]))
        return CallRecord(
            key[0],
            key[1],
            entered,
            max(0, round(row[0] + row[5] - row[6] - entered)),
            Outcome.ANSWERED,
            row[4],
            row[6],
            0,
            ring_no_answer,
            row[1],
            rows[0][7],
            first_line,
            last_line,
        )
    if any(row[3] in ("NO ANSWER", "ANSWERED") for row in rows):
        outcome = Outcome.ABANDONED
        wait = max(round(row[1] - entered) for row in rows)
    else:
        outcome = Outcome.NOT_ADMITTED
        wait = 0
    return CallRecord(
        key[0],
        key[1],
        entered,
        wait,
        outcome,
        "",
        None,
        0,
        ring_no_answer,
        max(row[1] for row in rows),
        rows[0][7],
        first_line,
        last_line,
    )


def read_cdr(
    reader: LineReader,
    report: ImportReport,
    clock: Clock,
    *,
    reorder_seconds: float = 60,
    reorder_lines: int = 256,
    closed_max: int = 20000,
) -> Iterator[CallRecord]:
    """Yields the calls of an Asterisk CDR CSV file."""
    positions = {name: index for index, name in enumerate(MASTER_COLUMNS)}
    width = MIN_COLUMNS
    open_calls: dict[tuple[str, str], list[tuple]] = {}
    pending: list[tuple[float, int, tuple[str, str]]] = []
    closed: dict[tuple[str, str], set[str]] = {}
    high_water: float = 0
    number = 0
    first_data = True
    shaped = False
    probed: list[str] = []
    for batch in reader:
        last = batch.__class__ is LastLine
        for line in batch:
            number += 1
            if not line:
                _special(report, number, line)
                continue
            if not shaped:
                if _looks_cdr(line):
                    shaped = True
                else:
                    probed.append(line)
                    if len(probed) >= PROBE_LINES:
                        _wrong_format(report, probed[:3])
                        return
            try:
                fields = _fields(line)
            except csv.Error as error:
                if last:
                    report.truncated_last_line = True
                    report.reject(number, "truncated")
                else:
                    report.reject(number, "bad_csv", detail=str(error))
                continue
            if first_data:
                first_data = False
                if _is_header(fields):
                    names = [name.strip().lower() for name in fields]
                    if "start" not in names and "calldate" in names:
                        names[names.index("calldate")] = "start"
                    missing = [name for name in REQUIRED if name not in names]
                    if missing:
                        report.fail("missing_columns", columns=", ".join(missing))
                        return
                    positions = {name: names.index(name) for name in names}
                    width = max(positions[name] for name in REQUIRED) + 1
                    report.ignored_lines += 1
                    continue
            if len(fields) < width:
                if last:
                    report.truncated_last_line = True
                    report.reject(number, "truncated")
                else:
                    report.reject(number, "too_few_fields", found=len(fields), expected=width)
                continue
            try:
                row_key, row = _row(fields, positions, number, clock, line)
            except BadLine as bad:
                report.reject(number, bad.code, **bad.params)
                continue
            seen = closed.get(row_key)
            if seen is not None and line in seen:
                report.duplicates += 1
                continue
            rows = open_calls.get(row_key)
            if rows is None:
                open_calls[row_key] = [row]
            elif any(other[8] == line for other in rows):
                report.duplicates += 1
                continue
            else:
                rows.append(row)
            heapq.heappush(pending, (row[1] + reorder_seconds, number + reorder_lines, row_key))
            if row[1] > high_water:
                high_water = row[1]
                while pending and pending[0][0] <= high_water and pending[0][1] <= number:
                    key = heapq.heappop(pending)[2]
                    rows = open_calls.get(key)
                    if rows is None or max(r[1] for r in rows) + reorder_seconds > high_water:
                        continue
                    del open_calls[key]
                    report.calls += 1
                    closed[key] = {r[8] for r in rows}
                    if len(closed) > closed_max:
                        del closed[next(iter(closed))]
                    yield _assemble(key, rows)
        report.lines_read = number
    report.lines_read = number
    if not shaped and probed:
        _wrong_format(report, probed[:3])
        return
    for key, rows in open_calls.items():
        report.calls += 1
        yield _assemble(key, rows)


def _row(fields: list[str], positions: dict[str, int], number: int, clock: Clock, line: str):
    def value(name: str) -> str:
        index = positions.get(name)
        return fields[index].strip() if index is not None and index < len(fields) else ""

    start_text = value("start")
    start = clock.parse(start_text)
    if start is None:
        start = epoch(start_text)
        if start is None:
            raise BadLine("bad_timestamp", value=start_text[:40])
    if start < MIN_TS or start > MAX_TS:
        raise BadLine("timestamp_out_of_range", value=start_text[:40])
    duration = _seconds("duration", value("duration")) or 0
    billsec = _seconds("billsec", value("billsec")) or 0
    if billsec > duration:
        billsec = duration
    channel = value("channel")
    call_id = value("uniqueid") or f"{channel}@{start_text}"
    if value("lastapp").lower() == "queue":
        queue = value("lastdata").replace("|", ",").split(",", 1)[0]
    else:
        queue = value("dst")
    disposition = value("disposition").upper()
    agent = agent_of(value("dstchannel"))
    row = (start, start + duration, number, disposition, agent, duration, billsec)
    return (call_id, queue), row + (value("src"), line)
