"""The desk: the reception tablet, the day's visits, arrivals by hour, ticketing imports.

The tablet page stays open all day on a tablet logged in once: each tap is a plain POST that
comes back to the page (progressive JS only refreshes the elapsed minutes). The site is
chosen once and remembered in the session. Pages need Perm.RECEIVE_VISITORS (the staffing
page also opens to those who read the indicators); imports need Perm.MANAGE_RECEPTION, as the
phone-log imports do, since they write every service's visits at once. A member restricted
to some services sees and records only their visits; another one is a 404.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.reception import desk_charts, desk_import, desk_queries, desk_services
from qualicite.reception.desk_forms import (
    ArrivalForm,
    DeskImportForm,
    SiteChoiceForm,
    StaffingForm,
)
from qualicite.reception.desk_mapping import MappingError
from qualicite.reception.models import ReceptionEvent

STAFFING_WEEKS = 8


def _session_key(name: str, organisation) -> str:
    return f"desk-{name}-{organisation.pk}"


def tablet_url(organisation) -> str:
    return reverse("desk:tablet", kwargs={"org_slug": organisation.slug})


def _chosen_site(request, organisation):
    """The site asked in the link, else the one remembered, else the only one."""
    sites = desk_queries.sites(organisation)
    key = _session_key("site", organisation)
    code = request.GET.get("site", "")
    if code:
        site = get_object_or_404(sites, code=code)
        request.session[key] = site.pk
        return site
    site = sites.filter(pk=request.session.get(key)).first() if key in request.session else None
    if site is None:
        only = list(sites[:2])
        site = only[0] if len(only) == 1 else None
    return site


def _clock(instant) -> str:
    return formats.time_format(timezone.localtime(instant), "TIME_FORMAT")


@organisation_view(Perm.RECEIVE_VISITORS)
def tablet(request, organisation):
    site = _chosen_site(request, organisation)
    if site is None:
        return redirect("desk:choose_site", org_slug=organisation.slug)
    service_key = _session_key("service", organisation)
    form = ArrivalForm(
        initial={"service": request.session.get(service_key)}, site=site, user=request.user
    )
    return _tablet_page(request, organisation, site, form)


def _tablet_page(request, organisation, site, form, status=200):
    now = timezone.now()
    with timezone.override(organisation.zone):
        return render(
            request,
            "reception/desk/tablet.html",
            {
                "site": site,
                "form": form,
                "reasons": desk_queries.quick_reasons(site, now),
                "queue": desk_queries.queue(request.user, site, now),
                "recent": desk_queries.recent(request.user, site),
                "summary": desk_queries.day_summary(
                    desk_queries.visits_of_day(
                        request.user, organisation, desk_queries.today(organisation), site
                    )
                ),
                "several_sites": desk_queries.sites(organisation).count() > 1,
                "now": now,
                "can_import": permissions.has_perm(
                    request.user, organisation, Perm.MANAGE_RECEPTION
                ),
            },
            status=status,
        )


@organisation_view(Perm.RECEIVE_VISITORS)
def choose_site(request, organisation):
    form = SiteChoiceForm(request.POST or None, organisation=organisation)
    current = request.session.get(_session_key("site", organisation))
    if current is not None and request.method != "POST":
        form.initial["site"] = current
    if request.method == "POST" and form.is_valid():
        request.session[_session_key("site", organisation)] = form.cleaned_data["site"].pk
        return redirect(tablet_url(organisation))
    return render(
        request,
        "reception/desk/choose_site.html",
        {"form": form, "has_sites": desk_queries.sites(organisation).exists()},
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def arrival(request, organisation):
    site = _chosen_site(request, organisation)
    if site is None:
        return redirect("desk:choose_site", org_slug=organisation.slug)
    form = ArrivalForm(request.POST, site=site, user=request.user)
    if form.is_valid():
        service = form.cleaned_data["service"]
        try:
            visit = desk_services.record_arrival(
                site, actor=request.user, service=service, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            request.session[_session_key("service", organisation)] = service.pk if service else None
            with timezone.override(organisation.zone):
                messages.success(
                    request,
                    _("Arrival recorded at %(time)s%(reason)s.")
                    % {
                        "time": _clock(visit.arrived_at),
                        "reason": f" — {visit.reason}" if visit.reason else "",
                    },
                )
            return redirect(tablet_url(organisation) + "#queue-heading")
    return _tablet_page(request, organisation, site, form)


def _visit(request, organisation, pk):
    return get_object_or_404(desk_queries.visible_visits(request.user, organisation), pk=pk)


def _back(request, organisation):
    """Back to the page the tap came from: the tablet, or the day's visits."""
    if request.POST.get("back") == "visits":
        query = {key: request.POST[key] for key in ("day", "site") if request.POST.get(key, "")}
        url = reverse("desk:visits", kwargs={"org_slug": organisation.slug})
        return redirect(f"{url}?{urlencode(query)}" if query else url)
    return redirect(tablet_url(organisation) + "#queue-heading")


def _tap(request, organisation, pk, action, confirmation):
    visit = _visit(request, organisation, pk)
    try:
        visit = action(visit)
    except desk_services.TooLate as late:
        messages.warning(request, late.messages[0])
    else:
        with timezone.override(organisation.zone):
            messages.success(request, confirmation(visit))
    return _back(request, organisation)


