"""Sources measured from the request log and the deliveries of acts (Requests issue).

Which day a record counts on follows the indicator's definition (DOMAIN.md): shares of
requests answered, acknowledged or complaints are per day of receipt; answers within delay
and answer delays per day of the answer; acts per day of delivery. "In time" compares with
the due dates stored on each record, which were computed from the référentiel in force when
it arrived, so a later change of delay never rewrites the past.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db import connection
from django.db.models import Count, F, Min, Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core.choices import RequestKind
from qualicite.core.localday import local_date
from qualicite.indicators.sources import Column, Measure, Row, Scope, Source, register
from qualicite.requests.models import Delivery, Request

REQUESTS, DELIVERIES = "requests", "deliveries"
# Thanks need no answer: they are left out of every share of answered requests.
NEEDS_ANSWER = ~Q(kind=RequestKind.THANKS)
IN_TIME = Q(replied_at__lte=F("due_at"))
ACKNOWLEDGED_IN_TIME = Q(acknowledged_at__isnull=False) & Q(
    acknowledged_at__lte=F("acknowledgement_due_at")
)


def _requests(scope: Scope, on: str, *extra: Q):
    """Requests of the scope whose `on` day ("received" or "replied") is one of its days."""
    query = Request.objects.filter(
        scope.service_filter(),
        *extra,
        organisation=scope.organisation,
        **{f"{on}_day__gte": scope.start, f"{on}_day__lte": scope.end},
    )
    if scope.channels:
        query = query.filter(channel__in=scope.channels)
    return query


def _ratio_rows(query, on: str, numerator: Q):
    day = f"{on}_day"
    rows = (
        query.order_by()
        .values("service_id", day)
        .annotate(den=Count("kind"), num=Count("kind", filter=numerator))
    )
    for row in rows:
        yield Row(row["service_id"], row[day], row["num"], row["den"])


def _when(instant) -> str:
    if instant is None:
        return ""
    return formats.date_format(timezone.localtime(instant), "SHORT_DATETIME_FORMAT")


def _request_link(request: Request) -> str:
    return reverse(
        "requests:detail", kwargs={"org_slug": request.organisation.slug, "pk": request.pk}
    )


REQUEST_COLUMNS = (
    Column(_("Reference"), lambda r: r.display_code),
    Column(_("Subject"), lambda r: r.subject),
    Column(_("Service"), lambda r: str(r.service) if r.service_id else ""),
    Column(_("Channel"), lambda r: r.get_channel_display()),
    Column(_("Received"), lambda r: _when(r.received_at)),
    Column(_("Due"), lambda r: _when(r.due_at)),
    Column(_("Answered"), lambda r: _when(r.replied_at)),
)


def _first_request_day(organisation):
    first = Request.objects.filter(organisation=organisation).aggregate(first=Min("received_day"))
    return first["first"]


def _request_source(name, label, measure, compute, records, failing=None, **options):
    return register(
        Source(
            name=name,
            family=REQUESTS,
            label=label,
            measure=measure,
            compute=compute,
            records=records,
            failing=failing,
            columns=options.pop("columns", REQUEST_COLUMNS),
            link=_request_link,
            first_day=_first_request_day,
            scan=scan_requests,
            **options,
        )
    )


# The request sources in two scans ----------------------------------------------------------
#
# Computed one by one, the request indicators would read the whole request log once each.
# A roll-up computes them together instead: one grouped scan per day of receipt and one per
# day of the answer (each served by a covering index on the stored local days), grouped also
# by what the indicators filter on (service, kind, channel, answer delay), then each
# indicator's rows are summed from those groups. `compute` of each source stays the
# reference; a test checks that the scan gives the same rows.

# Which counts of a group each source sums, as (numerator, denominator) column positions;
# "thanks" need no answer and only the complaint rate counts them.
N, ANSWERED, TO_ACKNOWLEDGE, ACKNOWLEDGED, COMPLAINTS = range(5)
ON_RECEIPT = {
    "requests.answered": (ANSWERED, N),
    "requests.acknowledged_in_time": (ACKNOWLEDGED, TO_ACKNOWLEDGE),
    "requests.complaint_rate": (COMPLAINTS, N),
}
ON_ANSWER = ("requests.answered_in_time", "requests.complaints_answered_in_time")
ON_ANSWER_DAYS = (
    "requests.answer_delay_median",
    "requests.answer_delay_p90",
    "requests.answer_delay_mean",
)


class _Wanted:
    """What one indicator takes from the groups, read once (the loops run millions of times)."""

    def __init__(self, scope: Scope):
        self.pk = scope.indicator.pk
        self.source = scope.indicator.source
        self.services = scope.service_ids
        self.channels = set(scope.channels)

    def takes(self, service_id, kind: str, channel: str) -> bool:
        if self.services is not None and service_id not in self.services:
            return False
        if self.channels and channel not in self.channels:
            return False
        if self.source == "requests.complaint_rate":
            return True
        if self.source == "requests.complaints_answered_in_time":
            return kind == RequestKind.COMPLAINT
        return kind != RequestKind.THANKS


def _raw_rows(queryset):
    """The rows of a grouped query as the database sends them, without Django's converters
    (a date parsed per row would cost more than the scan itself); days are parsed once each."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(10000):
            yield from rows


