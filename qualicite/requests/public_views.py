"""The citizen's side: write to the town without an account, then follow the request.

Spam is kept out without a captcha: a honeypot field, a per-address rate limit, a cap on
the size of what is sent, and limits on every field. A double submit (a second click, a
reload, the back button) records one request, thanks to a signed idempotency token in the
form. The confirmation page only shows the request this browser sent (the session remembers
it). The tracking page answers a wrong e-mail exactly as it answers an unknown code.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.forms.utils import ErrorList
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_safe

from qualicite.core.choices import Channel, RequestKind
from qualicite.core.permissions import public_organisation
from qualicite.core.ratelimit import RateLimit
from qualicite.requests import attachments as attachment_rules
from qualicite.requests import queries, services
from qualicite.requests.models import Request, RequestEvent, RequestSettings, Status
from qualicite.requests.public_forms import (
    PublicRequestForm,
    TrackingForm,
    idempotency_key,
    new_token,
)

FORM_LIMIT = RateLimit("requests.public_form", limit=5, window=600)
TRACKING_LIMIT = RateLimit("requests.tracking", limit=10, window=600)
# Attachments (25 MB) plus room for the text fields and the multipart framing.
MAX_BODY_BYTES = attachment_rules.MAX_TOTAL_BYTES + 1024 * 1024
SESSION_KEY = "requests_public_sent"

_FORM_TEMPLATE = "requests/public/form.html"


# --- Writing to the town ---------------------------------------------------------------------


def _retention(organisation) -> list[tuple[str, int]]:
    settings = RequestSettings.of(organisation)
    return [(label, settings.retention_months(kind)) for kind, label in RequestKind.choices]


def _form_page(request, organisation, form, *, status=200, alert="", retry_after=0):
    response = render(
        request,
        _FORM_TEMPLATE,
        {
            "form": form,
            "retention": _retention(organisation),
            "alert": alert,
            "files_dropped": bool(form.is_bound and form.errors and request.FILES),
        },
        status=status,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _kept_entries(request) -> dict:
    """What the citizen typed, to show it again when the form is refused as a whole."""
    ignored = {"csrfmiddlewaretoken", "consent", "website", "attachments"}
    return {key: value for key, value in request.POST.items() if key not in ignored}


def _minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


def _remember(request, organisation, found: Request):
    sent = dict(request.session.get(SESSION_KEY, {}))
    sent[str(organisation.pk)] = found.pk
    request.session[SESSION_KEY] = sent
    return redirect("requests_public:confirmation", org_slug=organisation.slug)


def _already_sent(organisation, key: str | None) -> Request | None:
    if not key:
        return None
    return (
        queries.recorded_with(organisation, "idempotency_key", key)
        .filter(anonymised_at__isnull=True)
        .first()
    )


def _too_large(request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES
    except ValueError:
        return True


@csrf_exempt  # Only so that the size check below runs before anything reads the body.
@public_organisation
@require_http_methods(["GET", "HEAD", "POST"])
def write(request, organisation):
    if request.method == "POST" and _too_large(request):
        form = PublicRequestForm(organisation, initial={"token": new_token(organisation)})
        message = _(
            "Your message was not sent: the files weigh more than %(max)s together. "
            "Send smaller files, or fewer, and fill in the form again."
        ) % {"max": filesizeformat(attachment_rules.MAX_TOTAL_BYTES)}
        form.errors["attachments"] = ErrorList([message], renderer=form.renderer)
        return _form_page(request, organisation, form, status=413)
    return _write(request, organisation)


@csrf_protect
def _write(request, organisation):
    if request.method != "POST":
        form = PublicRequestForm(organisation, initial={"token": new_token(organisation)})
        return _form_page(request, organisation, form)

    token = request.POST.get("token", "")
    key = idempotency_key(token, organisation)
    found = _already_sent(organisation, key)
    if found is not None:
        # A second click, a reload or the back button: the request sent the first time.
        return _remember(request, organisation, found)
    if key is None:
        token = new_token(organisation)

    if FORM_LIMIT.exceeded(request):
        wait = FORM_LIMIT.retry_after(request)
        form = PublicRequestForm(organisation, initial={**_kept_entries(request), "token": token})
        alert = ngettext(
            "You have sent several messages in a short time. To protect this service from "
            "robots, please wait %(count)s minute before sending another one.",
            "You have sent several messages in a short time. To protect this service from "
            "robots, please wait %(count)s minutes before sending another one.",
            _minutes(wait),
        ) % {"count": _minutes(wait)}
        return _form_page(request, organisation, form, status=429, alert=alert, retry_after=wait)

    form = PublicRequestForm(organisation, request.POST, request.FILES)
    if form.is_spam:
        FORM_LIMIT.hit(request)
        form = PublicRequestForm(organisation, initial={**_kept_entries(request), "token": token})
        alert = _(
            "Your message was not sent: it looked like an automatic submission. If you are a "
            "person, please check your message and send it again."
        )
        return _form_page(request, organisation, form, status=400, alert=alert)
    if key is None:
        # Forged or expired token: a fresh one, and the citizen confirms by sending again.
        data = request.POST.copy()
        data["token"] = token
        form = PublicRequestForm(organisation, data, request.FILES)
        form.is_valid()
        form.add_error(
            None, _("This form was open for too long. Check your entries and send it again.")
        )
        return _form_page(request, organisation, form)
    if not form.is_valid():
        return _form_page(request, organisation, form)

    data = form.cleaned_data
    try:
        found = services.create_request(
            organisation,
            actor=None,
            kind=data["kind"],
            channel=Channel.WEB,
            subject=data["subject"],
            body=data["body"],
            service=data["service"],
            preferred_reply_channel=data["preferred_reply_channel"],
            uploads=data["attachments"],
            idempotency_key=key,
            citizen_name=data["citizen_name"],
            citizen_email=data["citizen_email"],
            citizen_phone=data["citizen_phone"],
            citizen_address=data["citizen_address"],
            citizen_postcode=data["citizen_postcode"],
        )
    except IntegrityError:
        # Two submits of the same form at the same instant: the other one recorded it.
        found = _already_sent(organisation, key)
        if found is None:
            raise
    except ValidationError as error:
        for field, messages in getattr(error, "error_dict", {None: error.error_list}).items():
            form.add_error(field if field in form.fields else None, messages)
        return _form_page(request, organisation, form)
    FORM_LIMIT.hit(request)
    return _remember(request, organisation, found)


@public_organisation
@require_safe
def confirmation(request, organisation):
    pk = request.session.get(SESSION_KEY, {}).get(str(organisation.pk))
    found = (
        Request.objects.filter(organisation=organisation, pk=pk, anonymised_at__isnull=True)
        .select_related("service")
        .first()
        if pk
        else None
    )
    if found is None:
        return redirect("requests_public:write", org_slug=organisation.slug)
    return render(request, "requests/public/confirmation.html", {"sent": found})


# --- Following a request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: datetime
    title: str
    text: str


def _steps(found: Request) -> list[Step]:
    """What happened to the request, in the citizen's words, oldest first."""
    steps = [Step(found.received_at, _("Received"), _("We received your request."))]
    if found.acknowledged_at:
        steps.append(
            Step(
                found.acknowledged_at,
                _("Acknowledged"),
                _("We confirmed that we received it and told you when to expect an answer."),
            )
        )
    started = False
    events = RequestEvent.objects.filter(
        request=found,
        verb__in=[
            "request.assigned",
            "request.paused",
            "request.resumed",
            "request.closed",
            "request.reopened",
            "reply.sent",
        ],
    ).order_by("at", "id")
    closed_logged = answer_logged = False
    for event in events:
        if event.verb == "request.assigned" and not started:
            started = True
            steps.append(Step(event.at, _("In progress"), _("An agent is handling your request.")))
        elif event.verb == "request.paused":
            steps.append(
                Step(
                    event.at,
                    _("Waiting for you"),
                    _(
                        "We need something from you to go on (we wrote to you). The clock is "
                        "paused until we receive it."
                    ),
                )
            )
        elif event.verb == "request.resumed":
            steps.append(
                Step(
                    event.at,
                    _("In progress"),
                    _("We received what we were waiting for; the clock runs again."),
                )
            )
        elif event.verb == "request.closed":
            closed_logged = True
            steps.append(Step(event.at, _("Closed"), _("Your request is closed.")))
        elif event.verb == "request.reopened":
            steps.append(Step(event.at, _("In progress"), _("We took your request up again.")))
        elif event.verb == "reply.sent":
            answer_logged = True
            steps.append(Step(event.at, _("Answered"), _("We sent you an answer.")))
    if found.replied_at and not answer_logged:
        steps.append(Step(found.replied_at, _("Answered"), _("We sent you an answer.")))
    if found.status == Status.CLOSED and not closed_logged and found.closed_at:
        steps.append(Step(found.closed_at, _("Closed"), _("Your request is closed.")))
    return sorted(steps, key=lambda step: step.at)


