"""Alerts: the open ones first, then those closed with what was done; closing one.

The list needs Perm.VIEW_INDICATORS; a member restricted to some services sees only their
services' alerts (the organisation's consolidated figure belongs to no service, so only
unrestricted members see its alerts). Closing follows `alerts.may_close`: a quality manager,
a person the alert was sent to, or one responsible for it.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.indicators import alerts, forms, notifications, queries, services
from qualicite.indicators.models import Alert
from qualicite.indicators.periods import Period

PAGE_SIZE = 25


def index_url(organisation) -> str:
    return reverse("indicator_alerts:index", kwargs={"org_slug": organisation.slug})


def _posted(request) -> tuple:
    """The form's data and files on POST (even empty ones: an empty form is still sent)."""
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def row(alert: Alert, user=None) -> dict:
    """What the pages show of an alert; the status in words and symbol, never colour alone."""
    indicator = alert.indicator
    period = Period(alert.period_start, alert.period_end, alert.period)
    return {
        "alert": alert,
        "period_label": _capital(period.label),
        "value": indicator.format_value(alert.value),
        "target": indicator.target_text(alert.target),
        "symbol": queries.STATUS_SYMBOLS[queries.Status(alert.status)],
        "status": alert.get_status_display(),
        "drilldown": notifications.drilldown_path(alert),
        "may_close": user is not None and alert.is_open and alerts.may_close(user, alert),
    }


@organisation_view(Perm.VIEW_INDICATORS)
def index(request, organisation):
    user = request.user
    unrestricted = permissions.restricted_service_ids(user, organisation) is None
    form = forms.AlertFilterForm(
        request.GET or None,
        services=permissions.visible_services(user, organisation).order_by("position", "name"),
        consolidated=unrestricted,
    )
    shown = alerts.visible_alerts(user, organisation)
    if form.is_valid() and form.cleaned_data["service"]:
        chosen = form.cleaned_data["service"]
        if chosen == forms.AlertFilterForm.ORGANISATION:
            shown = shown.filter(service__isnull=True)
        else:
            shown = shown.filter(service__code=chosen)
    open_alerts = shown.filter(closed_at__isnull=True).order_by(
        "-period_start", "indicator__position", "indicator_id", "service__name"
    )
    closed = Paginator(
        shown.filter(closed_at__isnull=False).order_by("-closed_at", "-pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "indicators/alert_index.html",
        {
            "form": form,
            "open_rows": [row(alert, user) for alert in open_alerts],
            "closed_rows": [row(alert) for alert in closed],
            "closed_page": closed,
            "query": query.urlencode(),
        },
    )


@organisation_view(Perm.VIEW_WORKSPACE)
def close(request, organisation, pk):
    alert = get_object_or_404(
        Alert.objects.filter(organisation=organisation).select_related(
            "organisation", "indicator", "indicator__commitment", "service", "closed_by"
        ),
        pk=pk,
    )
    user = request.user
    allowed = alerts.may_close(user, alert)
    if not allowed:
        if not alerts.visible_alerts(user, organisation).filter(pk=alert.pk).exists():
            raise Http404
        raise PermissionDenied
    form = forms.CloseAlertForm(*_posted(request))
    if request.method == "POST" and alert.is_open and form.is_valid():
        try:
            services.close_alert(alert, actor=user, comment=form.cleaned_data["comment"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                _("Alert closed: “%(indicator)s”, %(period)s.")
                % {"indicator": alert.indicator.name, "period": row(alert)["period_label"]},
            )
            return redirect(index_url(organisation))
    return render(
        request,
        "indicators/alert_close.html",
        {"form": form, "row": row(alert), "cancel_url": index_url(organisation)},
    )
