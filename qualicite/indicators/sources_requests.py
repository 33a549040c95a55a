"""Sources measured from the request log and the deliveries of acts (Requests issue).

Which day a record counts on follows the indicator's definition (DOMAIN.md): shares of
requests answered, acknowledged or complaints are per day of receipt; answers within delay
and answer delays per day of the answer; acts per day of delivery. "In time" compares with
the due dates stored on each record, which were computed from the référentiel in force when
it arrived, so a later change of delay never rewrites the past.
"""

from __future__ import annotations

from collections import defaultdict

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

ON_RECEIPT = {  # source → (numerator, denominator) among the receipt groups' counts
    "requests.answered": ("answered", "n"),
    "requests.acknowledged_in_time": ("acknowledged", "to_acknowledge"),
    "requests.complaint_rate": ("complaints", "n"),
}
ON_ANSWER = ("requests.answered_in_time", "requests.complaints_answered_in_time")
ON_ANSWER_DAYS = (
    "requests.answer_delay_median",
    "requests.answer_delay_p90",
    "requests.answer_delay_mean",
)


def _takes(scope: Scope, row: dict) -> bool:
    if scope.service_ids is not None and row["service_id"] not in scope.service_ids:
        return False
    return not scope.channels or row["channel"] in scope.channels


def scan_requests(scopes: list[Scope]) -> dict[int, list[Row]]:
    """{indicator id: day rows} of request indicators sharing an organisation and days."""
    first = scopes[0]
    requests = Request.objects.filter(organisation=first.organisation).order_by()
    sums = {scope.indicator.pk: defaultdict(lambda: [0, 0, defaultdict(int)]) for scope in scopes}
    receipt = [s for s in scopes if s.indicator.source in ON_RECEIPT]
    if receipt:
        groups = (
            requests.filter(received_day__gte=first.start, received_day__lte=first.end)
            .values("received_day", "service_id", "kind", "channel")
            .annotate(
                n=Count("kind"),
                answered=Count("replied_at"),
                to_acknowledge=Count("acknowledgement_due_at"),
                acknowledged=Count("kind", filter=ACKNOWLEDGED_IN_TIME),
            )
        )
        for row in groups.iterator(chunk_size=10000):
            thanks = row["kind"] == RequestKind.THANKS
            row["complaints"] = row["n"] if row["kind"] == RequestKind.COMPLAINT else 0
            key = (row["service_id"], row["received_day"])
            for scope in receipt:
                source = scope.indicator.source
                if (thanks and source != "requests.complaint_rate") or not _takes(scope, row):
                    continue
                numerator, denominator = ON_RECEIPT[source]
                entry = sums[scope.indicator.pk][key]
                entry[0] += row[numerator]
                entry[1] += row[denominator]
    answer = [s for s in scopes if s.indicator.source in (*ON_ANSWER, *ON_ANSWER_DAYS)]
    if answer:
        groups = (
            requests.filter(replied_day__gte=first.start, replied_day__lte=first.end)
            .exclude(kind=RequestKind.THANKS)
            .values("replied_day", "service_id", "kind", "channel", "answer_days")
            .annotate(n=Count("kind"), in_time=Count("kind", filter=IN_TIME))
        )
        for row in groups.iterator(chunk_size=10000):
            key = (row["service_id"], row["replied_day"])
            days = row["answer_days"]
            for scope in answer:
                source = scope.indicator.source
                if not _takes(scope, row):
                    continue
                entry = sums[scope.indicator.pk][key]
                if source in ON_ANSWER:
                    if source == ON_ANSWER[1] and row["kind"] != RequestKind.COMPLAINT:
                        continue
                    entry[0] += row["in_time"]
                    entry[1] += row["n"]
                elif days is not None:
                    entry[0] += days * row["n"]
                    entry[1] += row["n"]
                    entry[2][str(days)] += row["n"]
    found = {}
    for scope in scopes:
        with_histogram = scope.indicator.source in ON_ANSWER_DAYS
        found[scope.indicator.pk] = [
            Row(service, day, num, den, dict(histogram) if with_histogram else {})
            for (service, day), (num, den, histogram) in sums[scope.indicator.pk].items()
            if den
        ]
    return found


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
