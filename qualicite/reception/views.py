"""The phone pages: call-log imports with their progress and report, queues, calls.

Every page needs Perm.MANAGE_RECEPTION (quality managers, administrators). Imports and queue
mappings concern the whole organisation's phone system: a member restricted to some services
may not use them (403). The calls list is limited to the member's services.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from qualicite.core import permissions
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.reception import forms, queries, services
from qualicite.reception.models import ImportStatus, QueueMapping

IMPORTS_PER_PAGE = 20
CALLS_PER_PAGE = 50


def _posted(request) -> tuple:
    if request.method == "POST":
        return request.POST, request.FILES
    return None, None


def _whole_organisation(request, organisation) -> None:
    """Imports and queues are the whole phone system's: not for a restricted member."""
    if permissions.restricted_service_ids(request.user, organisation) is not None:
        raise PermissionDenied


def _url(name: str, organisation, **kwargs) -> str:
    return reverse(f"reception:{name}", kwargs={"org_slug": organisation.slug, **kwargs})


@organisation_view(Perm.MANAGE_RECEPTION)
def imports(request, organisation):
    _whole_organisation(request, organisation)
    form = forms.UploadForm(*_posted(request), organisation=organisation)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            call_import = services.submit_import(
                organisation,
                data["file"],
                actor=request.user,
                fmt=data["format"],
                mapping_text=data["mapping_text"],
                site=data["site"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                _("“%(file)s” was received: it is being imported.")
                % {"file": call_import.file_name},
            )
            return redirect(_url("import", organisation, pk=call_import.pk))
    page = Paginator(queries.imports_of(organisation), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    with timezone.override(organisation.zone):
        return render(request, "reception/imports_index.html", {"form": form, "page": page})


def _import(organisation, pk):
    return get_object_or_404(queries.imports_of(organisation), pk=pk)


@organisation_view(Perm.MANAGE_RECEPTION)
def import_detail(request, organisation, pk):
    _whole_organisation(request, organisation)
    call_import = _import(organisation, pk)
    report = call_import.report or {}
    # The same text as the page's, for the script that refreshes it.
    progress_template = _("%(percent)s %% — %(lines)s lines read") % {
        "percent": "PERCENT",
        "lines": "LINES",
    }
    with timezone.override(organisation.zone):
        return render(
            request,
            "reception/imports_detail.html",
            {
                "progress_template": progress_template,
                "call_import": call_import,
                "progress": queries.import_progress(call_import),
                "report": report,
                "rejected": queries.report_problems(call_import, "rejected"),
                "warnings": queries.report_problems(call_import, "warnings"),
                "refusal": queries.refusal_message(call_import)
                if call_import.status == ImportStatus.REFUSED
                else "",
                "progress_url": _url("import_progress", organisation, pk=call_import.pk),
            },
        )


@never_cache
@organisation_view(Perm.MANAGE_RECEPTION)
def import_progress(request, organisation, pk):
    _whole_organisation(request, organisation)
    return JsonResponse(queries.import_progress(_import(organisation, pk)))


@organisation_view(Perm.MANAGE_RECEPTION)
def queues(request, organisation):
    _whole_organisation(request, organisation)
    return render(request, "reception/queues_index.html", {"queues": queries.queues(organisation)})


@organisation_view(Perm.MANAGE_RECEPTION)
def queue_edit(request, organisation, pk):
    _whole_organisation(request, organisation)
    mapping = get_object_or_404(
        QueueMapping.objects.filter(organisation=organisation).select_related("service", "site"),
        pk=pk,
    )
    initial = {"service": mapping.service, "site": mapping.site, "counted": mapping.counted}
    form = forms.QueueMappingForm(*_posted(request)[:1], initial=initial, organisation=organisation)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_queue_mapping(
                mapping,
                actor=request.user,
                service=form.cleaned_data["service"],
                site=form.cleaned_data["site"],
                counted=form.cleaned_data["counted"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                _("Queue “%(queue)s” saved; its calls follow it.") % {"queue": mapping.queue},
            )
            return redirect(_url("queues", organisation))
    calls = queries.visible_calls(request.user, organisation).filter(queue=mapping.queue)
    return render(
        request,
        "reception/queues_edit.html",
        {"mapping": mapping, "form": form, "calls": calls.count()},
    )


@organisation_view(Perm.MANAGE_RECEPTION)
def calls(request, organisation):
    visible = queries.visible_calls(request.user, organisation)
    queues = queries.queue_names(request.user, organisation)
    form = forms.CallFilterForm(request.GET or None, queues=queues)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    chosen = queries.filtered_calls(
        visible,
        organisation,
        day=filters.get("day"),
        queue=filters.get("queue", ""),
        outcome=filters.get("outcome", ""),
        test_only=filters.get("test_only", False),
    )
    page = Paginator(chosen, CALLS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    unrestricted = permissions.restricted_service_ids(request.user, organisation) is None
    with timezone.override(organisation.zone):
        return render(
            request,
            "reception/calls_index.html",
            {
                "form": form,
                "page": page,
                "query": query.urlencode(),
                "here": request.get_full_path(),
                "whole_organisation": unrestricted,
            },
        )


@require_POST
@organisation_view(Perm.MANAGE_RECEPTION)
def flag_test(request, organisation, pk):
    call = get_object_or_404(queries.visible_calls(request.user, organisation), pk=pk)
    is_test = request.POST.get("is_test") == "1"
    services.flag_test_call(call, actor=request.user, is_test=is_test)
    when = call.entered_at.astimezone(organisation.zone)
    messages.success(
        request,
        (
            _("The call of %(when)s in queue %(queue)s is now a test call: it is not counted.")
            if is_test
            else _("The call of %(when)s in queue %(queue)s counts again as a real call.")
        )
        % {"when": formats.date_format(when, "SHORT_DATETIME_FORMAT"), "queue": call.queue},
    )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not target.startswith(_url("calls", organisation)):
        target = _url("calls", organisation)
    return redirect(target)
