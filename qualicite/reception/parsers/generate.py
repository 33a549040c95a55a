"""Writes realistic, deterministic queue_logs for the tests and the benchmark.

A town hall's phone: queues for reception, civil status and town planning plus an overflow
queue, agents who join in the morning, pause for lunch and leave in the evening, and calls
whose volume follows the week and the day — a Monday-morning peak, a lunchtime dip, a quiet
Friday afternoon and a Saturday morning. Calls are answered (some after RINGNOANSWERs, some
ending in a transfer), abandoned, timed out (half of reception's timeouts overflow to the
overflow queue, the same call id in a second queue), sent away by an empty queue or by a key.

Every call is a `CallSpec`: `spec.lines()` are its queue_log events and `spec.record()` the
`CallRecord` a correct parser must assemble from them. The same seed always writes the same
bytes. Command line::

    python -m qualicite.reception.parsers.generate OUT --lines 1000000 [--seed 1]
        [--format asterisk|wazo] [--calls-per-day 400]
"""

from __future__ import annotations

import argparse
import random
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import BinaryIO
from zoneinfo import ZoneInfo

from qualicite.reception.parsers.calls import CallRecord, Outcome

PARIS = ZoneInfo("Europe/Paris")
QUEUES = {"accueil": 5, "etat-civil": 4, "urbanisme": 3, "accueil-debordement": 2}
QUEUE_SHARE = {"accueil": 0.55, "etat-civil": 0.3, "urbanisme": 0.15}
# Calls per hour of the day, relative (8:30–17:30, lunchtime dip); Saturday is 9–12.
HOURS = {8: 0.7, 9: 1.0, 10: 1.15, 11: 0.95, 12: 0.35, 13: 0.45, 14: 0.9, 15: 0.8, 16: 0.6}
HOURS[17] = 0.3
WEEKDAYS = {0: 1.4, 1: 1.05, 2: 1.0, 3: 0.95, 4: 0.8, 5: 0.35}
TIMEOUT = 180
TRANSFERS = ("TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER")
WAZO_HEADER = "time,callid,queuename,agent,event,data1,data2,data3,data4,data5"


@dataclass
class CallSpec:
    """One call's visit to one queue, as the generator decided it."""

    call_id: str
    queue: str
    entered: int
    outcome: str
    wait: int
    agent: str = ""
    talk: int | None = None
    caller: str = ""
    rna_agents: list[str] = field(default_factory=list)
    transfer: str = ""  # "", TRANSFER, BLINDTRANSFER or ATTENDEDTRANSFER
    hung_up_by_agent: bool = False
    position: int = 1

    @property
    def ended(self) -> int:
        return self.entered + self.wait + (self.talk or 0)

    def lines(self) -> list[tuple[int, str]]:
        """(epoch, queue_log line without its newline), in the order Asterisk writes them."""
        t0, call, queue, pos = self.entered, self.call_id, self.queue, self.position
        head = f"|{call}|{queue}|"
        lines = [(t0, f"{t0}{head}NONE|ENTERQUEUE||{self.caller}|{pos}")]
        for index, agent in enumerate(self.rna_agents):
            at = t0 + (index + 1) * self.wait // (len(self.rna_agents) + 1)
            lines.append((at, f"{at}{head}{agent}|RINGNOANSWER|15000"))
        end = self.ended
        if self.outcome == Outcome.ANSWERED:
            answered = t0 + self.wait
            bridged = f"{answered}.{zlib.crc32(call.encode()) % 1000}"
            lines.append(
                (answered, f"{answered}{head}{self.agent}|CONNECT|{self.wait}|{bridged}|3")
            )
            hold, talk = self.wait, self.talk
            if self.transfer == "ATTENDEDTRANSFER":
                data = f"BRIDGE|{bridged}-bridge|{hold}|{talk}|{pos}"
            elif self.transfer:
                data = f"2{pos:02d}|from-internal|{hold}|{talk}|{pos}"
            else:
                data = f"{hold}|{talk}|{pos}"
            event = self.transfer or (
                "COMPLETEAGENT" if self.hung_up_by_agent else "COMPLETECALLER"
            )
            lines.append((end, f"{end}{head}{self.agent}|{event}|{data}"))
        elif self.outcome == Outcome.EXIT_KEY:
            lines.append((end, f"{end}{head}NONE|EXITWITHKEY|0|{pos}|{pos}|{self.wait}"))
        else:
            event = {
                Outcome.ABANDONED: "ABANDON",
                Outcome.TIMEOUT: "EXITWITHTIMEOUT",
                Outcome.EXIT_EMPTY: "EXITEMPTY",
            }[self.outcome]
            lines.append((end, f"{end}{head}NONE|{event}|{pos}|{pos}|{self.wait}"))
        return lines

    def record(self) -> CallRecord:
        answered = self.outcome == Outcome.ANSWERED
        return CallRecord(
            call_id=self.call_id,
            queue=self.queue,
            entered_ts=self.entered,
            wait_seconds=self.wait,
            outcome=self.outcome,
            agent=self.agent if answered else "",
            talk_seconds=self.talk if answered else None,
            transfers=1 if self.transfer else 0,
            ring_no_answer=len(self.rna_agents),
            ended_ts=self.ended,
            caller=self.caller,
        )