def _current(found: Request) -> str:
    if found.status == Status.CLOSED:
        return _("Closed")
    if found.is_paused:
        return _("Waiting for you (the clock is paused)")
    if found.replied_at:
        return _("Answered")
    if found.status != Status.NEW:
        return _("In progress")
    return _("Acknowledged") if found.acknowledged_at else _("Received")


def _matches(found: Request | None, proof: str) -> bool:
    """Whether `proof` is the request's e-mail (or its postcode when it has no e-mail).

    One comparison in constant time whatever happens, so that neither the answer nor the
    time it takes tells an unknown code from a known code with the wrong e-mail.
    """
    given = proof.strip()
    if "@" in given:
        given = given.casefold()
        expected = found.citizen_email.strip().casefold() if found is not None else ""
    else:
        given = "".join(given.split()).upper()
        has_email = found is not None and bool(found.citizen_email)
        expected = (
            "".join(found.citizen_postcode.split()).upper()
            if found is not None and not has_email
            else ""
        )
    same = constant_time_compare(given, expected or "\0no-match")
    return found is not None and bool(expected) and same


@public_organisation
@require_http_methods(["GET", "HEAD", "POST"])
def track(request, organisation):
    context = {"form": TrackingForm(), "found": None, "alert": ""}
    if request.method != "POST":
        return render(request, "requests/public/track.html", context)
    if TRACKING_LIMIT.exceeded(request):
        wait = TRACKING_LIMIT.retry_after(request)
        context["alert"] = ngettext(
            "Too many tries from your connection. To protect citizens' requests, please wait "
            "%(count)s minute before trying again.",
            "Too many tries from your connection. To protect citizens' requests, please wait "
            "%(count)s minutes before trying again.",
            _minutes(wait),
        ) % {"count": _minutes(wait)}
        response = render(request, "requests/public/track.html", context, status=429)
        response["Retry-After"] = str(wait)
        return response
    TRACKING_LIMIT.hit(request)
    form = context["form"] = TrackingForm(request.POST)
    if not form.is_valid():
        return render(request, "requests/public/track.html", context)
    found = (
        Request.objects.filter(
            organisation=organisation,
            code=form.cleaned_data["code"],
            anonymised_at__isnull=True,
        )
        .select_related("service")
        .first()
    )
    if not _matches(found, form.cleaned_data["proof"]):
        form.add_error(
            None,
            _(
                "We found no request with this code and this e-mail address or postcode. "
                "Check the code in your acknowledgement and the address you gave."
            ),
        )
        return render(request, "requests/public/track.html", context)
    context.update(
        found=found,
        steps=_steps(found),
        current=_current(found),
        form=TrackingForm(),
    )
    return render(request, "requests/public/track.html", context)
