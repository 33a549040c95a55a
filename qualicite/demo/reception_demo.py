"""The demo towns' phone calls, desk visits and appointments over the demo year.

**Phone.** Each town's phone system writes an Asterisk queue_log (queue_logs.PhoneYear),
exported once a month; the twelve files (and the current month's, up to the start of the
demo's day) are written to a temporary folder and imported one after the other by
`qualicite import-calls`, the command a town would run. After each file the quality manager
maps the queues it has not mapped yet to their service and site (`reception.services
.update_queue_mapping`, which moves the calls already imported), and once the year is in,
flags as test calls those made from the town's test line (`flag_test_call`). Each monthly
import completes the calls the previous file left open.

**Desk.** Visitors arrive through the opening hours (more on Monday and Saturday mornings,
in September, fewer in August) and wait for one of the site's counters: a small queue
simulation gives each one's wait, so waits grow at the peaks, and a visitor kept waiting
past their patience leaves without being served. Beaulieu's ticket dispenser exports its
tickets every month (visits recorded "by import", with ticket numbers, one `desk.imported`
event per export, its mapping offered again on the import page); Saint-Aubin's agents tap
arrivals, calls and ends on the tablet (the `desk.*` events of each tap).

**Appointments.** The identity-document station (and Saint-Aubin's town planner) has slots
all through the opening hours, mostly booked; a few are cancelled, a few citizens do not
come, the others arrive a little early and are served at their slot unless the previous
appointment overran. Today's and the next weeks' appointments are booked, none checked in:
the day's page shows the day ahead.

In the busy month (the month before the demo's day, as requests_year makes it) the busy
service is short of staff everywhere: its calls wait and are lost, its desk visits and
appointments take longer.

Desk visits and appointments are simulated and inserted in bulk, with the ReceptionEvents
their services would have written, as requests_year does for requests (about 150 ms a visit
through the services, against a few seconds for the year here); the roll-ups are rebuilt
after (indicators_demo). The result depends only on the seed and the day it runs; a town
that already has calls, visits or appointments keeps them.
"""

from __future__ import annotations

import io
import math
import random
import tempfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.core.management import call_command

from qualicite.charter import services as charter_services
from qualicite.charter.models import Commitment, Indicator
from qualicite.core import events, permissions
from qualicite.core.models import Membership, Role
from qualicite.core.permissions import Perm
from qualicite.demo.bulk import insert_rows
from qualicite.demo.queue_logs import MONTHS, PhoneYear, busy_month, poisson
from qualicite.demo.towns import FIRST_NAMES, LAST_NAMES, ROLE_LOGIN_WORDS
from qualicite.reception import services as reception_services
from qualicite.reception.models import (
    Appointment,
    AppointmentStatus,
    Call,
    CallFormat,
    DeskVisit,
    QueueMapping,
    ReceptionEvent,
    VisitSource,
)
from qualicite.reception.queries import LocalHours

