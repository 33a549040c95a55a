"""A call in a queue, and the state machine that assembles it from queue_log events.

`CallRecord` (what every parser yields: one visit of one call to one queue), its `Outcome`
and the events of the queue_log family are in `records.py` (the first two, and the event
ranks, can still be imported from here).

The assembler keeps only the calls that are open (entered, not yet ended), in a dict keyed by
(call id, queue): memory grows with the calls open at once, never with the file. Events of a
call are buffered until its end and sorted by (time, kind) when it is assembled, so lines a
little out of order are harmless. An ended call is assembled, after a batch of lines (about
1 MiB), once the log has moved on by both `reorder_seconds` of time and `reorder_lines` lines
past its end event, so a line that arrives a little late still joins its call. Calls that are
still open at the end of a file are handed over (`CarriedState`) to the next file's parse: a
call that spans two files is completed when the second file arrives.

Duplicate lines are harmless: an event identical (time, event, agent, data) to one already
buffered for the call, or to one of a call assembled recently (the last `closed_seconds` to
twice that of log time, at most `closed_max` calls), is counted in `report.duplicates` and
ignored; so are the lines a log rotation repeats at the start of the next file, when the
carried state is passed.

Lines of one call with a gap of more than a day, a call that never ends, a time in the future:
see `Assembler` (`high_water`, `MAX_JUMP`, `max_open_seconds`).

Speed: `Assembler.due` (`_single`, `_signature`) is the hot path after the reading loop. With
the compiled extension (`_fastpath.c`, `fastpath_active()`) its loop and `_single`'s common
case (ENTERQUEUE, rings, at most one CONNECT, one end) run in C with the same records and
signatures; any other call goes back to `_single` or `_assemble`, so the rules are written
once, here. `QUALICITE_PURE_PARSERS=1` keeps it all in Python, the reference.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qualicite.reception.parsers.records import (
    CONNECT,
    END,
    END_OUTCOMES,
    ENTER,
    RING,
    TRANSFER_EVENTS,
    CallRecord,
    Event,
    Outcome,
)
from qualicite.reception.parsers.report import ImportReport

try:
    from qualicite.reception.parsers import _fastpath as compiled
except ImportError:  # installed without a C compiler: the parsers run in Python alone
    compiled = None

# Set to "1" to parse in pure Python even when the compiled fast path is built.
PURE_PARSERS = "QUALICITE_PURE_PARSERS"


def fastpath_active() -> bool:
    """Whether a parse started now uses the compiled fast path (`_fastpath.c`).

    Read when a parse starts (not at import), so that a test can switch it per parse.
    """
    return compiled is not None and os.environ.get(PURE_PARSERS) != "1"


_new = tuple.__new__
_fromtimestamp = datetime.fromtimestamp


# A call's key in the assembler: call id and queue joined by SEP (a string is cheaper than a
# tuple, and the garbage collector never looks at it). Neither part ever contains SEP.
Key = str
SEP = "\x00"


def key_of(call_id: str, queue: str) -> Key:
    return f"{call_id}{SEP}{queue}"


def names(key: Key) -> tuple[str, str]:
    """(call id, queue) of a key."""
    call_id, _, queue = key.partition(SEP)
    return call_id, queue


def _named(key: Key) -> dict[str, str]:
    call_id, queue = names(key)
    return {"call_id": call_id, "queue": queue}


def utc(ts: float) -> datetime:
    return _fromtimestamp(ts, UTC)


class _Visit:
    __slots__ = (
        "entered",
        "caller",
        "first_line",
        "last_line",
        "agent",
        "wait",
        "talk",
        "outcome",
        "transfers",
        "rna",
        "connect_ts",
        "end_ts",
        "last_ts",
        "stop",
        "unfinished",
    )

    def __init__(self, entered, caller, line):
        self.entered = entered
        self.caller = caller
        self.first_line = line
        self.last_line = line
        self.agent = ""
        self.wait = None
        self.talk = None
        self.outcome = None
        self.transfers = 0
        self.rna = 0
        self.connect_ts = None
        self.end_ts = None
        self.last_ts = entered
        self.stop = 0
        self.unfinished = False


def _same(event: Event, other: Event) -> bool:
    return event[5] == other[5] and event[0] == other[0]


def _signature(end_ts: float, events: list[Event]) -> str:
    """An assembled call as kept to recognise its duplicate lines: its end, then its lines.

    A string, not the events: the garbage collector never has to look at it.
    """
    texts = [event[5] for event in events]
    texts.append(repr(end_ts))
    return "\n".join(texts)


def _unsign(signature: str) -> tuple[float, list[str]]:
    """(end time, line texts) of a signature."""
    *texts, end = signature.split("\n")
    return float(end), texts


@dataclass
class CarriedState:
    """What one file hands to the next: the open calls and the recently assembled ones.

    `to_json()` gives plain lists and numbers (store it between imports); `from_json()` reads
    it back. The state belongs to one source: keep one per PBX, and keep the new one only
    when the import was saved (`report.importable`). `high_water` is informative.
    """

    family: str = "queue_log"
    open: dict[Key, list[Event]] = field(default_factory=dict)
    closed: dict[Key, str] = field(default_factory=dict)
    high_water: float = 0

    def __len__(self) -> int:
        return len(self.open)

    def calls(self) -> list[tuple[str, str]]:
        """(call id, queue) of the calls still open."""
        return [names(key) for key in self.open]

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "high_water": self.high_water,
            "open": [[*names(k), [list(e) for e in v]] for k, v in self.open.items()],
            "closed": [[*names(k), signature] for k, signature in self.closed.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CarriedState:
        return cls(
            family=data.get("family", "queue_log"),
            high_water=data.get("high_water", 0),
            open={
                key_of(c, q): [tuple(e) for e in events] for c, q, events in data.get("open", [])
            },
            closed={key_of(c, q): signature for c, q, signature in data.get("closed", [])},
        )


class Assembler:
    """Buffers the events of open calls and turns them into `CallRecord`s.

    The reading loops (`queue_log.py`) append events to `self.open[key]` themselves and
    `(due_time, due_line, key)` to `self.pending` for every end event (the hot path), keep
    `high_water` with `advance`'s rule, call `absorb` for an event whose call is not open,
    `due` after each batch of lines, `sweep` now and then, and `finish` at the end.
    `use_compiled` (decided when the assembler is made, `fastpath_active`) tells them and
    `due` to run their common case in C.

    `high_water` is the latest time of the log. One line cannot move it more than
    `MAX_JUMP` seconds ahead: a bigger jump (a night, a weekend) must be confirmed by three
    lines, so that a single line with a wrong time in the future does not make every open
    call look stale. A line more than `max_open_seconds` older than `high_water` is rejected
    as out of order.
    """

    MAX_JUMP = 3600
    CONFIRM = 3

    def __init__(
        self,
        report: ImportReport,
        carried: CarriedState | None = None,
        *,
        reorder_seconds: float = 60,
        reorder_lines: int = 256,
        max_open_seconds: float = 86400,
        max_open_lines: int = 100_000,
        closed_seconds: float = 900,
        closed_max: int = 20000,
    ):
        self.report = report
        self.reorder_seconds = reorder_seconds
        self.reorder_lines = reorder_lines
        self.max_open_seconds = max_open_seconds
        self.max_open_lines = max_open_lines
        self.closed_seconds = max(closed_seconds, reorder_seconds)
        self.closed_max = closed_max
        self.open: dict[Key, list[Event]] = {}
        # Recently assembled calls, in two generations: `closed` is filled, `closed_old`
        # dropped when `closed` is older than `closed_seconds` or holds `closed_max` / 2.
        self.closed: dict[Key, str] = {}  # key -> _signature(...)
        self.closed_old: dict[Key, str] = {}
        self.closed_since: float = 0
        self.pending: deque[tuple[float, int, Key]] = deque()
        self.high_water: float = 0
        self.jumps = 0
        self.candidate: float = 0
        self.last_sweep: float = 0
        self.use_compiled = fastpath_active()
        if carried is not None:
            self.open = {key: list(events) for key, events in carried.open.items()}
            self.closed = dict(carried.closed)
            for key, events in self.open.items():
                ends = [event[0] for event in events if event[1] == END]
                if ends:
                    self.pending.append((max(ends) + reorder_seconds, 0, key))

    def advance(self, ts: float) -> float:
        """The rule for a time later than `high_water` (the loops inline its common case).

        A jump of more than `MAX_JUMP` is taken when `CONFIRM` such lines in a row agree
        (within `MAX_JUMP` of each other); the first lines of a file confirm its start.
        """
        if ts <= self.high_water + self.MAX_JUMP:
            self.high_water = ts
            self.jumps = 0
            return ts
        if self.jumps and abs(ts - self.candidate) <= self.MAX_JUMP:
            self.jumps += 1
        else:
            self.candidate = ts
            self.jumps = 1
        if self.jumps >= self.CONFIRM:
            self.high_water = ts
            self.jumps = 0
        return self.high_water

    # -- the slow paths of the reading loop

    def absorb(self, key: Key, event: Event) -> bool:
        """For an event whose call is not open: True when it must be dropped.

        It is a duplicate of a line of a recently assembled call, or a late event of that
        call. An ENTERQUEUE after the end, or any event well after it, starts a new visit.
        """
        closed = self.closed.get(key) or self.closed_old.get(key)
        if closed is None:
            return False
        end_ts, lines = _unsign(closed)
        if event[5] in lines:
            self.report.duplicates += 1
            return True
        ts = event[0]
        if (event[1] == ENTER and ts >= end_ts) or ts > end_ts + self.reorder_seconds:
            return False
        self.report.warn(event[2], "late_event", event=event[3], **_named(key))
        return True

    def due(self, now_line: int) -> list[CallRecord]:
        """Assembles the ended calls the log has moved past (time and lines).

        With `use_compiled` the loop runs in C (`_fastpath.due`), `_single`'s common case too.
        """
        pending = self.pending
        open_calls = self.open
        closed = self.closed
        high_water = self.high_water
        until = high_water - self.reorder_seconds
        if self.use_compiled:
            args = (pending, open_calls, closed, high_water, until, now_line)
            records = compiled.due(*args, self._single, self._assemble)
        else:
            popleft = pending.popleft
            single = self._single
            records: list[CallRecord] = []
            append = records.append
            while pending and pending[0][0] <= high_water and pending[0][1] <= now_line:
                key = popleft()[2]
                events = open_calls.get(key)
                if events is None:
                    continue
                events.sort()
                last = events[-1]
                if last[1] == END and events[0][1] == ENTER and last[0] <= until:
                    record = single(key, events)
                    if record is not None:
                        append(record)
                        del open_calls[key]
                        closed[key] = _signature(last[0], events)
                        continue
                self._assemble(key, until, records)
        self.report.calls += len(records)
        if (
            high_water - self.closed_since > self.closed_seconds
            or len(closed) > self.closed_max // 2
        ):
            self.closed_old = closed
            self.closed = {}
            self.closed_since = high_water
        return records

    def sweep(self, now_line: int | None = None) -> list[CallRecord]:
        """Closes as incomplete the calls with no event for `max_open_seconds`.

        While reading (`now_line` given) a call must also have had no event for
        `max_open_lines` lines; at the end of the file, time alone decides.
        """
        self.last_sweep = self.high_water
        limit = self.high_water - self.max_open_seconds
        line_limit = None if now_line is None else now_line - self.max_open_lines
        records: list[CallRecord] = []
        stale = [
            key
            for key, events in self.open.items()
            if max(event[0] for event in events) < limit
            and (line_limit is None or max(event[2] for event in events) < line_limit)
        ]
        for key in stale:
            self._assemble(key, None, records, force=True)
        self.report.calls += len(records)
        return records

    def finish(self) -> tuple[list[CallRecord], CarriedState]:
        """End of file: closes the stale calls, assembles the ended ones, carries the rest."""
        records = self.sweep()
        swept = len(records)
        for key in list(self.open):
            self._assemble(key, None, records)
        self.report.calls += len(records) - swept
        self.pending.clear()
        carried = CarriedState(
            open=dict(self.open),
            closed={**self.closed_old, **self.closed},
            high_water=self.high_water,
        )
        self.report.calls_carried = len(carried.open)
        return records, carried

    # -- assembly

    def _assemble(
        self,
        key: Key,
        until: float | None,
        records: list[CallRecord],
        *,
        force: bool = False,
    ) -> None:
        """Emits the visits of `key` that ended (at or before `until` when given).

        The remaining events stay open (and due again if one of them is an end); `force`
        closes an unfinished last visit as incomplete.
        """
        events = self.open[key]
        events.sort()
        last = events[-1]
        if until is not None and last[1] == END and last[0] > until:
            # Its end is not due yet (an event arrived late): wait for it.
            self.pending.append((last[0] + self.reorder_seconds, 0, key))
            return
        if last[1] == END and events[0][1] == ENTER:
            record = self._single(key, events)
            if record is not None:
                records.append(record)
                del self.open[key]
                self._remember(key, last[0], events)
                return
        visits = self._visits(key, events)
        emitted = 0
        for visit in visits:
            if visit.outcome is None:
                if not force:
                    break
                self._close_incomplete(visit)
            elif until is not None and visit.end_ts > until:
                break
            records.append(self._record(key, visit))
            emitted += 1
        if not emitted:
            if until is not None:
                self._repush(key, events)
            return
        stop = visits[emitted - 1].stop
        done, rest = events[:stop], events[stop:]
        self._remember(key, visits[emitted - 1].end_ts, done)
        if rest:
            self.open[key] = rest
            self._repush(key, rest)
        else:
            del self.open[key]

    def _single(self, key: Key, events: list[Event]) -> CallRecord | None:
        """The common case, fast: ENTERQUEUE, rings, at most one CONNECT, one end.

        Returns None for anything else (two visits, a duplicate, a missing line…), which
        the general state machine (`_visits`) handles.
        """
        connect = None
        rna = 0
        ring_ts = None
        for index in range(1, len(events) - 1):
            event = events[index]
            rank = event[1]
            if rank == RING:
                if event[0] == ring_ts:
                    return None  # two rings in the same second: maybe a duplicate
                ring_ts = event[0]
                if event[3] == "RINGNOANSWER":
                    rna += 1
            elif rank == CONNECT and connect is None:
                connect = event
            else:
                return None
        first = events[0]
        last = events[-1]
        entered = first[0]
        end_ts = last[0]
        name = last[3]
        outcome = END_OUTCOMES[name]
        if outcome == Outcome.ANSWERED:
            talk = last[7]
            if connect is not None:
                agent = connect[4]
                wait = connect[6]
                if wait is None:
                    wait = last[6]
                if wait is None:
                    wait = connect[0] - entered
            else:
                agent = last[4]
                wait = last[6]
                if wait is None:
                    wait = end_ts - (talk or 0) - entered
            if talk is not None and talk.__class__ is not int:
                talk = round(talk)
            transfers = 1 if name in TRANSFER_EVENTS else 0
        elif outcome == Outcome.NOT_ADMITTED or connect is not None:
            return None
        else:
            agent = ""
            talk = None
            transfers = 0
            wait = last[6]
            if wait is None:
                wait = end_ts - entered
        if wait.__class__ is not int:
            wait = round(wait)
        if wait < 0:
            wait = 0
        call_id, _, queue = key.partition(SEP)
        return _new(
            CallRecord,
            (
                call_id,
                queue,
                entered,
                wait,
                outcome,
                agent,
                talk,
                transfers,
                rna,
                end_ts,
                first[6] or "",
                first[2],
                last[2],
            ),
        )

    def _repush(self, key: Key, events: list[Event]) -> None:
        ends = [event[0] for event in events if event[1] == END]
        if ends:
            self.pending.append((max(ends) + self.reorder_seconds, 0, key))

    def _remember(self, key: Key, end_ts: float, events: list[Event]) -> None:
        """Keeps an assembled call's events a while, to recognise its duplicate lines."""
        self.closed_old.pop(key, None)
        self.closed[key] = _signature(end_ts, events)

    def _close_incomplete(self, visit: _Visit) -> None:
        """An open visit that will never see its end: answered if connected, else incomplete."""
        visit.end_ts = visit.last_ts
        visit.talk = None
        visit.outcome = Outcome.ANSWERED if visit.connect_ts is not None else Outcome.INCOMPLETE
        visit.unfinished = True

    def _visits(self, key: Key, events: list[Event]) -> list[_Visit]:
        """Runs the state machine over the sorted events; drops duplicates from `events`."""
        report = self.report
        visits: list[_Visit] = []
        visit: _Visit | None = None
        index = 0
        while index < len(events):
            event = events[index]
            ts = event[0]
            back = index - 1
            while back >= 0 and events[back][0] == ts:
                if _same(events[back], event):
                    break
                back -= 1
            else:
                back = -1
            if back >= 0:
                report.duplicates += 1
                del events[index]
                continue
            _, rank, line, name, agent, _data, a, b = event
            if rank == ENTER:
                if visit is not None and visit.outcome is None:
                    # Entering again: an end at the same second belongs to the earlier visit.
                    ahead = index + 1
                    while ahead < len(events) and events[ahead][0] == ts:
                        if events[ahead][1] == END:
                            events.insert(index, events.pop(ahead))
                            break
                        ahead += 1
                    else:
                        self._close_incomplete(visit)
                        visit.stop = index
                        visit = None
                    if visit is not None:
                        continue
                visit = _Visit(ts, a or "", line)
                visits.append(visit)
                index += 1
                visit.stop = index
                continue
            if visit is None or visit.outcome is not None:
                if visit is not None and ts <= visit.end_ts + self.reorder_seconds:
                    report.warn(line, "late_event", event=name, **_named(key))
                    del events[index]
                    continue
                visit = _Visit(None, "", line)
                visits.append(visit)
            visit.last_line = line
            visit.last_ts = ts
            index += 1
            visit.stop = index
            if rank == RING:
                if name == "RINGNOANSWER":
                    visit.rna += 1
            elif rank == CONNECT:
                if visit.connect_ts is None:
                    visit.connect_ts = ts
                    visit.agent = agent
                    visit.wait = a
            else:
                outcome = END_OUTCOMES[name]
                visit.outcome = outcome
                visit.end_ts = ts
                if outcome == Outcome.ANSWERED:
                    if not visit.agent:
                        visit.agent = agent
                    if visit.wait is None:
                        visit.wait = a
                    visit.talk = b
                    if name in TRANSFER_EVENTS:
                        visit.transfers += 1
                elif outcome == Outcome.NOT_ADMITTED:
                    visit.wait = 0
                    if visit.entered is None:
                        visit.entered = ts
                else:
                    visit.wait = a
        return visits

    def _record(self, key: Key, visit: _Visit) -> CallRecord:
        report = self.report
        end_ts = visit.end_ts
        wait = visit.wait
        talk = visit.talk
        entered = visit.entered
        connect_ts = visit.connect_ts
        answered = visit.outcome == Outcome.ANSWERED
        if visit.unfinished and not answered:
            report.warn(visit.first_line, "incomplete", **_named(key))
        if entered is None:
            # No ENTERQUEUE line: the entry is the answer (or the end) minus the wait.
            if wait is None:
                entered = connect_ts if connect_ts is not None else end_ts
                wait = 0
            elif connect_ts is not None:
                entered = connect_ts - wait
            elif answered and talk is not None:
                entered = end_ts - talk - wait
            else:
                entered = end_ts - wait
            report.warn(visit.first_line, "no_enterqueue", **_named(key))
        elif wait is None:
            if connect_ts is not None:
                wait = connect_ts - entered
            elif answered and talk is not None:
                wait = end_ts - talk - entered
            else:
                wait = end_ts - entered
        if wait.__class__ is not int:
            wait = round(wait)
        if wait < 0:
            wait = 0
        if not answered:
            talk = None
        elif talk is not None and talk.__class__ is not int:
            talk = round(talk)
        call_id, queue = names(key)
        return CallRecord(
            call_id,
            queue,
            entered,
            wait,
            visit.outcome,
            visit.agent if answered else "",
            talk,
            visit.transfers,
            visit.rna,
            end_ts,
            visit.caller,
            visit.first_line,
            visit.last_line,
        )


if compiled is not None:
    # The constants the compiled `due` and `_single` use, from this module's own.
    compiled.setup_calls(
        CallRecord, Outcome, END_OUTCOMES, TRANSFER_EVENTS, _signature, (ENTER, RING, CONNECT, END)
    )
