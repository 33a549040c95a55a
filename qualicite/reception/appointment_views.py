"""Appointments: a day's list per site and service, booking, the day's taps, imports.

Seeing, booking and the taps (arrived, served, did not come) need Perm.RECEIVE_VISITORS;
importing a booking system's export needs Perm.MANAGE_RECEPTION (it writes every service's
appointments at once). A member restricted to some services sees only their appointments;
another one is a 404.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.models import Site
from qualicite.core.permissions import Perm, organisation_view
from qualicite.reception import (
    appointment_ics,
    appointment_import,
    appointment_queries,
    appointment_services,
)
from qualicite.reception.appointment_forms import (
    CSV,
    ICS,
    AppointmentForm,
    AppointmentImportForm,
    EditAppointmentForm,
)
from qualicite.reception.desk_import import Lookup
from qualicite.reception.desk_mapping import (
    MappingError,
    load_mapping,
)
from qualicite.reception.models import AppointmentStatus

S = AppointmentStatus


def index_url(organisation, day: date | None = None, site: Site | None = None) -> str:
    url = reverse("appointments:index", kwargs={"org_slug": organisation.slug})
    query = {}
    if day is not None:
        query["day"] = day.isoformat()
    if site is not None:
        query["site"] = site.code
    return f"{url}?{urlencode(query)}" if query else url


def _day(request, organisation) -> date:
    try:
        return date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return appointment_queries.today(organisation)


@organisation_view(Perm.RECEIVE_VISITORS)
def index(request, organisation):
    day = _day(request, organisation)
    sites = Site.objects.filter(organisation=organisation).order_by("name")
    services = permissions.visible_services(request.user, organisation).order_by("position", "name")
    site_code, service_code = request.GET.get("site", ""), request.GET.get("service", "")
    site = get_object_or_404(sites, code=site_code) if site_code else None
    service = get_object_or_404(services, code=service_code) if service_code else None
    found = appointment_queries.of_day(request.user, organisation, day, site=site, service=service)
    today = appointment_queries.today(organisation)
    now = timezone.now()
    rows = list(found)
    for appointment in rows:
        appointment.late = appointment_queries.late_minutes(appointment, now)
    query = {key: value for key, value in (("site", site_code), ("service", service_code)) if value}
    with timezone.override(organisation.zone):
        return render(
            request,
            "reception/appointments/index.html",
            {
                "day": day,
                "is_today": day == today,
                "is_past": day < today,
                "previous_url": "?" + urlencode({**query, "day": (day - timedelta(1)).isoformat()}),
                "next_url": "?" + urlencode({**query, "day": (day + timedelta(1)).isoformat()}),
                "today_url": "?" + urlencode(query),
                "sites": sites,
                "services": services,
                "site": site,
                "service": service,
                "appointments": rows,
                "counts": appointment_queries.counts(found),
                "can_import": permissions.has_perm(
                    request.user, organisation, Perm.MANAGE_RECEPTION
                ),
            },
        )


def _booking(form) -> dict:
    data = form.cleaned_data
    return {
        "site": data["site"],
        "service": data["service"],
        "starts_at": data["starts_at"],
        "ends_at": data["ends_at"],
        "subject": data["subject"],
        "citizen": data["citizen"],
    }


@organisation_view(Perm.RECEIVE_VISITORS)
def create(request, organisation):
    with timezone.override(organisation.zone):
        initial = {}
        site_code = request.GET.get("site", "")
        if site_code:
            initial["site"] = Site.objects.filter(organisation=organisation, code=site_code).first()
        day = _day(request, organisation)
        initial["starts_at"] = datetime.combine(day, time(9, 0))
        form = AppointmentForm(
            request.POST or None, initial=initial, organisation=organisation, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                appointment = appointment_services.create_appointment(
                    organisation, actor=request.user, **_booking(form)
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Appointment booked on %(slot)s.") % {"slot": _slot(appointment.starts_at)},
                )
                return redirect(_day_of(organisation, appointment))
        return render(
            request,
            "reception/appointments/form.html",
            {"form": form, "cancel_url": index_url(organisation, day)},
        )


def _slot(instant) -> str:
    return formats.date_format(timezone.localtime(instant), "SHORT_DATETIME_FORMAT")


def _day_of(organisation, appointment) -> str:
    day = appointment_services.local_day(appointment.starts_at, organisation)
    return index_url(organisation, day, appointment.site) + f"#appointment-{appointment.pk}"


def _appointment(request, organisation, pk):
    return get_object_or_404(
        appointment_queries.visible_appointments(request.user, organisation), pk=pk
    )


@organisation_view(Perm.RECEIVE_VISITORS)
def edit(request, organisation, pk):
    appointment = _appointment(request, organisation, pk)
    with timezone.override(organisation.zone):
        initial = {
            name: getattr(appointment, name)
            for name in (*appointment_services.BOOKING_FIELDS, "checked_in_at", "served_at")
        }
        form = EditAppointmentForm(
            request.POST or None, initial=initial, organisation=organisation, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                appointment = appointment_services.update_appointment(
                    appointment,
                    actor=request.user,
                    **_booking(form),
                    checked_in_at=form.cleaned_data["checked_in_at"],
                    served_at=form.cleaned_data["served_at"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, _("Appointment saved."))
                return redirect(_day_of(organisation, appointment))
        return render(
            request,
            "reception/appointments/form.html",
            {
                "form": form,
                "appointment": appointment,
                "cancel_url": _day_of(organisation, appointment),
            },
        )


def _tap(request, organisation, pk, action, confirmation):
    appointment = _appointment(request, organisation, pk)
    try:
        appointment = action(appointment)
    except ValidationError as error:
        messages.warning(request, error.messages[0])
    else:
        with timezone.override(organisation.zone):
            messages.success(request, confirmation(appointment))
    if request.POST.get("back") == "edit":
        return redirect("appointments:edit", org_slug=organisation.slug, pk=appointment.pk)
    return redirect(_day_of(organisation, appointment))


def _who(appointment) -> str:
    parts = [formats.time_format(timezone.localtime(appointment.starts_at), "TIME_FORMAT")]
    if appointment.subject:
        parts.append(appointment.subject)
    return " — ".join(parts)


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def check_in(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda a: appointment_services.check_in(a, actor=request.user),
        lambda a: _("Appointment of %(who)s: the citizen has arrived.") % {"who": _who(a)},
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def serve(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda a: appointment_services.serve(a, actor=request.user),
        lambda a: (
            _("Appointment of %(who)s: served at %(time)s.")
            % {"who": _who(a), "time": formats.time_format(timezone.localtime(a.served_at))}
        ),
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def no_show(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda a: appointment_services.mark_no_show(a, actor=request.user),
        lambda a: _("Appointment of %(who)s: the citizen did not come.") % {"who": _who(a)},
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def cancel(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda a: appointment_services.cancel(a, actor=request.user),
        lambda a: _("Appointment of %(who)s cancelled.") % {"who": _who(a)},
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def reset(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda a: appointment_services.reset(a, actor=request.user),
        lambda a: _("Appointment of %(who)s booked again.") % {"who": _who(a)},
    )


def _items(organisation, form):
    """The bookings of the uploaded file, read in its format (raises MappingError)."""
    data = form.cleaned_data
    lookup = Lookup(organisation, default_site=data["site"], default_service=data["service"])
    upload = data["file"]
    if data["file_format"] == ICS:
        tables = appointment_ics.load_tables(data["mapping"])
        content = upload.read()
        return appointment_ics.read_events(content, lookup, tables, organisation.zone), None
    mapping = load_mapping(
        data["mapping"], appointment_import.SPEC, default_timezone=organisation.time_zone
    )
    return appointment_import.csv_items(upload.file, mapping, lookup), mapping.max_bad_share


@organisation_view(Perm.MANAGE_RECEPTION)
def import_appointments(request, organisation):
    chosen = request.POST.get("file_format") or request.GET.get("format") or ICS
    initial = {
        "file_format": chosen,
        "mapping": appointment_queries.last_mapping(organisation, chosen)
        or (appointment_import.EXAMPLE_MAPPING if chosen == CSV else ""),
    }
    form = AppointmentImportForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        organisation=organisation,
        user=request.user,
    )
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            items, share = _items(organisation, form)
        except MappingError as error:
            for problem in error.problems:
                form.add_error("mapping", problem)
        else:
            options = {"max_bad_share": share} if share is not None else {}
            report = appointment_services.import_appointments(
                organisation,
                items,
                actor=request.user,
                file_name=form.cleaned_data["file"].name,
                file_format=form.cleaned_data["file_format"],
                mapping_text=form.cleaned_data["mapping"],
                **options,
            )
    return render(
        request,
        "reception/appointments/import.html",
        {
            "form": form,
            "report": report,
            "show_cancelled": True,
            "csv_example": appointment_import.EXAMPLE_MAPPING,
            "back_url": index_url(organisation),
        },
    )