# Desk arrivals per half hour from 8:00 (relative): a queue at opening, another before
# lunch, the after-work visitors; per weekday (Monday first), Saturday mornings crowded.
DESK_HALF_HOURS = (0.8, 1.3, 1.3, 1.15, 1.0, 1.0, 1.1, 1.2, 0.8, 0.6)
DESK_HALF_HOURS += (0.7, 0.9, 1.1, 1.0, 0.9, 0.85, 0.95, 1.1, 1.0, 0.6)
DESK_WEEKDAYS = (1.2, 1.0, 1.15, 0.9, 1.0, 1.6, 0.0)
# How long visitors wait before giving up (minutes, median); a few leave early anyway.
PATIENCE_MINUTES, EARLY_LEAVERS = 30, 0.01
# Counters open, relative to the usual: the desk must stay open, so fewer are on leave in
# summer than on the phone; reinforced in September.
DESK_STAFFING = {7: 0.9, 8: 0.75, 9: 1.25}
RIGHT_FIRST_TIME = 0.93
# Appointments: booked share by month (identity documents peak before the summer).
APPOINTMENT_MONTHS = {1: 0.85, 2: 0.9, 3: 1.1, 4: 1.2, 5: 1.2, 6: 1.15}
APPOINTMENT_MONTHS |= {7: 0.95, 8: 0.6, 9: 0.9, 10: 1.0, 11: 0.9, 12: 0.8}
CANCELLED, NO_SHOW, LATE_ARRIVAL = 0.06, 0.05, 0.012
BOOKING_HORIZON_DAYS = 30  # appointments are booked up to a month ahead
FULL_AHEAD_DAYS = 7  # the coming week is as booked as usual
BUSY_SLOWDOWN = 1.35  # the busy service's appointments take longer, and run late
TICKET_LETTERS = "ABCDEFGHJK"
# The mapping of Beaulieu's ticket-dispenser export (desk_import's format), logged with each
# monthly import and offered again on the import page.
TICKETING_MAPPING = """\
# Export mensuel du distributeur de tickets de l'hôtel de ville
delimiter: ";"
time_format: "%d/%m/%Y %H:%M:%S"
site: hotel-de-ville
columns:
  ticket: Ticket
  service: Service
  reason: Motif
  arrived_at: [Date, Arrivée]
  called_at: [Date, Appel]
  done_at: [Date, Fin]
  status: Statut
  right_first_time: Bien orienté
statuses:
  Servi: served
  Parti: left
"""


def _member(organisation, role: str):
    username = f"{organisation.slug}-{ROLE_LOGIN_WORDS[role]}"
    return Membership.objects.select_related("user").get(
        organisation=organisation, user__username=username
    )


class Staff:
    """Who records what for a service: its own staff first, the whole organisation's else."""

    def __init__(self, organisation):
        self.members = []
        rows = Membership.objects.filter(organisation=organisation, is_active=True)
        for membership in rows.select_related("user").order_by("pk"):
            user = membership.user
            if permissions.has_perm(user, organisation, Perm.RECEIVE_VISITORS):
                allowed = permissions.restricted_service_ids(user, organisation)
                self.members.append((user, allowed))
        self._covering: dict = {}

    def for_service(self, service_id, rng: random.Random):
        if service_id not in self._covering:
            own = [u for u, allowed in self.members if allowed and service_id in allowed]
            self._covering[service_id] = own or [u for u, a in self.members if a is None]
        return rng.choice(self._covering[service_id])


def _event(organisation, actor, at, verb, subject, **details) -> ReceptionEvent:
    """The event a reception service writes for `subject`, dated when it happened."""
    return ReceptionEvent(
        organisation=organisation,
        at=at,
        actor=actor,
        actor_name=events.actor_display_name(actor),
        verb=verb,
        subject_kind=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        subject_name=str(subject)[:300] if subject is not None else "",
        details=details,
    )


# Référentiel ----------------------------------------------------------------------------


def add_indicators(organisation, rows: Iterable, *, actor) -> None:
    """The indicators a town measures beyond its programme's model; added once."""
    known = set(Indicator.objects.filter(organisation=organisation).values_list("code", flat=True))
    for number, fields in rows:
        if fields["code"] in known:
            continue
        commitments = Commitment.objects.filter(organisation=organisation, number=number)
        commitment = commitments.order_by("pk").first()
        charter_services.create_indicator(commitment, actor=actor, **fields)


# Phone ----------------------------------------------------------------------------------


def map_queues(organisation, setup: dict, *, actor) -> None:
    """Map the queues seen and not mapped yet, as the quality manager does after an import."""
    sites = {s.code: s for s in organisation.site_set.all()}
    services = {s.code: s for s in organisation.service_set.all()}
    plan = {row[0]: row for row in setup["queues"]}
    waiting = QueueMapping.objects.filter(
        organisation=organisation, service__isnull=True, site__isnull=True, counted=True
    )
    for mapping in waiting.order_by("queue"):
        row = plan.get(mapping.queue)
        if row is None:
            continue
        service_code, site_code = row[1], row[2]
        counted = row[7] if len(row) > 7 else True
        reception_services.update_queue_mapping(
            mapping,
            actor=actor,
            service=services.get(service_code),
            site=sites[site_code],
            counted=counted,
        )


