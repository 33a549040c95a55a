"""Sources measured from the phone calls imported from the phone system (reception app).

What a call is
--------------

A `Call` row is one visit of one call to one queue. Only rows with ``counted`` are read (test
calls and queues left out of the statistics are not), and a call counts on the local day it
entered the queue (``entered_at`` in the organisation's time zone), for the service of that
queue.

A call the phone system hands on — a visit that ended without an answer (time limit reached,
no agent, a key pressed, turned away at the door) and was followed by a counted visit of the
same call to another queue, an overflow queue for instance — is counted once, in the queue
where it ended: the visit handed on is left out of every figure, and the time the caller had
already waited in the queues before (`waited`) is added to the wait of the visit that follows.
So an overflowed call answered at once in the overflow queue was not "answered within 25
seconds" if it waited 3 minutes in the first queue, and it is not counted as lost either.

The denominators (DOMAIN.md, "Indicator definitions")
-----------------------------------------------------

* **Calls that reached the queue** (`REACHED`): every outcome except ``not_admitted`` (turned
  away at the door: queue full, closed, no agent — it never waited) and the **short
  abandons**: calls abandoned after less than 5 seconds (one ring), which are misdials and
  hang-ups rather than callers who needed an agent, and which DOMAIN.md counts apart. A call
  whose end is unknown (``incomplete``) reached the queue and is not counted as answered.
* ``phone.answer_rate`` (taux de décroché): answered by an agent ÷ calls that reached the queue.
* ``phone.answered_within``: answered with a wait of at most the threshold in force
  (``threshold_seconds`` of the indicator's revision, 25 s by default: 5 rings) ÷ calls that
  reached the queue. It depends on the threshold in force each day (``versioned``).
* ``phone.abandoned``: abandoned after at least 5 seconds ÷ calls that reached the queue.
* ``phone.short_abandons``: a count of the calls abandoned within 5 seconds (denominator: the
  calls that entered a queue, short abandons included, so that a day with calls has a row).
* ``phone.wait_mean`` and ``phone.wait_p90``: the wait in seconds of the calls that reached the
  queue, answered or not (until the answer, or until the caller left) — the wait every caller
  lived through, not only the survivors'. Percentiles are exact, read by nearest rank from
  the distribution of whole seconds kept per day.
* ``phone.outside_hours``: calls that came when the site was closed (``outside_hours``, set at
  import from the opening hours and closures) ÷ every call, turned away or not.
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThan, LessThan
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core.localday import local_date
from qualicite.indicators.sources import Column, Measure, Row, Scope, Source, register
from qualicite.reception.models import Call, CallOutcome

CALLS = "calls"
# A ring lasts about 5 seconds: a caller who hangs up before the first ring is over did not
# wait for an agent (DOMAIN.md: "abandoned after ≥ 5 s wait … shorter ones are counted apart").
SHORT_ABANDON_SECONDS = 5
DEFAULT_THRESHOLD_SECONDS = 25

ANSWERED = Q(outcome=CallOutcome.ANSWERED)
SHORT_ABANDON = Q(outcome=CallOutcome.ABANDONED, waited__lt=SHORT_ABANDON_SECONDS)
LONG_ABANDON = Q(outcome=CallOutcome.ABANDONED, waited__gte=SHORT_ABANDON_SECONDS)
ENTERED_QUEUE = ~Q(outcome=CallOutcome.NOT_ADMITTED)
REACHED = ENTERED_QUEUE & ~SHORT_ABANDON


def _same_call() -> dict:
    return {"organisation": OuterRef("organisation"), "call_id": OuterRef("call_id")}


class _Unindexed(Func):
    """The column as is; on SQLite written ``+column`` so that no index is used for it.

    Looking for the other visits of one call, SQLite would otherwise pick the index on
    (organisation, entered_at) and read every earlier call of the organisation for each one;
    the index of (organisation, call id, …) finds the few visits of the call at once.
    """

    template = "%(expressions)s"

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template="+%(expressions)s", **extra)


def _other_visits(later: bool) -> Q:
    """Visits of the same call after (or before) this one; a tie on the second is broken by
    the queue's name."""
    compare = GreaterThan if later else LessThan
    entered = _Unindexed("entered_at", output_field=DateTimeField())
    return Q(compare(entered, OuterRef("entered_at"))) | Q(
        Exact(entered, OuterRef("entered_at")), compare(F("queue"), OuterRef("queue"))
    )


def handed_on() -> Q:
    """Visits left without an answer and followed by a counted visit of the same call."""
    later = Call.objects.filter(_other_visits(later=True), counted=True, **_same_call())
    return ~ANSWERED & Exists(later)


def waited():
    """Seconds the caller waited: in this queue, plus in the queues that handed the call on."""
    before = (
        Call.objects.filter(_other_visits(later=False), **_same_call())
        .exclude(outcome=CallOutcome.ANSWERED)
        .order_by()
        .values("call_id")
        .annotate(total=Sum("wait_seconds"))
        .values("total")
    )
    return F("wait_seconds") + Coalesce(Subquery(before, output_field=IntegerField()), Value(0))