def _day(value, seen: dict) -> date:
    found = seen.get(value)
    if found is None:
        found = seen[value] = value if isinstance(value, date) else date.fromisoformat(value)
    return found


def scan_requests(scopes: list[Scope]) -> dict[int, list[Row]]:
    """{indicator id: day rows} of request indicators sharing an organisation and days."""
    first = scopes[0]
    requests = Request.objects.filter(organisation=first.organisation).order_by()
    sums = {scope.indicator.pk: {} for scope in scopes}
    days: dict = {}
    receipt = [_Wanted(s) for s in scopes if s.indicator.source in ON_RECEIPT]
    if receipt:
        groups = (
            requests.filter(received_day__gte=first.start, received_day__lte=first.end)
            .values_list("received_day", "service_id", "kind", "channel")
            .annotate(
                n=Count("kind"),
                answered=Count("replied_at"),
                to_acknowledge=Count("acknowledgement_due_at"),
                acknowledged=Count("kind", filter=ACKNOWLEDGED_IN_TIME),
            )
        )
        plans: dict[tuple, list] = {}
        for day, service_id, kind, channel, *counts in _raw_rows(groups):
            plan = plans.get((service_id, kind, channel))
            if plan is None:
                plan = plans[(service_id, kind, channel)] = [
                    (sums[w.pk], *ON_RECEIPT[w.source])
                    for w in receipt
                    if w.takes(service_id, kind, channel)
                ]
            if not plan:
                continue
            counts.append(counts[N] if kind == RequestKind.COMPLAINT else 0)
            key = (service_id, _day(day, days))
            for found, numerator, denominator in plan:
                entry = found.get(key)
                if entry is None:
                    entry = found[key] = [0, 0, None]
                entry[0] += counts[numerator]
                entry[1] += counts[denominator]
    answer = [_Wanted(s) for s in scopes if s.indicator.source in (*ON_ANSWER, *ON_ANSWER_DAYS)]
    if answer:
        groups = (
            requests.filter(replied_day__gte=first.start, replied_day__lte=first.end)
            .exclude(kind=RequestKind.THANKS)
            .values_list("replied_day", "service_id", "kind", "channel", "answer_days")
            .annotate(n=Count("kind"), in_time=Count("kind", filter=IN_TIME))
        )
        plans = {}
        for day, service_id, kind, channel, answer_days, n, in_time in _raw_rows(groups):
            plan = plans.get((service_id, kind, channel))
            if plan is None:
                plan = plans[(service_id, kind, channel)] = [
                    (sums[w.pk], w.source in ON_ANSWER_DAYS)
                    for w in answer
                    if w.takes(service_id, kind, channel)
                ]
            key = (service_id, _day(day, days))
            for found, delays in plan:
                if delays and answer_days is None:
                    continue
                entry = found.get(key)
                if entry is None:
                    entry = found[key] = [0, 0, defaultdict(int) if delays else None]
                if delays:
                    entry[0] += answer_days * n
                    entry[1] += n
                    entry[2][str(answer_days)] += n
                else:
                    entry[0] += in_time
                    entry[1] += n
    return {
        pk: [
            Row(service, day, num, den, dict(histogram) if histogram is not None else {})
            for (service, day), (num, den, histogram) in found.items()
            if den
        ]
        for pk, found in sums.items()
    }


