"""The report pages and their downloads: the complaints report (who may read reports) and the
call-peak report (who may read the indicators)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Min
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qualicite.core import permissions
from qualicite.core.permissions import Perm, organisation_view
from qualicite.reports import call_peak_exports, call_peaks, exports, services
from qualicite.reports import complaints as report_data
from qualicite.reports.forms import ActionsForm, CallPeaksForm, YearForm
from qualicite.reports.models import FIRST_YEAR, LAST_YEAR
from qualicite.requests.models import Request

# Writing the actions text is the quality manager's; of the permissions that exist, only the
# quality manager holds the référentiel's, which this text belongs with (programme results).
EDIT_ACTIONS = Perm.MANAGE_REPORTS

DOWNLOADS = [
    ("pdf", gettext_lazy("PDF, to print or archive (PDF/A)")),
    ("ods", gettext_lazy("ODS spreadsheet (LibreOffice)")),
    ("xlsx", gettext_lazy("XLSX spreadsheet (Excel)")),
    ("csv", gettext_lazy("CSV, semicolon-separated")),
]

# The call-peak report: its figures are the phone indicators', so it goes with them.
CALL_DOWNLOADS = [
    ("pdf", gettext_lazy("PDF, A4 landscape, to print or archive (PDF/A)")),
    ("ods", gettext_lazy("ODS spreadsheet (LibreOffice)")),
    ("xlsx", gettext_lazy("XLSX spreadsheet (Excel)")),
    ("csv", gettext_lazy("CSV, semicolon-separated")),
]


def can_edit_actions(user, organisation) -> bool:
    """The quality manager of the whole organisation: the text speaks for every service."""
    return (
        permissions.has_perm(user, organisation, EDIT_ACTIONS)
        and permissions.restricted_service_ids(user, organisation) is None
    )


def available_years(organisation) -> list[int]:
    """From this year back to the year of the first request counted, newest first."""
    this_year = report_data.current_year(organisation)
    first = Request.objects.filter(organisation=organisation, kind__in=report_data.KINDS).aggregate(
        first=Min("received_at")
    )["first"]
    first_year = timezone.localtime(first, organisation.zone).year if first else this_year
    return list(range(this_year, min(first_year, this_year) - 1, -1))


def _page(request, organisation, *, year_form, actions_form=None, status=200):
    report = None
    if year_form.is_valid():
        year = year_form.cleaned_data["annee"]
        report = report_data.build(organisation, year, user=request.user)
        if actions_form is None:
            actions_form = ActionsForm(initial={"text": report.actions_text})
    context = {
        "year_form": year_form,
        "actions_form": actions_form,
        "can_edit": can_edit_actions(request.user, organisation),
        "report": report,
    }
    if report is not None:
        context.update(exports.context(report))
        context["downloads"] = [
            (
                extension,
                label,
                reverse(
                    "reports:complaints_download",
                    kwargs={
                        "org_slug": organisation.slug,
                        "year": report.year,
                        "extension": extension,
                    },
                ),
            )
            for extension, label in DOWNLOADS
        ]
    return render(request, "reports/complaints.html", context, status=status)


@organisation_view(Perm.VIEW_REPORTS)
def complaints(request, organisation):
    years = available_years(organisation)
    if request.method != "POST":
        data = request.GET if "annee" in request.GET else {"annee": years[0]}
        return _page(request, organisation, year_form=YearForm(data, years=years))
    if not can_edit_actions(request.user, organisation):
        raise PermissionDenied
    year_form = YearForm(request.POST, years=years)
    actions_form = ActionsForm(request.POST)
    if year_form.is_valid() and actions_form.is_valid():
        year = year_form.cleaned_data["annee"]
        try:
            services.save_complaint_actions(
                organisation, actor=request.user, year=year, text=actions_form.cleaned_data["text"]
            )
        except ValidationError as error:
            for message in error.messages:
                actions_form.add_error("text", message)
        else:
            messages.success(
                request,
                _("Actions decided from the complaints of %(year)s saved.") % {"year": year},
            )
            url = reverse("reports:complaints", kwargs={"org_slug": organisation.slug})
            return redirect(f"{url}?annee={year}#actions")
    return _page(request, organisation, year_form=year_form, actions_form=actions_form)


@organisation_view(Perm.VIEW_REPORTS)
def complaints_download(request, organisation, year, extension):
    year = int(year)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Http404
    report = report_data.build(organisation, year, user=request.user)
    content = getattr(exports, f"to_{extension}")(report)
    response = HttpResponse(content, content_type=exports.FORMATS[extension])
    response["Content-Disposition"] = (
        f'attachment; filename="{exports.filename(report, extension)}"'
    )
    return response


# --- The call-peak report ---------------------------------------------------------------------


def _call_peaks_form(request, organisation):
    return CallPeaksForm(
        request.GET,
        organisation=organisation,
        user=request.user,
        today=timezone.localtime(timezone.now(), organisation.zone).date(),
    )


def _call_choice(form) -> call_peaks.Choice:
    data = form.cleaned_data
    start, end = data["bounds"]
    return call_peaks.Choice(
        start=start, end=end, service=data["service"], site=data["site"], slot=data["creneau"]
    )


@organisation_view(Perm.VIEW_INDICATORS)
def call_peaks_page(request, organisation):
    form = _call_peaks_form(request, organisation)
    context = {"form": form, "report": None}
    if form.is_valid():
        report = call_peaks.build(organisation, _call_choice(form), user=request.user)
        context.update(call_peak_exports.context(report))
        query = urlencode(form.query())
        context["downloads"] = [
            (
                extension,
                label,
                reverse(
                    "reports:call_peaks_download",
                    kwargs={"org_slug": organisation.slug, "extension": extension},
                )
                + f"?{query}",
            )
            for extension, label in CALL_DOWNLOADS
        ]
    return render(request, "reports/call_peaks.html", context)


@organisation_view(Perm.VIEW_INDICATORS)
def call_peaks_download(request, organisation, extension):
    form = _call_peaks_form(request, organisation)
    if not form.is_valid():
        # The page says what is wrong, next to the field.
        url = reverse("reports:call_peaks", kwargs={"org_slug": organisation.slug})
        return redirect(f"{url}?{request.GET.urlencode()}")
    report = call_peaks.build(organisation, _call_choice(form), user=request.user)
    content = getattr(call_peak_exports, f"to_{extension}")(report)
    response = HttpResponse(content, content_type=call_peak_exports.FORMATS[extension])
    response["Content-Disposition"] = (
        f'attachment; filename="{call_peak_exports.filename(report, extension)}"'
    )
    return response
