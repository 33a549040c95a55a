"""A demo town's phone system: a year of Asterisk queue_log, written one file a month.

The town's queues (towns.RECEPTION_SETUPS, "phone") are open when their site is
(`reception.queries.LocalHours`: opening hours, closures, public holidays), and the calls
follow the rhythm of a town hall: a Monday-morning peak, a dip around lunch (the site is
closed: only a few calls come in and find the queue closed), a quiet Friday afternoon, few
calls in August and a rush in September. Outside opening hours a few callers still ring and
find a closed queue: nobody logged in, the call leaves at once (EXITEMPTY).

How long a caller waits depends on how stretched the queue's agents are: the more calls per
agent on duty (fewer in summer, more in September), the likelier every agent is on the line
and the longer the wait; impatient callers hang up, the others are answered or leave at the
queue's time limit, some for an overflow queue (the same call id in a second queue). In the
busy month of the requests demo (the month before the demo's day, requests_year.Year) the
busy service is short of staff: its queues miss the 25-second commitment, so that the
dashboard and the alerts have a phone figure to show too.

The log is exported on the first working day of each month at ten, in the middle of the
morning's calls: the calls in progress then begin in one file and end in the next, which
completes them (the import's carried state). The last file ends at the start of the demo's
day, like the requests: nothing happens after it. Every day is drawn from its own seed, so
one month's file can be written again alone, byte for byte (tests/demo import one again).

Lines are written with `parsers.generate.CallSpec` (the test generator's writer of one
call's events, in the order Asterisk writes them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import BinaryIO

from qualicite.reception.parsers.calls import Outcome
from qualicite.reception.parsers.generate import TRANSFERS, CallSpec
from qualicite.reception.queries import LocalHours

HALF_HOUR = 1800
# Calls per half hour, relative, from 8:00 to 18:00 (local wall clock): a peak around ten,
# fewer before lunch, a slow start after it, a tail towards closing.
HALF_HOURS = (0.7, 0.9, 1.1, 1.25, 1.3, 1.2, 1.0, 0.75, 0.5, 0.4)
HALF_HOURS += (0.45, 0.6, 0.85, 1.0, 0.95, 0.85, 0.75, 0.6, 0.45, 0.3)
FIRST_HALF_HOUR = 16  # 8:00
# Calls per hour by weekday (Monday first), relative; Monday mornings busier still (the
# weekend's questions), Friday afternoons quieter.
WEEKDAYS = (1.25, 1.05, 0.95, 1.0, 0.85, 0.6, 0.3)
MONDAY_MORNING, FRIDAY_AFTERNOON = 1.2, 0.75
MONTHS = {1: 1.1, 2: 1.0, 3: 1.05, 4: 1.05, 5: 0.95, 6: 1.0}
MONTHS |= {7: 0.8, 8: 0.6, 9: 1.35, 10: 1.05, 11: 1.0, 12: 0.85}
# Agents on duty, relative: summer leave; September reinforced (back from leave, a temp).
STAFFING = {7: 0.85, 8: 0.6, 9: 1.25, 12: 0.9}
# Calls that come while the site is closed, per call of an ordinary open day; the hours
# they come between.
OUTSIDE_SHARE = 0.025
OUTSIDE_FROM, OUTSIDE_TO = time(7, 30), time(19, 30)
# Waiting: an agent who is free picks up after a few rings; the chance that every agent is
# on the line grows with the load (calls per agent on duty), and the wait is then long. Most
# callers would wait a few minutes; some hang up within seconds.
PICK_UP, PICK_UP_MEAN = 3, 5
ALL_BUSY = 0.16
LONG_WAIT, LONG_WAIT_PER_LOAD = 15, 30
PATIENCE, IMPATIENT, IMPATIENT_PATIENCE = 180, 0.16, 12
EXIT_KEY = 0.15  # callers kept waiting who press the key to leave a message instead
OVERFLOW = 0.7  # timed-out calls sent on to the overflow queue (the others: voicemail)
TIMEOUT = 180
# The log is exported on the first working day of the month, at this time.
EXPORT_TIME = time(10, 0)
# Test calls (made by the quality manager, flagged as such after the import): on the second
# Tuesday of each month.
TEST_CALL_TIMES = (time(10, 20), time(15, 40))


@dataclass(frozen=True)
class Queue:
    name: str
    service: str | None  # service code
    site: str  # site code
    share: float  # of the town's calls
    agents: int
    load: float  # calls per agent, relative: how stretched the agents are on an ordinary day
    overflow: str | None = None  # where its timed-out calls go
    counted: bool = True


@dataclass(frozen=True)
class LogFile:
    name: str
    start: datetime
    end: datetime


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's for small means, a rounded normal one for large)."""
    if mean <= 0:
        return 0
    if mean > 40:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def half_hour_weight(local: datetime) -> float:
    index = local.hour * 2 + local.minute // 30 - FIRST_HALF_HOUR
    return HALF_HOURS[index] if 0 <= index < len(HALF_HOURS) else 0.2


