"""Values entered by hand: what is due, the entry form, corrections, the evidence files.

The pages need Perm.ENTER_INDICATOR_VALUES; which indicators and services a member may enter
is decided per indicator by `services.may_enter`. The evidence file is also served to those
who see the indicators of its service (auditors, direction), since it is what proves a value.
"""

import io
from datetime import date

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.charter.models import Indicator, SourceKind
from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.indicators import forms, periods, rollups, services
from qualicite.indicators.models import ManualValue
from qualicite.requests import attachments

PAGE_SIZE = 25


def index_url(organisation) -> str:
    return reverse("indicator_values:index", kwargs={"org_slug": organisation.slug})


def _posted(request) -> tuple:
    """The form's data and files on POST (even empty ones: an empty form is still sent)."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _may_correct(user, organisation, manual_value, today, manager) -> bool:
    period = periods.containing(manual_value.period_start, manual_value.indicator.period)
    if services.is_entry_closed(period, today) and not manager:
        return False
    return services.may_enter(user, manual_value.indicator, manual_value.service)


@organisation_view(Perm.ENTER_INDICATOR_VALUES)
def index(request, organisation):
    today = rollups.today(organisation)
    manager = permissions.has_perm(request.user, organisation, Perm.MANAGE_INDICATORS)
    page = Paginator(services.values_for(request.user, organisation), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    entered = [
        {
            "value": value,
            "display": value.indicator.format_value(value.value),
            "period": periods.containing(value.period_start, value.indicator.period),
            "may_correct": _may_correct(request.user, organisation, value, today, manager),
        }
        for value in page
    ]
    return render(
        request,
        "indicators/manual_index.html",
        {
            "due": services.due_entries(request.user, organisation, today),
            "entered": entered,
            "page": page,
            "today": today,
            "grace_days": services.GRACE_DAYS,
        },
    )


def _manual_indicator(organisation, pk) -> Indicator:
    return get_object_or_404(
        Indicator.objects.filter(organisation=organisation, source_kind=SourceKind.MANUAL)
        .select_related("commitment", "organisation", "owner")
        .prefetch_related("commitment__services", "revisions", "service_targets"),
        pk=pk,
    )


def _initial_period(request, indicator, today) -> date:
    """The period asked in the link, else the one most likely wanted: the last one still due."""
    asked = request.GET.get("period_start", "")
    try:
        return periods.containing(date.fromisoformat(asked), indicator.period).start
    except ValueError:
        pass
    current = periods.containing(today, indicator.period)
    previous = current.previous()
    if not services.is_entry_closed(previous, today):
        return previous.start
    return current.start


@organisation_view(Perm.ENTER_INDICATOR_VALUES)
def enter(request, organisation, pk):
    indicator = _manual_indicator(organisation, pk)
    user = request.user
    if not (
        services.enterable_slots(user, indicator) or services.enterable_services(user, indicator)
    ):
        raise PermissionDenied
    today = rollups.today(organisation)
    initial = {"period_start": _initial_period(request, indicator, today)}
    if request.GET.get("service"):
        initial["service"] = request.GET["service"]
    form = forms.EnterValueForm(
        *_posted(request),
        initial=initial,
        indicator=indicator,
        user=user,
        today=today,
    )
    if request.method == "POST" and form.is_valid():
        try:
            value = services.enter_value(
                indicator,
                actor=user,
                period_start=form.cleaned_data["period_start"],
                service=form.cleaned_data.get("service"),
                today=today,
                **form.figures(),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _confirmation(value))
            return redirect(index_url(organisation))
    recent = [
        {
            "value": value,
            "display": indicator.format_value(value.value),
            "period_label": _capital(
                periods.containing(value.period_start, indicator.period).label
            ),
        }
        for value in services.values_for(user, organisation).filter(indicator=indicator)[:6]
    ]
    return render(
        request,
        "indicators/manual_enter.html",
        {
            "form": form,
            "indicator": indicator,
            "recent": recent,
            "cancel_url": index_url(organisation),
        },
    )


def _confirmation(value: ManualValue) -> str:
    period = periods.containing(value.period_start, value.indicator.period)
    text = _("Value recorded for “%(indicator)s”, %(period)s: %(value)s.") % {
        "indicator": value.indicator.name,
        "period": period.label,
        "value": value.indicator.format_value(value.value),
    }
    if value.service is not None:
        text = _("Value recorded for “%(indicator)s” (%(service)s), %(period)s: %(value)s.") % {
            "indicator": value.indicator.name,
            "service": value.service.name,
            "period": period.label,
            "value": value.indicator.format_value(value.value),
        }
    return text


def _value(organisation, pk) -> ManualValue:
    return get_object_or_404(
        ManualValue.objects.filter(organisation=organisation).select_related(
            "indicator",
            "indicator__commitment",
            "indicator__organisation",
            "service",
            "entered_by",
        ),
        pk=pk,
    )


@organisation_view(Perm.ENTER_INDICATOR_VALUES)
def correct(request, organisation, pk):
    manual_value = _value(organisation, pk)
    indicator = manual_value.indicator
    if not services.may_enter(request.user, indicator, manual_value.service):
        raise PermissionDenied
    form = forms.CorrectValueForm(
        *_posted(request),
        indicator=indicator,
        initial={
            "value": manual_value.value,
            "numerator": manual_value.numerator,
            "denominator": manual_value.denominator,
            "comment": manual_value.comment,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.correct_value(manual_value, actor=request.user, **form.figures())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _confirmation(manual_value))
            return redirect(index_url(organisation))
    period = periods.containing(manual_value.period_start, indicator.period)
    return render(
        request,
        "indicators/manual_correct.html",
        {
            "form": form,
            "indicator": indicator,
            "manual_value": manual_value,
            "period_label": _capital(period.label),
            "cancel_url": index_url(organisation),
        },
    )


@organisation_view(Perm.VIEW_WORKSPACE)
def evidence(request, organisation, pk):
    manual_value = _value(organisation, pk)
    if not services.may_view_value(request.user, manual_value):
        raise PermissionDenied
    if not manual_value.evidence:
        raise Http404
    with manual_value.evidence.open("rb") as handle:
        content = handle.read()
    return FileResponse(
        io.BytesIO(content),
        as_attachment=True,
        filename=manual_value.evidence_name or "justificatif",
        content_type=attachments.sniff(content) or "application/octet-stream",
    )