# requests.answered: answered ÷ received, per day of receipt --------------------------------


def _received(scope: Scope):
    return _requests(scope, "received", NEEDS_ANSWER)


def _answered(scope: Scope):
    return _ratio_rows(_received(scope), "received", Q(replied_at__isnull=False))


_request_source(
    "requests.answered",
    _("Requests answered (per day of receipt)"),
    Measure.RATIO,
    _answered,
    _received,
    failing=Q(replied_at__isnull=True),
    # Most requests are due within 15 days: judged once they have had that time.
    settles_in_days=15,
)


# requests.answered_in_time: answered by the due date ÷ answered, per day of the answer -----


def _replied(scope: Scope, *extra: Q):
    return _requests(scope, "replied", NEEDS_ANSWER, *extra)


def _answered_in_time(scope: Scope):
    return _ratio_rows(_replied(scope), "replied", IN_TIME)


_request_source(
    "requests.answered_in_time",
    _("Requests answered within their delay (per day of the answer)"),
    Measure.RATIO,
    _answered_in_time,
    _replied,
    failing=~IN_TIME,
)


def _replied_complaints(scope: Scope):
    return _replied(scope, Q(kind=RequestKind.COMPLAINT))


def _complaints_in_time(scope: Scope):
    return _ratio_rows(_replied_complaints(scope), "replied", IN_TIME)


_request_source(
    "requests.complaints_answered_in_time",
    _("Complaints answered within their delay (per day of the answer)"),
    Measure.RATIO,
    _complaints_in_time,
    _replied_complaints,
    failing=~IN_TIME,
)


# requests.acknowledged_in_time: acknowledged by the acknowledgement due date ÷ requests
# that needed one (anonymous requests have no one to acknowledge), per day of receipt -------


def _to_acknowledge(scope: Scope):
    return _requests(scope, "received", NEEDS_ANSWER, Q(acknowledgement_due_at__isnull=False))


def _acknowledged(scope: Scope):
    return _ratio_rows(_to_acknowledge(scope), "received", ACKNOWLEDGED_IN_TIME)


_request_source(
    "requests.acknowledged_in_time",
    _("Requests acknowledged within the delay (per day of receipt)"),
    Measure.RATIO,
    _acknowledged,
    _to_acknowledge,
    failing=~ACKNOWLEDGED_IN_TIME,
    # Acknowledgements are due within a few days of receipt.
    settles_in_days=7,
    columns=(
        *REQUEST_COLUMNS[:5],
        Column(_("Acknowledgement due"), lambda r: _when(r.acknowledgement_due_at)),
        Column(_("Acknowledged"), lambda r: _when(r.acknowledged_at)),
    ),
)


# Answer delays: distribution of counted days from receipt to answer, per day of answer ------


def _with_days(scope: Scope):
    return _replied(scope, Q(answer_days__isnull=False))