def busy_month(today: date) -> tuple[date, date]:
    """The month before `today`, as requests_year.Year makes it the busy one."""
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


class PhoneYear:
    """A town's year of phone calls, drawn day by day from the seed."""

    def __init__(self, organisation, setup: dict, *, seed: int, today: date, busy: dict):
        self.organisation = organisation
        self.slug = organisation.slug
        self.seed = seed
        self.zone = organisation.zone
        self.setup = setup
        self.queues = [Queue(*row) for row in setup["queues"]]
        self.by_name = {queue.name: queue for queue in self.queues}
        self.hours = LocalHours(organisation)
        self.sites = dict(organisation.site_set.values_list("code", "pk"))
        self.first_day = today - timedelta(days=365)
        self.cutoff = datetime.combine(today, time.min, tzinfo=self.zone)
        self.busy_start, self.busy_end = busy_month(today)
        services = {s.code: s for s in organisation.service_set.all()}
        busy_root = services[busy["service"]] if busy else None
        self.busy_services = {
            s.code for s in services.values() if busy_root and busy_root.pk in (s.pk, s.parent_id)
        }
        self.busy_staffing = setup.get("busy_staffing", 1)
        self.busy_volume = setup.get("busy_volume", 1)
        # Half-hour weights of an ordinary weekday: a day's calls are shared among its spans.
        self.reference = self._open_weight(self._ordinary_weekday())

    # Days and opening ------------------------------------------------------------------

    def _ordinary_weekday(self) -> date:
        day = self.first_day
        while not self.spans(self.queues[0], day) or day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def spans(self, queue: Queue, day: date) -> tuple:
        return self.hours.spans(self.sites[queue.site], day)

    def _open_weight(self, day: date) -> float:
        total = 0.0
        for start, end in self.spans(self.queues[0], day):
            at = start
            while at < end:
                total += half_hour_weight(datetime.fromtimestamp(at, self.zone))
                at += HALF_HOUR
        return total

    def day_weight(self, day: date, local: datetime) -> float:
        weight = WEEKDAYS[day.weekday()] * MONTHS[day.month]
        if day.weekday() == 0 and local.hour < 12:
            weight *= MONDAY_MORNING
        elif day.weekday() == 4 and local.hour >= 12:
            weight *= FRIDAY_AFTERNOON
        return weight * half_hour_weight(local)

    def in_busy_month(self, day: date) -> bool:
        return self.busy_start <= day <= self.busy_end

    def export_cut(self, month: date) -> datetime:
        """When the log of the month before `month` was exported: first working day, 10:00."""
        day = month
        while day.weekday() >= 5 or not self.spans(self.queues[0], day):
            day += timedelta(days=1)
        return datetime.combine(day, EXPORT_TIME, tzinfo=self.zone)

    def files(self) -> list[LogFile]:
        """The monthly files of the year, the last one ending when the demo's day begins."""
        start = datetime.combine(self.first_day, time.min, tzinfo=self.zone)
        month = (self.first_day.replace(day=1) + timedelta(days=32)).replace(day=1)
        found = []
        while True:
            cut = min(self.export_cut(month), self.cutoff)
            found.append(LogFile(f"queue_log-{start:%Y-%m}", start, cut))
            if cut >= self.cutoff:
                return found
            start = cut
            month = (month + timedelta(days=32)).replace(day=1)

    # Calls -----------------------------------------------------------------------------

    def day_calls(self, day: date) -> tuple[list[CallSpec], list[tuple[int, str]]]:
        """The calls of the day (queue visits) and the agents' lines, drawn from its seed."""
        rng = random.Random(f"{self.seed}:{self.slug}:phone:{day.isoformat()}")
        noise = rng.uniform(0.85, 1.15)
        counter = (day - self.first_day).days * 10_000
        specs: list[CallSpec] = []
        others: list[tuple[int, str]] = []
        calls_per_day = self.setup["calls_per_day"]
        staffing = STAFFING.get(day.month, 1.0)
        for queue in self.queues:
            spans = self.spans(queue, day)
            busy = self.in_busy_month(day) and queue.service in self.busy_services
            volume = self.busy_volume if busy else 1.0
            on_duty = staffing * (self.busy_staffing if busy else 1.0)
            others += self._members(queue, spans, on_duty)
            if not queue.share:
                continue  # an overflow queue: its calls come from another
            for start, end in spans:
                at = int(start)
                while at < end:
                    local = datetime.fromtimestamp(at, self.zone)
                    weight = self.day_weight(day, local) * noise * volume
                    mean = calls_per_day * queue.share * weight / self.reference
                    load = queue.load * weight / on_duty
                    for _n in range(poisson(rng, mean)):
                        entered = at + rng.randrange(min(HALF_HOUR, int(end) - at))
                        counter += 1
                        specs += self._call(rng, queue, entered, load, counter)
                    at += HALF_HOUR
        counter = self._outside_hours(rng, day, calls_per_day, counter, specs)
        if day.weekday() == 1 and 8 <= day.day <= 14:
            self._test_calls(rng, day, counter, specs)
        return specs, others

    def day_lines(self, day: date) -> list[tuple[int, int, str]]:
        """(epoch, order, line) of every event of the day, sorted (a call's keep their order)."""
        specs, others = self.day_calls(day)
        timed = []
        for spec in specs:
            for at, line in spec.lines():
                timed.append((at, len(timed), line))
        for at, line in others:
            timed.append((at, len(timed), line))
        timed.sort()
        return timed

    def _members(self, queue: Queue, spans, on_duty: float) -> list[tuple[int, str]]:
        """Agents join the queue as the site opens and leave as it closes."""
        lines = []
        for start, end in spans:
            moments = ((int(start) - 300, "ADDMEMBER"), (int(end) + 300, "REMOVEMEMBER"))
            for agent in self.agents(queue, on_duty):
                for at, event in moments:
                    lines.append((at, f"{at}|NONE|{queue.name}|{agent}|{event}|"))
        return lines

    def agents(self, queue: Queue, on_duty: float = 1.0) -> list[str]:
        first = 201 + 10 * self.queues.index(queue)
        return [f"PJSIP/{first + n}" for n in range(max(1, round(queue.agents * on_duty)))]

    def _call(self, rng, queue: Queue, entered: int, load: float, counter: int):
        call_id = f"{entered}.{counter}"
        caller = f"0{rng.choice('1234567')}{rng.randrange(10**8):08d}"
        visit = self._visit(rng, queue, call_id, entered, load, caller)
        yield visit
        overflow = self.by_name.get(queue.overflow or "")
        if visit.outcome == Outcome.TIMEOUT and overflow and rng.random() < OVERFLOW:
            relief = overflow.load * load / queue.load
            yield self._visit(rng, overflow, call_id, visit.ended, relief, caller)

    def _visit(self, rng, queue: Queue, call_id, entered, load, caller) -> CallSpec:
        answer = PICK_UP + int(rng.expovariate(1 / PICK_UP_MEAN))
        if rng.random() < min(0.95, ALL_BUSY * load * load):
            answer += int(rng.expovariate(1 / (LONG_WAIT + LONG_WAIT_PER_LOAD * load)))
        impatient = rng.random() < IMPATIENT
        patience = rng.expovariate(1 / (IMPATIENT_PATIENCE if impatient else PATIENCE))
        position = 1 + int(rng.expovariate(1 / (1 + 2 * load)))
        spec = CallSpec(call_id, queue.name, entered, Outcome.ANSWERED, 0, caller=caller)
        spec.position = position
        if patience < min(answer, TIMEOUT):
            spec.outcome, spec.wait = Outcome.ABANDONED, int(patience)
        elif answer > 30 and rng.random() < EXIT_KEY:
            spec.outcome, spec.wait = Outcome.EXIT_KEY, rng.randint(20, min(answer, TIMEOUT - 1))
        elif answer >= TIMEOUT:
            spec.outcome, spec.wait = Outcome.TIMEOUT, TIMEOUT
        else:
            agents = self.agents(queue)
            spec.wait = answer
            spec.agent = rng.choice(agents)
            spec.talk = min(1800, max(8, int(rng.lognormvariate(4.7, 0.7))))
            spec.hung_up_by_agent = rng.random() < 0.45
            if rng.random() < 0.05:
                spec.transfer = rng.choice(TRANSFERS)
            rings = min(3, answer // 15)
            spec.rna_agents = [rng.choice(agents) for _ in range(rng.randrange(rings + 1))]
        return spec

    def _outside_hours(self, rng, day: date, calls_per_day: float, counter: int, specs) -> int:
        """A few calls while the site is closed: the queue is empty, the call leaves at once."""
        queue = self.queues[0]
        spans = self.spans(queue, day)
        share = OUTSIDE_SHARE if spans else OUTSIDE_SHARE / 3
        low = datetime.combine(day, OUTSIDE_FROM, tzinfo=self.zone).timestamp()
        high = datetime.combine(day, OUTSIDE_TO, tzinfo=self.zone).timestamp()
        for _n in range(poisson(rng, calls_per_day * share * WEEKDAYS[day.weekday()])):
            entered = int(rng.uniform(low, high))
            if any(start <= entered < end for start, end in spans):
                continue  # it came while open: the day's own calls already count it
            counter += 1
            call_id = f"{entered}.{counter}"
            caller = f"0{rng.choice('1234567')}{rng.randrange(10**8):08d}"
            wait = rng.randint(0, 2)
            spec = CallSpec(call_id, queue.name, entered, Outcome.EXIT_EMPTY, wait, caller=caller)
            specs.append(spec)
        return counter

    def _test_calls(self, rng, day: date, counter: int, specs) -> None:
        queue = self.queues[0]
        if not self.spans(queue, day):
            return
        for moment in TEST_CALL_TIMES:
            entered = int(datetime.combine(day, moment, tzinfo=self.zone).timestamp())
            counter += 1
            spec = CallSpec(
                f"{entered}.{counter}",
                queue.name,
                entered,
                Outcome.ANSWERED,
                rng.randint(3, 40),
                agent=rng.choice(self.agents(queue)),
                talk=rng.randint(60, 180),
                caller=self.setup["test_caller"],
            )
            specs.append(spec)

    # Files -----------------------------------------------------------------------------

    def lines(self, log_file: LogFile) -> Iterator[str]:
        low, high = log_file.start.timestamp(), log_file.end.timestamp()
        day = log_file.start.date()
        while datetime.combine(day, time.min, tzinfo=self.zone) < log_file.end:
            for at, _order, line in self.day_lines(day):
                if low <= at < high:
                    yield line
            day += timedelta(days=1)

    def write(self, log_file: LogFile, out: BinaryIO) -> int:
        """Write one file; returns its number of lines."""
        count = 0
        buffer = []
        for line in self.lines(log_file):
            buffer.append(line)
            count += 1
            if len(buffer) >= 5000:
                out.write(("\n".join(buffer) + "\n").encode())
                buffer.clear()
        if buffer:
            out.write(("\n".join(buffer) + "\n").encode())
        return count
