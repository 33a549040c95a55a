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
from qualicite.indicators.sources import Column, Measure, Row, Scope, Source, register
from qualicite.indicators.sql import local_date
from qualicite.requests.models import Delivery, Request

REQUESTS, DELIVERIES = "requests", "deliveries"
# Thanks need no answer: they are left out of every share of answered requests.
NEEDS_ANSWER = ~Q(kind=RequestKind.THANKS)
IN_TIME = Q(replied_at__lte=F("due_at"))
ACKNOWLEDGED_IN_TIME = Q(acknowledged_at__isnull=False) & Q(
    acknowledged_at__lte=F("acknowledgement_due_at")
)


def _requests(scope: Scope, on: str, *extra: Q):
    """Requests of the scope whose `on` instant falls in its days, with the local day."""
    query = Request.objects.filter(
        scope.service_filter(),
        *extra,
        organisation=scope.organisation,
        **{f"{on}__gte": scope.start_utc, f"{on}__lt": scope.end_utc},
    )
    if scope.channels:
        query = query.filter(channel__in=scope.channels)
    return query


def _grouped(query, on: str, scope: Scope, **aggregates):
    return (
        query.annotate(local_day=local_date(on, scope.zone, scope.start_utc, scope.end_utc))
        .order_by()
        .values("service_id", "local_day")
        .annotate(**aggregates)
    )


def _ratio_rows(query, on: str, scope: Scope, numerator: Q):
    rows = _grouped(query, on, scope, den=Count("id"), num=Count("id", filter=numerator))
    for row in rows:
        yield Row(row["service_id"], row["local_day"], row["num"], row["den"])


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
    first = Request.objects.filter(organisation=organisation).aggregate(first=Min("received_at"))
    return timezone.localtime(first["first"], organisation.zone).date() if first["first"] else None


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
            **options,
        )
    )


# requests.answered: answered ÷ received, per day of receipt --------------------------------


def _received(scope: Scope):
    return _requests(scope, "received_at", NEEDS_ANSWER)


def _answered(scope: Scope):
    return _ratio_rows(_received(scope), "received_at", scope, Q(replied_at__isnull=False))


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
    return _requests(scope, "replied_at", NEEDS_ANSWER, *extra)


def _answered_in_time(scope: Scope):
    return _ratio_rows(_replied(scope), "replied_at", scope, IN_TIME)


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
    return _ratio_rows(_replied_complaints(scope), "replied_at", scope, IN_TIME)


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
    return _requests(scope, "received_at", NEEDS_ANSWER, Q(acknowledgement_due_at__isnull=False))


def _acknowledged(scope: Scope):
    return _ratio_rows(_to_acknowledge(scope), "received_at", scope, ACKNOWLEDGED_IN_TIME)


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
        .annotate(local_day=local_date("replied_at", scope.zone, scope.start_utc, scope.end_utc))
        .order_by()
        .values("service_id", "local_day", "answer_days")
        .annotate(n=Count("id"))
    )
    for row in rows:
        key = (row["service_id"], row["local_day"])
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
    return _requests(scope, "received_at")


def _complaint_rate(scope: Scope):
    return _ratio_rows(_all_received(scope), "received_at", scope, Q(kind=RequestKind.COMPLAINT))


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
