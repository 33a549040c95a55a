"""Personal data pages (quality manager, administrator): citizen export, retention, access log.

Every page answers with no-cache headers: they show citizens' personal data, which must not
stay in a shared browser's cache. The e-mail address searched is posted, never put in the
URL, so it does not end up in server logs or the browser history.
"""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from qualicite.core.permissions import Perm, organisation_view, restricted_service_ids
from qualicite.requests import privacy
from qualicite.requests.privacy_forms import AccessFilterForm, CitizenLookupForm, ExportForm

ACCESSES_PER_PAGE = 50
LATEST_ACCESSES = 10


def _identities(data: dict) -> dict[str, list[str]]:
    """The distinct names, phones and addresses given with the address, in order of use."""
    found: dict[str, list[str]] = {"name": [], "phone": [], "address": []}
    for record in data["requests"]:
        citizen = record["citizen"]
        for key in found:
            value = " ".join((citizen[key] or "").split())
            if key == "address" and citizen["postcode"] and citizen["postcode"] not in value:
                value = f"{value} {citizen['postcode']}".strip()
            if value and value not in found[key]:
                found[key].append(value)
    return found


@never_cache
@organisation_view(Perm.MANAGE_PERSONAL_DATA)
def index(request, organisation):
    form = CitizenLookupForm(request.POST or None)
    found = None
    if request.method == "POST" and form.is_valid():
        found = privacy.preview_citizen(
            organisation, form.cleaned_data["email"], actor=request.user
        )
    return render(
        request,
        "requests/privacy/index.html",
        {
            "form": form,
            "found": found,
            "identities": _identities(found) if found else None,
            "export_form": ExportForm(initial={"email": found["email"]}, auto_id=False)
            if found
            else None,
            "retention": privacy.retention_overview(organisation, timezone.now()),
            "upcoming_days": privacy.UPCOMING_DAYS,
            "latest": privacy.accesses(organisation).select_related("request")[:LATEST_ACCESSES],
            "restricted": restricted_service_ids(request.user, organisation) is not None,
        },
    )


@never_cache
@organisation_view(Perm.MANAGE_PERSONAL_DATA)
@require_POST
def export(request, organisation):
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a valid e-mail address to export."))
        return redirect("privacy:index", org_slug=organisation.slug)
    email, file_format = form.cleaned_data["email"], form.cleaned_data["format"]
    stamp = timezone.localtime(timezone.now(), organisation.zone).strftime("%Y%m%d-%H%M")
    # The address stays out of the file name: the file may be mailed or stored elsewhere.
    file_name = f"donnees-personnelles-{organisation.slug}-{stamp}.{file_format}"
    if file_format == "pdf":
        content = privacy.export_citizen_pdf(organisation, email, actor=request.user)
        response = HttpResponse(content, content_type="application/pdf")
    else:
        data = privacy.export_citizen(organisation, email, actor=request.user)
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


@never_cache
@organisation_view(Perm.MANAGE_PERSONAL_DATA)
def accesses(request, organisation):
    form = AccessFilterForm(request.GET or None, organisation=organisation)
    code, user = "", None
    if form.is_bound and form.is_valid():
        code, user = form.cleaned_data["code"], form.cleaned_data["user"]
    rows = privacy.accesses(organisation, code=code, user=user).select_related("request")
    page = Paginator(rows, ACCESSES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "requests/privacy/accesses.html",
        {"form": form, "page_obj": page, "filtered": bool(code or user)},
    )