def _answer_days(scope: Scope):
    histograms: dict[tuple, dict[str, int]] = defaultdict(dict)
    rows = (
        _with_days(scope)
        .order_by()
        .values("service_id", "replied_day", "answer_days")
        .annotate(n=Count("kind"))
    )
    for row in rows:
        key = (row["service_id"], row["replied_day"])
        histograms[key][str(row["answer_days"])] = row["n"]
    for (service_id, day), histogram in histograms.items():
        total = sum(histogram.values())
        summed = sum(int(value) * n for value, n in histogram.items())
        yield Row(service_id, day, summed, total, histogram)


DAYS_COLUMNS = (*REQUEST_COLUMNS, Column(_("Days to answer"), lambda r: r.answer_days))

_request_source(
    "requests.answer_delay_median",
    _("Median answer delay in days (per day of the answer)"),
    Measure.QUANTILE,
    _answer_days,
    _with_days,
    columns=DAYS_COLUMNS,
    quantile=0.5,
)
_request_source(
    "requests.answer_delay_p90",
    _("90th percentile of the answer delay in days (per day of the answer)"),
    Measure.QUANTILE,
    _answer_days,
    _with_days,
    columns=DAYS_COLUMNS,
    quantile=0.9,
)
_request_source(
    "requests.answer_delay_mean",
    _("Mean answer delay in days (per day of the answer)"),
    Measure.MEAN,
    _answer_days,
    _with_days,
    columns=DAYS_COLUMNS,
)


# requests.complaint_rate: complaints ÷ requests, per day of receipt ------------------------


def _all_received(scope: Scope):
    return _requests(scope, "received")


def _complaint_rate(scope: Scope):
    return _ratio_rows(_all_received(scope), "received", Q(kind=RequestKind.COMPLAINT))


_request_source(
    "requests.complaint_rate",
    _("Complaints among requests (per day of receipt)"),
    Measure.RATIO,
    _complaint_rate,
    _all_received,
)


# requests.deliveries_in_time: acts delivered within the announced delay ÷ delivered --------

DELIVERED_IN_TIME = Q(delivered_at__lte=F("due_at"))


def _delivered(scope: Scope):
    return Delivery.objects.filter(
        scope.service_filter("prestation__service"),
        organisation=scope.organisation,
        delivered_at__gte=scope.start_utc,
        delivered_at__lt=scope.end_utc,
    ).select_related("prestation__service")


def _deliveries_in_time(scope: Scope):
    rows = (
        _delivered(scope)
        .annotate(local_day=local_date("delivered_at", scope.zone, scope.start_utc, scope.end_utc))
        .order_by()
        .values("prestation__service_id", "local_day")
        .annotate(den=Count("id"), num=Count("id", filter=DELIVERED_IN_TIME))
    )
    for row in rows:
        yield Row(row["prestation__service_id"], row["local_day"], row["num"], row["den"])


def _first_delivery_day(organisation):
    first = Delivery.objects.filter(organisation=organisation).aggregate(first=Min("delivered_at"))
    return timezone.localtime(first["first"], organisation.zone).date() if first["first"] else None


def _delivery_link(delivery: Delivery) -> str:
    url = reverse("deliveries:index", kwargs={"org_slug": delivery.organisation.slug})
    return f"{url}?prestation={delivery.prestation_id}"


register(
    Source(
        name="requests.deliveries_in_time",
        family=DELIVERIES,
        label=_("Acts delivered within the announced delay (per day of delivery)"),
        measure=Measure.RATIO,
        compute=_deliveries_in_time,
        records=_delivered,
        failing=~DELIVERED_IN_TIME,
        columns=(
            Column(_("Service delivery"), lambda d: str(d.prestation)),
            Column(_("Reference"), lambda d: d.reference),
            Column(_("Requested"), lambda d: _when(d.requested_at)),
            Column(_("Due"), lambda d: _when(d.due_at)),
            Column(_("Delivered"), lambda d: _when(d.delivered_at)),
        ),
        link=_delivery_link,
        first_day=_first_delivery_day,
    )
)