def agents_of(queue: str) -> list[str]:
    first = {"accueil": 201, "etat-civil": 211, "urbanisme": 221, "accueil-debordement": 231}
    return [f"PJSIP/{first[queue] + index}" for index in range(QUEUES[queue])]


@dataclass
class Day:
    specs: list[CallSpec]
    other_lines: list[tuple[int, str]]

    def lines(self) -> list[str]:
        """Every line of the day, sorted by time (a call's lines keep their order)."""
        timed: list[tuple[int, int, str]] = []
        for spec in self.specs:
            for at, line in spec.lines():
                timed.append((at, len(timed), line))
        for at, line in self.other_lines:
            timed.append((at, len(timed), line))
        timed.sort()
        return [line for _, _, line in timed]


class Generator:
    """Draws the days of a town hall's phone, from a seed."""

    def __init__(self, seed: int = 1, calls_per_day: int = 400, start: date | None = None):
        self.rng = random.Random(seed)
        self.calls_per_day = calls_per_day
        self.day = start or date(2025, 1, 6)  # a Monday
        self.counter = 0

    def _instant(self, day: date, hour: int, minute: int, second: int = 0) -> int:
        local = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=PARIS)
        return int(local.timestamp())

    def next_day(self) -> Day:
        """The next day with calls (Sundays are skipped)."""
        day = self.day
        if day.weekday() == 6:
            day += timedelta(days=1)
        self.day = day + timedelta(days=1)
        rng = self.rng
        saturday = day.weekday() == 5
        hours = {9: 1.0, 10: 1.0, 11: 0.8} if saturday else HOURS
        other: list[tuple[int, str]] = []
        opening = self._instant(day, 8 if not saturday else 8, 25)
        closing = self._instant(day, 17 if not saturday else 12, 35)
        lunch, back = self._instant(day, 12, 0), self._instant(day, 13, 30)
        for queue in QUEUES:
            if saturday and queue != "etat-civil":
                continue
            for agent in agents_of(queue):
                other.append((opening, f"{opening}|NONE|{queue}|{agent}|ADDMEMBER|"))
                if not saturday and rng.random() < 0.6:
                    reason = "Déjeuner"
                    other.append((lunch, f"{lunch}|NONE|{queue}|{agent}|PAUSE|{reason}"))
                    other.append((back, f"{back}|NONE|{queue}|{agent}|UNPAUSE|{reason}"))
                other.append((closing, f"{closing}|NONE|{queue}|{agent}|REMOVEMEMBER|"))
        if rng.random() < 0.05:
            other.append((opening, f"{opening}|NONE|NONE|NONE|CONFIGRELOAD|"))
        volume = self.calls_per_day * WEEKDAYS[day.weekday()] * rng.uniform(0.85, 1.15)
        weights = list(hours.values())
        total = sum(weights)
        specs: list[CallSpec] = []
        for _ in range(round(volume * total / sum(HOURS.values()))):
            hour = rng.choices(list(hours), weights)[0]
            start_minute = 30 if hour == 8 else 0
            end_minute = 30 if hour == 17 else 60
            minute = rng.randrange(start_minute, end_minute)
            entered = self._instant(day, hour, minute, rng.randrange(60))
            queue = "etat-civil" if saturday else self._queue()
            specs.extend(self._call(entered, queue, hours[hour] / max(weights)))
        return Day(specs, other)

    def _queue(self) -> str:
        return self.rng.choices(list(QUEUE_SHARE), list(QUEUE_SHARE.values()))[0]

    def _call(self, entered: int, queue: str, load: float) -> list[CallSpec]:
        rng = self.rng
        self.counter += 1
        call_id = f"{entered}.{self.counter}"
        caller = f"0{rng.choice('1234569')}{rng.randrange(10**8):08d}"
        specs = [self._visit(call_id, queue, entered, load, caller)]
        first = specs[0]
        if first.outcome == Outcome.TIMEOUT and queue == "accueil" and rng.random() < 0.5:
            specs.append(self._visit(call_id, "accueil-debordement", first.ended, load, caller))
        return specs

    def _visit(self, call_id: str, queue: str, entered: int, load: float, caller: str):
        rng = self.rng
        lunchtime = 0.2 if load < 0.5 else 0.0
        draw = rng.random()
        abandon = 0.07 + 0.08 * load
        position = 1 + int(rng.expovariate(1 / (1 + 3 * load)))
        agents = agents_of(queue)
        if draw < 0.02 + lunchtime * 0.2:
            outcome, wait = Outcome.EXIT_EMPTY, rng.randrange(0, 30)
        elif draw < 0.04 + lunchtime * 0.2:
            outcome, wait = Outcome.EXIT_KEY, rng.randrange(10, 90)
        elif draw < 0.08 + lunchtime * 0.2:
            outcome, wait = Outcome.TIMEOUT, TIMEOUT
        elif draw < 0.08 + lunchtime * 0.2 + abandon:
            outcome, wait = Outcome.ABANDONED, min(TIMEOUT - 1, int(rng.expovariate(1 / 35)))
        else:
            outcome = Outcome.ANSWERED
            wait = min(TIMEOUT - 1, int(rng.expovariate(1 / (8 + 30 * load))))
        rings = min(4, wait // 15)
        rna = [rng.choice(agents) for _ in range(rng.randrange(rings + 1))] if rings else []
        spec = CallSpec(call_id, queue, entered, outcome, wait, caller=caller, position=position)
        spec.rna_agents = rna
        if outcome == Outcome.ANSWERED:
            spec.agent = rng.choice(agents)
            spec.talk = min(1800, max(5, int(rng.lognormvariate(4.6, 0.7))))
            spec.hung_up_by_agent = rng.random() < 0.45
            if rng.random() < 0.06:
                spec.transfer = rng.choice(TRANSFERS)
        return spec


def wazo_lines(lines: list[str]) -> Iterator[str]:
    """The same events as the Wazo/XiVO table export (CSV, microseconds, UTC offset)."""
    previous, step = None, 0
    for line in lines:
        fields = line.split("|")
        at = int(fields[0])
        step = step + 1 if at == previous else 0
        previous = at
        moment = datetime.fromtimestamp(at, UTC) + timedelta(microseconds=step * 1000)
        data = (fields[5:] + [""] * 5)[:5]
        if len(fields) > 10:  # an ATTENDEDTRANSFER LINK: the rest stays in data5
            data[4] = "|".join(fields[9:])
        cells = [moment.strftime("%Y-%m-%d %H:%M:%S.%f+00"), *fields[1:5], *data]
        yield ",".join(cells)


@dataclass
class Stats:
    lines: int = 0
    calls: int = 0
    outcomes: Counter = field(default_factory=Counter)


def generate(
    out: BinaryIO,
    *,
    lines: int | None = None,
    days: int | None = None,
    seed: int = 1,
    calls_per_day: int = 400,
    fmt: str = "asterisk",
) -> Stats:
    """Writes days of queue_log to `out` until `lines` lines (exactly) or `days` days.

    When cut at a line count, the calls of the last day that had not ended are left open.
    """
    if lines is None and days is None:
        raise ValueError("give lines or days")
    generator = Generator(seed=seed, calls_per_day=calls_per_day)
    stats = Stats()
    written_days = 0
    if fmt == "wazo":
        out.write((WAZO_HEADER + "\n").encode())
    else:
        first = generator._instant(generator.day, 8, 0)
        out.write(f"{first}|NONE|NONE|NONE|QUEUESTART|\n".encode())
        stats.lines += 1
    while (lines is None or stats.lines < lines) and (days is None or written_days < days):
        day = generator.next_day()
        written_days += 1
        day_lines = day.lines()
        if lines is not None and stats.lines + len(day_lines) > lines:
            day_lines = day_lines[: lines - stats.lines]
        if fmt == "wazo":
            day_lines = list(wazo_lines(day_lines))
        out.write(("\n".join(day_lines) + "\n").encode())
        stats.lines += len(day_lines)
        for spec in day.specs:
            stats.calls += 1
            stats.outcomes[spec.outcome] += 1
    return stats


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a realistic queue_log.")
    parser.add_argument("out")
    parser.add_argument("--lines", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls-per-day", type=int, default=400)
    parser.add_argument("--format", choices=("asterisk", "wazo"), default="asterisk")
    args = parser.parse_args(argv)
    with open(args.out, "wb") as out:
        stats = generate(
            out,
            lines=args.lines,
            days=args.days if args.days or args.lines else 5,
            seed=args.seed,
            calls_per_day=args.calls_per_day,
            fmt=args.format,
        )
    print(f"{stats.lines} lines, {stats.calls} queue visits: {dict(stats.outcomes)}")


if __name__ == "__main__":
    main()