def import_phone_year(organisation, setup: dict, *, seed: int, today: date, busy: dict) -> int:
    """Write the year's monthly queue_logs and import them with `qualicite import-calls`."""
    manager = _member(organisation, Role.QUALITY_MANAGER).user
    year = PhoneYear(organisation, setup, seed=seed, today=today, busy=busy)
    with tempfile.TemporaryDirectory(prefix="qualicite-demo-") as folder:
        for log_file in year.files():
            path = Path(folder) / f"{organisation.slug}-{log_file.name}"
            with path.open("wb") as out:
                year.write(log_file, out)
            call_command(
                "import_calls",
                organisation.slug,
                str(path),
                "--format",
                CallFormat.ASTERISK_QUEUE_LOG,
                "--no-progress",
                stdout=io.StringIO(),
            )
            path.unlink()
            map_queues(organisation, setup, actor=manager)
    tests = Call.objects.filter(organisation=organisation, caller=setup["test_caller"])
    for call in tests.select_related("organisation").order_by("entered_at"):
        reception_services.flag_test_call(call, actor=manager, is_test=True)
    return Call.objects.filter(organisation=organisation).count()


# Days and shapes ----------------------------------------------------------------------------


class Days:
    """The demo year's days, a site's opening spans, the busy month."""

    def __init__(self, organisation, *, today: date, busy: dict):
        self.organisation = organisation
        self.zone = organisation.zone
        self.today = today
        self.first_day = today - timedelta(days=365)
        self.hours = LocalHours(organisation)
        self.sites = {s.code: s for s in organisation.site_set.all()}
        self.services = {s.code: s for s in organisation.service_set.all()}
        self.busy_start, self.busy_end = busy_month(today)
        root = self.services[busy["service"]] if busy else None
        self.busy_services = {
            s.pk for s in self.services.values() if root and root.pk in (s.pk, s.parent_id)
        }

    def year(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(365)]

    def spans(self, site_code: str, day: date) -> list[tuple[datetime, datetime]]:
        return [
            (datetime.fromtimestamp(start, self.zone), datetime.fromtimestamp(end, self.zone))
            for start, end in self.hours.spans(self.sites[site_code].pk, day)
        ]

    def busy(self, day: date, service) -> bool:
        return service.pk in self.busy_services and self.busy_start <= day <= self.busy_end


def _desk_weight(local: datetime) -> float:
    index = local.hour * 2 + local.minute // 30 - 16
    return DESK_HALF_HOURS[index] if 0 <= index < len(DESK_HALF_HOURS) else 0.3


def _minutes(rng: random.Random, median: float, spread: float = 0.45) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(math.log(median), spread))


# Desk -------------------------------------------------------------------------------------