def counted_calls(organisation):
    """The organisation's calls as every phone figure counts them, with `waited`.

    Counted rows only, each call once (the visits handed on are left out). The call-peak
    report reads the same rows, so its figures and the indicators agree.
    """
    return (
        Call.objects.filter(organisation=organisation, counted=True)
        .exclude(handed_on())
        .annotate(waited=waited())
    )


def _calls(scope: Scope, *extra: Q):
    return counted_calls(scope.organisation).filter(
        scope.service_filter(),
        *extra,
        entered_at__gte=scope.start_utc,
        entered_at__lt=scope.end_utc,
    )


def _threshold(scope: Scope) -> int:
    found = scope.threshold_seconds
    return DEFAULT_THRESHOLD_SECONDS if found is None else found


def _within(scope: Scope) -> Q:
    return ANSWERED & Q(waited__lte=_threshold(scope))


def _day(scope: Scope):
    return local_date("entered_at", scope.zone, scope.start_utc, scope.end_utc)


def _ratio_rows(query, scope: Scope, numerator: Q):
    rows = (
        query.annotate(local_day=_day(scope))
        .order_by()
        .values("service_id", "local_day")
        .annotate(den=Count("id"), num=Count("id", filter=numerator))
    )
    for row in rows:
        yield Row(row["service_id"], row["local_day"], row["num"], row["den"])


def _flagged(query, numerator: Q):
    """The records with `in_numerator`, so that the drill-down can list those that fail."""
    return query.annotate(
        in_numerator=Case(
            When(numerator, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    )


FAILING = Q(in_numerator=False)


def _when(instant) -> str:
    if instant is None:
        return ""
    return formats.date_format(timezone.localtime(instant), "SHORT_DATETIME_FORMAT")


CALL_COLUMNS = (
    Column(_("Entered the queue"), lambda c: _when(c.entered_at)),
    Column(_("Queue"), lambda c: c.queue),
    Column(_("Service"), lambda c: str(c.service) if c.service_id else ""),
    Column(_("Outcome"), lambda c: c.get_outcome_display()),
    Column(_("Wait (seconds)"), lambda c: c.waited),
    Column(_("Answered by"), lambda c: c.agent),
)


def _first_call_day(organisation):
    first = Call.objects.filter(organisation=organisation, counted=True).aggregate(
        first=Min("entered_at")
    )["first"]
    return timezone.localtime(first, organisation.zone).date() if first else None


def _phone_source(name, label, measure, compute, records, **options):
    return register(
        Source(
            name=name,
            family=CALLS,
            label=label,
            measure=measure,
            compute=compute,
            records=records,
            columns=options.pop("columns", CALL_COLUMNS),
            link=None,
            first_day=_first_call_day,
            **options,
        )
    )


def _ratio_source(name, label, denominator: Q, numerator, *, versioned=False):
    """A share of the calls in `denominator`; `numerator` is a Q or a function of the scope."""

    def numerator_of(scope: Scope) -> Q:
        return numerator(scope) if callable(numerator) else numerator

    def records(scope: Scope):
        return _flagged(_calls(scope, denominator), numerator_of(scope))

    def compute(scope: Scope):
        return _ratio_rows(_calls(scope, denominator), scope, numerator_of(scope))

    measure = Measure.COUNT if name == "phone.short_abandons" else Measure.RATIO
    return _phone_source(
        name, label, measure, compute, records, failing=FAILING, versioned=versioned
    )


_ratio_source(
    "phone.answer_rate",
    _("Calls answered by an agent (answer rate, per day of the call)"),
    REACHED,
    ANSWERED,
)
_ratio_source(
    "phone.answered_within",
    _("Calls answered within the threshold, 25 seconds by default (per day of the call)"),
    REACHED,
    _within,
    versioned=True,
)
_ratio_source(
    "phone.abandoned",
    _("Calls abandoned after 5 seconds or more (per day of the call)"),
    REACHED,
    LONG_ABANDON,
)
_ratio_source(
    "phone.short_abandons",
    _("Calls abandoned within 5 seconds, counted apart (per day of the call)"),
    ENTERED_QUEUE,
    SHORT_ABANDON,
)
_ratio_source(
    "phone.outside_hours",
    _("Calls outside opening hours (per day of the call)"),
    Q(),
    Q(outside_hours=True),
)


# Waits: the distribution of whole seconds, per service and day ----------------------------


def _reached(scope: Scope):
    return _calls(scope, REACHED)


def _waits(scope: Scope):
    histograms: dict[tuple, dict[str, int]] = defaultdict(dict)
    rows = (
        _reached(scope)
        .annotate(local_day=_day(scope))
        .order_by()
        .values("service_id", "local_day", "waited")
        .annotate(n=Count("id"))
    )
    for row in rows:
        histograms[(row["service_id"], row["local_day"])][str(row["waited"])] = row["n"]
    for (service_id, day), histogram in histograms.items():
        total = sum(histogram.values())
        summed = sum(int(value) * n for value, n in histogram.items())
        yield Row(service_id, day, summed, total, histogram)


_phone_source(
    "phone.wait_mean",
    _("Mean wait of the calls in seconds, answered or not (per day of the call)"),
    Measure.MEAN,
    _waits,
    _reached,
)
_phone_source(
    "phone.wait_p90",
    _("90th percentile of the wait of the calls in seconds (per day of the call)"),
    Measure.QUANTILE,
    _waits,
    _reached,
    quantile=0.9,
)
