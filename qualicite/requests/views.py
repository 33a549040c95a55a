"""Staff pages of requests: the work queue, quick entry, a request and what can be done to it.

Views stay thin: forms parse, `services` write, `queries` read, permissions decide.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualicite.core import permissions
from qualicite.core.choices import RequestKind
from qualicite.core.forms import add_errors
from qualicite.core.permissions import Perm, organisation_view
from qualicite.requests import forms, letters, privacy, queries, services
from qualicite.requests.models import Attachment, Reply, ReplyStatus

PAGE_SIZE = 25


def short_date(instant) -> str:
    return date_format(timezone.localtime(instant), "SHORT_DATE_FORMAT")


def detail_url(request_obj) -> str:
    return reverse(
        "requests:detail", kwargs={"org_slug": request_obj.organisation.slug, "pk": request_obj.pk}
    )


def _visible(request, organisation, pk):
    return get_object_or_404(
        queries.visible_requests(request.user, organisation).select_related(
            "organisation", "service", "site", "theme", "prestation", "assigned_to", "entered_by"
        ),
        pk=pk,
    )


def _can(request, organisation, perm) -> bool:
    return permissions.has_perm(request.user, organisation, perm)


def _require(request, organisation, perm) -> None:
    if not _can(request, organisation, perm):
        raise PermissionDenied


@organisation_view(Perm.VIEW_REQUESTS)
def queue(request, organisation):
    form = forms.QueueFilterForm(request.GET or None, organisation=organisation, user=request.user)
    chosen = queries.QueueFilter()
    if form.is_valid():
        data = form.cleaned_data
        chosen = queries.QueueFilter(
            status=data["status"],
            kind=data["kind"],
            channel=data["channel"],
            service=data["service"].pk if data["service"] else None,
            site=data["site"].pk if data["site"] else None,
            theme=data["theme"].pk if data["theme"] else None,
            assigned=data["assigned"],
            due=data["due"],
            search=data["search"].strip(),
        )
    rows = queries.queue(request.user, organisation, chosen)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    can_handle = _can(request, organisation, Perm.HANDLE_REQUESTS)
    bulk = None
    if can_handle:
        bulk = forms.BulkForm(organisation=organisation, user=request.user, rows=rows)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "requests/staff/queue.html",
        {
            "form": form,
            "page": page,
            "counts": queries.counts(request.user, organisation),
            "can_handle": can_handle,
            "bulk": bulk,
            "query": query.urlencode(),
        },
    )


@require_POST
@organisation_view(Perm.HANDLE_REQUESTS)
def bulk(request, organisation):
    rows = queries.visible_requests(request.user, organisation)
    form = forms.BulkForm(request.POST, organisation=organisation, user=request.user, rows=rows)
    back = reverse("requests:queue", kwargs={"org_slug": organisation.slug})
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data, done = form.cleaned_data, 0
    for request_obj in data["selected"]:
        if data["action"] == "assign":
            services.assign(request_obj, actor=request.user, assignee=data["assignee"])
        else:
            services.reroute(
                request_obj, actor=request.user, reason=data["reason"], service=data["service"]
            )
        done += 1
    messages.success(request, _("%(count)s request(s) updated.") % {"count": done})
    return redirect(back)


@organisation_view(Perm.HANDLE_REQUESTS)
def new(request, organisation):
    form = forms.QuickEntryForm(
        request.POST or None, request.FILES or None, organisation=organisation, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        uploads = data.pop("uploads")
        try:
            created = services.create_request(
                organisation, actor=request.user, uploads=uploads, **data
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                _("Request %(code)s recorded: due on %(due)s. Give the code to the citizen.")
                % {
                    "code": created.display_code,
                    "due": short_date(created.due_at),
                },
            )
            if "another" in request.POST:
                return redirect(reverse("requests:new", kwargs={"org_slug": organisation.slug}))
            return redirect(detail_url(created))
    return render(request, "requests/staff/new.html", {"form": form})


@organisation_view(Perm.VIEW_REQUESTS)
def detail(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    if request_obj.has_personal_data:
        privacy.record_access(request_obj, user=request.user, action="read")
    can_handle = _can(request, organisation, Perm.HANDLE_REQUESTS) and request_obj.is_open
    context = {
        "req": request_obj,
        "timeline": queries.described_timeline(request_obj),
        "replies": request_obj.replies.select_related("author", "validated_by"),
        "attachments": request_obj.attachments.filter(reply__isnull=True),
        "can_handle": can_handle,
        "can_validate": _can(request, organisation, Perm.VALIDATE_REPLIES),
        "is_overdue": request_obj.is_overdue(),
        "is_complaint": request_obj.kind == RequestKind.COMPLAINT,
    }
    if can_handle:
        context.update(
            assign_form=forms.AssignForm(
                organisation=organisation,
                user=request.user,
                initial={"assignee": request_obj.assigned_to},
            ),
            reroute_form=forms.RerouteForm(
                organisation=organisation,
                user=request.user,
                initial={
                    "version": request_obj.version,
                    "service": request_obj.service,
                    "kind": request_obj.kind,
                    "theme": request_obj.theme,
                    "site": request_obj.site,
                    "prestation": request_obj.prestation,
                },
            ),
            close_form=forms.CloseForm(initial={"version": request_obj.version}),
            pause_form=forms.PauseForm(),
            escalate_form=forms.EscalateForm(),
        )
    return render(request, "requests/staff/detail.html", context)


def _action_page(request, request_obj, *, title, form, submit):
    return render(
        request,
        "requests/staff/action.html",
        {"req": request_obj, "title": title, "form": form, "submit": submit},
    )


@organisation_view(Perm.HANDLE_REQUESTS)
def edit(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    fields = [f for f in forms.DetailsForm.base_fields if f != "version"]
    initial = {name: getattr(request_obj, name) for name in fields}
    form = forms.DetailsForm(
        request.POST or None, initial={**initial, "version": request_obj.version}
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.update_details(request_obj, actor=request.user, version=version, **data)
        except services.ConcurrentEdit:
            form.add_error(None, _concurrent_message())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Request saved."))
            return redirect(detail_url(request_obj))
    return _action_page(
        request, request_obj, title=_("Correct the request"), form=form, submit=_("Save")
    )


def _concurrent_message() -> str:
    return _(
        "Someone else saved this request while you were editing it. Nothing of yours was "
        "saved: check their changes below, then apply yours again."
    )


@require_POST
@organisation_view(Perm.HANDLE_REQUESTS)
def assign(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    form = forms.AssignForm(request.POST, organisation=organisation, user=request.user)
    if form.is_valid():
        services.assign(request_obj, actor=request.user, assignee=form.cleaned_data["assignee"])
        messages.success(request, _("Assignment saved."))
    else:
        messages.error(request, _("Choose someone who handles requests."))
    return redirect(detail_url(request_obj))


@organisation_view(Perm.HANDLE_REQUESTS)
def reroute(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    form = forms.RerouteForm(request.POST or None, organisation=organisation, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        version, reason = data.pop("version"), data.pop("reason")
        try:
            services.reroute(
                request_obj, actor=request.user, reason=reason, version=version, **data
            )
        except services.ConcurrentEdit:
            form.add_error(None, _concurrent_message())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                _("Request routed. Due date: %(due)s.") % {"due": short_date(request_obj.due_at)},
            )
            if (
                not queries.visible_requests(request.user, organisation)
                .filter(pk=request_obj.pk)
                .exists()
            ):
                return redirect(reverse("requests:queue", kwargs={"org_slug": organisation.slug}))
            return redirect(detail_url(request_obj))
    return _action_page(
        request, request_obj, title=_("Route the request"), form=form, submit=_("Save")
    )


@require_POST
@organisation_view(Perm.HANDLE_REQUESTS)
def pause(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    if request_obj.is_paused:
        services.resume_clock(request_obj, actor=request.user)
        messages.success(request, _("The clock runs again."))
        return redirect(detail_url(request_obj))
    form = forms.PauseForm(request.POST)
    if not form.is_valid():
        return _action_page(
            request,
            request_obj,
            title=_("Wait for the citizen"),
            form=form,
            submit=_("Pause the clock"),
        )
    services.pause_clock(request_obj, actor=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, _("The clock is paused until the citizen answers."))
    return redirect(detail_url(request_obj))


@organisation_view(Perm.HANDLE_REQUESTS)
def close(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    form = forms.CloseForm(request.POST or None, initial={"version": request_obj.version})
    if request.method == "POST" and form.is_valid():
        try:
            services.close(
                request_obj,
                actor=request.user,
                outcome=form.cleaned_data["outcome"],
                version=form.cleaned_data["version"],
            )
        except services.ConcurrentEdit:
            form.add_error(None, _concurrent_message())
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("Request closed."))
            return redirect(detail_url(request_obj))
    return _action_page(
        request, request_obj, title=_("Close the request"), form=form, submit=_("Close")
    )


@require_POST
@organisation_view(Perm.HANDLE_REQUESTS)
def reopen(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    services.reopen(request_obj, actor=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, _("Request reopened."))
    return redirect(detail_url(request_obj))


@organisation_view(Perm.HANDLE_REQUESTS)
def escalate(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    form = forms.EscalateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if "close_escalation" in request.POST:
            services.close_escalation(
                request_obj, actor=request.user, note=form.cleaned_data["reason"]
            )
        else:
            services.escalate(request_obj, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Escalation saved."))
        return redirect(detail_url(request_obj))
    return _action_page(
        request, request_obj, title=_("Escalate the request"), form=form, submit=_("Escalate")
    )


@organisation_view(Perm.HANDLE_REQUESTS)
def reply(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    initial = {"channel": request_obj.preferred_reply_channel or _reply_channel(request_obj)}
    template = None
    template_id = request.GET.get("template")
    if template_id and template_id.isdigit():
        template = request_obj.organisation.replytemplate_set.filter(
            pk=template_id, is_active=True
        ).first()
    if template is not None:
        initial.update(
            template=template,
            subject=services.fill_template(template.subject, request_obj),
            body=services.fill_template(template.body, request_obj),
        )
    form = forms.ReplyForm(
        request.POST or None, request.FILES or None, request_obj=request_obj, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            sent = services.submit_reply(request_obj, actor=request.user, **data)
        except ValidationError as error:
            add_errors(form, error)
        except OSError:
            form.add_error(
                None,
                _("The mail server could not be reached: nothing was sent. Try again later."),
            )
        else:
            if sent.status == ReplyStatus.AWAITING_VALIDATION:
                messages.success(request, _("Reply submitted to the service head for validation."))
            else:
                messages.success(request, _("Reply recorded as sent."))
            return redirect(detail_url(request_obj))
    return render(
        request,
        "requests/staff/reply.html",
        {
            "req": request_obj,
            "form": form,
            "templates": form.fields["template"].queryset,
            "variables": services.template_variables(request_obj),
        },
    )


def _reply_channel(request_obj) -> str:
    if request_obj.citizen_email:
        return "email"
    if request_obj.citizen_address:
        return "letter"
    return "phone"


@organisation_view(Perm.VALIDATE_REPLIES)
def review(request, organisation, pk, reply_pk):
    request_obj = _visible(request, organisation, pk)
    reply_obj = get_object_or_404(Reply, request=request_obj, pk=reply_pk)
    form = forms.ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_reply(
                reply_obj,
                actor=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                comment=form.cleaned_data["comment"],
            )
        except ValidationError as error:
            add_errors(form, error)
        except OSError:
            form.add_error(None, _("The mail server could not be reached: nothing was sent."))
        else:
            messages.success(request, _("Decision saved."))
            return redirect(detail_url(request_obj))
    return render(
        request,
        "requests/staff/review.html",
        {"req": request_obj, "reply": reply_obj, "form": form},
    )


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@organisation_view(Perm.HANDLE_REQUESTS)
def acknowledgement_letter(request, organisation, pk):
    request_obj = _visible(request, organisation, pk)
    if not request_obj.citizen_address:
        raise Http404
    if request.method == "POST":
        services.acknowledge(request_obj, actor=request.user, channel="letter")
        messages.success(request, _("Acknowledgement recorded as posted."))
        return redirect(detail_url(request_obj))
    return _pdf_response(
        letters.acknowledgement_letter(request_obj), f"accuse-{request_obj.code}.pdf"
    )


@organisation_view(Perm.VIEW_REQUESTS)
def reply_letter(request, organisation, pk, reply_pk):
    request_obj = _visible(request, organisation, pk)
    reply_obj = get_object_or_404(Reply, request=request_obj, pk=reply_pk, channel="letter")
    return _pdf_response(letters.reply_letter(reply_obj), f"reponse-{request_obj.code}.pdf")


@organisation_view(Perm.VIEW_REQUESTS)
def attachment(request, organisation, pk, attachment_pk):
    request_obj = _visible(request, organisation, pk)
    found = get_object_or_404(Attachment, request=request_obj, pk=attachment_pk)
    privacy.record_access(request_obj, user=request.user, action="attachment")
    return FileResponse(
        found.file.open("rb"),
        as_attachment=True,
        filename=found.name,
        content_type=found.content_type,
    )
