"""Service deliveries (passports, civil-status copies, room bookings…) and their announced delays.

Staff see each prestation's share delivered in time and the deliveries still to hand over;
those who handle requests record a delivery and mark it delivered. A member restricted to
some services sees only their prestations; another service's delivery is a 404.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.requests import delivery_queries, services
from qualicite.requests.delivery_forms import MarkDeliveredForm, RecordDeliveryForm

# A large town has hundreds of passports in preparation: they come a page at a time.
OPEN_PER_PAGE = 50


def index_url(organisation) -> str:
    return reverse("deliveries:index", kwargs={"org_slug": organisation.slug})


@organisation_view(Perm.VIEW_REQUESTS)
def index(request, organisation):
    with timezone.override(organisation.zone):
        now = timezone.now()
        return render(
            request,
            "requests/deliveries/index.html",
            {
                "rows": delivery_queries.prestation_table(request.user, organisation, now=now),
                "open_page": Paginator(
                    delivery_queries.open_deliveries(request.user, organisation), OPEN_PER_PAGE
                ).get_page(request.GET.get("page")),
                "now": now,
                "month_start": delivery_queries.Periods.around(organisation, now).month_start,
                "can_handle": permissions.has_perm(
                    request.user, organisation, Perm.HANDLE_REQUESTS
                ),
            },
        )


@organisation_view(Perm.HANDLE_REQUESTS)
def record(request, organisation):
    # Times typed in the form are the organisation's wall-clock times.
    with timezone.override(organisation.zone):
        form = RecordDeliveryForm(
            request.POST or None, organisation=organisation, user=request.user
        )
        if request.method == "POST" and form.is_valid():
            try:
                delivery = services.record_delivery(
                    form.cleaned_data["prestation"],
                    actor=request.user,
                    requested_at=form.cleaned_data["requested_at"],
                    delivered_at=form.cleaned_data["delivered_at"],
                    reference=form.cleaned_data["reference"].strip(),
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    _("Delivery “%(delivery)s” recorded, due on %(due)s.")
                    % {
                        "delivery": delivery,
                        "due": formats.date_format(
                            timezone.localtime(delivery.due_at), "SHORT_DATE_FORMAT"
                        ),
                    },
                )
                return redirect(index_url(organisation))
        return render(
            request,
            "requests/deliveries/record.html",
            {"form": form, "cancel_url": index_url(organisation)},
        )


@organisation_view(Perm.HANDLE_REQUESTS)
def deliver(request, organisation, pk):
    delivery = get_object_or_404(
        delivery_queries.open_deliveries(request.user, organisation), pk=pk
    )
    with timezone.override(organisation.zone):
        form = MarkDeliveredForm(request.POST or None, delivery=delivery)
        if request.method == "POST" and form.is_valid():
            try:
                services.mark_delivered(
                    delivery, actor=request.user, delivered_at=form.cleaned_data["delivered_at"]
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                message = (
                    _("“%(delivery)s” delivered within the announced delay.")
                    if delivery.delivered_in_time
                    else _("“%(delivery)s” delivered after the announced delay.")
                )
                messages.success(request, message % {"delivery": delivery})
                return redirect(index_url(organisation))
        return render(
            request,
            "requests/deliveries/deliver.html",
            {
                "form": form,
                "delivery": delivery,
                "now": timezone.now(),
                "cancel_url": index_url(organisation),
            },
        )