class DeskYear:
    def __init__(self, organisation, setup: dict, days: Days, *, seed: int):
        self.organisation = organisation
        self.setup = setup
        self.days = days
        self.seed = seed
        self.staff = Staff(organisation)
        self.manager = _member(organisation, Role.QUALITY_MANAGER).user
        self.visits: list[DeskVisit] = []
        self.steps: list[tuple] = []  # (visit, actor, [(at, verb, details)]) for tablet taps

    def reasons(self, site_code: str) -> tuple[list, list]:
        rows = [row for row in self.setup["reasons"] if row[0] == site_code]
        return rows, [row[3] for row in rows]

    def reference(self, site_code: str) -> float:
        """The arrival weight of an ordinary weekday at the site."""
        day = self.days.first_day
        while day.weekday() >= 5 or not self.days.spans(site_code, day):
            day += timedelta(days=1)
        return sum(w for _at, w in self.half_hours(site_code, day))

    def half_hours(self, site_code: str, day: date):
        for start, end in self.days.spans(site_code, day):
            at = start
            while at < end:
                yield at, _desk_weight(at)
                at += timedelta(minutes=30)

    def build(self) -> None:
        for site_code, per_day, counters, recorded in self.setup["sites"]:
            reference = self.reference(site_code)
            for day in self.days.year():
                self.site_day(site_code, day, per_day / reference, counters, recorded)

    def site_day(self, site_code: str, day: date, rate: float, counters: int, recorded):
        slug = self.organisation.slug
        rng = random.Random(f"{self.seed}:{slug}:desk:{site_code}:{day.isoformat()}")
        site = self.days.sites[site_code]
        reasons, weights = self.reasons(site_code)
        day_rate = rate * DESK_WEEKDAYS[day.weekday()] * MONTHS[day.month]
        day_rate *= rng.uniform(0.85, 1.15)
        on_duty = max(1, round(counters * DESK_STAFFING.get(day.month, 1.0)))
        tickets: dict[str, int] = {}
        for start, end in self.days.spans(site_code, day):
            arrivals = []
            at = start
            while at < end:
                for _n in range(poisson(rng, day_rate * _desk_weight(at))):
                    seconds = rng.randrange(int(min(end - at, timedelta(minutes=30)).seconds))
                    arrivals.append(at + timedelta(seconds=seconds))
                at += timedelta(minutes=30)
            free = [start] * on_duty
            for arrived in sorted(arrivals):
                reason = rng.choices(reasons, weights)[0]
                service = self.days.services[reason[2]]
                length = _minutes(rng, reason[4])
                if self.days.busy(day, service):
                    length *= self.setup.get("busy_slowdown", 1)
                patience = _minutes(rng, PATIENCE_MINUTES, 0.5)
                if rng.random() < EARLY_LEAVERS:
                    patience = timedelta(minutes=rng.uniform(2, 8))
                counter = min(range(on_duty), key=free.__getitem__)
                called = max(arrived, free[counter])
                visit = DeskVisit(
                    organisation=self.organisation,
                    site=site,
                    service=service,
                    reason=reason[1],
                    arrived_at=arrived.astimezone(UTC),
                )
                if called - arrived > patience:
                    visit.left_without_service = True
                    visit.done_at = (arrived + patience).astimezone(UTC)
                else:
                    visit.called_at = called.astimezone(UTC)
                    visit.done_at = (called + length).astimezone(UTC)
                    visit.right_first_time = rng.random() < RIGHT_FIRST_TIME
                    free[counter] = called + length + timedelta(seconds=rng.randint(20, 90))
                actor = self.staff.for_service(service.pk, rng)
                if recorded == "ticketing":
                    letter = TICKET_LETTERS[list(self.days.services).index(service.code) % 10]
                    tickets[letter] = tickets.get(letter, 0) + 1
                    visit.ticket = f"{letter}{tickets[letter]:03d}"
                    visit.source = VisitSource.IMPORT
                    visit.recorded_by = self.manager
                else:
                    visit.source = VisitSource.TABLET
                    visit.recorded_by = actor
                    self.steps.append((visit, actor, self.taps(visit)))
                self.visits.append(visit)

    def taps(self, visit: DeskVisit) -> list[tuple]:
        """The desk services' events of a visit recorded on the tablet."""
        arrived = (
            visit.arrived_at,
            "desk.arrived",
            {"site": visit.site.code, "service": visit.service.code, "reason": visit.reason},
        )
        if visit.left_without_service:
            return [arrived, (visit.done_at, "desk.left", {})]
        return [
            arrived,
            (visit.called_at, "desk.called", {}),
            (visit.done_at, "desk.done", {"right_first_time": visit.right_first_time}),
        ]

    def write(self, cutoff: datetime) -> int:
        visits = [v for v in self.visits if v.arrived_at < cutoff]
        # The tablet's visits need their keys (their events name them); the imported ones not.
        tapped = [v for v in visits if v.source == VisitSource.TABLET]
        DeskVisit.objects.bulk_create(tapped, batch_size=1000)
        insert_rows(DeskVisit, [v for v in visits if v.source != VisitSource.TABLET])
        rows = [
            _event(self.organisation, actor, at, verb, visit, **details)
            for visit, actor, taps in self.steps
            for at, verb, details in taps
            if visit.arrived_at < cutoff
        ]
        insert_rows(ReceptionEvent, rows + self.exports(visits, cutoff))
        return len(visits)

    def exports(self, visits: list[DeskVisit], cutoff: datetime) -> list[ReceptionEvent]:
        """One `desk.imported` event per monthly export of the ticket dispenser."""
        months: dict[date, int] = {}
        for visit in visits:
            if visit.source == VisitSource.IMPORT:
                local = visit.arrived_at.astimezone(self.days.zone)
                month = local.date().replace(day=1)
                months[month] = months.get(month, 0) + 1
        found = []
        for month, count in sorted(months.items()):
            following = (month + timedelta(days=32)).replace(day=1)
            while following.weekday() >= 5:  # exported on the first weekday of the month
                following += timedelta(days=1)
            at = datetime.combine(following, time(9, 15), tzinfo=self.days.zone)
            if at >= cutoff:
                continue  # the current month is exported next month
            name = f"tickets-{month:%Y-%m}.csv"
            found.append(
                _event(
                    self.organisation,
                    self.manager,
                    at,
                    "desk.imported",
                    None,
                    mapping=TICKETING_MAPPING,
                    **{"file": name, "rows": count, "created": count, "updated": 0},
                    **{"unchanged": 0, "cancelled": 0, "rejected": 0, "error": ""},
                )
            )
        return found


