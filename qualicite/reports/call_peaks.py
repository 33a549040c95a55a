"""The call-peak report (pics d'appels): when citizens call, and when they get an answer.

What is counted
---------------

The calls of the phone indicators (`qualicite.indicators.sources_phone.counted_calls`): calls
counted in the statistics (no test calls, no internal queues), each call once — a call handed
on from one queue to another (an overflow queue) counts in the queue where it ended, with the
wait of both queues. A call belongs to the local weekday, hour and half-hour it entered the
queue, in the organisation's time zone. A member restricted to some services sees only the
calls of those services.

Per slot (weekday × hour, or × half-hour) the report gives:

* **calls**: every call received, those turned away at the door and the hang-ups within a
  ring included: the load the phones had to take;
* **answer rate**: calls answered by an agent ÷ calls that reached the queue (turned away and
  hang-ups within 5 seconds left out), as the ``phone.answer_rate`` indicator counts it;
* answered within the threshold of the organisation's ``phone.answered_within`` indicator (25
  seconds by default), abandoned after 5 seconds or more, mean wait — the same definitions.

The **best times to call** are the open slots (inside the opening hours of the site, or of
every site when none is chosen) with enough calls to judge (`MIN_CALLS` that reached the
queue): the highest answer rate first, and at equal rates the fewest calls.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from qualicite.charter.models import Indicator
from qualicite.core import permissions
from qualicite.core.models import OpeningHours, Service, Site
from qualicite.indicators import periods, sources_phone
from qualicite.reception.models import CallOutcome
from qualicite.reports.complaints import COUNT, PERCENT, Row, Table

SLOT_MINUTES = {"hour": 60, "half-hour": 30}
# Fewer calls than this in a slot (that reached the queue) tell nothing about its answer rate.
MIN_CALLS = 5
BEST_COUNT = 3
SECONDS = COUNT  # a whole number of seconds is shown and stored as a count


@dataclass
class Choice:
    """What the report covers: local days start..end, a service, a site, the slot length."""

    start: dt.date
    end: dt.date
    service: Service | None = None
    site: Site | None = None
    slot: str = "hour"

    @property
    def minutes(self) -> int:
        return SLOT_MINUTES[self.slot]


@dataclass
class Tally:
    calls: int = 0  # every call, turned away included
    reached: int = 0  # calls that reached the queue (the shares' denominator)
    answered: int = 0
    within: int = 0
    abandoned: int = 0  # after 5 seconds or more
    short_abandons: int = 0
    not_admitted: int = 0
    outside_hours: int = 0
    wait_total: int = 0  # seconds, over the calls that reached the queue

    def add(self, outcome: str, waited: int, outside_hours: bool, threshold: int) -> None:
        self.calls += 1
        self.outside_hours += outside_hours
        if outcome == CallOutcome.NOT_ADMITTED:
            self.not_admitted += 1
            return
        if outcome == CallOutcome.ABANDONED and waited < sources_phone.SHORT_ABANDON_SECONDS:
            self.short_abandons += 1
            return
        self.reached += 1
        self.wait_total += waited
        if outcome == CallOutcome.ANSWERED:
            self.answered += 1
            self.within += waited <= threshold
        elif outcome == CallOutcome.ABANDONED:
            self.abandoned += 1

    def share(self, part: int) -> float | None:
        return 100 * part / self.reached if self.reached else None

    @property
    def answer_rate(self) -> float | None:
        return self.share(self.answered)

    @property
    def within_rate(self) -> float | None:
        return self.share(self.within)

    @property
    def abandon_rate(self) -> float | None:
        return self.share(self.abandoned)

    @property
    def mean_wait(self) -> int | None:
        """Whole seconds, halves rounded up."""
        if not self.reached:
            return None
        mean = Decimal(self.wait_total) / Decimal(self.reached)
        return int(mean.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Figures:
    total: Tally = field(default_factory=Tally)
    cells: dict = field(default_factory=lambda: defaultdict(Tally))  # (weekday, slot) → Tally
    by_slot: dict = field(default_factory=lambda: defaultdict(Tally))
    by_weekday: dict = field(default_factory=lambda: defaultdict(Tally))
    by_week: dict = field(default_factory=lambda: defaultdict(Tally))  # Monday → Tally
    by_month: dict = field(default_factory=lambda: defaultdict(Tally))  # first day → Tally


def threshold_seconds(organisation, day: dt.date) -> int:
    """The threshold of the organisation's "answered within" indicator in force on `day`."""
    indicator = (
        Indicator.objects.filter(organisation=organisation, source="phone.answered_within")
        .prefetch_related("revisions")
        .order_by("pk")
        .first()
    )
    if indicator is None:
        return sources_phone.DEFAULT_THRESHOLD_SECONDS
    revisions = [r for r in indicator.revisions.all() if r.effective_from <= day]
    found = (
        max(revisions, key=lambda r: r.effective_from).threshold_seconds
        if revisions
        else indicator.threshold_seconds
    )
    return sources_phone.DEFAULT_THRESHOLD_SECONDS if found is None else found


