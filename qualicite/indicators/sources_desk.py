"""Sources measured from the desk visits and the appointments (reception app).

Desk visits count on the local day of the arrival, appointments on the local day of the slot
(DOMAIN.md). The definitions:

- `desk.wait_within`: visitors called to the counter within `threshold_seconds` (default 600)
  of their arrival ÷ visitors served. A visitor who left without being served is not in the
  denominator — DOMAIN.md divides by those served — and is counted apart by
  `desk.left_without_service`; a visitor still waiting is counted once called.
- `desk.left_without_service`: visitors who left before being served ÷ visitors whose visit
  ended (served or left). Lower is better.
- `desk.wait_mean`: the mean wait from arrival to call of the visitors served, in seconds
  (use the unit "seconds" on the indicator).
- `desk.right_first_time`: visitors sent to the right service the first time ÷ visits where
  the agent answered the question.
- `appointments.respected`: appointments served within `threshold_seconds` (default 600) of
  the slot's start ÷ appointments honoured by the citizen (arrived or served). No-shows and
  cancellations are not in it; an honoured appointment with no service time recorded counts
  as not respected, since nothing proves it was.
- `appointments.no_show`: appointments the citizen did not come to ÷ appointments whose
  outcome is known (arrived, served or did not come); cancellations and appointments still
  booked are left out. Lower is better.

The drill-down of the threshold sources annotates each record with its time over the
threshold in force (`over_threshold`), so that "failing" is a plain filter.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum, Value
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from qualicite.core.localday import local_date
from qualicite.indicators.sources import Column, Measure, Row, Scope, Source, register
from qualicite.reception.models import Appointment, AppointmentStatus, DeskVisit

DESK, APPOINTMENTS = "desk_visits", "appointments"
DEFAULT_THRESHOLD_SECONDS = 600
ZERO = timedelta(0)

SERVED = Q(called_at__isnull=False, left_without_service=False)
ENDED = SERVED | Q(left_without_service=True)
HONOURED = Q(status__in=[AppointmentStatus.CHECKED_IN, AppointmentStatus.SERVED])
OUTCOME_KNOWN = Q(
    status__in=[AppointmentStatus.CHECKED_IN, AppointmentStatus.SERVED, AppointmentStatus.NO_SHOW]
)
# With the `over_threshold` annotation: within the threshold, or not (or never served).
WITHIN = Q(over_threshold__lte=ZERO)
NOT_WITHIN = Q(over_threshold__isnull=True) | Q(over_threshold__gt=ZERO)


def _threshold(scope: Scope) -> timedelta:
    seconds = scope.threshold_seconds
    return timedelta(seconds=DEFAULT_THRESHOLD_SECONDS if seconds is None else seconds)


def _over(later: str, earlier: str, scope: Scope):
    """`later` − `earlier` − the threshold: ≤ 0 when within it, NULL when `later` is empty."""
    return ExpressionWrapper(
        F(later) - F(earlier) - Value(_threshold(scope), output_field=DurationField()),
        output_field=DurationField(),
    )


def _when(instant) -> str:
    if instant is None:
        return ""
    return formats.date_format(timezone.localtime(instant), "SHORT_DATETIME_FORMAT")


def _minutes_seconds(delta) -> str:
    if delta is None:
        return ""
    seconds = max(0, round(delta.total_seconds()))
    return f"{seconds // 60} min {seconds % 60:02d} s"


def _yes_no(value) -> str:
    if value is None:
        return ""
    return str(_("Yes") if value else _("No"))


def _grouped_ratio(query, on: str, scope: Scope, numerator: Q):
    rows = (
        query.annotate(local_day=local_date(on, scope.zone, scope.start_utc, scope.end_utc))
        .order_by()
        .values("service_id", "local_day")
        .annotate(den=Count("id"), num=Count("id", filter=numerator))
    )
    for row in rows:
        yield Row(row["service_id"], row["local_day"], row["num"], row["den"])


def _first_day(model, field_name):
    def first(organisation):
        found = model.objects.filter(organisation=organisation).aggregate(first=Min(field_name))
        if found["first"] is None:
            return None
        return timezone.localtime(found["first"], organisation.zone).date()

    return first


# --- Desk visits -----------------------------------------------------------------------------


def _visits(scope: Scope, *extra: Q):
    return DeskVisit.objects.filter(
        scope.service_filter(),
        *extra,
        organisation=scope.organisation,
        arrived_at__gte=scope.start_utc,
        arrived_at__lt=scope.end_utc,
    ).select_related("site", "service", "organisation")


def _visit_link(visit: DeskVisit) -> str:
    url = reverse("desk:visits", kwargs={"org_slug": visit.organisation.slug})
    day = timezone.localtime(visit.arrived_at, visit.organisation.zone).date()
    return f"{url}?day={day.isoformat()}&site={visit.site.code}#visit-{visit.pk}"


def _visit_outcome(visit: DeskVisit) -> str:
    if visit.left_without_service:
        return str(_("Left without being served"))
    if visit.done_at is not None:
        return str(_("Served"))
    if visit.called_at is not None:
        return str(_("At the counter"))
    return str(_("Waiting"))


VISIT_COLUMNS = (
    Column(_("Arrived"), lambda v: _when(v.arrived_at)),
    Column(_("Site"), lambda v: v.site.name),
    Column(_("Service"), lambda v: v.service.name if v.service_id else ""),
    Column(_("Reason"), lambda v: v.reason),
    Column(_("Ticket"), lambda v: v.ticket),
    Column(_("Called"), lambda v: _when(v.called_at)),
    Column(
        _("Wait"),
        lambda v: _minutes_seconds(v.called_at - v.arrived_at) if v.called_at else "",
    ),
    Column(_("Outcome"), _visit_outcome),
    Column(_("Right service first time"), lambda v: _yes_no(v.right_first_time)),
)


def _desk_source(name, label, measure, compute, records, failing=None, **options):
    return register(
        Source(
            name=name,
            family=DESK,
            label=label,
            measure=measure,
            compute=compute,
            records=records,
            failing=failing,
            columns=VISIT_COLUMNS,
            link=_visit_link,
            first_day=_first_day(DeskVisit, "arrived_at"),
            **options,
        )
    )


def _served(scope: Scope):
    return _visits(scope, SERVED).annotate(over_threshold=_over("called_at", "arrived_at", scope))


def _wait_within(scope: Scope):
    return _grouped_ratio(_served(scope), "arrived_at", scope, WITHIN)


_desk_source(
    "desk.wait_within",
    _("Desk visitors called within the waiting time (per day of arrival)"),
    Measure.RATIO,
    _wait_within,
    _served,
    failing=NOT_WITHIN,
    versioned=True,
)


def _ended(scope: Scope):
    return _visits(scope, ENDED)


def _left(scope: Scope):
    return _grouped_ratio(_ended(scope), "arrived_at", scope, Q(left_without_service=True))


_desk_source(
    "desk.left_without_service",
    _("Desk visitors who left without being served (per day of arrival)"),
    Measure.RATIO,
    _left,
    _ended,
    failing=Q(left_without_service=True),
)


def _plain_served(scope: Scope):
    return _visits(scope, SERVED)


def _wait_mean(scope: Scope):
    rows = (
        _plain_served(scope)
        .annotate(
            local_day=local_date("arrived_at", scope.zone, scope.start_utc, scope.end_utc),
            wait=ExpressionWrapper(F("called_at") - F("arrived_at"), output_field=DurationField()),
        )
        .order_by()
        .values("service_id", "local_day")
        .annotate(n=Count("id"), total=Sum("wait"))
    )
    for row in rows:
        total = row["total"] or ZERO
        yield Row(row["service_id"], row["local_day"], round(total.total_seconds()), row["n"])


_desk_source(
    "desk.wait_mean",
    _("Mean desk wait in seconds, arrival to call (per day of arrival)"),
    Measure.MEAN,
    _wait_mean,
    _plain_served,
)


def _oriented(scope: Scope):
    return _visits(scope, Q(right_first_time__isnull=False))


def _right_first_time(scope: Scope):
    return _grouped_ratio(_oriented(scope), "arrived_at", scope, Q(right_first_time=True))


_desk_source(
    "desk.right_first_time",
    _("Desk visitors sent to the right service first time (per day of arrival)"),
    Measure.RATIO,
    _right_first_time,
    _oriented,
    failing=Q(right_first_time=False),
)


# --- Appointments ----------------------------------------------------------------------------


def _appointments(scope: Scope, *extra: Q):
    return Appointment.objects.filter(
        scope.service_filter(),
        *extra,
        organisation=scope.organisation,
        starts_at__gte=scope.start_utc,
        starts_at__lt=scope.end_utc,
    ).select_related("site", "service", "organisation")


def _appointment_link(appointment: Appointment) -> str:
    return reverse(
        "appointments:edit",
        kwargs={"org_slug": appointment.organisation.slug, "pk": appointment.pk},
    )


APPOINTMENT_COLUMNS = (
    Column(_("Slot"), lambda a: _when(a.starts_at)),
    Column(_("Site"), lambda a: a.site.name),
    Column(_("Service"), lambda a: a.service.name if a.service_id else ""),
    Column(_("Subject"), lambda a: a.subject),
    Column(_("Status"), lambda a: a.get_status_display()),
    Column(_("Arrived"), lambda a: _when(a.checked_in_at)),
    Column(_("Served"), lambda a: _when(a.served_at)),
    Column(
        _("Served after the slot"),
        lambda a: _minutes_seconds(a.served_at - a.starts_at) if a.served_at else "",
    ),
)


def _appointment_source(name, label, compute, records, failing, **options):
    return register(
        Source(
            name=name,
            family=APPOINTMENTS,
            label=label,
            measure=Measure.RATIO,
            compute=compute,
            records=records,
            failing=failing,
            columns=APPOINTMENT_COLUMNS,
            link=_appointment_link,
            first_day=_first_day(Appointment, "starts_at"),
            **options,
        )
    )


def _honoured(scope: Scope):
    return _appointments(scope, HONOURED).annotate(
        over_threshold=_over("served_at", "starts_at", scope)
    )


def _respected(scope: Scope):
    return _grouped_ratio(_honoured(scope), "starts_at", scope, WITHIN)


_appointment_source(
    "appointments.respected",
    _("Appointments respected: served within the tolerance of the slot (per day of the slot)"),
    _respected,
    _honoured,
    NOT_WITHIN,
    versioned=True,
)


def _decided(scope: Scope):
    return _appointments(scope, OUTCOME_KNOWN)


def _no_show(scope: Scope):
    return _grouped_ratio(_decided(scope), "starts_at", scope, Q(status=AppointmentStatus.NO_SHOW))


_appointment_source(
    "appointments.no_show",
    _("Appointments the citizen did not come to (per day of the slot)"),
    _no_show,
    _decided,
    Q(status=AppointmentStatus.NO_SHOW),
)