def _who(visit) -> str:
    parts = [_clock(visit.arrived_at)]
    if visit.reason:
        parts.append(visit.reason)
    return " — ".join(parts)


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def call(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda visit: desk_services.call_visitor(visit, actor=request.user),
        lambda visit: (
            _("Visitor of %(who)s called to the counter after %(minutes)s min.")
            % {"who": _who(visit), "minutes": desk_queries.wait_minutes(visit)}
        ),
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def done(request, organisation, pk):
    answer = request.POST.get("right_first_time", "")
    right = {"yes": True, "no": False}.get(answer)
    return _tap(
        request,
        organisation,
        pk,
        lambda visit: desk_services.finish_visit(visit, actor=request.user, right_first_time=right),
        lambda visit: _("Visit of %(who)s done.") % {"who": _who(visit)},
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def left(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda visit: desk_services.visitor_left(visit, actor=request.user),
        lambda visit: (
            _("Visitor of %(who)s recorded as left without being served.") % {"who": _who(visit)}
        ),
    )


@require_POST
@organisation_view(Perm.RECEIVE_VISITORS)
def reopen(request, organisation, pk):
    return _tap(
        request,
        organisation,
        pk,
        lambda visit: desk_services.reopen_visit(visit, actor=request.user),
        lambda visit: _("Last step undone for the visitor of %(who)s.") % {"who": _who(visit)},
    )


def _day(request, organisation) -> date:
    try:
        return date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return desk_queries.today(organisation)


@organisation_view(Perm.RECEIVE_VISITORS)
def visits(request, organisation):
    day = _day(request, organisation)
    sites = desk_queries.sites(organisation)
    code = request.GET.get("site", "")
    site = get_object_or_404(sites, code=code) if code else None
    found = desk_queries.visits_of_day(request.user, organisation, day, site).order_by(
        "arrived_at", "pk"
    )
    rows = list(found)
    for visit in rows:
        visit.wait = desk_queries.wait_minutes(visit)
    with timezone.override(organisation.zone):
        return render(
            request,
            "reception/desk/visits.html",
            {
                "day": day,
                "previous_day": day - timedelta(days=1),
                "next_day": day + timedelta(days=1),
                "is_today": day == desk_queries.today(organisation),
                "site": site,
                "sites": sites,
                "visits": rows,
                "summary": desk_queries.day_summary(found),
            },
        )


def _may_see_staffing(user, organisation) -> bool:
    return permissions.has_perm(user, organisation, Perm.RECEIVE_VISITORS) or (
        permissions.has_perm(user, organisation, Perm.VIEW_INDICATORS)
    )


@organisation_view(Perm.VIEW_WORKSPACE)
def staffing(request, organisation):
    if not _may_see_staffing(request.user, organisation):
        raise PermissionDenied
    today = desk_queries.today(organisation)
    initial = {"start": today - timedelta(weeks=STAFFING_WEEKS) + timedelta(days=1), "end": today}
    data = request.GET if "start" in request.GET else None
    form = StaffingForm(data, initial=initial, organisation=organisation, user=request.user)
    figures = chart = None
    if data is None or form.is_valid():
        chosen = form.cleaned_data if data is not None else {**initial, "site": None}
        figures = desk_queries.staffing(
            request.user,
            organisation,
            chosen["start"],
            chosen["end"],
            site=chosen.get("site"),
            service=chosen.get("service"),
        )
        if figures.hours:
            chart = desk_charts.heatmap(
                "desk-arrivals",
                _("Arrivals by weekday and hour"),
                _(
                    "%(total)s arrivals from %(start)s to %(end)s; the darker the cell, the more "
                    "arrivals. The same figures are in the table below."
                )
                % {
                    "total": figures.total.arrivals,
                    "start": formats.date_format(figures.start, "SHORT_DATE_FORMAT"),
                    "end": formats.date_format(figures.end, "SHORT_DATE_FORMAT"),
                },
                figures,
            )
    return render(
        request,
        "reception/desk/staffing.html",
        {"form": form, "figures": figures, "chart": chart},
    )


def _last_mapping(organisation) -> str:
    event = (
        ReceptionEvent.objects.filter(organisation=organisation, verb="desk.imported")
        .order_by("-at", "-pk")
        .first()
    )
    return (event.details.get("mapping") if event else "") or desk_import.EXAMPLE_MAPPING


@organisation_view(Perm.MANAGE_RECEPTION)
def import_visits(request, organisation):
    form = DeskImportForm(
        request.POST or None,
        request.FILES or None,
        initial={"mapping": _last_mapping(organisation)},
        organisation=organisation,
    )
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = desk_services.import_visits(
                organisation,
                upload.file,
                actor=request.user,
                mapping_text=form.cleaned_data["mapping"],
                file_name=upload.name,
                default_site=form.cleaned_data["site"],
            )
        except MappingError as error:
            for problem in error.problems:
                form.add_error("mapping", problem)
    return render(
        request,
        "reception/desk/import.html",
        {"form": form, "report": report, "tablet_url": tablet_url(organisation)},
    )