def _with_subservices(organisation, service: Service) -> set[int]:
    children = defaultdict(list)
    for pk, parent in Service.objects.filter(organisation=organisation).values_list(
        "pk", "parent_id"
    ):
        children[parent].append(pk)
    found, pending = set(), [service.pk]
    while pending:
        pk = pending.pop()
        if pk not in found:
            found.add(pk)
            pending.extend(children[pk])
    return found


def calls_of(organisation, choice: Choice, *, user=None):
    """The counted calls of the choice, limited to what `user` may see (if given)."""
    zone = organisation.zone
    start = dt.datetime.combine(choice.start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(choice.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    query = sources_phone.counted_calls(organisation).filter(
        entered_at__gte=start, entered_at__lt=end
    )
    if choice.service is not None:
        query = query.filter(service__in=_with_subservices(organisation, choice.service))
    if choice.site is not None:
        query = query.filter(site=choice.site)
    if user is not None:
        allowed = permissions.restricted_service_ids(user, organisation)
        if allowed is not None:
            query = query.filter(Q(service__in=allowed))
    return query


def figures(organisation, choice: Choice, threshold: int, *, user=None) -> Figures:
    """Count the choice's calls in one pass."""
    zone = organisation.zone
    found = Figures()
    rows = (
        calls_of(organisation, choice, user=user)
        .order_by()
        .values_list("entered_at", "outcome", "waited", "outside_hours")
    )
    minutes = choice.minutes
    for entered_at, outcome, waited, outside in rows.iterator(chunk_size=5000):
        local = entered_at.astimezone(zone)
        day = local.date()
        slot = (local.hour * 60 + local.minute) // minutes
        weekday = day.weekday()
        for tally in (
            found.total,
            found.cells[(weekday, slot)],
            found.by_slot[slot],
            found.by_weekday[weekday],
            found.by_week[day - dt.timedelta(days=weekday)],
            found.by_month[day.replace(day=1)],
        ):
            tally.add(outcome, waited, outside, threshold)
    return found


# --- Opening hours and slots ------------------------------------------------------------------


def open_slots(organisation, choice: Choice) -> set[tuple[int, int]]:
    """(weekday, slot) lying wholly inside the opening hours of the site, or of every site."""
    hours = OpeningHours.objects.filter(site__organisation=organisation)
    if choice.site is not None:
        hours = hours.filter(site=choice.site)
    found = set()
    minutes = choice.minutes
    for weekday, opens, closes in hours.values_list("weekday", "opens", "closes"):
        first = opens.hour * 60 + opens.minute
        last = closes.hour * 60 + closes.minute
        for slot in range(0, 24 * 60 // minutes):
            if first <= slot * minutes and (slot + 1) * minutes <= last:
                found.add((weekday, slot))
    return found


def slot_label(slot: int, minutes: int) -> str:
    start = dt.time((slot * minutes) // 60, (slot * minutes) % 60)
    end_minutes = (slot + 1) * minutes
    end = dt.time(0, 0) if end_minutes >= 24 * 60 else dt.time(end_minutes // 60, end_minutes % 60)
    return f"{formats.time_format(start, 'TIME_FORMAT')}–{formats.time_format(end, 'TIME_FORMAT')}"


def weekday_name(weekday: int) -> str:
    return str(WEEKDAYS[weekday]).capitalize()


def shown_slots(found: Figures, opened: set, minutes: int) -> list[int]:
    """The slots that have calls or are open: a call at night does not widen the map by the
    whole night, its slot alone is shown (each column is labelled with its times)."""
    used = {slot for _weekday, slot in found.cells} | {slot for _weekday, slot in opened}
    if not used:
        return list(range(8 * 60 // minutes, 18 * 60 // minutes))
    return sorted(used)


def shown_weekdays(found: Figures, opened: set) -> list[int]:
    """Monday to Friday, and Saturday and Sunday when they have calls or are open."""
    used = {weekday for weekday, _slot in found.cells} | {weekday for weekday, _slot in opened}
    return [weekday for weekday in range(7) if weekday < 5 or weekday in used]


# --- Best times to call -----------------------------------------------------------------------


@dataclass
class Advice:
    best: list[str]
    busiest: list[str]


def _rate_text(value: float) -> str:
    rounded = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{formats.number_format(rounded, 1, use_l10n=True)} %"


def _slot_words(weekday: int, slot: int, minutes: int) -> dict:
    start, end = slot_label(slot, minutes).split("–")
    return {"weekday": weekday_name(weekday), "start": start, "end": end}


def advice(found: Figures, opened: set, minutes: int) -> Advice:
    """Plain sentences: the open slots where a caller is most likely answered, the busiest."""
    candidates = [
        (key, tally)
        for key, tally in found.cells.items()
        if (not opened or key in opened) and tally.reached >= MIN_CALLS
    ]
    ranked = sorted(candidates, key=lambda item: (-item[1].answer_rate, item[1].calls, item[0]))
    best = [
        _(
            "%(weekday)s from %(start)s to %(end)s: %(rate)s of the calls answered, "
            "%(calls)s calls over the period."
        )
        % {
            **_slot_words(*key, minutes),
            "rate": _rate_text(tally.answer_rate),
            "calls": tally.calls,
        }
        for key, tally in ranked[:BEST_COUNT]
    ]
    busiest = []
    if candidates:
        key, tally = max(candidates, key=lambda item: (item[1].calls, -item[0][0], -item[0][1]))
        busiest.append(
            _(
                "The busiest time is %(weekday)s from %(start)s to %(end)s: %(calls)s calls, "
                "%(rate)s answered. Call at another time if you can."
            )
            % {
                **_slot_words(*key, minutes),
                "calls": tally.calls,
                "rate": _rate_text(tally.answer_rate),
            }
        )
    return Advice(best, busiest)


# --- Tables -----------------------------------------------------------------------------------

TALLY_KINDS = [COUNT, COUNT, COUNT, PERCENT, PERCENT, PERCENT, SECONDS]


def _tally_columns(first: str, threshold: int) -> list[str]:
    return [
        first,
        pgettext("call report column", "Calls"),
        pgettext("call report column", "Reached the queue"),
        pgettext("call report column", "Answered"),
        pgettext("call report column", "Answer rate"),
        _("Answered within %(seconds)s s") % {"seconds": threshold},
        _("Abandoned after 5 s or more"),
        _("Mean wait (s)"),
    ]


def _tally_values(tally: Tally) -> list:
    return [
        tally.calls,
        tally.reached,
        tally.answered,
        tally.answer_rate,
        tally.within_rate,
        tally.abandon_rate,
        tally.mean_wait,
    ]


def _tally_table(key, title, sheet, first, rows, total: Tally, threshold) -> Table:
    return Table(
        key,
        title,
        sheet,
        _tally_columns(first, threshold),
        rows,
        Row(_("Total"), _tally_values(total), key="total"),
        kinds=TALLY_KINDS,
    )


def _key_figures(total: Tally, threshold: int) -> Table:
    rows = [
        ("calls", _("Calls received"), total.calls, COUNT),
        ("not_admitted", _("Turned away before entering the queue"), total.not_admitted, COUNT),
        ("short", _("Hung up within 5 seconds (counted apart)"), total.short_abandons, COUNT),
        ("reached", _("Calls that reached the queue"), total.reached, COUNT),
        ("answered", _("Answered by an agent"), total.answered, COUNT),
        ("answer_rate", _("Answer rate"), total.answer_rate, PERCENT),
        (
            "within",
            _("Answered within %(seconds)s seconds") % {"seconds": threshold},
            total.within_rate,
            PERCENT,
        ),
        ("abandoned", _("Abandoned after 5 seconds or more"), total.abandon_rate, PERCENT),
        ("mean_wait", _("Mean wait (seconds)"), total.mean_wait, SECONDS),
        ("outside_hours", _("Calls outside opening hours"), total.outside_hours, COUNT),
    ]
    return Table(
        "key_figures",
        _("Key figures"),
        _("Key figures"),
        [_("Figure"), _("Value")],
        [Row(label, [value], kind=kind, key=key) for key, label, value, kind in rows],
    )


def _heat_tables(found: Figures, weekdays, slots, minutes) -> tuple[Table, Table]:
    labels = [slot_label(slot, minutes) for slot in slots]
    calls_rows, rate_rows = [], []
    for weekday in weekdays:
        cells = [found.cells.get((weekday, slot)) for slot in slots]
        day = found.by_weekday.get(weekday, Tally())
        calls_rows.append(
            Row(
                weekday_name(weekday),
                [c.calls if c else 0 for c in cells] + [day.calls],
                key=str(weekday),
            )
        )
        rate_rows.append(
            Row(
                weekday_name(weekday),
                [c.answer_rate if c else None for c in cells] + [day.answer_rate],
                key=str(weekday),
            )
        )
    slot_tallies = [found.by_slot.get(slot, Tally()) for slot in slots]
    calls = Table(
        "calls_heat",
        _("Calls by weekday and time"),
        _("Calls by slot"),
        [_("Day"), *labels, _("Total")],
        calls_rows,
        Row(_("Total"), [t.calls for t in slot_tallies] + [found.total.calls], key="total"),
        kinds=[COUNT] * (len(slots) + 1),
    )
    rates = Table(
        "rate_heat",
        _("Answer rate by weekday and time"),
        _("Answer rate by slot"),
        [_("Day"), *labels, _("Whole day")],
        rate_rows,
        Row(
            _("Total"),
            [t.answer_rate for t in slot_tallies] + [found.total.answer_rate],
            key="total",
        ),
        kinds=[PERCENT] * (len(slots) + 1),
    )
    return calls, rates


@dataclass
class CallPeaksReport:
    organisation: object
    choice: Choice
    restricted_to: list[Service] | None  # the member's services, None when unrestricted
    threshold: int
    figures: Figures
    opened: set
    weekdays: list[int]
    slots: list[int]
    advice: Advice
    generated_at: dt.datetime
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return _("Call peaks")

    @property
    def period_label(self) -> str:
        return periods.custom(self.choice.start, self.choice.end).label

    def describe(self) -> list[tuple[str, str]]:
        """(label, value) lines saying what the report covers, for every format."""
        choice = self.choice
        lines = [
            (_("Organisation"), self.organisation.name),
            (
                _("Period"),
                _("%(start)s to %(end)s")
                % {
                    "start": formats.date_format(choice.start, "DATE_FORMAT"),
                    "end": formats.date_format(choice.end, "DATE_FORMAT"),
                },
            ),
            (_("Service"), choice.service.name if choice.service else _("All services")),
            (_("Site"), choice.site.name if choice.site else _("All sites")),
            (_("Slots"), _("hours") if choice.slot == "hour" else _("half-hours")),
        ]
        if self.restricted_to is not None:
            names = ", ".join(s.name for s in self.restricted_to) or _("none")
            lines.append((_("Scope"), _("Limited to your services: %(names)s.") % {"names": names}))
        generated = formats.date_format(self.generated_at, "DATETIME_FORMAT")
        lines.append((_("Generated on"), generated))
        return lines

    @property
    def ordered_tables(self) -> list[Table]:
        return list(self.tables.values())

    @property
    def notes(self) -> list[str]:
        return [
            _(
                "Calls are counted on the weekday and at the time they entered the queue, in "
                "the organisation's time zone (%(zone)s). Test calls and the queues left out "
                "of the statistics are not counted; a call passed on to another queue (an "
                "overflow queue) counts once, in the queue where it ended, with its whole wait."
            )
            % {"zone": self.organisation.time_zone},
            _(
                "Calls received: every call, those turned away before entering the queue and "
                "those hung up within 5 seconds included. Answer rate: calls answered by an "
                "agent among the calls that reached the queue (the turned-away calls and the "
                "hang-ups within 5 seconds are left out, as the answer-rate indicator does)."
            ),
            _(
                "Answered within %(seconds)s seconds: the threshold of the organisation's "
                "indicator, 25 seconds (5 rings) by default. Mean wait: until the answer or "
                "until the caller left, over the calls that reached the queue."
            )
            % {"seconds": self.threshold},
            _(
                "Best times to call: the slots inside the opening hours with at least "
                "%(calls)s calls that reached the queue, the highest answer rate first."
            )
            % {"calls": MIN_CALLS},
        ]


def build(organisation, choice: Choice, *, user=None) -> CallPeaksReport:
    """The report of `choice` for `organisation`, as `user` may see it (None: everything)."""
    restricted = None
    if user is not None and permissions.restricted_service_ids(user, organisation) is not None:
        restricted = list(permissions.visible_services(user, organisation))
    threshold = threshold_seconds(organisation, choice.end)
    found = figures(organisation, choice, threshold, user=user)
    opened = open_slots(organisation, choice)
    minutes = choice.minutes
    weekdays = shown_weekdays(found, opened)
    slots = shown_slots(found, opened, minutes)
    report = CallPeaksReport(
        organisation=organisation,
        choice=choice,
        restricted_to=restricted,
        threshold=threshold,
        figures=found,
        opened=opened,
        weekdays=weekdays,
        slots=slots,
        advice=advice(found, opened, minutes),
        generated_at=timezone.localtime(timezone.now(), organisation.zone),
    )
    calls_heat, rate_heat = _heat_tables(found, weekdays, slots, minutes)
    weeks = sorted(found.by_week)
    months = sorted(found.by_month)
    tables = [
        _key_figures(found.total, threshold),
        calls_heat,
        rate_heat,
        _tally_table(
            "by_slot",
            _("Calls and answers by time of day"),
            _("By time of day"),
            _("Time"),
            [
                Row(
                    slot_label(s, minutes), _tally_values(found.by_slot.get(s, Tally())), key=str(s)
                )
                for s in slots
            ],
            found.total,
            threshold,
        ),
        _tally_table(
            "by_weekday",
            _("Calls and answers by weekday"),
            _("By weekday"),
            _("Day"),
            [
                Row(weekday_name(w), _tally_values(found.by_weekday.get(w, Tally())), key=str(w))
                for w in weekdays
            ],
            found.total,
            threshold,
        ),
        _tally_table(
            "by_week",
            _("Calls and answers by week"),
            _("By week"),
            _("Week"),
            [
                Row(
                    _("Week of %(day)s") % {"day": formats.date_format(w, "SHORT_DATE_FORMAT")},
                    _tally_values(found.by_week[w]),
                    key=w.isoformat(),
                )
                for w in weeks
            ],
            found.total,
            threshold,
        ),
        _tally_table(
            "by_month",
            _("Calls and answers by month"),
            _("By month"),
            _("Month"),
            [
                Row(
                    formats.date_format(m, "YEAR_MONTH_FORMAT").capitalize(),
                    _tally_values(found.by_month[m]),
                    key=m.strftime("%Y-%m"),
                )
                for m in months
            ],
            found.total,
            threshold,
        ),
    ]
    report.tables = {table.key: table for table in tables}
    return report