# Appointments -----------------------------------------------------------------------------


class AppointmentYear:
    def __init__(self, organisation, agendas: list, days: Days, *, seed: int):
        self.organisation = organisation
        self.agendas = agendas
        self.days = days
        self.seed = seed
        self.staff = Staff(organisation)
        self.cutoff = datetime.combine(days.today, time.min, tzinfo=days.zone)
        self.made: list[tuple] = []  # (appointment, actor, [(at, verb)])

    def build(self) -> None:
        last = self.days.today + timedelta(days=BOOKING_HORIZON_DAYS)
        for index, agenda in enumerate(self.agendas):
            day = self.days.first_day
            while day <= last:
                if day.weekday() in agenda["weekdays"]:
                    self.agenda_day(index, agenda, day)
                day += timedelta(days=1)

    def slots(self, agenda: dict, day: date):
        length = timedelta(minutes=agenda["slot_minutes"])
        for start, end in self.days.spans(agenda["site"], day):
            at = start
            while at + length <= end:
                yield at
                at += length

    def agenda_day(self, index: int, agenda: dict, day: date) -> None:
        slug = self.organisation.slug
        rng = random.Random(f"{self.seed}:{slug}:appointments:{index}:{day.isoformat()}")
        site = self.days.sites[agenda["site"]]
        service = self.days.services[agenda["service"]]
        subjects = list(agenda["subjects"])
        weights = list(agenda["subjects"].values())
        booked = agenda["booked"] * APPOINTMENT_MONTHS[day.month]
        ahead = (day - self.days.today).days
        if ahead >= FULL_AHEAD_DAYS:  # further ahead, fewer are booked yet
            booked *= max(0.1, 1 - (ahead - FULL_AHEAD_DAYS) / BOOKING_HORIZON_DAYS)
        length = timedelta(minutes=agenda["slot_minutes"])
        slowdown = self.days_slowdown(day, service)
        for _station in range(agenda["stations"]):
            free = None
            for slot in self.slots(agenda, day):
                if rng.random() >= min(0.97, booked):
                    continue
                actor = self.staff.for_service(service.pk, rng)
                appointment = Appointment(
                    organisation=self.organisation,
                    site=site,
                    service=service,
                    starts_at=slot.astimezone(UTC),
                    ends_at=(slot + length).astimezone(UTC),
                    subject=rng.choices(subjects, weights)[0],
                    citizen=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    created_by=actor,
                )
                booked_on = day - timedelta(days=rng.randint(1, BOOKING_HORIZON_DAYS))
                if booked_on >= self.days.today:
                    booked_on = self.days.today - timedelta(days=rng.randint(1, 5))
                steps = [(self.office_moment(rng, booked_on), "appointment.created")]
                if slot >= self.cutoff:
                    self.made.append((appointment, actor, steps))
                    continue
                draw = rng.random()
                if draw < CANCELLED:
                    appointment.status = AppointmentStatus.CANCELLED
                    notice = rng.randrange((day - booked_on).days)  # days before the slot
                    cancelled_on = booked_on + timedelta(days=notice)
                    steps.append((self.office_moment(rng, cancelled_on), "appointment.cancelled"))
                elif draw < CANCELLED + NO_SHOW:
                    appointment.status = AppointmentStatus.NO_SHOW
                    end_of_day = datetime.combine(day, time(17, 45), tzinfo=self.days.zone)
                    steps.append((end_of_day, "appointment.no_show"))
                else:
                    early = rng.gauss(6, 4)
                    if rng.random() < LATE_ARRIVAL:
                        early = -rng.uniform(8, 25)
                    arrived = slot - timedelta(minutes=max(-25, min(20, early)))
                    start = max(slot, arrived, free or slot) + timedelta(seconds=rng.randint(0, 90))
                    free = start + _minutes(rng, agenda["minutes"], 0.3) * slowdown
                    appointment.status = AppointmentStatus.SERVED
                    appointment.checked_in_at = arrived.astimezone(UTC)
                    appointment.served_at = start.astimezone(UTC)
                    steps.append((arrived, "appointment.checked_in"))
                    steps.append((start, "appointment.served"))
                self.made.append((appointment, actor, steps))

    def days_slowdown(self, day: date, service) -> float:
        return BUSY_SLOWDOWN if self.days.busy(day, service) else 1.0

    def office_moment(self, rng: random.Random, day: date) -> datetime:
        moment = time(rng.randint(9, 16), rng.randrange(60))
        return datetime.combine(day, moment, tzinfo=self.days.zone)

    def write(self) -> int:
        appointments = [appointment for appointment, _actor, _steps in self.made]
        Appointment.objects.bulk_create(appointments, batch_size=1000)
        rows = [
            _event(self.organisation, actor, at, verb, appointment)
            for appointment, actor, steps in self.made
            for at, verb in steps
        ]
        insert_rows(ReceptionEvent, rows)
        return len(appointments)


# The town ---------------------------------------------------------------------------------


def build_reception(organisation, setup: dict, *, seed: int, today: date, busy: dict) -> None:
    """Indicators, a year of calls, of desk visits and of appointments; each made once."""
    manager = _member(organisation, Role.QUALITY_MANAGER).user
    add_indicators(organisation, setup.get("indicators", ()), actor=manager)
    if not Call.objects.filter(organisation=organisation).exists():
        import_phone_year(organisation, setup["phone"], seed=seed, today=today, busy=busy)
    days = Days(organisation, today=today, busy=busy)
    cutoff = datetime.combine(today, time.min, tzinfo=organisation.zone)
    if not DeskVisit.objects.filter(organisation=organisation).exists():
        desk = DeskYear(organisation, setup["desk"], days, seed=seed)
        desk.build()
        desk.write(cutoff)
    if not Appointment.objects.filter(organisation=organisation).exists():
        appointments = AppointmentYear(organisation, setup["appointments"], days, seed=seed)
        appointments.build()
        appointments.write()
